// Convolution, pooling, matrix products and normalisation ops: shape inference, reference values (checked against
// naive formulas written here), and the errors the spec's rules call for.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

constexpr int kF = onnx::TensorProto::FLOAT;

std::vector<float> iota_values(int64_t n, float scale = 0.1f, float offset = -1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = offset + scale * float((i * 7) % 23);
  return v;
}

void expect_near(const Tensor& t, const std::vector<float>& want, float tol = 1e-4f, const std::string& what = "") {
  ASSERT_EQ(t.size(), int64_t(want.size())) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(t.data<float>()[i], want[i], tol * (1 + std::fabs(want[i]))) << what << " at " << i;
}

// Runs the model on REF and CPU and checks output `out` against `want`.
void check_both(const OnnxBuilder& b, const std::vector<Tensor>& in, const std::vector<float>& want, size_t out = 0,
                float tol = 1e-4f) {
  for (const char* dev : {"REF", "CPU"}) {
    auto outs = b.run(dev, in);
    expect_near(outs[out], want, tol, dev);
  }
}

// Expects reading the model to fail with `code` and a message holding every string of `parts`.
void expect_error(const OnnxBuilder& b, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    b.read();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// Naive 2-D grouped convolution (the oracle for the direct-loop kernel).
std::vector<float> naive_conv2d(const std::vector<float>& x, Dims xd, const std::vector<float>& w, Dims wd,
                                const std::vector<float>& bias, int64_t group, Dims s, Dims d, Dims p, Dims yd) {
  std::vector<float> y(static_cast<size_t>(element_count(yd)), 0.f);
  const int64_t Cg = wd[1], Mg = wd[0] / group;
  for (int64_t n = 0; n < yd[0]; ++n)
    for (int64_t m = 0; m < yd[1]; ++m)
      for (int64_t oh = 0; oh < yd[2]; ++oh)
        for (int64_t ow = 0; ow < yd[3]; ++ow) {
          double acc = bias.empty() ? 0 : bias[size_t(m)];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t kh = 0; kh < wd[2]; ++kh)
              for (int64_t kw = 0; kw < wd[3]; ++kw) {
                int64_t ih = oh * s[0] - p[0] + kh * d[0], iw = ow * s[1] - p[1] + kw * d[1];
                if (ih < 0 || ih >= xd[2] || iw < 0 || iw >= xd[3]) continue;
                int64_t ic = (m / Mg) * Cg + c;
                acc += double(x[size_t(((n * xd[1] + ic) * xd[2] + ih) * xd[3] + iw)]) *
                       double(w[size_t(((m * Cg + c) * wd[2] + kh) * wd[3] + kw)]);
              }
          y[size_t(((n * yd[1] + m) * yd[2] + oh) * yd[3] + ow)] = float(acc);
        }
  return y;
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------------
// Conv

TEST(NnConv, MatchesNaiveWithGroupsStridesDilationsAndPads) {
  struct Case {
    Dims x, w;
    int64_t group;
    Dims s, d, pads;
  };
  const Case cases[] = {
      {{1, 1, 5, 5}, {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1, 1, 1}},
      {{2, 4, 7, 6}, {6, 2, 3, 2}, 2, {2, 1}, {1, 2}, {1, 0, 2, 1}},
      {{1, 3, 6, 6}, {3, 1, 3, 3}, 3, {1, 2}, {2, 1}, {2, 1, 0, 2}},   // depthwise
      {{1, 8, 4, 4}, {5, 8, 1, 1}, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}},   // 1x1
      {{2, 4, 5, 6}, {10, 2, 3, 3}, 2, {1, 1}, {1, 1}, {1, 1, 1, 1}},  // blocks of 4 output channels and a rest
      {{1, 2, 9, 9}, {4, 2, 2, 3}, 1, {3, 2}, {2, 1}, {0, 2, 1, 0}},
  };
  for (const auto& c : cases) {
    Dims yd = {c.x[0], c.w[0], 0, 0};
    for (int i = 0; i < 2; ++i)
      yd[2 + i] = (c.x[2 + i] + c.pads[i] + c.pads[2 + i] - ((c.w[2 + i] - 1) * c.d[i] + 1)) / c.s[i] + 1;
    auto x = iota_values(element_count(c.x));
    auto w = iota_values(element_count(c.w), 0.05f, -0.5f);
    auto bias = iota_values(c.w[0], 0.3f, 0.1f);
    OnnxBuilder b(13);
    b.input("x", kF, c.x);
    b.initializer("w", w, c.w);
    b.initializer("b", bias, {c.w[0]});
    auto& n = b.node("Conv", {"x", "w", "b"}, {"y"});
    OnnxBuilder::attr(n, "group", c.group);
    OnnxBuilder::attr(n, "strides", c.s);
    OnnxBuilder::attr(n, "dilations", c.d);
    OnnxBuilder::attr(n, "pads", c.pads);
    b.output("y");
    Model m = b.read();
    EXPECT_EQ(m.outputs()[0].shape, PartialShape::of(yd));
    check_both(b, {Tensor::from_vector(x, c.x)}, naive_conv2d(x, c.x, w, c.w, bias, c.group, c.s, c.d, c.pads, yd));
  }
}

