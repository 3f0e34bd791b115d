// Graph passes: every rule with fusion off and on. Each test builds a small model, checks that the pipeline with
// fusion leaves fewer nodes (and the expected fused op), and that the outputs agree: the unfused graph on REF (the
// oracle), the fused graph run by the reference kernels, and the model compiled for CPU (fusion on).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "devices/ref/ref_device.hpp"
#include "io/npy.hpp"
#include "ir/graph.hpp"
#include "onnx_builder.hpp"
#include "passes/pass.hpp"
#include "runtime/executor.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

using FLOAT = std::integral_constant<int, onnx::TensorProto::FLOAT>;

std::vector<float> randoms(size_t n, uint32_t seed, float lo = -2.0f, float hi = 2.0f) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * float(s >> 8) / float(1 << 24);
  }
  return v;
}

Tensor random_tensor(const Dims& dims, uint32_t seed, float lo = -2.0f, float hi = 2.0f) {
  return Tensor::from_vector<float>(randoms(size_t(element_count(dims)), seed, lo, hi), dims);
}

void init(OnnxBuilder& b, const std::string& name, const Dims& dims, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  b.initializer(name, randoms(size_t(element_count(dims)), seed, lo, hi), dims);
}

void scalar(OnnxBuilder& b, const std::string& name, float v) { b.initializer(name, {v}, {}); }

struct Result {
  size_t nodes_unfused = 0;  // after the pipeline with fusion off
  size_t nodes_fused = 0;
  std::vector<std::string> fused_ops;  // op type names of the fused graph
  bool has(const std::string& op) const { return std::find(fused_ops.begin(), fused_ops.end(), op) != fused_ops.end(); }
};

void expect_near(const std::vector<Tensor>& want, const std::vector<Tensor>& got, const char* what, double tol) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t o = 0; o < want.size(); ++o) {
    ASSERT_EQ(want[o].dims(), got[o].dims()) << what << " output " << o;
    for (int64_t i = 0; i < want[o].size(); ++i) {
      const double a = want[o].value_as_double(i), b = got[o].value_as_double(i);
      ASSERT_NEAR(a, b, tol * std::max(1.0, std::fabs(a))) << what << " output " << o << " element " << i;
    }
  }
}

// Runs the model unfused on REF, fused through the reference kernels and compiled for CPU; compares the outputs.
Result check(const OnnxBuilder& b, const std::vector<Tensor>& inputs, double tol = 1e-5) {
  Result r;
  const std::vector<Tensor> want = b.run("REF", inputs);
  Model m = b.read();
  std::shared_ptr<Graph> off = m.graph().clone();
  passes::run_cpu_pipeline(*off, false);
  r.nodes_unfused = off->nodes.size();
  std::shared_ptr<Graph> on = m.graph().clone();
  passes::run_cpu_pipeline(*on, true);
  r.nodes_fused = on->nodes.size();
  for (const auto& n : on->nodes) r.fused_ops.push_back(n->type_name());
  // The fused graph on the reference kernels (post-ops and fused ops computed by their reference kernels).
  Executor exec(on, ref_device(), {});
  std::vector<RtValue> in;
  for (const Tensor& t : inputs) in.emplace_back(t);
  std::vector<Tensor> fused;
  for (RtValue& v : exec.run(in)) fused.push_back(v.tensor);
  expect_near(want, fused, "fused graph on REF", tol);
  expect_near(want, b.run("CPU", inputs), "CPU", tol * 10);
  // Fusion off on CPU through the compile property.
  Core core;
  CompiledModel cm = core.compile_model(m, "CPU", {{"enable_fusion", "0"}});
  InferRequest req = cm.create_infer_request();
  for (size_t i = 0; i < inputs.size(); ++i) req.set_input_tensor(i, inputs[i]);
  req.infer();
  std::vector<Tensor> cpu_off;
  for (size_t i = 0; i < cm.outputs().size(); ++i) cpu_off.push_back(req.get_output_tensor(i));
  expect_near(want, cpu_off, "CPU without fusion", tol * 10);
  return r;
}

std::string ops_of(const Result& r) {
  std::string s;
  for (const auto& o : r.fused_ops) s += o + " ";
  return s;
}

}  // namespace

