// Shape and layout ops: Shape, Size, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice, Expand, Tile, Pad,
// ConstantOfShape, Range, Reshape. Shape inference (static and symbolic), reference values on REF and CPU, and the
// edge cases the ONNX spec names.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "ir/graph.hpp"
#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

constexpr const char* kDevices[] = {"REF", "CPU"};
constexpr int kF32 = onnx::TensorProto::FLOAT;
constexpr int kI64 = onnx::TensorProto::INT64;

Tensor f32(std::vector<float> v, Dims d) { return Tensor::from_vector(v, std::move(d)); }
Tensor i64(std::vector<int64_t> v, Dims d) { return Tensor::from_vector(v, std::move(d)); }

std::vector<float> floats(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.size()); }
std::vector<int64_t> ints(const Tensor& t) { return t.to_int_vector(); }

// 0, 1, 2, ... as floats.
Tensor iota(Dims d) {
  Tensor t(ElementType::kF32, std::move(d));
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = float(i);
  return t;
}

// Gives dim `d` of graph input `i` the symbolic name `sym`.
void set_symbol(OnnxBuilder& b, int i, int d, const std::string& sym) {
  b.graph().mutable_input(i)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(d)->set_dim_param(
      sym);
}

std::string shape_of(const Model& m, size_t out = 0) { return m.outputs()[out].shape.to_string(); }

// Expects `f` to throw a celer::Error with `code` whose message contains `text`.
template <typename F>
void expect_error(F&& f, ErrorCode code, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

onnx::NodeProto& int_tensor_attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  a->mutable_t()->add_dims(1);
  a->mutable_t()->add_int64_data(v);
  return n;
}

}  // namespace

// ---- Shape and Size ----

TEST(OpsShape, ShapeOfStaticInputFoldsToAConstant) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2, 3, 4});
  b.node("Shape", {"x"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.graph().nodes.size(), 0u);  // folded
  for (const char* dev : kDevices) EXPECT_EQ(ints(b.run(dev, {iota({2, 3, 4})})[0]), (std::vector<int64_t>{2, 3, 4}));
}

TEST(OpsShape, ShapeStartEndOfSymbolicInput) {
  OnnxBuilder b(15);
  b.input("x", kF32, {-1, 3, 4, -1});
  set_symbol(b, 0, 0, "N");
  auto& n = b.node("Shape", {"x"}, {"y"});
  OnnxBuilder::attr(n, "start", int64_t{1});
  OnnxBuilder::attr(n, "end", int64_t{-1});
  b.node("Shape", {"x"}, {"z"});
  b.output("y");
  b.output("z");
  Model m = b.read();
  EXPECT_EQ(shape_of(m, 0), "[2]");
  EXPECT_EQ(shape_of(m, 1), "[4]");
  EXPECT_EQ(m.graph().nodes.size(), 1u);  // [3,4] is known; the full shape is not
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {iota({5, 3, 4, 2})});
    EXPECT_EQ(ints(out[0]), (std::vector<int64_t>{3, 4}));
    EXPECT_EQ(ints(out[1]), (std::vector<int64_t>{5, 3, 4, 2}));
  }
}

TEST(OpsShape, ShapeClampsStartAndEnd) {
  OnnxBuilder b(15);
  b.input("x", kF32, {2, 3});
  auto& n = b.node("Shape", {"x"}, {"y"});
  OnnxBuilder::attr(n, "start", int64_t{-10});
  OnnxBuilder::attr(n, "end", int64_t{10});
  b.output("y");
  EXPECT_EQ(ints(b.run("REF", {iota({2, 3})})[0]), (std::vector<int64_t>{2, 3}));
}

TEST(OpsShape, ShapeFeedsReshapeWhichFolds) {
  // x [N,3,4] -> Shape(start=1) = [3,4] (a constant) -> Reshape(y [12]) has a static shape at load time.
  OnnxBuilder b(15);
  b.input("x", kF32, {-1, 3, 4});
  b.input("y", kF32, {12});
  auto& n = b.node("Shape", {"x"}, {"s"});
  OnnxBuilder::attr(n, "start", int64_t{1});
  b.node("Reshape", {"y", "s"}, {"r"});
  b.output("r");
  Model m = b.read();
  EXPECT_EQ(shape_of(m), "[3,4]");
}

