// INT8 on the CPU device: the QDQ rules (passes/fuse_quantized.cpp) with fusion off (REF, the oracle) and on (CPU):
// fewer nodes, outputs equal within quantization tolerance; the oneDNN int8 kernels (onednn_qconv.cpp,
// onednn_qmatmul.cpp) against the reference kernels of QLinearConv / QLinearMatMul on odd shapes; bad quantization
// parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

#include "devices/ref/ref_device.hpp"
#include "onnx_builder.hpp"
#include "passes/pass.hpp"
#include "runtime/executor.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

constexpr int kF32 = onnx::TensorProto::FLOAT;
constexpr int kU8 = onnx::TensorProto::UINT8;
constexpr int kI8 = onnx::TensorProto::INT8;
constexpr int kI32 = onnx::TensorProto::INT32;

uint32_t next(uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return s >> 8;
}

std::vector<float> randoms(size_t n, uint32_t seed, float lo, float hi) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) x = lo + (hi - lo) * float(next(s)) / float(1 << 24);
  return v;
}

std::vector<int32_t> random_ints(size_t n, uint32_t seed, int lo, int hi) {
  std::vector<int32_t> v(n);
  uint32_t s = seed * 2654435761u + 7;
  for (auto& x : v) x = lo + int(next(s) % uint32_t(hi - lo + 1));
  return v;
}

void int_init(OnnxBuilder& b, const std::string& name, int type, const std::vector<int32_t>& v, const Dims& dims) {
  auto* t = b.graph().add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (auto d : dims) t->add_dims(d);
  for (int32_t x : v) t->add_int32_data(x);
}

void f32_init(OnnxBuilder& b, const std::string& name, const std::vector<float>& v, const Dims& dims) {
  b.initializer(name, v, dims);
}

Tensor q8_tensor(ElementType type, const Dims& dims, uint32_t seed) {
  Tensor t(type, dims);
  std::vector<int32_t> v =
      random_ints(size_t(t.size()), seed, type == ElementType::kU8 ? 0 : -128, type == ElementType::kU8 ? 255 : 127);
  for (int64_t i = 0; i < t.size(); ++i) {
    if (type == ElementType::kU8)
      t.data<uint8_t>()[i] = uint8_t(v[size_t(i)]);
    else
      t.data<int8_t>()[i] = int8_t(v[size_t(i)]);
  }
  return t;
}

struct RunResult {
  std::vector<Tensor> out;
  std::map<std::string, std::string> kernels;  // op type -> kernel name (last seen)
  std::vector<std::string> ops;
};

RunResult run(const OnnxBuilder& b, const std::string& device, const std::vector<Tensor>& inputs, bool fusion = true) {
  Core core;
  RunResult r;
  CompiledModel cm = core.compile_model(b.read(), device, {{"enable_fusion", fusion ? "1" : "0"}});
  InferRequest req = cm.create_infer_request();
  req.enable_profiling();
  for (size_t i = 0; i < inputs.size(); ++i) req.set_input_tensor(i, inputs[i]);
  req.infer();
  for (size_t i = 0; i < cm.outputs().size(); ++i) r.out.push_back(req.get_output_tensor(i));
  for (const NodeProfile& p : req.profile()) {
    r.kernels[p.op] = p.kernel;
    r.ops.push_back(p.op);
  }
  return r;
}

// Element-wise |a - b| <= tol (absolute, in the output's units); returns the largest difference.
double max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dims(), b.dims());
  EXPECT_EQ(a.type(), b.type());
  double m = 0;
  for (int64_t i = 0; i < a.size() && a.dims() == b.dims(); ++i)
    m = std::max(m, std::fabs(a.value_as_double(i) - b.value_as_double(i)));
  return m;
}

// ---- Kernels: ONNX QLinearConv / QLinearMatMul on REF vs CPU

struct ConvCase {
  Dims x;     // N, C, H, W
  int64_t m;  // output channels
  Dims k;     // kernel
  int64_t group = 1;
  std::vector<int64_t> strides{1, 1}, pads{0, 0, 0, 0}, dilations{1, 1};
  ElementType xt = ElementType::kU8, yt = ElementType::kU8;
  int32_t xz = 0, yz = 0, wz = 0;
  bool per_channel = true, bias = true;
  ElementType wt = ElementType::kI8;
};