TEST(Passes, IdentityDropoutAndCommonSubexpressions) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {2, 5});
  b.node("Identity", {"x"}, {"i"});
  b.node("Relu", {"i"}, {"a"});
  b.node("Relu", {"x"}, {"b"});
  b.node("Add", {"a", "b"}, {"s"});
  b.node("Dropout", {"s"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({2, 5}, 1)});
  EXPECT_EQ(r.nodes_unfused, 2u) << ops_of(r);  // Relu, Add
  EXPECT_LE(r.nodes_fused, 2u) << ops_of(r);
}

TEST(Passes, ZeroPadIsRemoved) {
  for (const char* mode : {"constant", "reflect", "edge"}) {
    OnnxBuilder b(13);
    b.input("x", FLOAT::value, {1, 3, 4, 4});
    b.initializer_i64("zero", std::vector<int64_t>(8, 0), {8});
    b.initializer_i64("one", std::vector<int64_t>{0, 0, 1, 0, 0, 0, 0, 1}, {8});
    auto& z = b.node("Pad", {"x", "zero"}, {"p"});
    OnnxBuilder::attr(z, "mode", std::string(mode));
    b.node("Relu", {"p"}, {"r"});
    auto& o = b.node("Pad", {"r", "one"}, {"y"});  // a real pad stays
    OnnxBuilder::attr(o, "mode", std::string(mode));
    b.output("y");
    Result r = check(b, {random_tensor({1, 3, 4, 4}, 3)});
    EXPECT_EQ(r.nodes_unfused, 2u) << mode << ": " << ops_of(r);  // Relu, Pad
  }
}

// Pad by zeros -> AveragePool / Conv: the pad becomes the window's padding (the pool then counts the padded zeros).
TEST(Passes, ZeroPadFoldsIntoAveragePoolAndConv) {
  struct Case {
    const char* what;
    const char* reader;  // AveragePool, MaxPool or Conv
    const char* mode;    // Pad mode
    float fill;          // constant_value
    bool ceil_mode;      // AveragePool
    bool own_pads;       // AveragePool: pads of its own (count_include_pad 0)
    std::vector<int64_t> pads;
    bool folds;
  };
  const std::vector<int64_t> spatial{0, 0, 1, 2, 0, 0, 2, 1};
  const std::vector<Case> cases = {
      {"avgpool", "AveragePool", "constant", 0, false, false, spatial, true},
      {"conv", "Conv", "constant", 0, false, false, spatial, true},
      {"reflect", "AveragePool", "reflect", 0, false, false, spatial, false},
      {"fill 1", "AveragePool", "constant", 1, false, false, spatial, false},
      {"ceil_mode", "AveragePool", "constant", 0, true, false, spatial, false},
      {"own pads", "AveragePool", "constant", 0, false, true, spatial, false},
      {"maxpool", "MaxPool", "constant", 0, false, false, spatial, false},
      {"channel pad", "Conv", "constant", 0, false, false, {0, 1, 1, 1, 0, 0, 1, 1}, false},
  };
  for (const Case& c : cases) {
    OnnxBuilder b(13);
    b.input("x", FLOAT::value, {1, 3, 7, 6});
    b.initializer_i64("pads", c.pads, {8});
    b.initializer("fill", {c.fill}, {});
    auto& p = b.node("Pad", {"x", "pads", "fill"}, {"p"});
    OnnxBuilder::attr(p, "mode", std::string(c.mode));
    if (std::string(c.reader) == "Conv") {
      const int64_t cin = 3 + c.pads[1] + c.pads[5];
      Tensor w = random_tensor({4, cin, 3, 3}, 9);
      b.initializer("w", std::vector<float>(w.data<float>(), w.data<float>() + w.size()), {4, cin, 3, 3});
      auto& conv = b.node("Conv", {"p", "w"}, {"y"});
      OnnxBuilder::attr(conv, "pads", std::vector<int64_t>{1, 0, 0, 1});
    } else {
      auto& pool = b.node(c.reader, {"p"}, {"y"});
      OnnxBuilder::attr(pool, "kernel_shape", std::vector<int64_t>{3, 3});
      OnnxBuilder::attr(pool, "strides", std::vector<int64_t>{2, 1});
      if (c.ceil_mode) OnnxBuilder::attr(pool, "ceil_mode", int64_t{1});
      if (c.own_pads) OnnxBuilder::attr(pool, "pads", std::vector<int64_t>{1, 1, 1, 1});
    }
    b.output("y");
    Result r = check(b, {random_tensor({1, 3, 7, 6}, 4)});
    EXPECT_EQ(r.nodes_fused, c.folds ? 1u : 2u) << c.what << ": " << ops_of(r);
  }
}