TEST(OpsShape, SizeFoldsOrRuns) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 3});
  b.node("Size", {"x"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[]");
  for (const char* dev : kDevices) {
    Tensor out = b.run(dev, {iota({4, 3})})[0];
    EXPECT_EQ(out.rank(), 0);
    EXPECT_EQ(out.data<int64_t>()[0], 12);
  }
}

// ---- Flatten ----

TEST(OpsShape, FlattenKeepsSymbolicBatch) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 3, 4, 5});
  set_symbol(b, 0, 0, "N");
  b.node("Flatten", {"x"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[N,60]");
  for (const char* dev : kDevices) {
    Tensor out = b.run(dev, {iota({2, 3, 4, 5})})[0];
    EXPECT_EQ(out.dims(), (Dims{2, 60}));
    EXPECT_EQ(out.data<float>()[119], 119.0f);
  }
}

TEST(OpsShape, FlattenAxisZeroAndNegative) {
  for (auto [axis, want] : {std::pair<int64_t, Dims>{0, {1, 24}}, {-1, {6, 4}}, {3, {24, 1}}, {-3, {1, 24}}}) {
    OnnxBuilder b(13);
    b.input("x", kF32, {2, 3, 4});
    auto& n = b.node("Flatten", {"x"}, {"y"});
    OnnxBuilder::attr(n, "axis", axis);
    b.output("y");
    EXPECT_EQ(b.run("REF", {iota({2, 3, 4})})[0].dims(), want) << axis;
  }
}

TEST(OpsShape, FlattenBadAxisNamesIt) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2, 3});
  auto& n = b.node("Flatten", {"x"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t{3});
  b.output("y");
  expect_error([&] { b.read(); }, ErrorCode::kInvalidModel, "'axis'");
}

// ---- Squeeze / Unsqueeze ----

TEST(OpsShape, SqueezeAxesInputAndAttribute) {
  for (int opset : {11, 13}) {
    OnnxBuilder b(opset);
    b.input("x", kF32, {-1, 1, 3, 1});
    set_symbol(b, 0, 0, "N");
    if (opset >= 13) {
      b.initializer_i64("axes", {1, -1}, {2});
      b.node("Squeeze", {"x", "axes"}, {"y"});
    } else {
      OnnxBuilder::attr(b.node("Squeeze", {"x"}, {"y"}), "axes", std::vector<int64_t>{1, -1});
    }
    b.output("y");
    EXPECT_EQ(shape_of(b.read()), "[N,3]") << opset;
    for (const char* dev : kDevices) EXPECT_EQ(b.run(dev, {iota({2, 1, 3, 1})})[0].dims(), (Dims{2, 3}));
  }
}

TEST(OpsShape, SqueezeWithoutAxesRemovesAllOnes) {
  OnnxBuilder b(13);
  b.input("x", kF32, {1, 3, 1, 2});
  b.node("Squeeze", {"x"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[3,2]");
  EXPECT_EQ(floats(b.run("CPU", {iota({1, 3, 1, 2})})[0]), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(OpsShape, SqueezeOfANonOneDimIsAnError) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2, 3});
  b.initializer_i64("axes", {0}, {1});
  b.node("Squeeze", {"x", "axes"}, {"y"});
  b.output("y");
  expect_error([&] { b.read(); }, ErrorCode::kShapeMismatch, "'axes'");
}

TEST(OpsShape, UnsqueezeAxesIndexTheOutput) {
  for (int opset : {11, 13}) {
    OnnxBuilder b(opset);
    b.input("x", kF32, {-1, 3});
    set_symbol(b, 0, 0, "N");
    if (opset >= 13) {
      b.initializer_i64("axes", {-1, 0}, {2});
      b.node("Unsqueeze", {"x", "axes"}, {"y"});
    } else {
      OnnxBuilder::attr(b.node("Unsqueeze", {"x"}, {"y"}), "axes", std::vector<int64_t>{-1, 0});
    }
    b.output("y");
    EXPECT_EQ(shape_of(b.read()), "[1,N,3,1]") << opset;
    for (const char* dev : kDevices) EXPECT_EQ(b.run(dev, {iota({2, 3})})[0].dims(), (Dims{1, 2, 3, 1}));
  }
}

TEST(OpsShape, UnsqueezeRepeatedAxisIsAnError) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2});
  b.initializer_i64("axes", {0, -3}, {2});
  b.node("Unsqueeze", {"x", "axes"}, {"y"});
  b.output("y");
  expect_error([&] { b.read(); }, ErrorCode::kInvalidModel, "'axes'");
}

