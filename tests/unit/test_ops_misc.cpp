// Tests of the quantization, loss, signal, string, random and training ops (suites Misc*).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

const char* const kDevices[] = {"REF", "CPU"};

// Adds an initializer holding `t` (f32, u8, i8, i32 or i64).
void add_init(OnnxBuilder& b, const std::string& name, const Tensor& t) {
  auto* p = b.graph().add_initializer();
  p->set_name(name);
  for (auto d : t.dims()) p->add_dims(d);
  switch (t.type()) {
    case ElementType::kF32:
      p->set_data_type(onnx::TensorProto::FLOAT);
      for (int64_t i = 0; i < t.size(); ++i) p->add_float_data(t.data<float>()[i]);
      break;
    case ElementType::kU8:
      p->set_data_type(onnx::TensorProto::UINT8);
      for (int64_t i = 0; i < t.size(); ++i) p->add_int32_data(t.data<uint8_t>()[i]);
      break;
    case ElementType::kI8:
      p->set_data_type(onnx::TensorProto::INT8);
      for (int64_t i = 0; i < t.size(); ++i) p->add_int32_data(t.data<int8_t>()[i]);
      break;
    case ElementType::kI32:
      p->set_data_type(onnx::TensorProto::INT32);
      for (int64_t i = 0; i < t.size(); ++i) p->add_int32_data(t.data<int32_t>()[i]);
      break;
    case ElementType::kI64:
      p->set_data_type(onnx::TensorProto::INT64);
      for (int64_t i = 0; i < t.size(); ++i) p->add_int64_data(t.data<int64_t>()[i]);
      break;
    default:
      FAIL() << "unsupported initializer type";
  }
}

void attr_strings(onnx::NodeProto& n, const std::string& name, const std::vector<std::string>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRINGS);
  for (const auto& s : v) a->add_strings(s);
}

template <typename T>
void expect_values(const Tensor& t, const std::vector<T>& want, const char* dev, double tol = 0) {
  ASSERT_EQ(t.size(), int64_t(want.size())) << dev;
  for (size_t i = 0; i < want.size(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      EXPECT_NEAR(double(t.data<T>()[i]), double(want[i]), tol) << dev << " at " << i;
    } else {
      EXPECT_EQ(t.data<T>()[i], want[i]) << dev << " at " << i;
    }
  }
}

// Expects reading (or, with run_inputs, running) the model to fail with a message containing every fragment.
void expect_error(const OnnxBuilder& b, const std::vector<std::string>& fragments,
                  const std::vector<Tensor>* run_inputs = nullptr) {
  try {
    if (run_inputs)
      b.run("REF", *run_inputs);
    else
      b.read();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

}  // namespace

// ---- QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear ----

TEST(MiscQuantize, RoundsHalfToEvenAndSaturates) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {6});
  add_init(b, "s", Tensor::scalar<float>(2.0f));
  add_init(b, "z", Tensor::scalar<uint8_t>(128));
  b.node("QuantizeLinear", {"x", "s", "z"}, {"y"});
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 3, 5, -1000, 1000, -3}, {6})});
    EXPECT_EQ(out[0].type(), ElementType::kU8);
    expect_values<uint8_t>(out[0], {128, 130, 130, 0, 255, 126}, dev);
  }
}

TEST(MiscQuantize, PerAxisWithNegativeAxis) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2, 3});
  add_init(b, "s", Tensor::from_vector<float>({1.0f, 0.5f}, {2}));
  add_init(b, "z", Tensor::from_vector<int8_t>({0, -1}, {2}));
  auto& n = b.node("QuantizeLinear", {"x", "s", "z"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t(-2));
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 1, 1, 2, 2, 200}, {2, 3})});
    expect_values<int8_t>(out[0], {1, 1, 1, 3, 3, 127}, dev);
  }
}

TEST(MiscQuantize, SymbolicDimsKeepTheShape) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 3});
  add_init(b, "s", Tensor::scalar<float>(0.1f));
  b.node("QuantizeLinear", {"x", "s"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].type, ElementType::kU8);
  ASSERT_EQ(m.outputs()[0].shape.rank(), 2);
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
  EXPECT_EQ(m.outputs()[0].shape[1].value(), 3);
}