TEST(Passes, IdentityProducingGraphOutputKeepsItsName) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {3});
  b.node("Relu", {"x"}, {"r"});
  b.node("Identity", {"r"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({3}, 2)});
  EXPECT_EQ(r.nodes_unfused, 1u);
  Model m = b.read();
  auto g = m.graph().clone();
  passes::run_cpu_pipeline(*g, true);
  EXPECT_EQ(g->outputs[0]->name, "y");
}

TEST(Passes, TransposePairs) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {2, 3, 4});
  auto& t1 = b.node("Transpose", {"x"}, {"t1"});
  OnnxBuilder::attr(t1, "perm", std::vector<int64_t>{0, 2, 1});
  auto& t2 = b.node("Transpose", {"t1"}, {"t2"});
  OnnxBuilder::attr(t2, "perm", std::vector<int64_t>{0, 2, 1});
  b.node("Relu", {"t2"}, {"r"});
  auto& t3 = b.node("Transpose", {"r"}, {"t3"});
  OnnxBuilder::attr(t3, "perm", std::vector<int64_t>{2, 0, 1});
  auto& t4 = b.node("Transpose", {"t3"}, {"y"});
  OnnxBuilder::attr(t4, "perm", std::vector<int64_t>{0, 2, 1});
  b.output("y");
  Result r = check(b, {random_tensor({2, 3, 4}, 3)});
  EXPECT_EQ(r.nodes_unfused, 2u) << ops_of(r);  // Relu, one Transpose
}

// Transposes that move only size-1 axes become Reshapes (views); one that reorders real axes stays.
TEST(Passes, TransposeOfUnitAxesBecomesReshape) {
  struct Case {
    Dims x;
    std::vector<int64_t> perm;
    bool becomes_reshape;
  };
  const Case cases[] = {{{1, 5, 4}, {1, 0, 2}, true},
                        {{2, 1, 3, 1}, {0, 2, 3, 1}, true},
                        {{5, 1, 4}, {1, 2, 0}, false},
                        {{1, 5, 4}, {0, 2, 1}, false}};
  for (const Case& c : cases) {
    OnnxBuilder b(13);
    b.input("x", FLOAT::value, c.x);
    OnnxBuilder::attr(b.node("Softmax", {"x"}, {"r"}), "axis", int64_t(-1));
    OnnxBuilder::attr(b.node("Transpose", {"r"}, {"t"}), "perm", c.perm);
    OnnxBuilder::attr(b.node("Softmax", {"t"}, {"y"}), "axis", int64_t(-1));
    b.output("y");
    Result r = check(b, {random_tensor(c.x, 60)});
    EXPECT_EQ(r.has("Reshape"), c.becomes_reshape) << dims_to_string(c.x) << " " << ops_of(r);
    EXPECT_EQ(r.has("Transpose"), !c.becomes_reshape) << dims_to_string(c.x) << " " << ops_of(r);
  }
}

TEST(Passes, ReshapePairs) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {2, 3, 4});
  b.initializer_i64("s1", {6, 4}, {2});
  b.initializer_i64("s2", {4, -1}, {2});
  b.initializer_i64("s3", {2, 3, 4}, {3});
  b.node("Reshape", {"x", "s1"}, {"a"});
  b.node("Reshape", {"a", "s2"}, {"c"});
  b.node("Relu", {"c"}, {"d"});
  b.node("Reshape", {"d", "s2"}, {"e"});  // to its own shape
  b.node("Reshape", {"e", "s3"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({2, 3, 4}, 4)});
  EXPECT_EQ(r.nodes_unfused, 3u) << ops_of(r);
}

TEST(Passes, BatchNormFoldsIntoConvWithRelu) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {1, 3, 6, 6});
  init(b, "w", {4, 3, 3, 3}, 5);
  init(b, "bias", {4}, 6);
  init(b, "scale", {4}, 7, 0.5f, 1.5f);
  init(b, "shift", {4}, 8);
  init(b, "mean", {4}, 9);
  init(b, "var", {4}, 10, 0.2f, 2.0f);
  auto& c = b.node("Conv", {"x", "w", "bias"}, {"c"});
  OnnxBuilder::attr(c, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("BatchNormalization", {"c", "scale", "shift", "mean", "var"}, {"n"});
  b.node("Relu", {"n"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({1, 3, 6, 6}, 11)});
  EXPECT_EQ(r.nodes_unfused, 3u);
  EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
  EXPECT_TRUE(r.has("Conv"));
}

