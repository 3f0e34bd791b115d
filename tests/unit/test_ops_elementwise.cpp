// Elementwise ops: Unary, Binary (incl. Pow, Mod, comparisons, Sum/Max/Min/Mean chains), Clip, Where, Cast, Dropout.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

constexpr const char* kDevices[] = {"REF", "CPU"};

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.size());
}

// Expects `fn` to throw a celer::Error whose message contains `needle`.
template <typename F>
void expect_error(F&& fn, const std::string& needle) {
  try {
    fn();
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// Runs a one-node model with one float input of shape {n}.
std::vector<float> run_unary_f32(const std::string& op, const std::vector<float>& x,
                                 void (*attrs)(onnx::NodeProto&) = nullptr, int opset = 17,
                                 const char* device = "REF") {
  OnnxBuilder b(opset);
  b.input("x", onnx::TensorProto::FLOAT, {int64_t(x.size())});
  auto& n = b.node(op, {"x"}, {"y"});
  if (attrs) attrs(n);
  b.output("y");
  return values<float>(b.run(device, {Tensor::from_vector<float>(x, {int64_t(x.size())})})[0]);
}

}  // namespace

TEST(ElementwiseUnary, ReferenceValuesOnRefAndCpu) {
  const std::vector<float> x = {-2.5f, -0.5f, 0.0f, 0.5f, 1.5f, 2.5f};
  for (const char* dev : kDevices) {
    auto relu = run_unary_f32("Relu", x, nullptr, 17, dev);
    EXPECT_EQ(relu, (std::vector<float>{0, 0, 0, 0.5f, 1.5f, 2.5f})) << dev;
    auto round = run_unary_f32("Round", x, nullptr, 17, dev);  // half to even
    EXPECT_EQ(round, (std::vector<float>{-2, -0, 0, 0, 2, 2})) << dev;
    auto sign = run_unary_f32("Sign", x, nullptr, 17, dev);
    EXPECT_EQ(sign, (std::vector<float>{-1, -1, 0, 1, 1, 1})) << dev;
  }
  auto sig = run_unary_f32("Sigmoid", {-100.0f, 0.0f, 100.0f});
  EXPECT_NEAR(sig[0], 0.0f, 1e-30);
  EXPECT_FLOAT_EQ(sig[1], 0.5f);
  EXPECT_FLOAT_EQ(sig[2], 1.0f);
  auto sp = run_unary_f32("Softplus", {-100.0f, 0.0f, 100.0f});
  EXPECT_FLOAT_EQ(sp[1], std::log(2.0f));
  EXPECT_FLOAT_EQ(sp[2], 100.0f);  // no overflow to inf
}

TEST(ElementwiseUnary, AttributesAndDefaults) {
  auto lr = run_unary_f32("LeakyRelu", {-1.0f, 2.0f});
  EXPECT_FLOAT_EQ(lr[0], -0.01f);
  auto lr2 = run_unary_f32("LeakyRelu", {-1.0f, 2.0f}, [](onnx::NodeProto& n) { OnnxBuilder::attr(n, "alpha", 0.5f); });
  EXPECT_FLOAT_EQ(lr2[0], -0.5f);
  auto hs = run_unary_f32("HardSigmoid", {-10.0f, 0.0f, 10.0f});
  EXPECT_EQ(hs, (std::vector<float>{0, 0.5f, 1}));
  auto shrink = run_unary_f32("Shrink", {-2.0f, 0.2f, 2.0f}, [](onnx::NodeProto& n) {
    OnnxBuilder::attr(n, "lambd", 1.0f);
    OnnxBuilder::attr(n, "bias", 0.5f);
  });
  EXPECT_EQ(shrink, (std::vector<float>{-1.5f, 0, 1.5f}));
  auto tr = run_unary_f32("ThresholdedRelu", {0.5f, 1.0f, 1.5f});
  EXPECT_EQ(tr, (std::vector<float>{0, 0, 1.5f}));
  expect_error([] { run_unary_f32("Celu", {1.0f}, [](onnx::NodeProto& n) { OnnxBuilder::attr(n, "alpha", 0.0f); }); },
               "attribute 'alpha'");
}

TEST(ElementwiseUnary, IsInfIsNaNGiveBool) {
  const float inf = std::numeric_limits<float>::infinity();
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {4});
  auto& n = b.node("IsInf", {"x"}, {"y"});
  OnnxBuilder::attr(n, "detect_negative", int64_t(0));
  b.node("IsNaN", {"x"}, {"z"});
  b.output("y");
  b.output("z");
  auto out = b.run("REF", {Tensor::from_vector<float>({-inf, inf, NAN, 1.0f}, {4})});
  ASSERT_EQ(out[0].type(), ElementType::kBool);
  EXPECT_EQ(values<bool>(out[0]), (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(values<bool>(out[1]), (std::vector<bool>{false, false, true, false}));
}

TEST(ElementwiseUnary, IntegerAbsNegWrapWithoutUB) {
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::INT32, {3});
  b.node("Abs", {"x"}, {"a"});
  b.node("Neg", {"x"}, {"n"});
  b.output("a");
  b.output("n");
  const int32_t lo = std::numeric_limits<int32_t>::min();
  auto out = b.run("REF", {Tensor::from_vector<int32_t>({lo, -3, 4}, {3})});
  EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{lo, 3, 4}));
  EXPECT_EQ(values<int32_t>(out[1]), (std::vector<int32_t>{lo, 3, -4}));
}