TEST(MiscQuantize, ZeroScaleIsRejectedNamingTheTensor) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2});
  add_init(b, "s", Tensor::scalar<float>(0.0f));
  b.node("QuantizeLinear", {"x", "s"}, {"y"}, "q");
  b.output("y");
  expect_error(b, {"'q'", "y_scale", "non-zero"});
}

TEST(MiscQuantize, PerAxisScaleLengthMustMatchTheAxis) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2, 3});
  add_init(b, "s", Tensor::from_vector<float>({1, 1, 1, 1}, {4}));
  b.node("QuantizeLinear", {"x", "s"}, {"y"});
  b.output("y");
  expect_error(b, {"y_scale", "4 values", "axis"});
}

TEST(MiscQuantize, PerAxisNeedsOpset13) {
  OnnxBuilder b(10);
  b.input("x", onnx::TensorProto::FLOAT, {2, 2});
  add_init(b, "s", Tensor::from_vector<float>({1, 2}, {2}));
  b.node("QuantizeLinear", {"x", "s"}, {"y"});
  b.output("y");
  expect_error(b, {"y_scale", "per-tensor"});
}

TEST(MiscDequantize, PerAxisI8AndNaNScaleAtRunTime) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::INT8, {2, 2});
  b.input("s", onnx::TensorProto::FLOAT, {2});
  add_init(b, "z", Tensor::from_vector<int8_t>({-1, 2}, {2}));
  auto& n = b.node("DequantizeLinear", {"x", "s", "z"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t(1));
  b.output("y");
  std::vector<Tensor> in = {Tensor::from_vector<int8_t>({-128, 127, 0, 2}, {2, 2}),
                            Tensor::from_vector<float>({0.5f, 2.0f}, {2})};
  for (const char* dev : kDevices) expect_values<float>(b.run(dev, in)[0], {-63.5f, 250.0f, 0.5f, 0.0f}, dev);
  std::vector<Tensor> bad = {in[0], Tensor::from_vector<float>({0.5f, NAN}, {2})};
  expect_error(b, {"x_scale", "finite"}, &bad);
}

TEST(MiscDequantize, I32WithoutZeroPoint) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::INT32, {3});
  add_init(b, "s", Tensor::scalar<float>(0.25f));
  b.node("DequantizeLinear", {"x", "s"}, {"y"});
  b.output("y");
  for (const char* dev : kDevices)
    expect_values<float>(b.run(dev, {Tensor::from_vector<int32_t>({-4, 0, 1000}, {3})})[0], {-1, 0, 250}, dev);
}

TEST(MiscDynamicQuantize, RangeIncludesZeroAndRoundsHalfToEven) {
  OnnxBuilder b(11);
  b.input("x", onnx::TensorProto::FLOAT, {3});
  b.node("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"});
  b.output("y");
  b.output("s");
  b.output("z");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({0, 255, -255}, {3})});
    expect_values<uint8_t>(out[0], {128, 255, 0}, dev);
    EXPECT_FLOAT_EQ(out[1].data<float>()[0], 2.0f);
    EXPECT_EQ(out[2].data<uint8_t>()[0], 128);
  }
}

// ---- MatMulInteger / QLinearMatMul / ConvInteger / QLinearConv ----

TEST(MiscMatMulInteger, PerRowZeroPoints) {
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::UINT8, {2, 3});
  b.input("b", onnx::TensorProto::UINT8, {3, 2});
  add_init(b, "za", Tensor::from_vector<uint8_t>({10, 2}, {2}));
  add_init(b, "zb", Tensor::scalar<uint8_t>(1));
  b.node("MatMulInteger", {"a", "b", "za", "zb"}, {"y"});
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<uint8_t>({11, 7, 3, 10, 6, 2}, {2, 3}),
                           Tensor::from_vector<uint8_t>({1, 4, 2, 5, 3, 6}, {3, 2})});
    EXPECT_EQ(out[0].type(), ElementType::kI32);
    expect_values<int32_t>(out[0], {-17, -44, 4, 40}, dev);
  }
}