TEST(Passes, BatchNormFoldsIntoGemm) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {3, 5});
  init(b, "w", {4, 5}, 12);
  init(b, "c", {4}, 13);
  init(b, "scale", {4}, 14, 0.5f, 1.5f);
  init(b, "shift", {4}, 15);
  init(b, "mean", {4}, 16);
  init(b, "var", {4}, 17, 0.2f, 2.0f);
  auto& g = b.node("Gemm", {"x", "w", "c"}, {"g"});
  OnnxBuilder::attr(g, "transB", int64_t(1));
  OnnxBuilder::attr(g, "beta", 0.5f);
  b.node("BatchNormalization", {"g", "scale", "shift", "mean", "var"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({3, 5}, 18)});
  EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
}

TEST(Passes, ConvBiasActivationResidual) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {1, 4, 5, 5});
  init(b, "w", {4, 4, 1, 1}, 19);
  init(b, "cb", {1, 4, 1, 1}, 20);
  scalar(b, "lo", 0.0f);
  scalar(b, "hi", 0.5f);
  b.node("Conv", {"x", "w"}, {"c"});
  b.node("Add", {"cb", "c"}, {"a"});
  b.node("Clip", {"a", "lo", "hi"}, {"k"});
  b.node("Add", {"k", "x"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({1, 4, 5, 5}, 21)});
  EXPECT_EQ(r.nodes_unfused, 4u);
  EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
}

TEST(Passes, ResidualAddNotFusedWhenConvOutputIsShared) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {1, 2, 3, 3});
  init(b, "w", {2, 2, 1, 1}, 22);
  b.node("Conv", {"x", "w"}, {"c"});
  b.node("Add", {"c", "x"}, {"y"});
  b.node("Sigmoid", {"c"}, {"z"});
  b.output("y");
  b.output("z");
  Result r = check(b, {random_tensor({1, 2, 3, 3}, 23)});
  EXPECT_EQ(r.nodes_fused, 3u) << ops_of(r);
}

TEST(Passes, ActivationsFuseIntoConv) {
  const char* acts[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu"};
  for (const char* act : acts) {
    OnnxBuilder b(14);
    b.input("x", FLOAT::value, {1, 2, 4, 4});
    init(b, "w", {3, 2, 3, 3}, 24);
    b.node("Conv", {"x", "w"}, {"c"});
    b.node(act, {"c"}, {"y"});
    b.output("y");
    Result r = check(b, {random_tensor({1, 2, 4, 4}, 25)});
    EXPECT_EQ(r.nodes_fused, 1u) << act << ": " << ops_of(r);
  }
}

TEST(Passes, MatMulBiasAndGeluErf) {
  // torch's erf GELU: x * (erf(x / sqrt2) + 1) * 0.5, with x = MatMul + bias.
  for (int order = 0; order < 2; ++order) {
    OnnxBuilder b(13);
    b.input("x", FLOAT::value, {2, 3, 8});
    init(b, "w", {8, 6}, 26);
    init(b, "bias", {6}, 27);
    scalar(b, "sqrt2", 1.4142135381698608f);
    scalar(b, "one", 1.0f);
    scalar(b, "half", 0.5f);
    b.node("MatMul", {"x", "w"}, {"m"});
    b.node("Add", {"bias", "m"}, {"h"});
    b.node("Div", {"h", "sqrt2"}, {"d"});
    b.node("Erf", {"d"}, {"e"});
    b.node("Add", {"e", "one"}, {"p"});
    if (order == 0) {
      b.node("Mul", {"h", "p"}, {"q"});
      b.node("Mul", {"q", "half"}, {"y"});
    } else {
      b.node("Mul", {"h", "half"}, {"q"});
      b.node("Mul", {"q", "p"}, {"y"});
    }
    b.output("y");
    Result r = check(b, {random_tensor({2, 3, 8}, 28)});
    EXPECT_EQ(r.nodes_unfused, 7u);
    EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
  }
}

TEST(Passes, GeluTanhForm) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {4, 5});
  scalar(b, "three", 3.0f);
  scalar(b, "k", 0.044715f);
  scalar(b, "c", 0.7978845834732056f);
  scalar(b, "one", 1.0f);
  scalar(b, "half", 0.5f);
  b.node("Pow", {"x", "three"}, {"x3"});
  b.node("Mul", {"k", "x3"}, {"kx3"});
  b.node("Add", {"x", "kx3"}, {"in"});
  b.node("Mul", {"in", "c"}, {"s"});
  b.node("Tanh", {"s"}, {"t"});
  b.node("Add", {"one", "t"}, {"p"});
  b.node("Mul", {"half", "x"}, {"hx"});
  b.node("Mul", {"hx", "p"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({4, 5}, 29)});
  EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
  EXPECT_TRUE(r.has("Gelu")) << ops_of(r);
}