TEST(NnConv, OneAndThreeSpatialAxes) {
  {  // 1-D: [1,1,5] * [1,1,3], no padding
    OnnxBuilder b(13);
    b.input("x", kF, {1, 1, 5});
    b.initializer("w", {1, 0, -1}, {1, 1, 3});
    b.node("Conv", {"x", "w"}, {"y"});
    b.output("y");
    check_both(b, {Tensor::from_vector<float>({1, 2, 4, 8, 16}, {1, 1, 5})}, {-3, -6, -12});
  }
  {  // 3-D: all-ones kernel 2x2x2 over a 2x2x3 volume
    OnnxBuilder b(13);
    b.input("x", kF, {1, 1, 2, 2, 3});
    b.initializer("w", std::vector<float>(8, 1.f), {1, 1, 2, 2, 2});
    b.node("Conv", {"x", "w"}, {"y"});
    b.output("y");
    std::vector<float> x(12);
    for (int i = 0; i < 12; ++i) x[size_t(i)] = float(i);
    // windows start at w = 0 and 1: sums of {0,1,3,4,6,7,9,10} and {1,2,4,5,7,8,10,11}
    check_both(b, {Tensor::from_vector(x, {1, 1, 2, 2, 3})}, {40, 48});
  }
}

TEST(NnConv, AutoPadSameAndSymbolicBatch) {
  OnnxBuilder b(13);
  b.input("x", kF, {-1, 3, 7, 8});
  b.input("w", kF, {4, 3, 3, 3});
  auto& n = b.node("Conv", {"x", "w"}, {"y"});
  OnnxBuilder::attr(n, "auto_pad", std::string("SAME_UPPER"));
  OnnxBuilder::attr(n, "strides", std::vector<int64_t>{2, 2});
  b.output("y");
  Model m = b.read();
  const PartialShape& s = m.outputs()[0].shape;
  ASSERT_EQ(s.rank(), 4);
  EXPECT_FALSE(s[0].is_static());
  EXPECT_EQ(s[1].value(), 4);
  EXPECT_EQ(s[2].value(), 4);  // ceil(7 / 2)
  EXPECT_EQ(s[3].value(), 4);
}