// ---- Transpose ----

TEST(OpsShape, TransposeSymbolicAndValues) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 2, 3, -1});
  set_symbol(b, 0, 0, "N");
  set_symbol(b, 0, 3, "W");
  OnnxBuilder::attr(b.node("Transpose", {"x"}, {"y"}), "perm", std::vector<int64_t>{0, 2, 3, 1});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[N,3,W,2]");
  for (const char* dev : kDevices) {
    Tensor out = b.run(dev, {iota({1, 2, 3, 1})})[0];
    EXPECT_EQ(out.dims(), (Dims{1, 3, 1, 2}));
    EXPECT_EQ(floats(out), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  }
}

TEST(OpsShape, TransposeDefaultReversesAndHandlesStrings) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::STRING, {2, 3});
  b.node("Transpose", {"x"}, {"y"});
  b.output("y");
  Tensor in = Tensor::from_vector<std::string>({"a", "b", "c", "d", "e", "f"}, {2, 3});
  for (const char* dev : kDevices) {
    Tensor out = b.run(dev, {in})[0];
    ASSERT_EQ(out.dims(), (Dims{3, 2}));
    EXPECT_EQ(out.data<std::string>()[1], "d");
    EXPECT_EQ(out.data<std::string>()[4], "c");
  }
}

TEST(OpsShape, TransposeBadPermNamesPerm) {
  for (auto perm : {std::vector<int64_t>{0, 0}, std::vector<int64_t>{0, 2}, std::vector<int64_t>{0}}) {
    OnnxBuilder b(13);
    b.input("x", kF32, {2, 3});
    OnnxBuilder::attr(b.node("Transpose", {"x"}, {"y"}), "perm", perm);
    b.output("y");
    expect_error([&] { b.read(); }, ErrorCode::kInvalidModel, "'perm'");
  }
}

// ---- Concat ----

TEST(OpsShape, ConcatNegativeAxisWithEmptyInput) {
  OnnxBuilder b(13);
  b.input("a", kF32, {-1, 2});
  b.input("b", kF32, {-1, 0});
  b.input("c", kF32, {2, 1});
  set_symbol(b, 0, 0, "N");
  OnnxBuilder::attr(b.node("Concat", {"a", "b", "c"}, {"y"}), "axis", int64_t{-1});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[2,3]");
  for (const char* dev : kDevices) {
    Tensor out = b.run(dev, {iota({2, 2}), Tensor(ElementType::kF32, {2, 0}), f32({10, 11}, {2, 1})})[0];
    EXPECT_EQ(floats(out), (std::vector<float>{0, 1, 10, 2, 3, 11}));
  }
}

TEST(OpsShape, ConcatMismatchedDimsIsAnError) {
  OnnxBuilder b(13);
  b.input("a", kF32, {2, 2});
  b.input("b", kF32, {3, 2});
  OnnxBuilder::attr(b.node("Concat", {"a", "b"}, {"y"}), "axis", int64_t{1});
  b.output("y");
  expect_error([&] { b.read(); }, ErrorCode::kShapeMismatch, "input 1");
}

// ---- Split ----

