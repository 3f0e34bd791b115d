// Softmax, reductions, arg reductions, Resize, GridSample, RoiAlign, Det and NonMaxSuppression.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

const char* const kDevices[] = {"REF", "CPU"};

void expect_near(const Tensor& t, const std::vector<float>& want, float tol = 1e-5f, const char* dev = "") {
  ASSERT_EQ(t.size(), int64_t(want.size())) << dev;
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(t.data<float>()[i], want[i], tol) << dev << " at " << i;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---- Softmax / LogSoftmax / Hardmax

TEST(OpsReduceSoftmax, SoftmaxAlongLastAxisIsStable) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2, 3});
  b.node("Softmax", {"x"}, {"y"});
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1000, 1001, 1002, 0, 0, 0}, {2, 3})});
    float e0 = std::exp(-2.0f), e1 = std::exp(-1.0f), s = e0 + e1 + 1;
    expect_near(out[0], {e0 / s, e1 / s, 1 / s, 1 / 3.f, 1 / 3.f, 1 / 3.f}, 1e-6f, dev);
  }
}

TEST(OpsReduceSoftmax, LogSoftmaxNegativeAxis) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2, 2});
  auto& n = b.node("LogSoftmax", {"x"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t(-2));
  b.output("y");
  auto out = b.run("REF", {Tensor::from_vector<float>({0, 5, 0, 5}, {2, 2})});
  expect_near(out[0], {std::log(0.5f), std::log(0.5f), std::log(0.5f), std::log(0.5f)});
}

TEST(OpsReduceSoftmax, Opset11CoercesTo2D) {
  // axis=1 on [2, 2, 2]: each row of 4 elements is one softmax.
  OnnxBuilder b(11);
  b.input("x", onnx::TensorProto::FLOAT, {2, 2, 2});
  b.node("Hardmax", {"x"}, {"y"});
  b.output("y");
  auto out = b.run("CPU", {Tensor::from_vector<float>({1, 4, 3, 4, 9, 0, 0, 1}, {2, 2, 2})});
  expect_near(out[0], {0, 1, 0, 0, 1, 0, 0, 0});
}

TEST(OpsReduceSoftmax, Opset11NegativeAxisCountsFromTheEnd) {
  OnnxBuilder b(11);
  b.input("x", onnx::TensorProto::FLOAT, {2, 2});
  auto& n = b.node("Softmax", {"x"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t(-1));
  b.output("y");
  auto out = b.run("REF", {Tensor::from_vector<float>({0, 0, 1, 1}, {2, 2})});
  expect_near(out[0], {0.5f, 0.5f, 0.5f, 0.5f});
}

TEST(OpsReduceSoftmax, SymbolicShapeAndBadAxis) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 4});
  b.node("Softmax", {"x"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].shape.rank(), 2);
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
  EXPECT_EQ(m.outputs()[0].shape[1].value(), 4);

  OnnxBuilder bad(13);
  bad.input("x", onnx::TensorProto::FLOAT, {2, 4});
  auto& n = bad.node("Softmax", {"x"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t(2));
  bad.output("y");
  std::string msg = error_of([&] { bad.read(); });
  EXPECT_NE(msg.find("'axis'"), std::string::npos) << msg;
}

// ---- Reduce

TEST(OpsReduceReduce, SumAxesInputKeepdims) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2, 3});
  b.initializer_i64("axes", {-1}, {1});
  b.node("ReduceSum", {"x", "axes"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].shape.to_string(), "[2,1]");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})});
    EXPECT_EQ(out[0].dims(), (Dims{2, 1}));
    expect_near(out[0], {6, 15}, 0, dev);
  }
}