TEST(ElementwiseUnary, ShapeInferenceKeepsSymbolicDims) {
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 3});
  b.node("Tanh", {"x"}, {"y"});
  b.output("y");
  Model m = b.read();
  ASSERT_EQ(m.outputs()[0].shape.rank(), 2);
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
  EXPECT_EQ(m.outputs()[0].shape[1].value(), 3);
}

TEST(ElementwiseUnary, WrongElementTypeIsRejected) {
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::INT32, {2});
  b.node("Exp", {"x"}, {"y"}, "my_exp");
  b.output("y");
  expect_error([&] { b.read(); }, "my_exp");
}

TEST(ElementwiseBinary, IntegerDivisionByZeroIsARuntimeError) {
  OnnxBuilder b(17);
  b.input("a", onnx::TensorProto::INT32, {2});
  b.input("b", onnx::TensorProto::INT32, {2});
  b.node("Div", {"a", "b"}, {"y"});
  b.output("y");
  try {
    b.run("REF", {Tensor::from_vector<int32_t>({1, 2}, {2}), Tensor::from_vector<int32_t>({1, 0}, {2})});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRuntime) << e.what();
  }
  // INT_MIN / -1 wraps instead of trapping.
  const int32_t lo = std::numeric_limits<int32_t>::min();
  auto out = b.run("REF", {Tensor::from_vector<int32_t>({lo, -7}, {2}), Tensor::from_vector<int32_t>({-1, 2}, {2})});
  EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{lo, -3}));
}

TEST(ElementwiseBinary, ModFollowsDivisorSignUnlessFmod) {
  for (int64_t fmod : {0, 1}) {
    OnnxBuilder b(17);
    b.input("a", onnx::TensorProto::INT64, {4});
    b.input("b", onnx::TensorProto::INT64, {4});
    auto& n = b.node("Mod", {"a", "b"}, {"y"});
    OnnxBuilder::attr(n, "fmod", fmod);
    b.output("y");
    auto out = b.run(
        "CPU", {Tensor::from_vector<int64_t>({-7, 7, -7, 7}, {4}), Tensor::from_vector<int64_t>({3, -3, -3, 3}, {4})});
    if (fmod == 0)
      EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{2, -2, -1, 1}));
    else
      EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{-1, 1, -1, 1}));
  }
  OnnxBuilder b(17);
  b.input("a", onnx::TensorProto::FLOAT, {1});
  b.input("b", onnx::TensorProto::FLOAT, {1});
  b.node("Mod", {"a", "b"}, {"y"});
  b.output("y");
  expect_error([&] { b.read(); }, "'fmod'");
}