TEST(MiscMatMulInteger, SymbolicBatchAndInnerMismatch) {
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::INT8, {-1, 2, 3});
  b.input("b", onnx::TensorProto::INT8, {3, 4});
  b.node("MatMulInteger", {"a", "b"}, {"y"});
  b.output("y");
  Model m = b.read();
  ASSERT_EQ(m.outputs()[0].shape.rank(), 3);
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
  EXPECT_EQ(m.outputs()[0].shape[2].value(), 4);

  OnnxBuilder bad(13);
  bad.input("a", onnx::TensorProto::INT8, {2, 3});
  bad.input("b", onnx::TensorProto::INT8, {4, 4});
  bad.node("MatMulInteger", {"a", "b"}, {"y"});
  bad.output("y");
  expect_error(bad, {"inner dims"});
}

TEST(MiscQLinearMatMul, RequantizesTheProduct) {
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::UINT8, {1, 2});
  b.input("b", onnx::TensorProto::UINT8, {2, 1});
  add_init(b, "sa", Tensor::scalar<float>(0.5f));
  add_init(b, "za", Tensor::scalar<uint8_t>(2));
  add_init(b, "sb", Tensor::scalar<float>(2.0f));
  add_init(b, "zb", Tensor::scalar<uint8_t>(1));
  add_init(b, "sy", Tensor::scalar<float>(0.25f));
  add_init(b, "zy", Tensor::scalar<uint8_t>(100));
  b.node("QLinearMatMul", {"a", "sa", "za", "b", "sb", "zb", "sy", "zy"}, {"y"});
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<uint8_t>({4, 6}, {1, 2}), Tensor::from_vector<uint8_t>({3, 1}, {2, 1})});
    expect_values<uint8_t>(out[0], {116}, dev);
  }
}

TEST(MiscConvInteger, ZeroPointsAndPadding) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::UINT8, {1, 1, 3, 3});
  add_init(b, "w", Tensor::from_vector<uint8_t>({1, 1, 1, 1}, {1, 1, 2, 2}));
  add_init(b, "zx", Tensor::scalar<uint8_t>(1));
  auto& n = b.node("ConvInteger", {"x", "w", "zx"}, {"y"});
  OnnxBuilder::attr(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.output("y");
  Tensor x = Tensor::from_vector<uint8_t>({2, 3, 4, 5, 6, 7, 8, 9, 10}, {1, 1, 3, 3});
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {x});
    ASSERT_EQ(out[0].dims(), (Dims{1, 1, 4, 4}));
    const int32_t* y = out[0].data<int32_t>();
    EXPECT_EQ(y[0], 1) << dev;
    EXPECT_EQ(y[5], 12) << dev;  // the unpadded 2x2 windows: 12 16 / 24 28
    EXPECT_EQ(y[6], 16) << dev;
    EXPECT_EQ(y[9], 24) << dev;
    EXPECT_EQ(y[10], 28) << dev;
    EXPECT_EQ(y[15], 9) << dev;
  }
}

TEST(MiscQLinearConv, PerChannelScalesAndBias) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::UINT8, {1, 1, 2, 2});
  add_init(b, "sx", Tensor::scalar<float>(0.5f));
  add_init(b, "zx", Tensor::scalar<uint8_t>(10));
  add_init(b, "w", Tensor::from_vector<uint8_t>({3, 5}, {2, 1, 1, 1}));
  add_init(b, "sw", Tensor::from_vector<float>({1.0f, 0.25f}, {2}));
  add_init(b, "zw", Tensor::from_vector<uint8_t>({1, 1}, {2}));
  add_init(b, "sy", Tensor::scalar<float>(1.0f));
  add_init(b, "zy", Tensor::scalar<uint8_t>(5));
  add_init(b, "bias", Tensor::from_vector<int32_t>({4, -8}, {2}));
  b.node("QLinearConv", {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "bias"}, {"y"});
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<uint8_t>({10, 20, 30, 40}, {1, 1, 2, 2})});
    ASSERT_EQ(out[0].dims(), (Dims{1, 2, 2, 2}));
    expect_values<uint8_t>(out[0], {7, 17, 27, 37, 4, 9, 14, 19}, dev);
  }
}