TEST(Passes, SiluIntoConv) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {1, 2, 4, 4});
  init(b, "w", {2, 2, 1, 1}, 30);
  b.node("Conv", {"x", "w"}, {"c"});
  b.node("Sigmoid", {"c"}, {"s"});
  b.node("Mul", {"c", "s"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({1, 2, 4, 4}, 31)});
  EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
}

TEST(Passes, HardSwishSpellings) {
  {
    OnnxBuilder b(13);
    b.input("x", FLOAT::value, {2, 7});
    scalar(b, "three", 3.0f);
    scalar(b, "zero", 0.0f);
    scalar(b, "six", 6.0f);
    b.node("Add", {"x", "three"}, {"a"});
    b.node("Clip", {"a", "zero", "six"}, {"c"});
    b.node("Mul", {"x", "c"}, {"m"});
    b.node("Div", {"m", "six"}, {"y"});
    b.output("y");
    Result r = check(b, {random_tensor({2, 7}, 32, -5.0f, 5.0f)});
    EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
    EXPECT_TRUE(r.has("HardSwish")) << ops_of(r);
  }
  {
    OnnxBuilder b(13);
    b.input("x", FLOAT::value, {2, 7});
    auto& h = b.node("HardSigmoid", {"x"}, {"h"});
    OnnxBuilder::attr(h, "alpha", 1.0f / 6.0f);
    b.node("Mul", {"h", "x"}, {"y"});
    b.output("y");
    Result r = check(b, {random_tensor({2, 7}, 33, -5.0f, 5.0f)});
    EXPECT_TRUE(r.has("HardSwish")) << ops_of(r);
  }
}

TEST(Passes, LayerNormDecomposed) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {2, 3, 8});
  init(b, "gamma", {8}, 34, 0.5f, 1.5f);
  init(b, "beta", {8}, 35);
  scalar(b, "two", 2.0f);
  scalar(b, "eps", 1e-5f);
  auto& m1 = b.node("ReduceMean", {"x"}, {"mean"});
  OnnxBuilder::attr(m1, "axes", std::vector<int64_t>{-1});
  b.node("Sub", {"x", "mean"}, {"d"});
  b.node("Pow", {"d", "two"}, {"d2"});
  auto& m2 = b.node("ReduceMean", {"d2"}, {"var"});
  OnnxBuilder::attr(m2, "axes", std::vector<int64_t>{-1});
  b.node("Add", {"var", "eps"}, {"ve"});
  b.node("Sqrt", {"ve"}, {"sd"});
  b.node("Div", {"d", "sd"}, {"n"});
  b.node("Mul", {"n", "gamma"}, {"g"});
  b.node("Add", {"g", "beta"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({2, 3, 8}, 36)}, 1e-4);
  EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
  EXPECT_TRUE(r.has("LayerNormalization")) << ops_of(r);
}

