// CPU kernels the transformer models lean on, against the reference kernels through one-node (or few-node) models:
// the Slice copy kernel (runs, strided rows, negative steps, every storage size) and MatMul with a batched A and an
// unbatched B, which runs as one GEMM with the batch folded into M (with fused bias and residual post-ops).
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

// A tensor of `type` with arbitrary (finite for floats) bytes.
Tensor patterned(ElementType type, const Dims& d, uint32_t seed) {
  Tensor x(type, d);
  auto* bytes = static_cast<uint8_t*>(x.raw());
  for (size_t i = 0; i < x.byte_size(); ++i) bytes[i] = uint8_t(i * 131 + i / 7 + seed);
  if (type == ElementType::kF32)
    for (size_t i = 3; i < x.byte_size(); i += 4) bytes[i] &= 0x3f;
  if (type == ElementType::kF16)
    for (size_t i = 1; i < x.byte_size(); i += 2) bytes[i] &= 0x3f;
  if (type == ElementType::kBool)
    for (size_t i = 0; i < x.byte_size(); ++i) bytes[i] = (bytes[i] >> 3) & 1;
  return x;
}

std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

struct SliceCase {
  Dims x;
  std::vector<int64_t> starts, ends, axes, steps;  // empty axes/steps: input omitted
};

}  // namespace

TEST(CpuTransformerKernels, SliceMatchesReferenceBitForBit) {
  const int64_t kBig = INT64_MAX;
  const SliceCase cases[] = {
      {{197, 1, 2304}, {768}, {1536}, {2}, {}},            // ViT's in_proj split: contiguous runs per row
      {{197, 1, 2304}, {0}, {768}, {-1}, {1}},             // negative axis
      {{7, 9, 5}, {1, 2}, {6, 8}, {0, 1}, {2, 3}},         // strided outer axes, whole rows of 5
      {{7, 9, 5}, {4}, {-kBig}, {2}, {-1}},                // negative step on the innermost axis
      {{7, 9, 5}, {-1, 3}, {-kBig, 0}, {0, 2}, {-2, -1}},  // negative steps on two axes
      {{6, 4, 3}, {2}, {5}, {0}, {}},                      // a block of whole trailing axes
      {{6, 4, 3}, {0}, {kBig}, {1}, {}},                   // the whole input
      {{33}, {3}, {30}, {0}, {4}},                         // 1-D strided
      {{5, 6}, {4}, {2}, {1}, {}},                         // empty result
      {{1, 3, 17, 19}, {1, 2}, {16, 18}, {2, 3}, {}},      // two inner axes sliced
  };
  const std::pair<int, ElementType> types[] = {{onnx::TensorProto::FLOAT, ElementType::kF32},
                                               {onnx::TensorProto::INT64, ElementType::kI64},
                                               {onnx::TensorProto::FLOAT16, ElementType::kF16},
                                               {onnx::TensorProto::BOOL, ElementType::kBool}};
  for (const SliceCase& c : cases) {
    for (const auto& [onnx_type, type] : types) {
      OnnxBuilder b(13);
      b.input("x", onnx_type, c.x);
      const int64_t n = int64_t(c.starts.size());
      b.initializer_i64("starts", c.starts, {n});
      b.initializer_i64("ends", c.ends, {n});
      std::vector<std::string> in = {"x", "starts", "ends"};
      if (!c.axes.empty()) {
        b.initializer_i64("axes", c.axes, {n});
        in.push_back("axes");
      }
      if (!c.steps.empty()) {
        if (c.axes.empty()) in.push_back("");
        b.initializer_i64("steps", c.steps, {n});
        in.push_back("steps");
      }
      b.node("Slice", in, {"y"});
      b.output("y");
      const Tensor x = patterned(type, c.x, 7);
      const Tensor ref = b.run("REF", {x})[0], cpu = b.run("CPU", {x})[0];
      const std::string what = "Slice " + dims_to_string(c.x) + " " + std::string(element_type_name(type));
      ASSERT_EQ(ref.dims(), cpu.dims()) << what;
      ASSERT_EQ(ref.type(), cpu.type()) << what;
      EXPECT_EQ(std::memcmp(ref.raw(), cpu.raw(), ref.byte_size()), 0) << what;
    }
  }
}

TEST(CpuTransformerKernels, SliceBadAxisIsAClearError) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2, 3});
  b.input("starts", onnx::TensorProto::INT64, {1});
  b.initializer_i64("ends", {2}, {1});
  b.initializer_i64("axes", {5}, {1});
  b.node("Slice", {"x", "starts", "ends", "axes"}, {"y"});
  b.output("y");
  const Tensor x = patterned(ElementType::kF32, {2, 3}, 1);
  const Tensor starts = Tensor::from_vector<int64_t>({0}, {1});
  try {
    b.run("CPU", {x, starts});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("axes"), std::string::npos) << e.what();
  }
}