TEST(MiscQLinearConv, PerChannelScaleOfTheWrongLength) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::UINT8, {1, 1, 2, 2});
  add_init(b, "sx", Tensor::scalar<float>(0.5f));
  add_init(b, "zx", Tensor::scalar<uint8_t>(10));
  add_init(b, "w", Tensor::from_vector<uint8_t>({3, 5}, {2, 1, 1, 1}));
  add_init(b, "sw", Tensor::from_vector<float>({1.0f, 0.25f, 1.0f}, {3}));
  add_init(b, "zw", Tensor::scalar<uint8_t>(1));
  add_init(b, "sy", Tensor::scalar<float>(1.0f));
  add_init(b, "zy", Tensor::scalar<uint8_t>(5));
  b.node("QLinearConv", {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy"}, {"y"});
  b.output("y");
  std::vector<Tensor> in = {Tensor::from_vector<uint8_t>({10, 20, 30, 40}, {1, 1, 2, 2})};
  expect_error(b, {"w_scale", "2 values"}, &in);
}

// ---- Loss ----

TEST(MiscLoss, NllWeightedMeanSumAndIgnoreIndex) {
  struct Case {
    const char* reduction;
    int64_t ignore;
    float want;
  } cases[] = {{"mean", -100, 2.4f}, {"sum", -100, 12.0f}, {"mean", 1, 3.0f}};
  for (const auto& c : cases) {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {2, 3});
    b.input("t", onnx::TensorProto::INT64, {2});
    b.initializer("w", {1, 2, 3}, {3});
    auto& n = b.node("NegativeLogLikelihoodLoss", {"x", "t", "w"}, {"loss"});
    OnnxBuilder::attr(n, "reduction", std::string(c.reduction));
    OnnxBuilder::attr(n, "ignore_index", c.ignore);
    b.output("loss");
    for (const char* dev : kDevices) {
      auto out = b.run(dev, {Tensor::from_vector<float>({-1, -2, -3, -0.5f, -1.5f, -2.5f}, {2, 3}),
                             Tensor::from_vector<int64_t>({2, 1}, {2})});
      EXPECT_EQ(out[0].rank(), 0);
      EXPECT_NEAR(out[0].data<float>()[0], c.want, 1e-5) << dev << " " << c.reduction;
    }
  }
}

TEST(MiscLoss, SoftmaxCrossEntropyWithLogProb) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {1, 2});
  b.input("t", onnx::TensorProto::INT32, {1});
  b.node("SoftmaxCrossEntropyLoss", {"x", "t"}, {"loss", "logp"});
  b.output("loss");
  b.output("logp");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({0, 0}, {1, 2}), Tensor::from_vector<int32_t>({1}, {1})});
    EXPECT_NEAR(out[0].data<float>()[0], std::log(2.0), 1e-6) << dev;
    expect_values<float>(out[1], {-float(std::log(2.0)), -float(std::log(2.0))}, dev, 1e-6);
  }
}

TEST(MiscLoss, NoneReductionKeepsSymbolicDims) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 3, 4});
  b.input("t", onnx::TensorProto::INT64, {-1, 4});
  auto& n = b.node("NegativeLogLikelihoodLoss", {"x", "t"}, {"loss"});
  OnnxBuilder::attr(n, "reduction", std::string("none"));
  b.output("loss");
  Model m = b.read();
  ASSERT_EQ(m.outputs()[0].shape.rank(), 2);
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
  EXPECT_EQ(m.outputs()[0].shape[1].value(), 4);
}

TEST(MiscLoss, TargetOutOfRangeAndBadReduction) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {1, 3});
  b.input("t", onnx::TensorProto::INT64, {1});
  b.node("NegativeLogLikelihoodLoss", {"x", "t"}, {"loss"});
  b.output("loss");
  std::vector<Tensor> in = {Tensor::from_vector<float>({-1, -1, -1}, {1, 3}), Tensor::from_vector<int64_t>({3}, {1})};
  try {
    b.run("REF", in);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange) << e.what();
    EXPECT_NE(std::string(e.what()).find("target value 3"), std::string::npos) << e.what();
  }
  OnnxBuilder bad(13);
  bad.input("x", onnx::TensorProto::FLOAT, {1, 3});
  bad.input("t", onnx::TensorProto::INT64, {1});
  auto& n = bad.node("NegativeLogLikelihoodLoss", {"x", "t"}, {"loss"});
  OnnxBuilder::attr(n, "reduction", std::string("avg"));
  bad.output("loss");
  expect_error(bad, {"reduction", "avg"});
}