TEST(Passes, AttentionWithMaskAndScale) {
  for (int q_scaled = 0; q_scaled < 2; ++q_scaled) {
    OnnxBuilder b(13);
    b.input("q", FLOAT::value, {2, 3, 5, 4});
    b.input("k", FLOAT::value, {2, 3, 6, 4});
    b.input("v", FLOAT::value, {2, 3, 6, 4});
    b.input("mask", FLOAT::value, {2, 1, 1, 6});
    scalar(b, "scale", 2.0f);
    auto& t = b.node("Transpose", {"k"}, {"kt"});
    OnnxBuilder::attr(t, "perm", std::vector<int64_t>{0, 1, 3, 2});
    if (q_scaled) {
      b.node("Div", {"q", "scale"}, {"qs"});
      b.node("MatMul", {"qs", "kt"}, {"s"});
      b.node("Add", {"mask", "s"}, {"sm"});
    } else {
      b.node("MatMul", {"q", "kt"}, {"s0"});
      b.node("Div", {"s0", "scale"}, {"s"});
      b.node("Add", {"s", "mask"}, {"sm"});
    }
    auto& sm = b.node("Softmax", {"sm"}, {"p"});
    OnnxBuilder::attr(sm, "axis", int64_t(-1));
    b.node("MatMul", {"p", "v"}, {"y"});
    b.output("y");
    Result r = check(b, {random_tensor({2, 3, 5, 4}, 37), random_tensor({2, 3, 6, 4}, 38),
                         random_tensor({2, 3, 6, 4}, 39), random_tensor({2, 1, 1, 6}, 40, -3.0f, 0.0f)});
    EXPECT_EQ(r.nodes_fused, 2u) << ops_of(r);  // Transpose, Attention
    EXPECT_TRUE(r.has("Attention")) << ops_of(r);
  }
}

// Multi-head attention as BERT (rank 4, Transpose (0, 2, 1, 3)) and torch's MultiheadAttention (rank 3, (1, 0, 2))
// export it: the head/row Transposes of Q, V and the output fold into the Attention node; only K's stays. With
// `keep_q` the transposed Q is also a graph output: the Transpose stays for it and Attention still reads Q heads inner.
TEST(Passes, AttentionFoldsHeadTransposes) {
  for (int rank = 3; rank <= 4; ++rank) {
    for (int keep_q = 0; keep_q < 2; ++keep_q) {
      const Dims in = rank == 4 ? Dims{2, 5, 3, 4} : Dims{5, 3, 4};  // [B,] L, H, Dh
      const std::vector<int64_t> swap = rank == 4 ? std::vector<int64_t>{0, 2, 1, 3} : std::vector<int64_t>{1, 0, 2};
      const std::vector<int64_t> to_kt = rank == 4 ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{1, 2, 0};
      OnnxBuilder b(13);
      b.input("q", FLOAT::value, in);
      b.input("k", FLOAT::value, in);
      b.input("v", FLOAT::value, in);
      scalar(b, "scale", 2.0f);
      OnnxBuilder::attr(b.node("Transpose", {"q"}, {"qt"}), "perm", swap);
      OnnxBuilder::attr(b.node("Transpose", {"k"}, {"kt"}), "perm", to_kt);
      OnnxBuilder::attr(b.node("Transpose", {"v"}, {"vt"}), "perm", swap);
      b.node("Div", {"qt", "scale"}, {"qs"});
      b.node("MatMul", {"qs", "kt"}, {"s"});
      OnnxBuilder::attr(b.node("Softmax", {"s"}, {"p"}), "axis", int64_t(-1));
      b.node("MatMul", {"p", "vt"}, {"o"});
      OnnxBuilder::attr(b.node("Transpose", {"o"}, {"y"}), "perm", swap);
      b.output("y");
      if (keep_q) b.output("qt");
      Result r = check(b, {random_tensor(in, 50), random_tensor(in, 51), random_tensor(in, 52)});
      const std::string what = "rank " + std::to_string(rank) + (keep_q ? " keep_q " : " ") + ops_of(r);
      EXPECT_EQ(r.nodes_unfused, 8u) << what;
      EXPECT_EQ(r.nodes_fused, keep_q ? 3u : 2u) << what;  // [Transpose(q),] Transpose(k), Attention
      EXPECT_TRUE(r.has("Attention")) << what;
    }
  }
}

// The output Transpose stays when something else reads the attention result.
TEST(Passes, AttentionKeepsSharedOutputTranspose) {
  OnnxBuilder b(13);
  b.input("q", FLOAT::value, {2, 3, 5, 4});
  b.input("kt", FLOAT::value, {2, 3, 4, 6});
  b.input("v", FLOAT::value, {2, 3, 6, 4});
  OnnxBuilder::attr(b.node("Softmax", {"q"}, {"q1"}), "axis", int64_t(-1));  // not foldable: not a Transpose
  b.node("MatMul", {"q1", "kt"}, {"s"});
  OnnxBuilder::attr(b.node("Softmax", {"s"}, {"p"}), "axis", int64_t(-1));
  b.node("MatMul", {"p", "v"}, {"o"});
  OnnxBuilder::attr(b.node("Transpose", {"o"}, {"y"}), "perm", std::vector<int64_t>{0, 2, 1, 3});
  b.node("Relu", {"o"}, {"z"});
  b.output("y");
  b.output("z");
  Result r =
      check(b, {random_tensor({2, 3, 5, 4}, 53), random_tensor({2, 3, 4, 6}, 54), random_tensor({2, 3, 6, 4}, 55)});
  EXPECT_EQ(r.nodes_fused, 4u) << ops_of(r);  // Softmax, Attention, Transpose, Relu
  EXPECT_TRUE(r.has("Transpose")) << ops_of(r);
}