TEST(ElementwiseBinary, PowMixedTypes) {
  OnnxBuilder b(15);
  b.input("x", onnx::TensorProto::INT64, {3});
  b.input("e", onnx::TensorProto::FLOAT, {1});
  b.node("Pow", {"x", "e"}, {"y"});
  b.output("y");
  auto out = b.run("REF", {Tensor::from_vector<int64_t>({2, 3, -4}, {3}), Tensor::from_vector<float>({2.0f}, {1})});
  ASSERT_EQ(out[0].type(), ElementType::kI64);
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{4, 9, 16}));
}

TEST(ElementwiseBinary, ComparisonsAndLogicGiveBool) {
  OnnxBuilder b(17);
  b.input("a", onnx::TensorProto::FLOAT, {2, 2});
  b.input("b", onnx::TensorProto::FLOAT, {2});
  b.node("LessOrEqual", {"a", "b"}, {"le"});
  b.node("Greater", {"a", "b"}, {"gt"});
  b.node("Xor", {"le", "gt"}, {"x"});
  b.output("le");
  b.output("x");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 5, 3, 2}, {2, 2}), Tensor::from_vector<float>({2, 2}, {2})});
    ASSERT_EQ(out[0].type(), ElementType::kBool);
    EXPECT_EQ(values<bool>(out[0]), (std::vector<bool>{true, false, false, true})) << dev;
    EXPECT_EQ(values<bool>(out[1]), (std::vector<bool>{true, true, true, true})) << dev;
  }
}

TEST(ElementwiseBinary, BitShiftBeyondWidthGivesZero) {
  OnnxBuilder b(17);
  b.input("a", onnx::TensorProto::UINT8, {3});
  b.input("b", onnx::TensorProto::UINT8, {3});
  auto& n = b.node("BitShift", {"a", "b"}, {"y"});
  OnnxBuilder::attr(n, "direction", std::string("LEFT"));
  b.output("y");
  auto out =
      b.run("REF", {Tensor::from_vector<uint8_t>({1, 3, 255}, {3}), Tensor::from_vector<uint8_t>({1, 7, 9}, {3})});
  EXPECT_EQ(values<uint8_t>(out[0]), (std::vector<uint8_t>{2, 128, 0}));
}

TEST(ElementwiseBinary, PReluSlopeBroadcastsToX) {
  OnnxBuilder b(16);
  b.input("x", onnx::TensorProto::FLOAT, {2, 2});
  b.input("s", onnx::TensorProto::FLOAT, {2});
  b.node("PRelu", {"x", "s"}, {"y"});
  b.output("y");
  auto out =
      b.run("REF", {Tensor::from_vector<float>({-1, 1, -2, 2}, {2, 2}), Tensor::from_vector<float>({0.5f, 3}, {2})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{-0.5f, 1, -1, 2}));
  OnnxBuilder bad(16);
  bad.input("x", onnx::TensorProto::FLOAT, {1, 2});
  bad.input("s", onnx::TensorProto::FLOAT, {3, 2});
  bad.node("PRelu", {"x", "s"}, {"y"});
  bad.output("y");
  expect_error([&] { bad.read(); }, "does not broadcast");
}