OnnxBuilder qlinear_conv_model(const ConvCase& c) {
  OnnxBuilder b(13);
  const int xo = c.xt == ElementType::kU8 ? kU8 : kI8, yo = c.yt == ElementType::kU8 ? kU8 : kI8;
  const int wo = c.wt == ElementType::kU8 ? kU8 : kI8;
  b.input("x", xo, c.x);
  const Dims wd{c.m, c.x[1] / c.group, c.k[0], c.k[1]};
  const int wlo = c.wt == ElementType::kU8 ? 0 : -127, whi = c.wt == ElementType::kU8 ? 255 : 127;
  int_init(b, "w", wo, random_ints(size_t(element_count(wd)), 3, wlo, whi), wd);
  f32_init(b, "xs", {0.02f}, {});
  int_init(b, "xz", xo, {c.xz}, {});
  const int64_t nws = c.per_channel ? c.m : 1;
  f32_init(b, "ws", randoms(size_t(nws), 5, 0.001f, 0.01f), c.per_channel ? Dims{c.m} : Dims{});
  int_init(b, "wz", wo, std::vector<int32_t>(size_t(nws), c.wz), c.per_channel ? Dims{c.m} : Dims{});
  f32_init(b, "ys", {0.05f}, {});
  int_init(b, "yz", yo, {c.yz}, {});
  std::vector<std::string> in{"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"};
  if (c.bias) {
    int_init(b, "B", kI32, random_ints(size_t(c.m), 9, -2000, 2000), {c.m});
    in.push_back("B");
  }
  auto& n = b.node("QLinearConv", in, {"y"});
  OnnxBuilder::attr(n, "group", c.group);
  OnnxBuilder::attr(n, "strides", c.strides);
  OnnxBuilder::attr(n, "pads", c.pads);
  OnnxBuilder::attr(n, "dilations", c.dilations);
  b.output("y");
  return b;
}

void check_conv(const ConvCase& c) {
  OnnxBuilder b = qlinear_conv_model(c);
  std::vector<Tensor> in{q8_tensor(c.xt, c.x, 11)};
  RunResult ref = run(b, "REF", in);
  RunResult cpu = run(b, "CPU", in);
  EXPECT_EQ(cpu.kernels["QLinearConv"], "onednn:qconv");
  EXPECT_LE(max_diff(ref.out[0], cpu.out[0]), 1.0);  // one quantum (rounding of the requantization)
}

}  // namespace

TEST(CpuInt8, QLinearConvKernel) {
  ConvCase c;
  c.x = {1, 5, 9, 7};
  c.m = 7;
  c.k = {3, 3};
  c.pads = {1, 1, 1, 1};
  check_conv(c);  // odd channels, pads, per channel
  c.strides = {2, 2};
  c.per_channel = false;
  c.bias = false;
  check_conv(c);  // strides, per tensor, no bias
  c.xz = 128;
  c.yz = 100;
  c.strides = {1, 2};
  check_conv(c);  // non-zero zero points (padding reads the zero point)
  c.xt = ElementType::kI8;
  c.yt = ElementType::kI8;
  c.xz = -3;
  c.yz = 5;
  check_conv(c);  // s8 activations
  c.dilations = {2, 1};
  c.x = {2, 6, 11, 8};
  c.group = 3;
  c.m = 9;
  check_conv(c);  // groups, dilation, batch 2
}

TEST(CpuInt8, QLinearConvDepthwiseAndU8Weights) {
  ConvCase c;
  c.x = {1, 24, 10, 10};
  c.m = 24;
  c.group = 24;
  c.k = {3, 3};
  c.pads = {1, 1, 1, 1};
  c.strides = {2, 2};
  check_conv(c);
  c.x = {1, 19, 6, 5};
  c.m = 13;
  c.group = 1;
  c.k = {1, 1};
  c.pads = {0, 0, 0, 0};
  c.strides = {1, 1};
  c.wt = ElementType::kU8;
  c.wz = 128;  // u8 weights with zero point 128: shifted into s8
  check_conv(c);
}