TEST(OpsShape, SplitEqualAndVariable) {
  for (int opset : {11, 13}) {
    OnnxBuilder b(opset);
    b.input("x", kF32, {2, 6});
    if (opset >= 13) {
      b.initializer_i64("s", {1, 0, 5}, {3});
      OnnxBuilder::attr(b.node("Split", {"x", "s"}, {"a", "b", "c"}), "axis", int64_t{-1});
    } else {
      auto& n = b.node("Split", {"x"}, {"a", "b", "c"});
      OnnxBuilder::attr(n, "axis", int64_t{-1});
      OnnxBuilder::attr(n, "split", std::vector<int64_t>{1, 0, 5});
    }
    b.output("a");
    b.output("b");
    b.output("c");
    for (const char* dev : kDevices) {
      auto out = b.run(dev, {iota({2, 6})});
      EXPECT_EQ(floats(out[0]), (std::vector<float>{0, 6}));
      EXPECT_EQ(out[1].dims(), (Dims{2, 0}));
      EXPECT_EQ(out[2].dims(), (Dims{2, 5}));
      EXPECT_EQ(out[2].data<float>()[5], 7.0f);
    }
  }
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 6});
  b.node("Split", {"x"}, {"a", "b"});
  b.output("a");
  b.output("b");
  EXPECT_EQ(shape_of(b.read(), 1), "[?,6]");
  auto out = b.run("REF", {iota({4, 6})});
  EXPECT_EQ(out[1].data<float>()[0], 12.0f);
}

TEST(OpsShape, SplitSizesThatDoNotAddUpNameSplit) {
  OnnxBuilder b(13);
  b.input("x", kF32, {6});
  b.initializer_i64("s", {2, 2}, {2});
  b.node("Split", {"x", "s"}, {"a", "b"});
  b.output("a");
  b.output("b");
  expect_error([&] { b.read(); }, ErrorCode::kShapeMismatch, "'split'");
}

TEST(OpsShape, SplitNotDivisibleIsAnError) {
  OnnxBuilder b(13);
  b.input("x", kF32, {5});
  b.node("Split", {"x"}, {"a", "b"});
  b.output("a");
  b.output("b");
  expect_error([&] { b.read(); }, ErrorCode::kShapeMismatch, "equal parts");
}

// ---- Slice ----

TEST(OpsShape, SliceNegativeStepsAndHugeBounds) {
  const int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  OnnxBuilder b(13);
  b.input("x", kF32, {3, 4});
  b.initializer_i64("starts", {kMax, 1}, {2});
  b.initializer_i64("ends", {kMin, kMax}, {2});
  b.initializer_i64("axes", {0, -1}, {2});
  b.initializer_i64("steps", {-2, 2}, {2});
  b.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[2,2]");
  for (const char* dev : kDevices) EXPECT_EQ(floats(b.run(dev, {iota({3, 4})})[0]), (std::vector<float>{9, 11, 1, 3}));
}