TEST(Passes, ElementwiseChain) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {2, 3, 4});
  b.input("z", FLOAT::value, {2, 3, 4});
  init(b, "c", {4}, 41);
  b.node("Add", {"c", "x"}, {"a"});
  b.node("Sigmoid", {"a"}, {"s"});
  b.node("Mul", {"s", "z"}, {"m"});
  b.node("Sub", {"c", "m"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({2, 3, 4}, 42), random_tensor({2, 3, 4}, 43)});
  EXPECT_EQ(r.nodes_unfused, 4u);
  EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
  EXPECT_TRUE(r.has("Eltwise")) << ops_of(r);
}

TEST(Passes, BatchNormAndReluBecomeOnePass) {
  OnnxBuilder b(13);
  b.input("x", FLOAT::value, {2, 3, 4, 4});
  init(b, "scale", {3}, 44, 0.5f, 1.5f);
  init(b, "shift", {3}, 45);
  init(b, "mean", {3}, 46);
  init(b, "var", {3}, 47, 0.2f, 2.0f);
  b.node("BatchNormalization", {"x", "scale", "shift", "mean", "var"}, {"n"});
  b.node("Relu", {"n"}, {"y"});
  b.output("y");
  Result r = check(b, {random_tensor({2, 3, 4, 4}, 48)});
  EXPECT_EQ(r.nodes_fused, 1u) << ops_of(r);
}

// DenseNet's layer input: Concat along the channels -> BatchNormalization -> Relu becomes one Eltwise that joins the
// inputs itself. Not when the joined tensor is read elsewhere (here: a graph output) or joined along another axis.
TEST(Passes, ConcatJoinsTheBatchNormReluPass) {
  for (int variant : {0, 1, 2}) {
    OnnxBuilder b(13);
    b.input("x", FLOAT::value, {1, 16, 5, 6});
    init(b, "wa", {16, 16, 1, 1}, 60);
    init(b, "wb", {32, 16, 3, 3}, 61);
    b.node("Conv", {"x", "wa"}, {"a"});
    OnnxBuilder::attr(b.node("Conv", {"x", "wb"}, {"c"}), "pads", std::vector<int64_t>{1, 1, 1, 1});
    const bool other_axis = variant == 2;
    if (other_axis) {  // join along the height: b's 32 channels through a 1x1 conv to 16 first
      init(b, "wc", {16, 32, 1, 1}, 66);
      b.node("Conv", {"c", "wc"}, {"c16"});
    }
    const int64_t C = other_axis ? 16 : 64;
    OnnxBuilder::attr(b.node("Concat", {"x", "a", other_axis ? "c16" : "c"}, {"j"}), "axis",
                      int64_t(other_axis ? 2 : 1));
    init(b, "scale", {C}, 62, 0.5f, 1.5f);
    init(b, "shift", {C}, 63);
    init(b, "mean", {C}, 64);
    init(b, "var", {C}, 65, 0.2f, 2.0f);
    b.node("BatchNormalization", {"j", "scale", "shift", "mean", "var"}, {"n"});
    b.node("Relu", {"n"}, {"y"});
    b.output("y");
    if (variant == 1) b.output("j");
    Result r = check(b, {random_tensor({1, 16, 5, 6}, 67)});
    EXPECT_TRUE(r.has("Eltwise")) << variant << ": " << ops_of(r);
    EXPECT_EQ(r.has("Concat"), variant != 0) << variant << ": " << ops_of(r);
  }
}

TEST(Passes, FusionPropertyParses) {
  EXPECT_FALSE(parse_compile_options({{"enable_fusion", "0"}}).enable_fusion);
  EXPECT_TRUE(parse_compile_options({{"enable_fusion", "true"}}).enable_fusion);
  EXPECT_TRUE(parse_compile_options({}).enable_fusion);
  EXPECT_THROW(parse_compile_options({{"enable_fusion", "maybe"}}), Error);
}