TEST(ElementwiseVariadic, SumMaxMinMeanChains) {
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::FLOAT, {3});
  b.input("b", onnx::TensorProto::FLOAT, {1});
  b.input("c", onnx::TensorProto::FLOAT, {3});
  b.node("Sum", {"a", "b", "c"}, {"sum"});
  b.node("Max", {"a", "b", "c"}, {"max"});
  b.node("Min", {"a"}, {"min"});
  b.node("Mean", {"a", "b", "c"}, {"mean"});
  b.output("sum");
  b.output("max");
  b.output("min");
  b.output("mean");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, NAN, 3}, {3}), Tensor::from_vector<float>({2}, {1}),
                           Tensor::from_vector<float>({6, 0, -1}, {3})});
    EXPECT_EQ(values<float>(out[0])[0], 9.0f);
    auto mx = values<float>(out[1]);
    EXPECT_EQ(mx[0], 6.0f);
    EXPECT_TRUE(std::isnan(mx[1])) << "Max propagates NaN";
    EXPECT_EQ(mx[2], 3.0f);
    EXPECT_EQ(values<float>(out[2])[0], 1.0f);
    EXPECT_EQ(values<float>(out[3])[0], 3.0f);
  }
}

TEST(ElementwiseVariadic, MeanOfIntermediateValuesCastsTheCount) {
  // The inputs are intermediate values (type unknown at import): the divisor is a CastLike folded at load time.
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::DOUBLE, {2});
  b.node("Neg", {"a"}, {"n"});
  b.node("Abs", {"a"}, {"m"});
  b.node("Mean", {"n", "m", "m", "a"}, {"y"});
  b.output("y");
  auto out = b.run("REF", {Tensor::from_vector<double>({-4, 8}, {2})});
  ASSERT_EQ(out[0].type(), ElementType::kF64);
  EXPECT_EQ(values<double>(out[0]), (std::vector<double>{2, 4}));
}

TEST(ElementwiseClip, AttributesBeforeOpset11AndInputsAfter) {
  auto old = run_unary_f32(
      "Clip", {-3, 0, 3},
      [](onnx::NodeProto& n) {
        OnnxBuilder::attr(n, "min", -1.0f);
        OnnxBuilder::attr(n, "max", 1.0f);
      },
      6);
  EXPECT_EQ(old, (std::vector<float>{-1, 0, 1}));
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::INT64, {3});
  b.initializer_i64("hi", {2}, {});
  b.node("Clip", {"x", "", "hi"}, {"y"});
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<int64_t>({-5, 1, 5}, {3})});
    EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{-5, 1, 2})) << dev;
  }
}

TEST(ElementwiseWhere, BroadcastsThreeInputs) {
  OnnxBuilder b(16);
  b.input("c", onnx::TensorProto::BOOL, {2, 1});
  b.input("x", onnx::TensorProto::INT32, {2});
  b.input("y", onnx::TensorProto::INT32, {});
  b.node("Where", {"c", "x", "y"}, {"z"});
  b.output("z");
  auto out = b.run("CPU", {Tensor::from_vector<bool>({true, false}, {2, 1}), Tensor::from_vector<int32_t>({1, 2}, {2}),
                           Tensor::scalar<int32_t>(9)});
  ASSERT_EQ(out[0].dims(), (Dims{2, 2}));
  EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{1, 2, 9, 9}));
}

TEST(ElementwiseCast, FloatToIntTruncatesAndClamps) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {5});
  auto& n = b.node("Cast", {"x"}, {"y"});
  OnnxBuilder::attr(n, "to", int64_t(onnx::TensorProto::INT8));
  b.output("y");
  auto out = b.run("REF", {Tensor::from_vector<float>({-1.9f, 2.9f, 1000.0f, -1000.0f, NAN}, {5})});
  ASSERT_EQ(out[0].type(), ElementType::kI8);
  EXPECT_EQ(values<int8_t>(out[0]), (std::vector<int8_t>{-1, 2, 127, -128, 0}));
}