TEST(OpsShape, SliceStepOfInt64MinAndEmptyResults) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  OnnxBuilder b(13);
  b.input("x", kF32, {5, 4});
  b.initializer_i64("starts", {-1, 3}, {2});
  b.initializer_i64("ends", {kMin, 1}, {2});
  b.initializer_i64("steps", {kMin, 1}, {2});
  b.node("Slice", {"x", "starts", "ends", "", "steps"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[1,0]");
  EXPECT_EQ(b.run("CPU", {iota({5, 4})})[0].dims(), (Dims{1, 0}));
}

TEST(OpsShape, SliceOpset9Attributes) {
  OnnxBuilder b(9);
  b.input("x", kF32, {3, 4});
  auto& n = b.node("Slice", {"x"}, {"y"});
  OnnxBuilder::attr(n, "starts", std::vector<int64_t>{1, 0});
  OnnxBuilder::attr(n, "ends", std::vector<int64_t>{1000, -2});
  b.output("y");
  for (const char* dev : kDevices) EXPECT_EQ(floats(b.run(dev, {iota({3, 4})})[0]), (std::vector<float>{4, 5, 8, 9}));
}

TEST(OpsShape, SliceOfSymbolicDims) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 8, 3});
  set_symbol(b, 0, 0, "N");
  b.initializer_i64("starts", {0, 2}, {2});
  b.initializer_i64("ends", {std::numeric_limits<int64_t>::max(), -1}, {2});
  b.node("Slice", {"x", "starts", "ends"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[N,5,3]");
}

TEST(OpsShape, SliceZeroStepIsAnError) {
  OnnxBuilder b(13);
  b.input("x", kF32, {3});
  b.initializer_i64("starts", {0}, {1});
  b.initializer_i64("ends", {3}, {1});
  b.initializer_i64("axes", {0}, {1});
  b.initializer_i64("steps", {0}, {1});
  b.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
  b.output("y");
  expect_error([&] { b.read(); }, ErrorCode::kInvalidModel, "'steps'");
}

// ---- Expand and Tile ----

TEST(OpsShape, ExpandBroadcastsBothWays) {
  OnnxBuilder b(13);
  b.input("x", kF32, {3, 1});
  b.initializer_i64("shape", {2, 1, 2}, {3});
  b.node("Expand", {"x", "shape"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[2,3,2]");
  for (const char* dev : kDevices)
    EXPECT_EQ(floats(b.run(dev, {f32({1, 2, 3}, {3, 1})})[0]),
              (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
}

TEST(OpsShape, ExpandWithUnknownShapeValue) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 4});
  b.input("s", kI64, {2});
  b.node("Expand", {"x", "s"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[?,4]");
  EXPECT_EQ(b.run("REF", {iota({1, 4}), i64({3, 1}, {2})})[0].dims(), (Dims{3, 4}));
  expect_error([&] { b.run("REF", {iota({2, 4}), i64({3, 1}, {2})}); }, ErrorCode::kShapeMismatch, "broadcast");
}

TEST(OpsShape, ExpandToHugeShapeHitsTheSizeLimit) {
  OnnxBuilder b(13);
  b.input("x", kF32, {1});
  b.input("s", kI64, {2});
  b.node("Expand", {"x", "s"}, {"y"});
  b.output("y");
  expect_error([&] { b.run("REF", {iota({1}), i64({10000000, 1000000}, {2})}); }, ErrorCode::kLimitExceeded, "limit");
}

TEST(OpsShape, TileRepeatsEachAxis) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 2});
  set_symbol(b, 0, 0, "N");
  b.initializer_i64("r", {1, 2}, {2});
  b.node("Tile", {"x", "r"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[N,4]");
  for (const char* dev : kDevices)
    EXPECT_EQ(floats(b.run(dev, {iota({2, 2})})[0]), (std::vector<float>{0, 1, 0, 1, 2, 3, 2, 3}));
}

TEST(OpsShape, TileToHugeShapeHitsTheSizeLimit) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2});
  b.initializer_i64("r", {5000000000000}, {1});
  b.node("Tile", {"x", "r"}, {"y"});
  b.output("y");
  expect_error([&] { b.run("REF", {iota({2})}); }, ErrorCode::kLimitExceeded, "limit");
  OnnxBuilder b2(13);
  b2.input("x", kF32, {4});
  b2.initializer_i64("r", {std::numeric_limits<int64_t>::max()}, {1});
  b2.node("Tile", {"x", "r"}, {"y"});
  b2.output("y");
  expect_error([&] { b2.read(); }, ErrorCode::kLimitExceeded, "overflows");
}

// ---- Pad ----

TEST(OpsShape, PadModes) {
  struct Case {
    const char* mode;
    std::vector<float> want;
  };
  // x = [0 1 2] padded by 2 before and 1 after (with constant 9).
  for (const Case& c :
       {Case{"constant", {9, 9, 0, 1, 2, 9}}, Case{"edge", {0, 0, 0, 1, 2, 2}}, Case{"reflect", {2, 1, 0, 1, 2, 1}}}) {
    OnnxBuilder b(13);
    b.input("x", kF32, {3});
    b.initializer_i64("pads", {2, 1}, {2});
    b.initializer("v", {9}, {});
    OnnxBuilder::attr(b.node("Pad", {"x", "pads", "v"}, {"y"}), "mode", std::string(c.mode));
    b.output("y");
    EXPECT_EQ(shape_of(b.read()), "[6]");
    for (const char* dev : kDevices) EXPECT_EQ(floats(b.run(dev, {iota({3})})[0]), c.want) << c.mode;
  }
}