TEST(NnConv, BadAttributesAndShapesGiveClearErrors) {
  auto model = [](Dims x, Dims w, auto set) {
    OnnxBuilder b(13);
    b.input("x", kF, x);
    b.input("w", kF, w);
    auto& n = b.node("Conv", {"x", "w"}, {"y"}, "conv0");
    set(n);
    b.output("y");
    return b;
  };
  auto none = [](onnx::NodeProto&) {};
  expect_error(model({1, 2, 5, 5}, {2, 2, 3, 3},
                     [](auto& n) {
                       OnnxBuilder::attr(n, "strides", std::vector<int64_t>{0, 1});
                     }),
               ErrorCode::kInvalidModel, {"conv0", "'strides'", "positive"});
  expect_error(model({1, 2, 5, 5}, {2, 2, 3, 3},
                     [](auto& n) {
                       OnnxBuilder::attr(n, "dilations", std::vector<int64_t>{1, -1});
                     }),
               ErrorCode::kInvalidModel, {"'dilations'"});
  expect_error(model({1, 2, 5, 5}, {2, 2, 3, 3},
                     [](auto& n) {
                       OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{3, 0});
                     }),
               ErrorCode::kInvalidModel, {"'kernel_shape'"});
  expect_error(model({1, 2, 5, 5}, {2, 2, 3, 3}, [](auto& n) { OnnxBuilder::attr(n, "group", int64_t(0)); }),
               ErrorCode::kInvalidModel, {"'group'", "positive"});
  expect_error(model({1, 4, 5, 5}, {2, 2, 3, 3}, [](auto& n) { OnnxBuilder::attr(n, "group", int64_t(3)); }),
               ErrorCode::kShapeMismatch, {"'group'", "divide"});
  expect_error(model({1, 2, 5, 5}, {2, 2, 3, 3},
                     [](auto& n) {
                       OnnxBuilder::attr(n, "pads", std::vector<int64_t>{1, 1});
                     }),
               ErrorCode::kInvalidModel, {"'pads'"});
  expect_error(model({1, 3, 5, 5}, {2, 2, 3, 3}, none), ErrorCode::kShapeMismatch, {"[1,3,5,5]", "[2,2,3,3]"});
  expect_error(model({1, 2, 5, 5}, {2, 2, 3}, none), ErrorCode::kShapeMismatch, {"rank", "[2,2,3]"});
  expect_error(model({1, 2, 2, 2}, {2, 2, 3, 3}, none), ErrorCode::kShapeMismatch, {"too small"});
}

// ------------------------------------------------------------------------------------------------------------------
// ConvTranspose

TEST(NnConvTranspose, ValuesStridesAndOutputShape) {
  {  // 1-D, stride 2: each input scatters [1, 2] * x
    OnnxBuilder b(13);
    b.input("x", kF, {1, 1, 3});
    b.initializer("w", {1, 2, 3}, {1, 1, 3});
    auto& n = b.node("ConvTranspose", {"x", "w"}, {"y"});
    OnnxBuilder::attr(n, "strides", std::vector<int64_t>{2});
    b.output("y");
    EXPECT_EQ(b.read().outputs()[0].shape, PartialShape::of({1, 1, 7}));
    // y[2i + k] += x[i] * w[k]
    check_both(b, {Tensor::from_vector<float>({1, 10, 100}, {1, 1, 3})}, {1, 2, 13, 20, 130, 200, 300});
  }
  {  // output_padding extends the end; groups of 2 with 2 output channels each
    OnnxBuilder b(13);
    b.input("x", kF, {1, 2, 2, 2});
    b.initializer("w", std::vector<float>(2 * 1 * 2 * 2, 1.f), {2, 1, 2, 2});
    auto& n = b.node("ConvTranspose", {"x", "w"}, {"y"});
    OnnxBuilder::attr(n, "strides", std::vector<int64_t>{2, 2});
    OnnxBuilder::attr(n, "output_padding", std::vector<int64_t>{1, 0});
    OnnxBuilder::attr(n, "group", int64_t(2));
    b.output("y");
    EXPECT_EQ(b.read().outputs()[0].shape, PartialShape::of({1, 2, 5, 4}));
    auto out = b.run("REF", {Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 2, 2})});
    EXPECT_EQ(out[0].data<float>()[0], 1.f);
    EXPECT_EQ(out[0].data<float>()[3], 2.f);
    EXPECT_EQ(out[0].data<float>()[16], 0.f);       // the output_padding row
    EXPECT_EQ(out[0].data<float>()[20 + 15], 8.f);  // channel 1, last element of row 3
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Pool

TEST(NnPool, MaxPoolIndicesRowAndColumnMajor) {
  for (int64_t order : {0, 1}) {
    OnnxBuilder b(12);
    b.input("x", kF, {1, 1, 2, 3});
    auto& n = b.node("MaxPool", {"x"}, {"y", "i"});
    OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
    OnnxBuilder::attr(n, "storage_order", order);
    b.output("y");
    b.output("i");
    auto out = b.run("REF", {Tensor::from_vector<float>({1, 9, 2, 3, 4, 8}, {1, 1, 2, 3})});
    ASSERT_EQ(out[0].dims(), (Dims{1, 1, 1, 2}));
    EXPECT_EQ(out[0].data<float>()[0], 9.f);
    EXPECT_EQ(out[0].data<float>()[1], 9.f);
    // 9 sits at (h 0, w 1): row major 1, column major w * H + h = 2
    EXPECT_EQ(out[1].data<int64_t>()[0], order == 0 ? 1 : 2);
  }
}