TEST(OpsReduceReduce, AttributeAxesNoKeepdimsAllFunctions) {
  struct Case {
    const char* op;
    std::vector<float> want;
  };
  const Case cases[] = {
      {"ReduceMean", {2, 3}},
      {"ReduceMax", {3, 4}},
      {"ReduceMin", {1, 2}},
      {"ReduceProd", {3, 8}},
      {"ReduceL1", {4, 6}},
      {"ReduceL2", {std::sqrt(10.f), std::sqrt(20.f)}},
      {"ReduceSumSquare", {10, 20}},
      {"ReduceLogSum", {std::log(4.f), std::log(6.f)}},
      {"ReduceLogSumExp", {std::log(std::exp(1.f) + std::exp(3.f)), std::log(std::exp(2.f) + std::exp(4.f))}},
  };
  for (const Case& c : cases) {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {2, 2});
    auto& n = b.node(c.op, {"x"}, {"y"});
    OnnxBuilder::attr(n, "axes", std::vector<int64_t>{0});
    OnnxBuilder::attr(n, "keepdims", int64_t(0));
    b.output("y");
    auto out = b.run("REF", {Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2})});
    EXPECT_EQ(out[0].dims(), (Dims{2})) << c.op;
    expect_near(out[0], c.want, 1e-5f, c.op);
  }
}

TEST(OpsReduceReduce, DefaultAxesReduceEverythingAndNoopKeepsInput) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::INT64, {2, 2});
  b.node("ReduceSum", {"x"}, {"y"});
  b.output("y");
  auto out = b.run("REF", {Tensor::from_vector<int64_t>({1, 2, 3, 4}, {2, 2})});
  EXPECT_EQ(out[0].dims(), (Dims{1, 1}));
  EXPECT_EQ(out[0].data<int64_t>()[0], 10);

  OnnxBuilder n(13);
  n.input("x", onnx::TensorProto::FLOAT, {2, 2});
  n.initializer_i64("axes", {}, {0});
  auto& node = n.node("ReduceSum", {"x", "axes"}, {"y"});
  OnnxBuilder::attr(node, "noop_with_empty_axes", int64_t(1));
  n.output("y");
  auto o2 = n.run("CPU", {Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2})});
  EXPECT_EQ(o2[0].dims(), (Dims{2, 2}));
  expect_near(o2[0], {1, 2, 3, 4});
}

TEST(OpsReduceReduce, IntegerMeanTruncates) {
  OnnxBuilder b(11);
  b.input("x", onnx::TensorProto::INT32, {1, 4});
  auto& n = b.node("ReduceMean", {"x"}, {"y"});
  OnnxBuilder::attr(n, "axes", std::vector<int64_t>{1});
  b.output("y");
  auto out = b.run("CPU", {Tensor::from_vector<int32_t>({-1, -2, -2, -2}, {1, 4})});
  ASSERT_EQ(out[0].dims(), (Dims{1, 1}));
  EXPECT_EQ(out[0].data<int32_t>()[0], -1);
}

TEST(OpsReduceReduce, EmptyReductionGivesIdentity) {
  for (auto [op, want] : {std::pair<const char*, float>{"ReduceSum", 0.f},
                          {"ReduceProd", 1.f},
                          {"ReduceMax", -std::numeric_limits<float>::infinity()},
                          {"ReduceMin", std::numeric_limits<float>::infinity()}}) {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {2, 0});
    auto& n = b.node(op, {"x"}, {"y"});
    if (std::string(op) != "ReduceSum")
      OnnxBuilder::attr(n, "axes", std::vector<int64_t>{1});
    else
      b.initializer_i64("axes", {1}, {1}), n.add_input("axes");
    b.output("y");
    auto out = b.run("REF", {Tensor(ElementType::kF32, {2, 0})});
    ASSERT_EQ(out[0].dims(), (Dims{2, 1})) << op;
    EXPECT_EQ(out[0].data<float>()[0], want) << op;
  }
}

TEST(OpsReduceReduce, UnknownAxesValueKeepsRank) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 3, 4});
  b.input("axes", onnx::TensorProto::INT64, {1});
  auto& n = b.node("ReduceSum", {"x", "axes"}, {"y"});
  OnnxBuilder::attr(n, "keepdims", int64_t(0));
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].shape.rank(), 2);
}