TEST(OpsShape, PadNegativeCropsAndOldAttributes) {
  OnnxBuilder b(2);
  b.input("x", kF32, {2, 3});
  auto& n = b.node("Pad", {"x"}, {"y"});
  OnnxBuilder::attr(n, "pads", std::vector<int64_t>{1, -1, 0, 0});
  OnnxBuilder::attr(n, "value", 7.0f);
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[3,2]");
  for (const char* dev : kDevices)
    EXPECT_EQ(floats(b.run(dev, {iota({2, 3})})[0]), (std::vector<float>{7, 7, 1, 2, 4, 5}));
}

TEST(OpsShape, PadSymbolicAndWrongPadsCount) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 3});
  set_symbol(b, 0, 0, "N");
  b.initializer_i64("pads", {0, 1, 0, 1}, {4});
  b.node("Pad", {"x", "pads"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[N,5]");
  OnnxBuilder bad(13);
  bad.input("x", kF32, {2, 3});
  bad.initializer_i64("pads", {0, 1}, {2});
  bad.node("Pad", {"x", "pads"}, {"y"});
  bad.output("y");
  expect_error([&] { bad.read(); }, ErrorCode::kInvalidModel, "'pads'");
}

// ---- ConstantOfShape and Range ----

TEST(OpsShape, ConstantOfShapeDefaultAndTypedValue) {
  OnnxBuilder b(13);
  b.input("s", kI64, {2});
  b.node("ConstantOfShape", {"s"}, {"a"});
  int_tensor_attr(b.node("ConstantOfShape", {"s"}, {"b"}), "value", 7);
  b.output("a");
  b.output("b");
  Model m = b.read();
  EXPECT_EQ(shape_of(m, 0), "[?,?]");
  EXPECT_EQ(m.outputs()[1].type, ElementType::kI64);
  for (const char* dev : kDevices) {
    auto out = b.run(dev, {i64({2, 0}, {2})});
    EXPECT_EQ(out[0].type(), ElementType::kF32);
    EXPECT_EQ(out[0].dims(), (Dims{2, 0}));
    out = b.run(dev, {i64({1, 2}, {2})});
    EXPECT_EQ(floats(out[0]), (std::vector<float>{0, 0}));
    EXPECT_EQ(ints(out[1]), (std::vector<int64_t>{7, 7}));
  }
}

TEST(OpsShape, ConstantOfShapeHugeHitsTheSizeLimit) {
  // Graph input: fails when the kernel allocates at run time.
  OnnxBuilder b(13);
  b.input("s", kI64, {1});
  b.node("ConstantOfShape", {"s"}, {"y"});
  b.output("y");
  expect_error([&] { b.run("CPU", {i64({10000000000000}, {1})}); }, ErrorCode::kLimitExceeded, "limit");
  // Constant shape: fails while folding at load time, before any allocation.
  OnnxBuilder c(13);
  c.initializer_i64("s", {10000000, 1000000}, {2});
  c.node("ConstantOfShape", {"s"}, {"y"});
  c.output("y");
  expect_error([&] { c.run("REF", {}); }, ErrorCode::kLimitExceeded, "limit");
}

TEST(OpsShape, RangeIntFloatAndEmpty) {
  OnnxBuilder b(13);
  b.input("s", onnx::TensorProto::INT32, {});
  b.input("l", onnx::TensorProto::INT32, {});
  b.input("d", onnx::TensorProto::INT32, {});
  b.node("Range", {"s", "l", "d"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[?]");
  auto s32 = [](int32_t v) { return Tensor::scalar<int32_t>(v); };
  for (const char* dev : kDevices) {
    Tensor out = b.run(dev, {s32(10), s32(3), s32(-3)})[0];
    ASSERT_EQ(out.dims(), (Dims{3}));
    EXPECT_EQ(out.data<int32_t>()[2], 4);
    EXPECT_EQ(b.run(dev, {s32(1), s32(5), s32(-1)})[0].dims(), (Dims{0}));
  }
  expect_error([&] { b.run("REF", {s32(1), s32(5), s32(0)}); }, ErrorCode::kInvalidModel, "'delta'");

  OnnxBuilder f(13);
  f.input("s", kF32, {});
  f.input("l", kF32, {});
  f.input("d", kF32, {});
  f.node("Range", {"s", "l", "d"}, {"y"});
  f.output("y");
  Tensor out = f.run("CPU", {Tensor::scalar(0.5f), Tensor::scalar(2.0f), Tensor::scalar(0.5f)})[0];
  EXPECT_EQ(floats(out), (std::vector<float>{0.5f, 1.0f, 1.5f}));
}

// ---- Reshape ----

TEST(OpsShape, ReshapeKeepsSymbolicDims) {
  OnnxBuilder b(14);
  b.input("x", kF32, {-1, 3, 4});
  set_symbol(b, 0, 0, "N");
  b.initializer_i64("s1", {0, -1}, {2});
  b.initializer_i64("s2", {-1, 12}, {2});
  b.node("Reshape", {"x", "s1"}, {"a"});
  b.node("Reshape", {"x", "s2"}, {"b"});
  b.output("a");
  b.output("b");
  Model m = b.read();
  EXPECT_EQ(shape_of(m, 0), "[N,12]");
  EXPECT_EQ(shape_of(m, 1), "[N,12]");
  for (const char* dev : kDevices) EXPECT_EQ(b.run(dev, {iota({2, 3, 4})})[1].dims(), (Dims{2, 12}));
}

TEST(OpsShape, ReshapeOpset1AttributeAndBadCount) {
  OnnxBuilder b(1);
  b.input("x", kF32, {2, 3});
  OnnxBuilder::attr(b.node("Reshape", {"x"}, {"y"}), "shape", std::vector<int64_t>{3, -1});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[3,2]");
  OnnxBuilder bad(13);
  bad.input("x", kF32, {2, 3});
  bad.initializer_i64("s", {4, -1}, {2});
  bad.node("Reshape", {"x", "s"}, {"y"});
  bad.output("y");
  expect_error([&] { bad.read(); }, ErrorCode::kShapeMismatch, "cannot reshape");
}

TEST(OpsShape, SqueezeWithEmptyAxesRemovesAllOnes) {
  OnnxBuilder b(13);
  b.input("x", kF32, {1, 3, 1});
  b.initializer_i64("axes", {}, {0});
  b.node("Squeeze", {"x", "axes"}, {"y"});
  b.output("y");
  EXPECT_EQ(shape_of(b.read()), "[3]");
}

TEST(OpsShape, PadReflectBeyondTheEdgeRepeats) {
  OnnxBuilder b(13);
  b.input("x", kF32, {3});
  b.initializer_i64("pads", {4, 5}, {2});
  OnnxBuilder::attr(b.node("Pad", {"x", "pads"}, {"y"}), "mode", std::string("reflect"));
  b.output("y");
  // numpy.pad([0, 1, 2], (4, 5), 'reflect')
  EXPECT_EQ(floats(b.run("REF", {iota({3})})[0]), (std::vector<float>{0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1}));
}

TEST(OpsShape, RangeWithTooManyElementsHitsTheLimit) {
  OnnxBuilder b(13);
  b.input("s", kI64, {});
  b.input("l", kI64, {});
  b.input("d", kI64, {});
  b.node("Range", {"s", "l", "d"}, {"y"});
  b.output("y");
  const int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  expect_error(
      [&] {
        b.run("REF", {Tensor::scalar(kMin), Tensor::scalar(kMax), Tensor::scalar(int64_t{1})});
      },
      ErrorCode::kLimitExceeded, "");
  expect_error(
      [&] {
        b.run("REF", {Tensor::scalar(int64_t{0}), Tensor::scalar(kMax), Tensor::scalar(int64_t{1})});
      },
      ErrorCode::kLimitExceeded, "limit");
}
