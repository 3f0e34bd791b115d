// `celer quantize` modes without calibration: weight-only compression (MatMulNBits) and dynamic quantization
// (DynamicQuantizeLinear + MatMulInteger). Each rewrites a small MatMul/Gemm model; the result must load, run on REF
// and CPU with outputs close to FP32, and keep what it must not touch.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "onnx_builder.hpp"
#include "quant/dynamic_quant.hpp"
#include "quant/weight_compression.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

// x [3, K] -> MatMul(W1 [K, N]) -> Gemm(W2 [M, N] transposed, bias) -> y [3, M]; plus a small MatMul that stays.
OnnxBuilder two_layer_model(int64_t K, int64_t N, int64_t M, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 0.5f);
  auto rnd = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(rng);
    return v;
  };
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {3, K});
  b.initializer("W1", rnd(K * N), {K, N});
  b.initializer("W2", rnd(M * N), {M, N});
  b.initializer("b2", rnd(M), {M});
  b.initializer("W3", rnd(M * 4), {M, 4});
  b.node("MatMul", {"x", "W1"}, {"h"}).set_name("mm1");
  auto& g = b.node("Gemm", {"h", "W2", "b2"}, {"y"});
  g.set_name("gemm2");
  OnnxBuilder::attr(g, "transB", int64_t(1));
  b.node("MatMul", {"y", "W3"}, {"z"}).set_name("small");
  b.output("z");
  return b;
}

std::vector<float> input(int64_t K) {
  std::vector<float> x(static_cast<size_t>(3 * K));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i));
  return x;
}

double relative_error(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    num += std::pow(a.value_as_double(i) - b.value_as_double(i), 2);
    den += std::pow(a.value_as_double(i), 2);
  }
  return std::sqrt(num / den);
}

std::vector<Tensor> run_bytes(const std::string& bytes, const std::string& device, std::vector<float>& x, int64_t K) {
  Core core;
  CompiledModel cm = core.compile_model(core.read_model_from_memory(bytes), device);
  InferRequest r = cm.create_infer_request();
  r.set_input_tensor(0, Tensor::wrap(ElementType::kF32, {3, K}, x.data()));
  r.infer();
  return {r.get_output_tensor(0)};
}

int count_ops(const onnx::ModelProto& m, const std::string& type) {
  int n = 0;
  for (const auto& node : m.graph().node()) n += node.op_type() == type;
  return n;
}

TEST(QuantizeModes, WeightCompressionInt4AndInt8) {
  std::mt19937 rng(3);
  const int64_t K = 256, N = 96, M = 80;
  OnnxBuilder b = two_layer_model(K, N, M, rng);
  std::vector<float> x = input(K);
  const std::vector<Tensor> ref = run_bytes(b.bytes(), "REF", x, K);
  for (int bits : {4, 8})
    for (bool symmetric : {true, false}) {
      onnx::ModelProto m = b.model();
      quant::WeightCompressionOptions o;
      o.bits = bits;
      o.group_size = 64;
      o.symmetric = symmetric;
      o.min_elements = 1000;
      const quant::WeightCompressionReport rep = quant::compress_weights(m, o);
      EXPECT_EQ(rep.compressed.size(), 2u);
      ASSERT_EQ(rep.kept.size(), 1u);
      EXPECT_NE(rep.kept[0].find("small"), std::string::npos);
      EXPECT_EQ(count_ops(m, "MatMulNBits"), 2);
      EXPECT_LT(rep.compressed_bytes * (bits == 4 ? 6 : 3), rep.float_bytes);
      // Each weight is within half a step of its code: a step is max|w| / (2^(bits-1) - 1) of the block when
      // symmetric, (max - min) / (2^bits - 1) <= 2 max|w| / (2^bits - 1) when not.
      const double half_step = symmetric ? 0.5 / double((1 << (bits - 1)) - 1) : 1.0 / double((1 << bits) - 1);
      EXPECT_LE(rep.max_relative_error, half_step * 1.0001);
      EXPECT_GT(rep.max_relative_error, 0.0);
      const std::string bytes = m.SerializeAsString();
      // End to end through two compressed layers and a float one that partly cancels them (int4 loses ~10% per
      // layer on these Gaussian weights; the last layer amplifies that).
      const double tol = bits == 4 ? 0.5 : 0.02;
      for (const char* dev : {"REF", "CPU"}) {
        const std::vector<Tensor> out = run_bytes(bytes, dev, x, K);
        EXPECT_LT(relative_error(ref[0], out[0]), tol) << dev << " bits " << bits << " symmetric " << symmetric;
      }
      // REF and CPU compute the same dequantized product.
      EXPECT_LT(relative_error(run_bytes(bytes, "REF", x, K)[0], run_bytes(bytes, "CPU", x, K)[0]), 1e-5);
    }
}

TEST(QuantizeModes, WeightCompressionErrors) {
  std::mt19937 rng(3);
  OnnxBuilder b = two_layer_model(64, 32, 16, rng);
  quant::WeightCompressionOptions o;
  o.group_size = 48;
  onnx::ModelProto m = b.model();
  EXPECT_THROW(quant::compress_weights(m, o), Error);  // not a power of two
  o.group_size = 32;
  o.min_elements = 1 << 20;  // nothing that large
  try {
    quant::compress_weights(m, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no MatMul or Gemm"), std::string::npos) << e.what();
  }
  o.min_elements = 100;
  o.ignored_scope = {"name:mm1,name:gemm2,name:small"};
  EXPECT_THROW(quant::compress_weights(m, o), Error);
}

TEST(QuantizeModes, DynamicQuantization) {
  std::mt19937 rng(5);
  const int64_t K = 128, N = 64, M = 48;
  OnnxBuilder b = two_layer_model(K, N, M, rng);
  std::vector<float> x = input(K);
  const std::vector<Tensor> ref = run_bytes(b.bytes(), "REF", x, K);
  onnx::ModelProto m = b.model();
  quant::DynamicQuantOptions o;
  o.min_elements = 1000;
  const quant::DynamicQuantReport rep = quant::quantize_dynamic(m, o);
  EXPECT_EQ(rep.quantized.size(), 2u);
  EXPECT_EQ(rep.kept.size(), 1u);
  EXPECT_EQ(count_ops(m, "DynamicQuantizeLinear"), 2);
  EXPECT_EQ(count_ops(m, "MatMulInteger"), 2);
  const std::string bytes = m.SerializeAsString();
  for (const char* dev : {"REF", "CPU"}) {
    const std::vector<Tensor> out = run_bytes(bytes, dev, x, K);
    EXPECT_LT(relative_error(ref[0], out[0]), 0.03) << dev;
  }
  EXPECT_LT(relative_error(run_bytes(bytes, "REF", x, K)[0], run_bytes(bytes, "CPU", x, K)[0]), 1e-4);
}

}  // namespace