TEST(OpsReduceReduce, BadAxisNamesTheAttribute) {
  OnnxBuilder b(11);
  b.input("x", onnx::TensorProto::FLOAT, {2, 2});
  auto& n = b.node("ReduceMax", {"x"}, {"y"}, "rm");
  OnnxBuilder::attr(n, "axes", std::vector<int64_t>{0, -2});
  b.output("y");
  std::string msg = error_of([&] { b.read(); });
  EXPECT_NE(msg.find("attribute 'axes'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rm"), std::string::npos) << msg;
}

// ---- ArgMax / ArgMin

TEST(OpsReduceArg, ArgMaxSelectLastIndexAndArgMinNoKeepdims) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2, 3});
  auto& n = b.node("ArgMax", {"x"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t(-1));
  OnnxBuilder::attr(n, "select_last_index", int64_t(1));
  b.output("y");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({5, 1, 5, 0, 2, 2}, {2, 3})});
    EXPECT_EQ(out[0].dims(), (Dims{2, 1}));
    EXPECT_EQ(out[0].data<int64_t>()[0], 2);
    EXPECT_EQ(out[0].data<int64_t>()[1], 2);
  }
  OnnxBuilder c(13);
  c.input("x", onnx::TensorProto::INT32, {-1, 3});
  auto& m = c.node("ArgMin", {"x"}, {"y"});
  OnnxBuilder::attr(m, "keepdims", int64_t(0));
  c.output("y");
  Model model = c.read();
  EXPECT_EQ(model.outputs()[0].shape.rank(), 1);
  auto out = c.run("REF", {Tensor::from_vector<int32_t>({3, 1, 2, 0, 7, 0}, {2, 3})});
  EXPECT_EQ(out[0].dims(), (Dims{3}));
  EXPECT_EQ(out[0].data<int64_t>()[0], 1);
  EXPECT_EQ(out[0].data<int64_t>()[1], 0);
  EXPECT_EQ(out[0].data<int64_t>()[2], 1);
}

// ---- Resize / Upsample

TEST(OpsReduceResize, NearestUpsampleWithScales) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {1, 1, 2, 2});
  b.initializer("scales", {1, 1, 2, 2}, {4});
  b.node("Resize", {"x", "", "scales"}, {"y"});
  b.output("y");
  EXPECT_EQ(b.read().outputs()[0].shape.to_string(), "[1,1,4,4]");
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2})});
    expect_near(out[0], {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0, dev);
  }
}

TEST(OpsReduceResize, LinearAlignCornersWithSizes1D) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {3});
  b.initializer_i64("sizes", {5}, {1});
  auto& n = b.node("Resize", {"x", "", "", "sizes"}, {"y"});
  OnnxBuilder::attr(n, "mode", std::string("linear"));
  OnnxBuilder::attr(n, "coordinate_transformation_mode", std::string("align_corners"));
  b.output("y");
  auto out = b.run("REF", {Tensor::from_vector<float>({0, 10, 20}, {3})});
  expect_near(out[0], {0, 5, 10, 15, 20});
}

TEST(OpsReduceResize, UpsampleImportsAsResize) {
  OnnxBuilder b(7);
  b.input("x", onnx::TensorProto::FLOAT, {1, 2});
  auto& n = b.node("Upsample", {"x"}, {"y"});
  OnnxBuilder::attr(n, "scales", std::vector<float>{1, 2});
  b.output("y");
  auto out = b.run("CPU", {Tensor::from_vector<float>({1, 2}, {1, 2})});
  expect_near(out[0], {1, 1, 2, 2});
}