TEST(Passes, VerifierNamesBrokenInvariants) {
  Graph g;
  Value* x = g.add_value("x", ValueType::tensor(ElementType::kF32, PartialShape::of({2})));
  Value* y = g.add_value("y", ValueType::tensor(ElementType::kF32, PartialShape::of({2})));
  Value* z = g.add_value("z", ValueType::tensor(ElementType::kF32, PartialShape::of({2})));
  g.inputs = {x};
  g.add_node("late", std::make_unique<Unary>(UnaryFn::kRelu), {y}, {z});
  g.add_node("early", std::make_unique<Unary>(UnaryFn::kRelu), {x}, {y});
  g.outputs = {z};
  try {
    passes::verify_graph(g);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'y' before it is defined"), std::string::npos) << e.what();
  }
  g.sort();
  EXPECT_NO_THROW(passes::verify_graph(g));
  g.outputs.push_back(g.add_value("nowhere"));
  EXPECT_THROW(passes::verify_graph(g), Error);
}

// Node counts before/after the pipeline for the models in $CELER_PASS_MODELS (e.g. build/models/full); skipped without
// it.
TEST(Passes, ModelNodeCounts) {
  const char* dir = std::getenv("CELER_PASS_MODELS");
  if (!dir) GTEST_SKIP() << "set CELER_PASS_MODELS to a folder of <name>/model.onnx";
  std::vector<std::filesystem::path> models;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (std::filesystem::exists(e.path() / "model.onnx")) models.push_back(e.path());
  std::sort(models.begin(), models.end());
  Core core;
  for (const auto& p : models) {
    Model m = core.read_model((p / "model.onnx").string());
    auto off = m.graph().clone();
    passes::PassStats s_off = passes::run_cpu_pipeline(*off, false);
    auto on = m.graph().clone();
    passes::PassStats s_on = passes::run_cpu_pipeline(*on, true);
    std::string applied;
    for (const auto& [k, v] : s_on.applied) applied += " " + k + "=" + std::to_string(v);
    std::printf("%-34s imported %5zu  cleanup %5zu  fused %5zu  |%s\n", p.filename().c_str(), m.graph().nodes.size(),
                s_off.nodes_after, s_on.nodes_after, applied.c_str());
  }
}

// For the models in $CELER_PASS_MODELS: the largest difference of CPU with fusion on and off from REF, per output.
TEST(Passes, ModelOutputsFusedVsUnfused) {
  const char* dir = std::getenv("CELER_PASS_MODELS");
  if (!dir) GTEST_SKIP() << "set CELER_PASS_MODELS to a folder of <name>/model.onnx";
  const char* filter = std::getenv("CELER_PASS_FILTER");
  Core core;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto p = e.path();
    if (!std::filesystem::exists(p / "model.onnx")) continue;
    if (filter && p.filename().string().find(filter) == std::string::npos) continue;
    Model m = core.read_model((p / "model.onnx").string());
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < m.inputs().size(); ++i)
      inputs.push_back(npy::read((p / ("input_" + std::to_string(i) + ".npy")).string()));
    auto run = [&](const char* dev, const Properties& props) {
      CompiledModel cm = core.compile_model(m, dev, props);
      InferRequest r = cm.create_infer_request();
      for (size_t i = 0; i < inputs.size(); ++i) r.set_input_tensor(i, inputs[i]);
      r.infer();
      std::vector<Tensor> out;
      for (size_t i = 0; i < cm.outputs().size(); ++i) out.push_back(r.get_output_tensor(i).clone());
      return out;
    };
    auto ref = run("REF", {});
    auto on = run("CPU", {});
    auto off = run("CPU", {{"enable_fusion", "0"}});
    double d_on = 0, d_off = 0, mag = 0;
    for (size_t o = 0; o < ref.size(); ++o)
      for (int64_t i = 0; i < ref[o].size(); ++i) {
        mag = std::max(mag, std::fabs(ref[o].value_as_double(i)));
        d_on = std::max(d_on, std::fabs(ref[o].value_as_double(i) - on[o].value_as_double(i)));
        d_off = std::max(d_off, std::fabs(ref[o].value_as_double(i) - off[o].value_as_double(i)));
      }
    std::printf("%-34s max|ref| %.3g  CPU fused %.3g  CPU unfused %.3g\n", p.filename().c_str(), mag, d_on, d_off);
  }
}