// ---- DFT / STFT / windows / MelWeightMatrix ----

TEST(MiscSignal, DftOnesidedRealAndInverse) {
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {1, 4, 1});
  auto& n = b.node("DFT", {"x"}, {"y"});
  OnnxBuilder::attr(n, "onesided", int64_t(1));
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 2, 3, 4}, {1, 4, 1})});
    ASSERT_EQ(out[0].dims(), (Dims{1, 3, 2}));
    expect_values<float>(out[0], {10, 0, -2, 2, -2, 0}, dev, 1e-5);
  }
  OnnxBuilder inv(17);
  inv.input("x", onnx::TensorProto::FLOAT, {1, 4, 2});
  auto& m = inv.node("DFT", {"x"}, {"y"});
  OnnxBuilder::attr(m, "inverse", int64_t(1));
  OnnxBuilder::attr(m, "axis", int64_t(-2));
  inv.output("y");
  for (const char* dev : kDevices) {
    auto out = inv.run(dev, {Tensor::from_vector<float>({10, 0, -2, 2, -2, 0, -2, -2}, {1, 4, 2})});
    expect_values<float>(out[0], {1, 0, 2, 0, 3, 0, 4, 0}, dev, 1e-5);
  }
}

TEST(MiscSignal, DftLengthPadsAndLastAxisIsRefused) {
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 4, 1});
  b.initializer_i64("len", {6}, {});
  b.node("DFT", {"x", "len"}, {"y"});
  b.output("y");
  Model m = b.read();
  ASSERT_EQ(m.outputs()[0].shape.rank(), 3);
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
  EXPECT_EQ(m.outputs()[0].shape[1].value(), 6);
  EXPECT_EQ(m.outputs()[0].shape[2].value(), 2);

  OnnxBuilder bad(17);
  bad.input("x", onnx::TensorProto::FLOAT, {1, 4, 1});
  auto& n = bad.node("DFT", {"x"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t(-1));
  bad.output("y");
  expect_error(bad, {"axis", "last dim"});
}

TEST(MiscSignal, StftFramesWithoutWindow) {
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {1, 8, 1});
  b.initializer_i64("step", {4}, {});
  b.initializer_i64("len", {4}, {});
  b.node("STFT", {"x", "step", "", "len"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].shape.to_dims(), (Dims{1, 2, 3, 2}));
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8}, {1, 8, 1})});
    expect_values<float>(out[0], {10, 0, -2, 2, -2, 0, 26, 0, -2, 2, -2, 0}, dev, 1e-4);
  }
}

TEST(MiscSignal, WindowsPeriodicSymmetricAndOutputType) {
  OnnxBuilder b(17);
  b.input("n", onnx::TensorProto::INT64, {});
  b.node("HannWindow", {"n"}, {"periodic"});
  auto& s = b.node("HannWindow", {"n"}, {"symmetric"});
  OnnxBuilder::attr(s, "periodic", int64_t(0));
  auto& k = b.node("BlackmanWindow", {"n"}, {"blackman"});
  OnnxBuilder::attr(k, "output_datatype", int64_t(onnx::TensorProto::DOUBLE));
  b.output("periodic");
  b.output("symmetric");
  b.output("blackman");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::scalar<int64_t>(4)});
    expect_values<float>(out[0], {0, 0.5f, 1, 0.5f}, dev, 1e-6);
    expect_values<float>(out[1], {0, 0.75f, 0.75f, 0}, dev, 1e-6);
    EXPECT_EQ(out[2].type(), ElementType::kF64);
    expect_values<double>(out[2], {0, 0.34, 1, 0.34}, dev, 1e-9);
  }
}