TEST(ElementwiseCast, StringsRoundTrip) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {4});
  auto& n1 = b.node("Cast", {"x"}, {"s"});
  OnnxBuilder::attr(n1, "to", int64_t(onnx::TensorProto::STRING));
  auto& n2 = b.node("Cast", {"s"}, {"y"});
  OnnxBuilder::attr(n2, "to", int64_t(onnx::TensorProto::FLOAT));
  b.output("s");
  b.output("y");
  auto out = b.run("REF", {Tensor::from_vector<float>({0.5f, 1.0f, 1e20f, -0.1f}, {4})});
  EXPECT_EQ(values<std::string>(out[0]), (std::vector<std::string>{"0.5", "1.0", "1e+20", "-0.1"}));
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{0.5f, 1.0f, 1e20f, -0.1f}));
}

TEST(ElementwiseCast, BadStringIsAClearError) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::STRING, {1});
  auto& n = b.node("Cast", {"x"}, {"y"});
  OnnxBuilder::attr(n, "to", int64_t(onnx::TensorProto::INT32));
  b.output("y");
  expect_error([&] { b.run("REF", {Tensor::from_vector<std::string>({"abc"}, {1})}); }, "'abc'");
}

TEST(ElementwiseCast, CastLikeTakesTheTargetType) {
  OnnxBuilder b(15);
  b.input("x", onnx::TensorProto::INT32, {-1});
  b.input("t", onnx::TensorProto::DOUBLE, {1});
  b.node("CastLike", {"x", "t"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].type, ElementType::kF64);
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
  auto out = b.run("CPU", {Tensor::from_vector<int32_t>({3, -2}, {2}), Tensor::from_vector<double>({0}, {1})});
  EXPECT_EQ(values<double>(out[0]), (std::vector<double>{3, -2}));
}

TEST(ElementwiseDropout, InferenceIsIdentityWithTrueMask) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {3});
  b.node("Dropout", {"x"}, {"y", "m"});
  b.output("y");
  b.output("m");
  auto out = b.run("REF", {Tensor::from_vector<float>({1, 2, 3}, {3})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(values<bool>(out[1]), (std::vector<bool>{true, true, true}));
}

TEST(ElementwiseDropout, TrainingWithSeedIsReproducible) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {100});
  b.input("r", onnx::TensorProto::FLOAT, {});
  b.input("t", onnx::TensorProto::BOOL, {});
  auto& n = b.node("Dropout", {"x", "r", "t"}, {"y", "m"});
  OnnxBuilder::attr(n, "seed", int64_t(0));
  b.output("y");
  b.output("m");
  std::vector<float> ones(100, 1.0f);
  auto run = [&] {
    return b.run("REF",
                 {Tensor::from_vector<float>(ones, {100}), Tensor::scalar<float>(0.5f), Tensor::scalar<bool>(true)});
  };
  auto a = run(), c = run();
  EXPECT_EQ(values<bool>(a[1]), values<bool>(c[1]));
  int kept = 0;
  for (int i = 0; i < 100; ++i) {
    bool k = a[1].data<bool>()[i];
    kept += k;
    EXPECT_EQ(a[0].data<float>()[i], k ? 2.0f : 0.0f);
  }
  EXPECT_GT(kept, 20);
  EXPECT_LT(kept, 80);
  expect_error(
      [&] {
        b.run("REF",
              {Tensor::from_vector<float>(ones, {100}), Tensor::scalar<float>(1.0f), Tensor::scalar<bool>(true)});
      },
      "'ratio'");
}

TEST(ElementwiseCast, CastLikeOfAnIntermediateTargetReadsItsTypeAfterImport) {
  OnnxBuilder b(15);
  b.input("x", onnx::TensorProto::FLOAT, {2});
  b.input("t", onnx::TensorProto::INT32, {1});
  b.node("Neg", {"t"}, {"nt"});  // type unknown while importing CastLike
  b.node("CastLike", {"x", "nt"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].type, ElementType::kI32);
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({2.7f, -2.7f}, {2}), Tensor::from_vector<int32_t>({0}, {1})});
    EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{2, -2})) << dev;
  }
}