TEST(OpsReduceResize, SymbolicBatchAndBadMode) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 3, 4, 4});
  b.initializer("scales", {1, 1, 0.5f, 0.5f}, {4});
  b.node("Resize", {"x", "", "scales"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
  EXPECT_EQ(m.outputs()[0].shape[1].value(), 3);
  EXPECT_EQ(m.outputs()[0].shape[2].value(), 2);

  OnnxBuilder bad(13);
  bad.input("x", onnx::TensorProto::FLOAT, {4});
  bad.initializer("scales", {2}, {1});
  auto& n = bad.node("Resize", {"x", "", "scales"}, {"y"});
  OnnxBuilder::attr(n, "mode", std::string("area"));
  bad.output("y");
  std::string msg = error_of([&] { bad.read(); });
  EXPECT_NE(msg.find("attribute 'mode'"), std::string::npos) << msg;
}

// ---- GridSample, RoiAlign, Det, NonMaxSuppression

TEST(OpsReduceVision, GridSampleBilinearAlignCorners) {
  OnnxBuilder b(16);
  b.input("x", onnx::TensorProto::FLOAT, {1, 1, 2, 2});
  b.input("g", onnx::TensorProto::FLOAT, {1, 1, 2, 2});
  auto& n = b.node("GridSample", {"x", "g"}, {"y"});
  OnnxBuilder::attr(n, "align_corners", int64_t(1));
  b.output("y");
  EXPECT_EQ(b.read().outputs()[0].shape.to_string(), "[1,1,1,2]");
  auto out = b.run("REF", {Tensor::from_vector<float>({0, 1, 2, 3}, {1, 1, 2, 2}),
                           Tensor::from_vector<float>({-1, -1, 0, 0}, {1, 1, 2, 2})});
  expect_near(out[0], {0, 1.5f});
}

TEST(OpsReduceVision, RoiAlignAvgAndBadBatchIndex) {
  OnnxBuilder b(16);
  b.input("x", onnx::TensorProto::FLOAT, {1, 1, 2, 2});
  b.input("rois", onnx::TensorProto::FLOAT, {1, 4});
  b.input("bi", onnx::TensorProto::INT64, {1});
  auto& n = b.node("RoiAlign", {"x", "rois", "bi"}, {"y"});
  OnnxBuilder::attr(n, "coordinate_transformation_mode", std::string("output_half_pixel"));
  OnnxBuilder::attr(n, "sampling_ratio", int64_t(1));
  b.output("y");
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor rois = Tensor::from_vector<float>({0, 0, 1, 1}, {1, 4});
  auto out = b.run("REF", {x, rois, Tensor::from_vector<int64_t>({0}, {1})});
  expect_near(out[0], {2.5f});  // one sample at (0.5, 0.5)
  std::string msg = error_of([&] { b.run("REF", {x, rois, Tensor::from_vector<int64_t>({3}, {1})}); });
  EXPECT_NE(msg.find("batch_indices"), std::string::npos) << msg;
}

TEST(OpsReduceVision, DetBatched) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 2, 2});
  b.node("Det", {"x"}, {"y"});
  b.output("y");
  EXPECT_EQ(b.read().outputs()[0].shape.rank(), 1);
  auto out = b.run("REF", {Tensor::from_vector<float>({1, 2, 3, 4, 0, 1, 1, 0}, {2, 2, 2})});
  expect_near(out[0], {-2, -1}, 1e-6f);
}

TEST(OpsReduceVision, NonMaxSuppressionSuppressesOverlaps) {
  OnnxBuilder b(11);
  b.input("boxes", onnx::TensorProto::FLOAT, {1, 3, 4});
  b.input("scores", onnx::TensorProto::FLOAT, {1, 1, 3});
  b.initializer_i64("max", {10}, {1});
  b.initializer("iou", {0.5f}, {1});
  b.node("NonMaxSuppression", {"boxes", "scores", "max", "iou"}, {"sel"});
  b.output("sel");
  Tensor boxes = Tensor::from_vector<float>({0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 2, 1, 3}, {1, 3, 4});
  Tensor scores = Tensor::from_vector<float>({0.8f, 0.9f, 0.3f}, {1, 1, 3});
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {boxes, scores});
    ASSERT_EQ(out[0].dims(), (Dims{2, 3})) << dev;
    const int64_t want[] = {0, 0, 1, 0, 0, 2};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[0].data<int64_t>()[i], want[i]) << dev;
  }
}