TEST(MiscSignal, MelWeightMatrixShapeAndFilters) {
  OnnxBuilder b(17);
  b.initializer_i64("bins", {8}, {});
  b.initializer_i64("dft", {16}, {});
  b.initializer_i64("rate", {8192}, {});
  b.initializer("lo", {0}, {});
  b.initializer("hi", {4096}, {});
  b.node("MelWeightMatrix", {"bins", "dft", "rate", "lo", "hi"}, {"y"});
  b.output("y");
  EXPECT_EQ(b.read().outputs()[0].shape.to_dims(), (Dims{9, 8}));
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {});
    ASSERT_EQ(out[0].dims(), (Dims{9, 8}));
    EXPECT_EQ(out[0].data<float>()[0], 1.0f) << dev;
    EXPECT_EQ(out[0].data<float>()[1], 1.0f) << dev;
    EXPECT_EQ(out[0].data<float>()[2], 0.0f) << dev;
  }
}

// ---- StringNormalizer / TfIdfVectorizer ----

TEST(MiscString, NormalizerCaseInsensitiveStopwordsAndLatin1) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::STRING, {4});
  auto& n = b.node("StringNormalizer", {"x"}, {"y"});
  OnnxBuilder::attr(n, "case_change_action", std::string("UPPER"));
  attr_strings(n, "stopwords", {"monday"});
  b.output("y");
  EXPECT_FALSE(b.read().outputs()[0].shape[0].is_static());
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<std::string>({"Monday", "été", "tuesday", "MONDAY"}, {4})});
    ASSERT_EQ(out[0].dims(), (Dims{2})) << dev;
    EXPECT_EQ(out[0].data<std::string>()[0], "ÉTÉ");
    EXPECT_EQ(out[0].data<std::string>()[1], "TUESDAY");
    auto empty = b.run(dev, {Tensor::from_vector<std::string>({"monday", "Monday", "x", "MonDay"}, {4})});
    EXPECT_EQ(empty[0].size(), 1);
    EXPECT_EQ(empty[0].data<std::string>()[0], "X");
  }
}

TEST(MiscString, NormalizerAllRemovedGivesOneEmptyString) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::STRING, {1, 2});
  auto& n = b.node("StringNormalizer", {"x"}, {"y"});
  OnnxBuilder::attr(n, "is_case_sensitive", int64_t(1));
  OnnxBuilder::attr(n, "case_change_action", std::string("LOWER"));
  attr_strings(n, "stopwords", {"a", "B"});
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<std::string>({"a", "B"}, {1, 2})});
    ASSERT_EQ(out[0].dims(), (Dims{1, 1}));
    EXPECT_EQ(out[0].data<std::string>()[0], "");
    auto kept = b.run(dev, {Tensor::from_vector<std::string>({"A", "B"}, {1, 2})});
    ASSERT_EQ(kept[0].dims(), (Dims{1, 1}));
    EXPECT_EQ(kept[0].data<std::string>()[0], "a");
  }
}

TEST(MiscString, TfIdfStringPoolWeighted) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::STRING, {5});
  auto& n = b.node("TfIdfVectorizer", {"x"}, {"y"});
  OnnxBuilder::attr(n, "mode", std::string("TFIDF"));
  OnnxBuilder::attr(n, "min_gram_length", int64_t(1));
  OnnxBuilder::attr(n, "max_gram_length", int64_t(2));
  OnnxBuilder::attr(n, "max_skip_count", int64_t(0));
  OnnxBuilder::attr(n, "ngram_counts", std::vector<int64_t>{0, 2});
  OnnxBuilder::attr(n, "ngram_indexes", std::vector<int64_t>{0, 1, 2});
  OnnxBuilder::attr(n, "weights", std::vector<float>{1, 2, 3});
  attr_strings(n, "pool_strings", {"a", "b", "a", "b"});
  b.output("y");
  EXPECT_EQ(b.read().outputs()[0].shape.to_dims(), (Dims{3}));
  for (const char* dev : kDevices)
    expect_values<float>(b.run(dev, {Tensor::from_vector<std::string>({"a", "b", "a", "b", "c"}, {5})})[0], {2, 4, 6},
                         dev);
}