namespace {

struct MatMulCase {
  Dims a;
  int64_t n;
  ElementType at = ElementType::kU8, yt = ElementType::kU8, bt = ElementType::kI8;
  int32_t az = 0, yz = 0, bz = 0;
  bool per_column = true;
};

void check_matmul(const MatMulCase& c) {
  OnnxBuilder b(13);
  const int ao = c.at == ElementType::kU8 ? kU8 : kI8, yo = c.yt == ElementType::kU8 ? kU8 : kI8;
  const int bo = c.bt == ElementType::kU8 ? kU8 : kI8;
  const int64_t K = c.a.back();
  b.input("a", ao, c.a);
  int_init(b, "b", bo,
           random_ints(size_t(K * c.n), 4, c.bt == ElementType::kU8 ? 0 : -127, c.bt == ElementType::kU8 ? 255 : 127),
           {K, c.n});
  f32_init(b, "as", {0.03f}, {});
  int_init(b, "az", ao, {c.az}, {});
  const int64_t ns = c.per_column ? c.n : 1;
  f32_init(b, "bs", randoms(size_t(ns), 6, 0.001f, 0.01f), c.per_column ? Dims{c.n} : Dims{});
  int_init(b, "bz", bo, std::vector<int32_t>(size_t(ns), c.bz), c.per_column ? Dims{c.n} : Dims{});
  f32_init(b, "ys", {0.04f}, {});
  int_init(b, "yz", yo, {c.yz}, {});
  b.node("QLinearMatMul", {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, {"y"});
  b.output("y");
  std::vector<Tensor> in{q8_tensor(c.at, c.a, 12)};
  RunResult ref = run(b, "REF", in);
  RunResult cpu = run(b, "CPU", in);
  EXPECT_EQ(cpu.kernels["QLinearMatMul"], "onednn:qmatmul");
  EXPECT_LE(max_diff(ref.out[0], cpu.out[0]), 1.0);
}

}  // namespace

TEST(CpuInt8, QLinearMatMulKernel) {
  MatMulCase c;
  c.a = {7, 19};
  c.n = 13;
  check_matmul(c);
  c.a = {2, 5, 33};
  c.n = 17;
  c.az = 120;
  c.yz = 3;
  c.per_column = false;
  check_matmul(c);  // batched A (rows folded), zero points, per tensor
  c.at = ElementType::kI8;
  c.yt = ElementType::kI8;
  c.az = -7;
  c.yz = -2;
  c.bt = ElementType::kU8;
  c.bz = 128;
  c.per_column = true;
  check_matmul(c);  // s8 A, u8 B with a zero point (shifted into s8)
}

// ---- Rules: QDQ graphs with fusion off (REF, unfused: the oracle) and on (CPU)

namespace {

// A QDQ model under construction: activations get Q -> DQ pairs, weights int8 initializers -> DQ.
struct Qdq {
  OnnxBuilder b{13};
  int counter = 0;
  // Q -> DQ of `x` with a scalar scale and zero point (u8 when zp_type is kU8).
  std::string qdq(const std::string& x, float scale, int32_t zp, int zp_type = kU8) {
    const std::string p = x + "_qdq" + std::to_string(counter++);
    f32_init(b, p + "_s", {scale}, {});
    int_init(b, p + "_z", zp_type, {zp}, {});
    b.node("QuantizeLinear", {x, p + "_s", p + "_z"}, {p + "_q"});
    b.node("DequantizeLinear", {p + "_q", p + "_s", p + "_z"}, {p});
    return p;
  }
  // Symmetric per-channel int8 weights of `dims` along `axis` -> DQ.
  std::string weights(const std::string& name, const Dims& dims, int64_t axis, uint32_t seed) {
    int_init(b, name + "_q", kI8, random_ints(size_t(element_count(dims)), seed, -127, 127), dims);
    const int64_t c = dims[size_t(axis)];
    f32_init(b, name + "_s", randoms(size_t(c), seed + 1, 0.002f, 0.01f), {c});
    int_init(b, name + "_z", kI8, std::vector<int32_t>(size_t(c), 0), {c});
    auto& n = b.node("DequantizeLinear", {name + "_q", name + "_s", name + "_z"}, {name});
    OnnxBuilder::attr(n, "axis", axis);
    return name;
  }
};

Tensor random_f32(const Dims& dims, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  return Tensor::from_vector<float>(randoms(size_t(element_count(dims)), seed, lo, hi), dims);
}

size_t count(const RunResult& r, const std::string& op) { return size_t(std::count(r.ops.begin(), r.ops.end(), op)); }

// The graph after the CPU pipeline with fusion, run by the reference kernels.
std::vector<Tensor> run_fused_on_ref(const OnnxBuilder& b, const std::vector<Tensor>& inputs) {
  Model m = b.read();
  std::shared_ptr<Graph> g = m.graph().clone();
  passes::run_cpu_pipeline(*g, true);
  Executor exec(g, ref_device(), {});
  std::vector<RtValue> in;
  for (const Tensor& t : inputs) in.emplace_back(t);
  std::vector<Tensor> out;
  for (RtValue& v : exec.run(in)) out.push_back(v.tensor);
  return out;
}

// Unfused REF (the oracle) vs the fused graph on the reference kernels and on CPU: within `tol` (absolute: dropped
// intermediate roundings), the fused graph on REF and on CPU within `kernel_tol` (one rounding per int8 node), fewer
// nodes. Returns the CPU run.
RunResult check_rule(const OnnxBuilder& b, const std::vector<Tensor>& in, double tol, double kernel_tol) {
  RunResult ref = run(b, "REF", in, false);
  RunResult off = run(b, "CPU", in, false);
  RunResult on = run(b, "CPU", in, true);
  std::vector<Tensor> fused = run_fused_on_ref(b, in);
  EXPECT_LT(on.ops.size(), off.ops.size());
  for (size_t i = 0; i < ref.out.size(); ++i) {
    EXPECT_LE(max_diff(ref.out[i], off.out[i]), 1e-5) << "CPU without fusion, output " << i;
    EXPECT_LE(max_diff(ref.out[i], fused[i]), tol) << "fused graph on REF, output " << i;
    EXPECT_LE(max_diff(fused[i], on.out[i]), kernel_tol) << "fused graph on CPU, output " << i;
  }
  return on;
}

}  // namespace

TEST(CpuInt8, RuleConvReluQ) {
  Qdq q;
  q.b.input("x", kF32, {1, 6, 9, 9});
  const std::string x = q.qdq("x", 0.01f, 128);
  const std::string w = q.weights("w", {10, 6, 3, 3}, 0, 21);
  f32_init(q.b, "bias", randoms(10, 22, -0.5f, 0.5f), {10});
  auto& c = q.b.node("Conv", {x, w, "bias"}, {"c"});
  OnnxBuilder::attr(c, "pads", std::vector<int64_t>{1, 1, 1, 1});
  q.b.node("Relu", {"c"}, {"r"});
  const std::string y = q.qdq("r", 0.02f, 0);
  q.b.node("Identity", {y}, {"y"});
  q.b.output("y");
  RunResult on = check_rule(q.b, {random_f32({1, 6, 9, 9}, 1)}, 0.02 * 2, 0.02);
  EXPECT_EQ(count(on, "QLinearConv"), 1u);
  EXPECT_EQ(on.kernels["QLinearConv"], "onednn:qconv");
  EXPECT_EQ(count(on, "Conv"), 0u);
}

TEST(CpuInt8, RuleResidualAddInt8) {
  // Conv -> Q -> DQ -> Add(DQ(r)) -> Relu -> Q -> DQ: one int8 conv with a quantized residual operand.
  Qdq q;
  q.b.input("x", kF32, {1, 16, 7, 7});
  const std::string x = q.qdq("x", 0.02f, 0, kI8);
  const std::string w = q.weights("w", {16, 16, 1, 1}, 0, 31);
  q.b.node("Conv", {x, w}, {"c"});
  const std::string c = q.qdq("c", 0.03f, 0, kI8);
  q.b.node("Add", {c, x}, {"s"});
  q.b.node("Relu", {"s"}, {"r"});
  const std::string y = q.qdq("r", 0.03f, 0);
  q.b.node("Identity", {y}, {"y"});
  q.b.output("y");
  if (const char* d = std::getenv("CELER_INT8_TEST_DUMP")) {
    std::ofstream(d, std::ios::binary) << q.b.bytes();
  }
  RunResult on = check_rule(q.b, {random_f32({1, 16, 7, 7}, 2, -2.0f, 2.0f)}, 0.03 * 3, 0.03);
  EXPECT_EQ(count(on, "QLinearConv"), 1u);
  EXPECT_EQ(count(on, "Add"), 0u);
  EXPECT_EQ(on.kernels["QLinearConv"], "onednn:qconv");
}

TEST(CpuInt8, RuleGemmAndMatMul) {
  // DQ -> Gemm(transB, bias) -> Q -> DQ -> Flatten-free MatMul (3-D A) -> float output.
  Qdq q;
  q.b.input("x", kF32, {3, 20});
  const std::string x = q.qdq("x", 0.01f, 120);
  const std::string w = q.weights("w", {11, 20}, 0, 41);
  f32_init(q.b, "bias", randoms(11, 42, -0.2f, 0.2f), {11});
  auto& g = q.b.node("Gemm", {x, w, "bias"}, {"g"});
  OnnxBuilder::attr(g, "transB", int64_t(1));
  const std::string gq = q.qdq("g", 0.01f, 128);
  const std::string w2 = q.weights("w2", {11, 5}, 1, 43);
  q.b.node("MatMul", {gq, w2}, {"y"});
  q.b.output("y");
  RunResult on = check_rule(q.b, {random_f32({3, 20}, 3)}, 0.05, 0.02);
  EXPECT_EQ(count(on, "QLinearMatMul"), 2u);
  EXPECT_EQ(on.kernels["QLinearMatMul"], "onednn:qmatmul");
  EXPECT_EQ(count(on, "DequantizeLinear"), 0u);
}

TEST(CpuInt8, RuleMaxPoolFlattenAndDqQPairs) {
  // DQ -> MaxPool -> Q and DQ -> Flatten -> Q (equal parameters) run on int8; a DQ -> Q pair with equal parameters
  // goes; int8 stays int8 between the two convolutions.
  Qdq q;
  q.b.input("x", kF32, {1, 4, 8, 8});
  const std::string x = q.qdq("x", 0.01f, 128);
  const std::string w = q.weights("w", {8, 4, 3, 3}, 0, 51);
  q.b.node("Conv", {x, w}, {"c"});
  q.b.node("Relu", {"c"}, {"r"});
  const std::string r = q.qdq("r", 0.02f, 0);
  auto& mp = q.b.node("MaxPool", {r}, {"m"});
  OnnxBuilder::attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(mp, "strides", std::vector<int64_t>{2, 2});
  const std::string m = q.qdq("m", 0.02f, 0);
  // DQ -> Q with equal parameters (e.g. what a tool leaves around an Identity).
  f32_init(q.b, "m2_s", {0.02f}, {});
  int_init(q.b, "m2_z", kU8, {0}, {});
  q.b.node("QuantizeLinear", {m, "m2_s", "m2_z"}, {"m2_q"});
  q.b.node("DequantizeLinear", {"m2_q", "m2_s", "m2_z"}, {"m2"});
  const std::string w2 = q.weights("w2", {5, 8, 1, 1}, 0, 52);
  q.b.node("Conv", {"m2", w2}, {"c2"});
  const std::string c2 = q.qdq("c2", 0.02f, 128);
  auto& fl = q.b.node("Flatten", {c2}, {"f"});
  OnnxBuilder::attr(fl, "axis", int64_t(1));
  const std::string f = q.qdq("f", 0.02f, 128);
  q.b.node("Identity", {f}, {"y"});
  q.b.output("y");
  RunResult on = check_rule(q.b, {random_f32({1, 4, 8, 8}, 4)}, 0.02 * 5, 0.02 * 3);
  EXPECT_EQ(count(on, "QLinearConv"), 2u);
  EXPECT_EQ(count(on, "QuantizeLinear"), 1u);    // the input's
  EXPECT_EQ(count(on, "DequantizeLinear"), 1u);  // the output's
  EXPECT_EQ(on.kernels["MaxPool"], "onednn:pool");
}

TEST(CpuInt8, RuleQLinearConvChainKeepsInt8) {
  // ONNX QLinearConv -> QLinearConv: int8 in between, both on oneDNN, channels-last between them.
  OnnxBuilder b(13);
  b.input("x", kU8, {1, 8, 6, 6});
  f32_init(b, "s", {0.02f}, {});
  int_init(b, "z", kU8, {128}, {});
  int_init(b, "w1", kI8, random_ints(8 * 8 * 9, 61, -127, 127), {8, 8, 3, 3});
  int_init(b, "w2", kI8, random_ints(8 * 8, 62, -127, 127), {8, 8, 1, 1});
  f32_init(b, "ws", {0.004f}, {});
  int_init(b, "wz", kI8, {0}, {});
  auto& c1 = b.node("QLinearConv", {"x", "s", "z", "w1", "ws", "wz", "s", "z"}, {"h"});
  OnnxBuilder::attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("QLinearConv", {"h", "s", "z", "w2", "ws", "wz", "s", "z"}, {"y"});
  b.output("y");
  std::vector<Tensor> in{q8_tensor(ElementType::kU8, {1, 8, 6, 6}, 63)};
  RunResult ref = run(b, "REF", in);
  RunResult cpu = run(b, "CPU", in);
  EXPECT_LE(max_diff(ref.out[0], cpu.out[0]), 2.0);
  EXPECT_EQ(cpu.kernels["QLinearConv"], "onednn:qconv");
  EXPECT_EQ(count(cpu, "Reorder"), 2u);  // into channels-last once, back once
}

// ---- Bad quantization parameters (BAD-INPUTS row 20): a clear error naming the tensor.

namespace {
std::string load_error(const OnnxBuilder& b, const std::string& device) {
  try {
    run(b, device, {random_f32({1, 4, 5, 5}, 9)});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
OnnxBuilder bad_qdq(float x_scale, int32_t w_len, int32_t bias_zp) {
  Qdq q;
  q.b.input("x", kF32, {1, 4, 5, 5});
  f32_init(q.b, "xs", {x_scale}, {});
  int_init(q.b, "xz", kU8, {128}, {});
  q.b.node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"});
  q.b.node("DequantizeLinear", {"xq", "xs", "xz"}, {"xd"});
  int_init(q.b, "w_q", kI8, random_ints(6 * 4 * 9, 71, -127, 127), {6, 4, 3, 3});
  f32_init(q.b, "w_scale", randoms(size_t(w_len), 72, 0.01f, 0.02f), {w_len});
  int_init(q.b, "w_zp", kI8, std::vector<int32_t>(size_t(w_len), 0), {w_len});
  auto& d = q.b.node("DequantizeLinear", {"w_q", "w_scale", "w_zp"}, {"w"}, "weights_dq");
  OnnxBuilder::attr(d, "axis", int64_t(0));
  int_init(q.b, "b_q", kI32, std::vector<int32_t>(6, 10), {6});
  f32_init(q.b, "b_scale", {0.001f}, {});
  int_init(q.b, "b_zp", kI32, {bias_zp}, {});
  q.b.node("DequantizeLinear", {"b_q", "b_scale", "b_zp"}, {"bias"}, "bias_dq");
  q.b.node("Conv", {"xd", "w", "bias"}, {"y"});
  q.b.output("y");
  return std::move(q.b);
}
}  // namespace

TEST(CpuInt8, BadQuantizationParameters) {
  for (const char* dev : {"REF", "CPU"}) {
    EXPECT_EQ(load_error(bad_qdq(0.01f, 6, 0), dev), "") << dev;
    for (float s : {0.0f, std::nanf(""), INFINITY}) {
      const std::string e = load_error(bad_qdq(s, 6, 0), dev);
      EXPECT_NE(e.find("'xs'"), std::string::npos) << dev << ": " << e;
      EXPECT_NE(e.find("finite and non-zero"), std::string::npos) << dev << ": " << e;
    }
    std::string e = load_error(bad_qdq(0.01f, 5, 0), dev);  // per-axis scale of the wrong length
    EXPECT_NE(e.find("weights_dq"), std::string::npos) << dev << ": " << e;
    EXPECT_NE(e.find("'w_scale'"), std::string::npos) << dev << ": " << e;
    e = load_error(bad_qdq(0.01f, 6, 3), dev);  // an i32 zero point must be 0
    EXPECT_NE(e.find("bias_dq"), std::string::npos) << dev << ": " << e;
    EXPECT_NE(e.find("zero point"), std::string::npos) << dev << ": " << e;
  }
}

TEST(CpuInt8, QuantizeDequantizeKernels) {
  // Ties (half quanta), saturation, NaN and infinities: the CPU kernels match the reference exactly.
  for (int zt : {kU8, kI8}) {
    OnnxBuilder b(13);
    const Dims d{3, 50000};
    b.input("x", kF32, d);
    f32_init(b, "s", {0.25f}, {});
    int_init(b, "z", zt, {zt == kU8 ? 7 : -3}, {});
    b.node("QuantizeLinear", {"x", "s", "z"}, {"q"});
    b.node("DequantizeLinear", {"q", "s", "z"}, {"y"});
    b.output("q");
    b.output("y");
    Tensor x = random_f32(d, 5, -80.0f, 80.0f);
    float* p = x.data<float>();
    for (int64_t i = 0; i < 1000; ++i) p[i * 7] = 0.125f * float(i - 500);  // ties at every other value
    p[1] = std::nanf("");
    p[2] = INFINITY;
    p[3] = -INFINITY;
    RunResult ref = run(b, "REF", {x});
    RunResult cpu = run(b, "CPU", {x});
    EXPECT_EQ(cpu.kernels["QuantizeLinear"], "cpu:quantize");
    EXPECT_EQ(cpu.kernels["DequantizeLinear"], "cpu:dequantize");
    EXPECT_EQ(max_diff(ref.out[0], cpu.out[0]), 0.0);
    EXPECT_EQ(max_diff(ref.out[1], cpu.out[1]), 0.0);
  }
}

TEST(CpuInt8, RuleDynamicQuantizedMatMul) {
  // ONNX Runtime's quantize_dynamic: DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(x_scale * w_scale) -> Add.
  OnnxBuilder b(13);
  const int64_t K = 24, N = 10;
  b.input("x", kF32, {2, 3, K});
  b.node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xz"});
  int_init(b, "wq", kI8, random_ints(size_t(K * N), 81, -127, 127), {K, N});
  int_init(b, "wz", kI8, {0}, {});
  b.node("MatMulInteger", {"xq", "wq", "xz", "wz"}, {"acc"});
  auto& c = b.node("Cast", {"acc"}, {"accf"});
  OnnxBuilder::attr(c, "to", int64_t(kF32));
  f32_init(b, "ws", randoms(size_t(N), 82, 0.001f, 0.01f), {N});
  b.node("Mul", {"xs", "ws"}, {"s"});
  b.node("Mul", {"accf", "s"}, {"m"});
  f32_init(b, "bias", randoms(size_t(N), 83, -1.0f, 1.0f), {N});
  b.node("Add", {"m", "bias"}, {"y"});
  b.output("y");
  const std::vector<Tensor> in{random_f32({2, 3, K}, 84, -3.0f, 3.0f)};
  RunResult ref = run(b, "REF", in, false);
  RunResult on = run(b, "CPU", in, true);
  EXPECT_LE(max_diff(ref.out[0], on.out[0]), 1e-4);  // the same integer products and scales
  EXPECT_EQ(on.kernels["QLinearMatMul"], "onednn:qmatmul_dynamic");
  EXPECT_EQ(on.kernels["DynamicQuantizeLinear"], "cpu:dynamic_quantize");
  EXPECT_EQ(count(on, "MatMulInteger") + count(on, "Cast") + count(on, "Mul") + count(on, "Add"), 0u);
  EXPECT_LE(max_diff(ref.out[0], run_fused_on_ref(b, in)[0]), 1e-4);
}

TEST(CpuInt8, RuleConvIntegerCastMul) {
  OnnxBuilder b(13);
  b.input("x", kU8, {1, 3, 7, 6});
  int_init(b, "w", kI8, random_ints(5 * 3 * 9, 91, -127, 127), {5, 3, 3, 3});
  int_init(b, "xz", kU8, {100}, {});
  auto& ci = b.node("ConvInteger", {"x", "w", "xz"}, {"acc"});
  OnnxBuilder::attr(ci, "pads", std::vector<int64_t>{1, 1, 1, 1});
  auto& c = b.node("Cast", {"acc"}, {"accf"});
  OnnxBuilder::attr(c, "to", int64_t(kF32));
  f32_init(b, "s", randoms(5, 92, 0.001f, 0.002f), {1, 5, 1, 1});
  b.node("Mul", {"accf", "s"}, {"m"});
  b.node("Relu", {"m"}, {"y"});
  b.output("y");
  const std::vector<Tensor> in{q8_tensor(ElementType::kU8, {1, 3, 7, 6}, 93)};
  RunResult ref = run(b, "REF", in, false);
  RunResult on = run(b, "CPU", in, true);
  EXPECT_LE(max_diff(ref.out[0], on.out[0]), 1e-4);
  EXPECT_EQ(on.kernels["QLinearConv"], "onednn:qconv");
  EXPECT_EQ(on.ops.size() - count(on, "Reorder"), 1u);  // Relu fused too; Reorders to and from channels-last
}

TEST(CpuInt8, DynamicShapes) {
  // Unknown batch (and rows): the int8 kernels build their primitives per input shape at run time.
  ConvCase c;
  c.x = {-1, 5, 9, 7};
  c.m = 6;
  c.k = {3, 3};
  c.pads = {1, 0, 1, 0};
  c.xz = 9;
  OnnxBuilder conv = qlinear_conv_model(c);
  OnnxBuilder mm(13);
  mm.input("a", kU8, {-1, 7, 16});
  int_init(mm, "b", kI8, random_ints(16 * 5, 4, -127, 127), {16, 5});
  f32_init(mm, "as", {0.03f}, {});
  int_init(mm, "az", kU8, {100}, {});
  f32_init(mm, "bs", randoms(5, 6, 0.001f, 0.01f), {5});
  int_init(mm, "bz", kI8, std::vector<int32_t>(5, 0), {5});
  f32_init(mm, "ys", {0.04f}, {});
  int_init(mm, "yz", kU8, {3}, {});
  mm.node("QLinearMatMul", {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, {"y"});
  mm.output("y");
  for (const OnnxBuilder* b : {&conv, &mm}) {
    const bool is_conv = b == &conv;
    Core core;
    CompiledModel ref = core.compile_model(b->read(), "REF");
    CompiledModel cpu = core.compile_model(b->read(), "CPU");
    InferRequest rr = ref.create_infer_request(), rc = cpu.create_infer_request();
    rc.enable_profiling();
    for (int64_t n : {1, 3, 2}) {
      const Tensor x = is_conv ? q8_tensor(ElementType::kU8, {n, 5, 9, 7}, uint32_t(n))
                               : q8_tensor(ElementType::kU8, {n, 7, 16}, uint32_t(n));
      rr.set_input_tensor(0, x);
      rc.set_input_tensor(0, x);
      rr.infer();
      rc.infer();
      EXPECT_LE(max_diff(rr.get_output_tensor(0), rc.get_output_tensor(0)), 1.0) << (is_conv ? "conv" : "matmul");
    }
    for (const NodeProfile& p : rc.profile()) EXPECT_EQ(p.kernel, is_conv ? "onednn:qconv" : "onednn:qmatmul");
  }
}

TEST(CpuInt8, DynamicQuantizeLinearKernel) {
  OnnxBuilder b(13);
  const Dims d{4, 30001};
  b.input("x", kF32, d);
  b.node("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"});
  b.output("y");
  b.output("s");
  b.output("z");
  for (float lo : {-3.0f, 0.5f}) {
    Tensor x = random_f32(d, 7, lo, 2.0f);
    RunResult ref = run(b, "REF", {x});
    RunResult cpu = run(b, "CPU", {x});
    EXPECT_EQ(cpu.kernels["DynamicQuantizeLinear"], "cpu:dynamic_quantize");
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(max_diff(ref.out[i], cpu.out[i]), 0.0) << i;
  }
  Tensor bad = random_f32(d, 8);
  bad.data<float>()[77777] = INFINITY;
  EXPECT_THROW(run(b, "CPU", {bad}), Error);
}

TEST(CpuInt8, RuleConcatOfEqualParameters) {
  // Two int8 branches -> DQ -> Concat -> Q (all parameters equal): the Concat runs on int8, no Q/DQ in between.
  Qdq q;
  q.b.input("x", kF32, {1, 3, 6, 6});
  const std::string x = q.qdq("x", 0.01f, 128);
  const std::string w1 = q.weights("w1", {4, 3, 3, 3}, 0, 101);
  const std::string w2 = q.weights("w2", {5, 3, 1, 1}, 0, 102);
  auto& c1 = q.b.node("Conv", {x, w1}, {"c1"});
  OnnxBuilder::attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  q.b.node("Conv", {x, w2}, {"c2"});
  const std::string a = q.qdq("c1", 0.02f, 128);
  const std::string b = q.qdq("c2", 0.02f, 128);
  auto& cat = q.b.node("Concat", {a, b}, {"cat"});
  OnnxBuilder::attr(cat, "axis", int64_t(1));
  const std::string cq = q.qdq("cat", 0.02f, 128);
  const std::string w3 = q.weights("w3", {2, 9, 1, 1}, 0, 103);
  q.b.node("Conv", {cq, w3}, {"y"});
  q.b.output("y");
  RunResult on = check_rule(q.b, {random_f32({1, 3, 6, 6}, 104)}, 0.05, 0.05);
  EXPECT_EQ(count(on, "QLinearConv"), 3u);
  EXPECT_EQ(count(on, "QuantizeLinear") + count(on, "DequantizeLinear"), 1u);  // the input's Q
}

TEST(CpuInt8, ZeroPointsEverywhere) {
  // Asymmetric u8 activations (the `mixed` preset): depthwise and strided kernels with zero points, and a residual
  // block whose every tensor has a non-zero zero point.
  ConvCase c;
  c.x = {1, 24, 10, 10};
  c.m = 24;
  c.group = 24;
  c.k = {3, 3};
  c.pads = {1, 1, 1, 1};
  c.xz = 120;
  c.yz = 77;
  check_conv(c);
  c.strides = {2, 2};
  check_conv(c);
  Qdq q;
  q.b.input("x", kF32, {1, 16, 7, 7});
  const std::string x = q.qdq("x", 0.02f, 100);
  const std::string w = q.weights("w", {16, 16, 1, 1}, 0, 31);
  q.b.node("Conv", {x, w}, {"c"});
  const std::string cq = q.qdq("c", 0.03f, 140);
  q.b.node("Add", {cq, x}, {"s"});
  q.b.node("Relu", {"s"}, {"r"});
  const std::string y = q.qdq("r", 0.03f, 20);
  q.b.node("Identity", {y}, {"y"});
  q.b.output("y");
  RunResult on = check_rule(q.b, {random_f32({1, 16, 7, 7}, 2, -2.0f, 2.0f)}, 0.03 * 3, 0.03);
  EXPECT_EQ(count(on, "QLinearConv"), 1u);
}

TEST(CpuInt8, ResidualOperandWithZeroPoint) {
  // A residual operand with its own zero point (the src has none).
  Qdq q;
  q.b.input("x", kF32, {1, 16, 7, 7});
  q.b.input("r", kF32, {1, 16, 7, 7});
  const std::string x = q.qdq("x", 0.02f, 0);
  const std::string r = q.qdq("r", 0.02f, 100);
  const std::string w = q.weights("w", {16, 16, 1, 1}, 0, 31);
  q.b.node("Conv", {x, w}, {"c"});
  const std::string cq = q.qdq("c", 0.03f, 0);
  q.b.node("Add", {cq, r}, {"s"});
  q.b.node("Relu", {"s"}, {"rr"});
  const std::string y = q.qdq("rr", 0.03f, 0);
  q.b.node("Identity", {y}, {"y"});
  q.b.output("y");
  RunResult on = check_rule(q.b, {random_f32({1, 16, 7, 7}, 2, -2.0f, 2.0f), random_f32({1, 16, 7, 7}, 3, -1.0f, 1.0f)},
                            0.03 * 3, 0.03);
}

TEST(CpuInt8, RuleFloatOperandAndSigmoid) {
  // A float residual operand and an activation that does not commute with scaling (Sigmoid), then a Q.
  Qdq q;
  q.b.input("x", kF32, {1, 8, 5, 5});
  q.b.input("r", kF32, {1, 8, 5, 5});
  const std::string x = q.qdq("x", 0.02f, 128);
  const std::string w = q.weights("w", {8, 8, 3, 3}, 0, 111);
  auto& c = q.b.node("Conv", {x, w}, {"c"});
  OnnxBuilder::attr(c, "pads", std::vector<int64_t>{1, 1, 1, 1});
  q.b.node("Add", {"c", "r"}, {"s"});
  q.b.node("Sigmoid", {"s"}, {"g"});
  const std::string y = q.qdq("g", 1.0f / 255, 0);
  q.b.node("Identity", {y}, {"y"});
  q.b.output("y");
  RunResult on = check_rule(q.b, {random_f32({1, 8, 5, 5}, 112), random_f32({1, 8, 5, 5}, 113)}, 3.0 / 255, 2.0 / 255);
  EXPECT_EQ(count(on, "QLinearConv"), 1u);
  EXPECT_EQ(on.kernels["QLinearConv"], "onednn:qconv");
  EXPECT_EQ(count(on, "Add") + count(on, "Sigmoid"), 0u);
}