TEST(NnPool, AveragePoolCountIncludePadAndCeilMode) {
  for (int64_t include : {0, 1}) {
    OnnxBuilder b(13);
    b.input("x", kF, {1, 1, 2, 2});
    auto& n = b.node("AveragePool", {"x"}, {"y"});
    OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
    OnnxBuilder::attr(n, "pads", std::vector<int64_t>{1, 1, 0, 0});
    OnnxBuilder::attr(n, "count_include_pad", include);
    b.output("y");
    // top-left window holds only x[0,0] = 4
    auto x = Tensor::from_vector<float>({4, 8, 12, 16}, {1, 1, 2, 2});
    check_both(b, {x}, include ? std::vector<float>{1, 3, 4, 10} : std::vector<float>{4, 6, 8, 10});
  }
  OnnxBuilder b(13);
  b.input("x", kF, {1, 1, 5, 5});
  auto& n = b.node("MaxPool", {"x"}, {"y"});
  OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(n, "strides", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(n, "ceil_mode", int64_t(1));
  b.output("y");
  EXPECT_EQ(b.read().outputs()[0].shape, PartialShape::of({1, 1, 3, 3}));
}

TEST(NnPool, GlobalAndLpPools) {
  auto x = Tensor::from_vector<float>({3, -4, 1, 2, 0, 5}, {1, 2, 3});
  {
    OnnxBuilder b(13);
    b.input("x", kF, {-1, 2, 3});
    b.node("GlobalAveragePool", {"x"}, {"y"});
    b.output("y");
    Model m = b.read();
    EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
    EXPECT_EQ(m.outputs()[0].shape[2].value(), 1);
    check_both(b, {x}, {0, 7.f / 3});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kF, {1, 2, 3});
    b.node("GlobalMaxPool", {"x"}, {"y"});
    b.output("y");
    check_both(b, {x}, {3, 5});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kF, {1, 2, 3});
    b.node("GlobalLpPool", {"x"}, {"y"});
    b.output("y");
    check_both(b, {x}, {std::sqrt(26.f), std::sqrt(29.f)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kF, {1, 2, 3});
    auto& n = b.node("LpPool", {"x"}, {"y"});
    OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2});
    OnnxBuilder::attr(n, "p", int64_t(1));
    b.output("y");
    check_both(b, {x}, {7, 5, 2, 5});
  }
}

TEST(NnPool, MissingKernelShapeIsAnError) {
  OnnxBuilder b(13);
  b.input("x", kF, {1, 1, 4, 4});
  b.node("MaxPool", {"x"}, {"y"});
  b.output("y");
  expect_error(b, ErrorCode::kInvalidModel, {"'kernel_shape'"});
}

// ------------------------------------------------------------------------------------------------------------------
// MaxUnpool