TEST(MiscString, TfIdfBadNgramCounts) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::INT64, {5});
  auto& n = b.node("TfIdfVectorizer", {"x"}, {"y"});
  OnnxBuilder::attr(n, "mode", std::string("TF"));
  OnnxBuilder::attr(n, "min_gram_length", int64_t(2));
  OnnxBuilder::attr(n, "max_gram_length", int64_t(2));
  OnnxBuilder::attr(n, "max_skip_count", int64_t(0));
  OnnxBuilder::attr(n, "ngram_counts", std::vector<int64_t>{0, 1});
  OnnxBuilder::attr(n, "ngram_indexes", std::vector<int64_t>{0, 1});
  OnnxBuilder::attr(n, "pool_int64s", std::vector<int64_t>{1, 2, 3, 4});  // 3 items cannot be bigrams
  b.output("y");
  expect_error(b, {"ngram_counts"});
}

// ---- Random / Bernoulli ----

TEST(MiscRandom, UniformRangeSeedAndNoFolding) {
  OnnxBuilder b(13);
  auto& n = b.node("RandomUniform", {}, {"y"});
  OnnxBuilder::attr(n, "shape", std::vector<int64_t>{1000});
  OnnxBuilder::attr(n, "low", 2.0f);
  OnnxBuilder::attr(n, "high", 3.0f);
  OnnxBuilder::attr(n, "seed", 5.0f);
  b.output("y");
  for (const char* dev : kDevices) {
    auto a = b.run(dev, {});
    auto c = b.run(dev, {});
    ASSERT_EQ(a[0].dims(), (Dims{1000}));
    double sum = 0;
    for (int64_t i = 0; i < 1000; ++i) {
      float v = a[0].data<float>()[i];
      EXPECT_TRUE(v >= 2.0f && v <= 3.0f) << v;
      EXPECT_EQ(v, c[0].data<float>()[i]);  // seeded: reproducible
      sum += v;
    }
    EXPECT_NEAR(sum / 1000, 2.5, 0.05);
  }
}

TEST(MiscRandom, UnseededRunsDifferSoTheNodeIsNotFolded) {
  OnnxBuilder b(13);
  auto& n = b.node("RandomNormal", {}, {"y"});
  OnnxBuilder::attr(n, "shape", std::vector<int64_t>{4});
  b.output("y");
  for (const char* dev : kDevices) {
    Core core;
    CompiledModel cm = core.compile_model(b.read(), dev);
    InferRequest r = cm.create_infer_request();
    r.infer();
    Tensor first = r.get_output_tensor(0).clone();
    r.infer();
    Tensor second = r.get_output_tensor(0);
    bool differ = false;
    for (int64_t i = 0; i < 4; ++i) differ |= first.data<float>()[i] != second.data<float>()[i];
    EXPECT_TRUE(differ) << dev;
  }
}

TEST(MiscRandom, NormalLikeTakesTheInputShapeAndDtype) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::INT32, {-1, 500});
  auto& n = b.node("RandomNormalLike", {"x"}, {"y"});
  OnnxBuilder::attr(n, "dtype", int64_t(onnx::TensorProto::DOUBLE));
  OnnxBuilder::attr(n, "mean", 10.0f);
  b.output("y");
  EXPECT_EQ(b.read().outputs()[0].type, ElementType::kF64);
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor(ElementType::kI32, {2, 500})});
    ASSERT_EQ(out[0].dims(), (Dims{2, 500}));
    double sum = 0;
    for (int64_t i = 0; i < 1000; ++i) sum += out[0].data<double>()[i];
    EXPECT_NEAR(sum / 1000, 10.0, 0.2);
  }
}