// MatMul(A [.., M, K], B [K, N] constant) + bias [N] + residual, as torch's MultiheadAttention and the MLP blocks
// export it: with fusion the CPU kernel folds A's batch into M and reads the post-op operands as [rows, N] / [1, N].
TEST(CpuTransformerKernels, MatMulFoldsBatchIntoRows) {
  struct Case {
    Dims a;
    Dims b;
    Dims residual;  // empty: no residual Add
  };
  const Case cases[] = {
      {{37, 1, 24}, {24, 40}, {37, 1, 40}},  // [L, 1, E] x [E, 3E]
      {{2, 5, 17}, {17, 9}, {2, 5, 9}},      // [B, L, E]
      {{3, 2, 5, 17}, {17, 9}, {1, 1, 9}},   // rank 4, row-broadcast residual
      {{3, 2, 5, 17}, {1, 17, 9}, {}},       // B with a unit batch dim
      {{4, 3, 8}, {8, 6}, {4, 1, 6}},        // residual broadcast over M: not foldable, still correct
      {{4, 3, 8}, {8}, {}},                  // 1-D B
      {{1, 9, 37}, {37, 130}, {1, 9, 130}},  // B packed with padded blocks of 16 x 64
      {{2, 3, 64}, {64, 128}, {}},           // whole blocks
  };
  for (const Case& c : cases) {
    const int64_t n = c.b.size() == 1 ? 1 : c.b.back();
    OnnxBuilder b(13);
    b.input("a", onnx::TensorProto::FLOAT, c.a);
    b.initializer("w", random_values(element_count(c.b), 2), c.b);
    b.node("MatMul", {"a", "w"}, {"mm"});
    std::string y = "mm";
    std::vector<Tensor> inputs = {Tensor::from_vector<float>(random_values(element_count(c.a), 1), c.a)};
    if (c.b.size() > 1) {
      b.initializer("bias", random_values(n, 3), {n});
      b.node("Add", {"bias", "mm"}, {"biased"});
      y = "biased";
    }
    if (!c.residual.empty()) {
      b.input("r", onnx::TensorProto::FLOAT, c.residual);
      b.node("Add", {y, "r"}, {"sum"});
      y = "sum";
      inputs.push_back(Tensor::from_vector<float>(random_values(element_count(c.residual), 4), c.residual));
    }
    b.node("Relu", {y}, {"out"});
    b.output("out");
    const Tensor ref = b.run("REF", inputs)[0], cpu = b.run("CPU", inputs)[0];
    const std::string what = "MatMul " + dims_to_string(c.a) + " x " + dims_to_string(c.b);
    ASSERT_EQ(ref.dims(), cpu.dims()) << what;
    const float* r = ref.data<float>();
    const float* g = cpu.data<float>();
    for (int64_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(r[i], g[i], 1e-4) << what << " element " << i;
  }
}

// Gemm with a constant B, plain or transposed, on sizes that leave partial 16 x 64 blocks (B is packed at compile
// time).
TEST(CpuTransformerKernels, GemmPacksConstantB) {
  for (int trans_b = 0; trans_b < 2; ++trans_b)
    for (const auto& [m, k, n] : {std::array<int64_t, 3>{5, 37, 130}, {3, 16, 64}, {7, 1, 1}, {2, 200, 70},
                                  {1, 37, 130}, {1, 300, 200}, {1, 16, 64}}) {  // m = 1: the gemv path
      const Dims bd = trans_b ? Dims{n, k} : Dims{k, n};
      OnnxBuilder b(13);
      b.input("a", onnx::TensorProto::FLOAT, {m, k});
      b.initializer("w", random_values(k * n, 5), bd);
      b.initializer("c", random_values(n, 6), {n});
      OnnxBuilder::attr(b.node("Gemm", {"a", "w", "c"}, {"y"}), "transB", int64_t(trans_b));
      b.output("y");
      const std::vector<Tensor> inputs = {Tensor::from_vector<float>(random_values(m * k, 7), {m, k})};
      const Tensor ref = b.run("REF", inputs)[0], cpu = b.run("CPU", inputs)[0];
      const std::string what =
          "Gemm " + std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n) + (trans_b ? " transB" : "");
      ASSERT_EQ(ref.dims(), cpu.dims()) << what;
      for (int64_t i = 0; i < ref.size(); ++i)
        ASSERT_NEAR(ref.data<float>()[i], cpu.data<float>()[i], 1e-4) << what << " element " << i;
    }
}

// One row of A against a constant B (the gemv path) with the post-ops fusion gives it: a bias Add, an activation, a
// residual Add of one value per column, a scalar Mul; A of rank 1, 2 and 3.
TEST(CpuTransformerKernels, MatMulSingleRowWithPostOps) {
  for (const Dims& ad : {Dims{1, 1, 300}, Dims{1, 300}, Dims{300}})
    for (const char* act : {"Relu", "Sigmoid", "Tanh"}) {
      const int64_t k = 300, n = 130;
      OnnxBuilder b(17);
      b.input("a", onnx::TensorProto::FLOAT, ad);
      Dims rd = ad;
      rd.back() = n;
      b.input("r", onnx::TensorProto::FLOAT, rd);
      b.initializer("w", random_values(k * n, 11), {k, n});
      b.initializer("bias", random_values(n, 12), {n});
      b.initializer("two", std::vector<float>{2.0f}, {});
      b.node("MatMul", {"a", "w"}, {"m"});
      b.node("Add", {"m", "bias"}, {"mb"});
      b.node(act, {"mb"}, {"act"});
      b.node("Add", {"act", "r"}, {"res"});
      b.node("Mul", {"res", "two"}, {"y"});
      b.output("y");
      const std::vector<Tensor> inputs = {Tensor::from_vector<float>(random_values(k, 13), ad),
                                          Tensor::from_vector<float>(random_values(n, 14), rd)};
      const Tensor ref = b.run("REF", inputs)[0], cpu = b.run("CPU", inputs)[0];
      const std::string what = std::string(act) + " A " + dims_to_string(ad);
      ASSERT_EQ(ref.dims(), cpu.dims()) << what;
      for (int64_t i = 0; i < ref.size(); ++i)
        ASSERT_NEAR(ref.data<float>()[i], cpu.data<float>()[i], 1e-4) << what << " element " << i;
    }
}