TEST(NnMaxUnpool, ScattersAndChecksIndices) {
  OnnxBuilder b(11);
  b.input("x", kF, {1, 1, 1, 2});
  b.input("i", onnx::TensorProto::INT64, {1, 1, 1, 2});
  auto& n = b.node("MaxUnpool", {"x", "i"}, {"y"});
  OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(n, "strides", std::vector<int64_t>{2, 2});
  b.output("y");
  EXPECT_EQ(b.read().outputs()[0].shape, PartialShape::of({1, 1, 2, 4}));
  auto x = Tensor::from_vector<float>({5, 7}, {1, 1, 1, 2});
  check_both(b, {x, Tensor::from_vector<int64_t>({4, 3}, {1, 1, 1, 2})}, {0, 0, 0, 7, 5, 0, 0, 0});
  try {
    b.run("REF", {x, Tensor::from_vector<int64_t>({8, 0}, {1, 1, 1, 2})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange) << e.what();
    EXPECT_NE(std::string(e.what()).find("index 8"), std::string::npos) << e.what();
  }
}

// ------------------------------------------------------------------------------------------------------------------
// MatMul and Gemm

TEST(NnMatMul, VectorOperandsAndBatchBroadcast) {
  auto shape_of = [](Dims a, Dims b) {
    OnnxBuilder m(13);
    m.input("a", kF, a);
    m.input("b", kF, b);
    m.node("MatMul", {"a", "b"}, {"y"});
    m.output("y");
    return m.read().outputs()[0].shape;
  };
  EXPECT_EQ(shape_of({3}, {3}), PartialShape::of({}));
  EXPECT_EQ(shape_of({3}, {2, 3, 4}), PartialShape::of({2, 4}));
  EXPECT_EQ(shape_of({2, 5, 3}, {3}), PartialShape::of({2, 5}));
  EXPECT_EQ(shape_of({2, 1, 5, 3}, {4, 3, 6}), PartialShape::of({2, 4, 5, 6}));
  PartialShape sym = shape_of({-1, 5, 3}, {3, 6});
  EXPECT_FALSE(sym[0].is_static());
  EXPECT_EQ(sym[2].value(), 6);

  OnnxBuilder b(13);
  b.input("a", kF, {2, 1, 1, 2});
  b.input("b", kF, {3, 2, 1});
  b.node("MatMul", {"a", "b"}, {"y"});
  b.output("y");
  // a[i] = [[i+1, 1]] ; b[j] = [[j], [10]] -> y[i, j] = (i+1) * j + 10
  check_both(b,
             {Tensor::from_vector<float>({1, 1, 2, 1}, {2, 1, 1, 2}),
              Tensor::from_vector<float>({0, 10, 1, 10, 2, 10}, {3, 2, 1})},
             {10, 11, 12, 10, 12, 14});
}

TEST(NnMatMul, LargerProductAndIntegers) {
  const int64_t M = 7, K = 9, N = 5;
  auto a = iota_values(M * K), bv = iota_values(K * N, 0.2f, -2.f);
  std::vector<float> want(size_t(M * N), 0.f);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) want[size_t(i * N + j)] += a[size_t(i * K + k)] * bv[size_t(k * N + j)];
  OnnxBuilder b(13);
  b.input("a", kF, {M, K});
  b.input("b", kF, {K, N});
  b.node("MatMul", {"a", "b"}, {"y"});
  b.output("y");
  check_both(b, {Tensor::from_vector(a, {M, K}), Tensor::from_vector(bv, {K, N})}, want);

  OnnxBuilder bi(13);
  bi.input("a", onnx::TensorProto::INT32, {2, 2});
  bi.input("b", onnx::TensorProto::INT32, {2, 2});
  bi.node("MatMul", {"a", "b"}, {"y"});
  bi.output("y");
  auto out = bi.run(
      "REF", {Tensor::from_vector<int32_t>({1, -2, 3, 4}, {2, 2}), Tensor::from_vector<int32_t>({5, 6, 7, 8}, {2, 2})});
  const int32_t wi[] = {-9, -10, 43, 50};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[0].data<int32_t>()[i], wi[i]);
}

TEST(NnMatMul, InnerDimMismatchNamesBothShapes) {
  OnnxBuilder b(13);
  b.input("a", kF, {2, 3});
  b.input("b", kF, {4, 5});
  b.node("MatMul", {"a", "b"}, {"y"});
  b.output("y");
  expect_error(b, ErrorCode::kShapeMismatch, {"[2,3]", "[4,5]"});
}