TEST(MiscRandom, MultinomialAndBernoulliExtremes) {
  OnnxBuilder b(15);
  b.input("logits", onnx::TensorProto::FLOAT, {2, 2});
  b.input("p", onnx::TensorProto::FLOAT, {4});
  auto& m = b.node("Multinomial", {"logits"}, {"idx"});
  OnnxBuilder::attr(m, "sample_size", int64_t(5));
  OnnxBuilder::attr(m, "dtype", int64_t(onnx::TensorProto::INT64));
  auto& n = b.node("Bernoulli", {"p"}, {"bits"});
  OnnxBuilder::attr(n, "dtype", int64_t(onnx::TensorProto::BOOL));
  b.output("idx");
  b.output("bits");
  for (const char* dev : kDevices) {
    auto out = b.run(
        dev, {Tensor::from_vector<float>({-100, 0, 0, -100}, {2, 2}), Tensor::from_vector<float>({0, 1, 0, 1}, {4})});
    ASSERT_EQ(out[0].dims(), (Dims{2, 5}));
    expect_values<int64_t>(out[0], {1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, dev);
    expect_values<bool>(out[1], {false, true, false, true}, dev);
  }
  std::vector<Tensor> bad = {Tensor::from_vector<float>({0, 0, 0, 0}, {2, 2}),
                             Tensor::from_vector<float>({0, 1.5f, 0, 1}, {4})};
  expect_error(b, {"probability"}, &bad);
}

// ---- Adagrad / Adam / Momentum ----

namespace {
OnnxBuilder training_model(const std::string& op, const std::vector<std::string>& in,
                           const std::vector<std::string>& out) {
  OnnxBuilder b(17);
  auto* o = b.model().add_opset_import();
  o->set_domain("ai.onnx.preview.training");
  o->set_version(1);
  b.input("R", onnx::TensorProto::FLOAT, {});
  b.input("T", onnx::TensorProto::INT64, {});
  for (size_t i = 2; i < in.size(); ++i) b.input(in[i], onnx::TensorProto::FLOAT, {1});
  b.node(op, in, out, "opt").set_domain("ai.onnx.preview.training");
  for (const auto& s : out) b.output(s);
  return b;
}
}  // namespace

TEST(MiscTraining, MomentumStandardAndNesterov) {
  for (const char* mode : {"standard", "nesterov"}) {
    OnnxBuilder b = training_model("Momentum", {"R", "T", "X", "G", "V"}, {"X_new", "V_new"});
    auto& n = *b.graph().mutable_node(0);
    OnnxBuilder::attr(n, "alpha", 0.5f);
    OnnxBuilder::attr(n, "beta", 0.25f);
    OnnxBuilder::attr(n, "norm_coefficient", 0.0f);
    OnnxBuilder::attr(n, "mode", std::string(mode));
    for (const char* dev : kDevices) {
      auto out =
          b.run(dev, {Tensor::scalar<float>(0.1f), Tensor::scalar<int64_t>(1), Tensor::from_vector<float>({1}, {1}),
                      Tensor::from_vector<float>({2}, {1}), Tensor::from_vector<float>({3}, {1})});
      EXPECT_NEAR(out[1].data<float>()[0], 2.0f, 1e-6) << dev;
      EXPECT_NEAR(out[0].data<float>()[0], std::string(mode) == "standard" ? 0.8f : 0.7f, 1e-6) << dev << mode;
    }
  }
}

TEST(MiscTraining, AdagradStepAndInputCount) {
  OnnxBuilder b = training_model("Adagrad", {"R", "T", "X", "G", "H"}, {"X_new", "H_new"});
  OnnxBuilder::attr(*b.graph().mutable_node(0), "epsilon", 0.0f);
  for (const char* dev : kDevices) {
    auto out =
        b.run(dev, {Tensor::scalar<float>(0.5f), Tensor::scalar<int64_t>(0), Tensor::from_vector<float>({1}, {1}),
                    Tensor::from_vector<float>({3}, {1}), Tensor::from_vector<float>({7}, {1})});
    EXPECT_NEAR(out[1].data<float>()[0], 16.0f, 1e-6) << dev;                // 7 + 3^2
    EXPECT_NEAR(out[0].data<float>()[0], 1.0f - 0.5f * 3 / 4, 1e-6) << dev;  // x - r g / sqrt(h)
  }
  OnnxBuilder bad = training_model("Adagrad", {"R", "T", "X", "G"}, {"X_new"});
  expect_error(bad, {"'opt'", "3 inputs per optimized tensor"});
}