TEST(NnGemm, TransposesAlphaBetaAndBroadcastC) {
  OnnxBuilder b(13);
  b.input("a", kF, {3, 2});  // transposed: A' is [2, 3]
  b.input("b", kF, {4, 3});  // transposed: B' is [3, 4]
  b.initializer("c", {1, 2, 3, 4}, {4});
  auto& n = b.node("Gemm", {"a", "b", "c"}, {"y"});
  OnnxBuilder::attr(n, "transA", int64_t(1));
  OnnxBuilder::attr(n, "transB", int64_t(1));
  OnnxBuilder::attr(n, "alpha", 2.0f);
  OnnxBuilder::attr(n, "beta", 0.5f);
  b.output("y");
  EXPECT_EQ(b.read().outputs()[0].shape, PartialShape::of({2, 4}));
  auto a = iota_values(6), bv = iota_values(12, 0.3f, 0.5f);
  std::vector<float> want(8);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      float acc = 0;
      for (int k = 0; k < 3; ++k) acc += a[size_t(k * 2 + i)] * bv[size_t(j * 3 + k)];
      want[size_t(i * 4 + j)] = 2 * acc + 0.5f * float(j + 1);
    }
  check_both(b, {Tensor::from_vector(a, {3, 2}), Tensor::from_vector(bv, {4, 3})}, want);
}

TEST(NnGemm, BadShapes) {
  OnnxBuilder b(13);
  b.input("a", kF, {2, 3});
  b.input("b", kF, {3, 4});
  b.input("c", kF, {3});
  b.node("Gemm", {"a", "b", "c"}, {"y"});
  b.output("y");
  expect_error(b, ErrorCode::kShapeMismatch, {"input C", "[3]"});
  OnnxBuilder b2(13);
  b2.input("a", kF, {2, 3});
  b2.input("b", kF, {2, 4});
  b2.node("Gemm", {"a", "b"}, {"y"});
  b2.output("y");
  expect_error(b2, ErrorCode::kShapeMismatch, {"[2,3]", "[2,4]"});
}

// ------------------------------------------------------------------------------------------------------------------
// Einsum

namespace {
std::vector<Tensor> run_einsum(const std::string& eq, const std::vector<Tensor>& in, const char* dev = "REF") {
  OnnxBuilder b(13);
  std::vector<std::string> names;
  for (size_t i = 0; i < in.size(); ++i) {
    std::string name = "x";
    name += std::to_string(i);
    names.push_back(name);
    b.input(names.back(), kF, in[i].dims());
  }
  auto& n = b.node("Einsum", names, {"y"});
  OnnxBuilder::attr(n, "equation", eq);
  b.output("y");
  return b.run(dev, in);
}
}  // namespace

TEST(NnEinsum, TransposeTraceDiagonalAndMatmul) {
  auto m = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3});
  auto t = run_einsum("ij->ji", {m});
  expect_near(t[0], {1, 4, 7, 2, 5, 8, 3, 6, 9});
  expect_near(run_einsum("ii", {m})[0], {15});          // implicit: trace
  expect_near(run_einsum("ii->i", {m})[0], {1, 5, 9});  // diagonal
  expect_near(run_einsum("ij", {m})[0], {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expect_near(run_einsum("ba", {m})[0], {1, 4, 7, 2, 5, 8, 3, 6, 9});  // implicit output is sorted: "ab"
  auto a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto b = Tensor::from_vector<float>({1, 0, 0, 1, 1, 1}, {3, 2});
  for (const char* dev : {"REF", "CPU"})
    expect_near(run_einsum("ij,jk->ik", {a, b}, dev)[0], {4, 5, 10, 11}, 1e-5f, dev);
  expect_near(
      run_einsum("i,i", {Tensor::from_vector<float>({1, 2, 3}, {3}), Tensor::from_vector<float>({4, 5, 6}, {3})})[0],
      {32});
}

TEST(NnEinsum, EllipsisBroadcasts) {
  auto a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 1, 2});
  auto b = Tensor::from_vector<float>({10, 20, 30, 40, 50, 60}, {3, 2});
  auto y = run_einsum("...j,kj->...k", {a, b});
  ASSERT_EQ(y[0].dims(), (Dims{2, 1, 3}));
  expect_near(y[0], {50, 110, 170, 110, 250, 390});
  auto s = run_einsum("...ii->...i", {Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2})});
  ASSERT_EQ(s[0].dims(), (Dims{2, 2}));
  expect_near(s[0], {1, 4, 5, 8});
}

TEST(NnEinsum, BadEquations) {
  for (const char* eq : {"ij,jk", "i1->i", "ij->k", "ij->ii"}) {
    OnnxBuilder b(13);
    b.input("x", kF, {2, 2});
    auto& n = b.node("Einsum", {"x"}, {"y"});
    OnnxBuilder::attr(n, "equation", std::string(eq));
    b.output("y");
    expect_error(b, ErrorCode::kInvalidModel, {"'equation'"});
  }
  OnnxBuilder b(13);
  b.input("x", kF, {2, 3});
  b.input("z", kF, {2, 3});
  auto& n = b.node("Einsum", {"x", "z"}, {"y"});
  OnnxBuilder::attr(n, "equation", std::string("ij,jk->ik"));
  b.output("y");
  expect_error(b, ErrorCode::kShapeMismatch, {"label 'j'"});
}

// ------------------------------------------------------------------------------------------------------------------
// Normalisation

TEST(NnBatchNormalization, InferenceValues) {
  OnnxBuilder b(15);
  b.input("x", kF, {1, 2, 2});
  b.initializer("s", {1, 2}, {2});
  b.initializer("bias", {0, 1}, {2});
  b.initializer("mean", {1, -1}, {2});
  b.initializer("var", {4, 1}, {2});
  auto& n = b.node("BatchNormalization", {"x", "s", "bias", "mean", "var"}, {"y"});
  OnnxBuilder::attr(n, "epsilon", 0.0f);
  b.output("y");
  check_both(b, {Tensor::from_vector<float>({3, 5, 0, 1}, {1, 2, 2})}, {1, 2, 3, 5});
}

TEST(NnInstanceNormalization, Values) {
  OnnxBuilder b(13);
  b.input("x", kF, {1, 2, 2});
  b.initializer("s", {2, 1}, {2});
  b.initializer("bias", {0, 10}, {2});
  b.node("InstanceNormalization", {"x", "s", "bias"}, {"y"});  // default epsilon: the constant channel gives 0 + B
  b.output("y");
  check_both(b, {Tensor::from_vector<float>({1, 3, 5, 5}, {1, 2, 2})}, {-2, 2, 10, 10});
}

TEST(NnLayerNormalization, NegativeAxisAndStatOutputs) {
  OnnxBuilder b(17);
  b.input("x", kF, {-1, 2, 2});
  b.initializer("s", {1, 2}, {2});
  b.initializer("bias", {0, 1}, {2});
  auto& n = b.node("LayerNormalization", {"x", "s", "bias"}, {"y", "mean", "inv"});
  OnnxBuilder::attr(n, "axis", int64_t(-1));
  b.output("y");
  b.output("mean");
  b.output("inv");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[1].shape.rank(), 3);
  EXPECT_EQ(m.outputs()[1].shape[2].value(), 1);
  for (const char* dev : {"REF", "CPU"}) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 3, 2, 2}, {1, 2, 2})});
    expect_near(out[0], {-1, 3, 0, 1}, 1e-4f, dev);  // the second row is constant: 0 * scale + B
    expect_near(out[1], {2, 2}, 1e-5f, dev);
    EXPECT_NEAR(out[2].data<float>()[0], 1.f, 1e-5f);
  }
}

TEST(NnLrnAndMvn, Values) {
  {
    OnnxBuilder b(13);
    b.input("x", kF, {1, 3, 1});
    auto& n = b.node("LRN", {"x"}, {"y"});
    OnnxBuilder::attr(n, "size", int64_t(3));
    OnnxBuilder::attr(n, "alpha", 3.0f);
    OnnxBuilder::attr(n, "beta", 1.0f);
    OnnxBuilder::attr(n, "bias", 1.0f);
    b.output("y");
    // channel 0 window {0, 1}: 1 + (1 + 4) = 6 -> 1/6; channel 1: 1 + 14 = 15 -> 2/15; channel 2: 1 + 13 -> 3/14
    check_both(b, {Tensor::from_vector<float>({1, 2, 3}, {1, 3, 1})}, {1.f / 6, 2.f / 15, 3.f / 14});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kF, {2, 2});
    auto& n = b.node("MeanVarianceNormalization", {"x"}, {"y"});
    OnnxBuilder::attr(n, "axes", std::vector<int64_t>{-1});
    b.output("y");
    check_both(b, {Tensor::from_vector<float>({1, 3, 10, 20}, {2, 2})}, {-1, 1, -1, 1});
  }
}
