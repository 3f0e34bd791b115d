// Indexing and selection ops: Gather*, Scatter*, DepthToSpace, SpaceToDepth, Compress, NonZero, OneHot, Trilu,
// EyeLike, ReverseSequence, Unique, TopK, CumSum. Shape inference (static and unknown dims), reference values on REF
// and CPU, and the edge cases the ONNX spec names.
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <limits>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

constexpr int kF32 = onnx::TensorProto::FLOAT;
constexpr int kI64 = onnx::TensorProto::INT64;
constexpr int kI32 = onnx::TensorProto::INT32;
constexpr int kBool = onnx::TensorProto::BOOL;

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.size());
}

Tensor f32(std::vector<float> v, Dims d) { return Tensor::from_vector<float>(v, std::move(d)); }
Tensor i64(std::vector<int64_t> v, Dims d) { return Tensor::from_vector<int64_t>(v, std::move(d)); }

// Runs on REF and CPU, checks both agree bit for bit, returns REF's outputs.
std::vector<Tensor> run_both(const OnnxBuilder& b, const std::vector<Tensor>& in) {
  std::vector<Tensor> ref = b.run("REF", in);
  std::vector<Tensor> cpu = b.run("CPU", in);
  EXPECT_EQ(ref.size(), cpu.size());
  for (size_t i = 0; i < ref.size() && i < cpu.size(); ++i) {
    EXPECT_EQ(ref[i].dims(), cpu[i].dims()) << "output " << i;
    EXPECT_EQ(ref[i].type(), cpu[i].type()) << "output " << i;
    if (ref[i].dims() == cpu[i].dims() && ref[i].type() == cpu[i].type()) {
      EXPECT_EQ(std::memcmp(ref[i].raw(), cpu[i].raw(), ref[i].byte_size()), 0) << "output " << i;
    }
  }
  return ref;
}

// Expects running (on both devices) to fail with `code` and a message holding every fragment.
void expect_run_error(const OnnxBuilder& b, const std::vector<Tensor>& in, ErrorCode code,
                      std::initializer_list<const char*> fragments) {
  for (const char* dev : {"REF", "CPU"}) {
    try {
      b.run(dev, in);
      ADD_FAILURE() << dev << ": expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << dev << ": " << e.what();
      for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }
}

// Expects reading the model to fail with a message holding every fragment.
void expect_load_error(const OnnxBuilder& b, std::initializer_list<const char*> fragments) {
  try {
    b.read();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

PartialShape out_shape(const OnnxBuilder& b, size_t i = 0) { return b.read().outputs()[i].shape; }

}  // namespace

// ---------------------------------------------------------------------------------------------------------- Gather

TEST(IndexingGather, AxisOneWithNegativeIndices) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2, 3});
  b.input("i", kI64, {2});
  OnnxBuilder::attr(b.node("Gather", {"x", "i"}, {"y"}), "axis", int64_t(-1));
  b.output("y");
  auto out = run_both(b, {f32({1, 2, 3, 4, 5, 6}, {2, 3}), i64({-1, 0}, {2})});
  EXPECT_EQ(out[0].dims(), (Dims{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 1, 6, 4}));
}

TEST(IndexingGather, ShapeWithUnknownDims) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 4, 5});
  b.input("i", kI32, {2, -1});
  OnnxBuilder::attr(b.node("Gather", {"x", "i"}, {"y"}), "axis", int64_t(1));
  b.output("y");
  PartialShape s = out_shape(b);
  ASSERT_EQ(s.rank(), 4);
  EXPECT_FALSE(s[0].is_static());
  EXPECT_EQ(s[1].value(), 2);
  EXPECT_FALSE(s[2].is_static());
  EXPECT_EQ(s[3].value(), 5);
}

TEST(IndexingGather, ScalarIndexDropsTheAxis) {
  OnnxBuilder b(13);
  b.input("x", kF32, {3, 2});
  b.input("i", kI64, {});
  b.node("Gather", {"x", "i"}, {"y"});
  b.output("y");
  auto out = run_both(b, {f32({1, 2, 3, 4, 5, 6}, {3, 2}), i64({2}, {})});
  EXPECT_EQ(out[0].dims(), (Dims{2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{5, 6}));
}

TEST(IndexingGather, IndexOutOfRangeIsAnError) {
  OnnxBuilder b(13);
  b.input("x", kF32, {3});
  b.input("i", kI64, {2});
  b.node("Gather", {"x", "i"}, {"y"}, "g");
  b.output("y");
  expect_run_error(b, {f32({1, 2, 3}, {3}), i64({0, 3}, {2})}, ErrorCode::kOutOfRange, {"g", "index 3", "[-3, 2]"});
  expect_run_error(b, {f32({1, 2, 3}, {3}), i64({-4, 0}, {2})}, ErrorCode::kOutOfRange, {"index -4"});
}

TEST(IndexingGather, BadAxisNamesTheAttribute) {
  OnnxBuilder b(13);
  b.input("x", kF32, {3, 2});
  b.input("i", kI64, {1});
  OnnxBuilder::attr(b.node("Gather", {"x", "i"}, {"y"}), "axis", int64_t(2));
  b.output("y");
  expect_load_error(b, {"attribute 'axis'", "2"});
}

TEST(IndexingGather, EmptyIndices) {
  OnnxBuilder b(13);
  b.input("x", kF32, {3, 2});
  b.input("i", kI64, {0});
  b.node("Gather", {"x", "i"}, {"y"});
  b.output("y");
  auto out = run_both(b, {f32({1, 2, 3, 4, 5, 6}, {3, 2}), i64({}, {0})});
  EXPECT_EQ(out[0].dims(), (Dims{0, 2}));
}

TEST(IndexingGather, StringData) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::STRING, {3});
  b.input("i", kI64, {2});
  b.node("Gather", {"x", "i"}, {"y"});
  b.output("y");
  for (const char* dev : {"REF", "CPU"}) {
    auto out = b.run(dev, {Tensor::from_vector<std::string>({"a", "bb", "ccc"}, {3}), i64({2, -3}, {2})});
    EXPECT_EQ(values<std::string>(out[0]), (std::vector<std::string>{"ccc", "a"})) << dev;
  }
}

TEST(IndexingGatherElements, ValuesAndErrors) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2, 3});
  b.input("i", kI64, {2, 2});
  OnnxBuilder::attr(b.node("GatherElements", {"x", "i"}, {"y"}), "axis", int64_t(1));
  b.output("y");
  auto out = run_both(b, {f32({1, 2, 3, 4, 5, 6}, {2, 3}), i64({2, 0, -1, 1}, {2, 2})});
  EXPECT_EQ(out[0].dims(), (Dims{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 1, 6, 5}));
  expect_run_error(b, {f32({1, 2, 3, 4, 5, 6}, {2, 3}), i64({0, 0, 3, 0}, {2, 2})}, ErrorCode::kOutOfRange,
                   {"index 3"});
}

TEST(IndexingGatherElements, RankMismatchIsAnError) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2, 3});
  b.input("i", kI64, {2});
  b.node("GatherElements", {"x", "i"}, {"y"});
  b.output("y");
  expect_load_error(b, {"rank"});
}

TEST(IndexingGatherND, BatchDims) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2, 2, 2});
  b.input("i", kI64, {2, 1});
  OnnxBuilder::attr(b.node("GatherND", {"x", "i"}, {"y"}), "batch_dims", int64_t(1));
  b.output("y");
  auto out = run_both(b, {f32({0, 1, 2, 3, 4, 5, 6, 7}, {2, 2, 2}), i64({1, 0}, {2, 1})});
  EXPECT_EQ(out[0].dims(), (Dims{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 3, 4, 5}));
}

TEST(IndexingGatherND, ShapeAndOutOfRange) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 3, 4});
  b.input("i", kI64, {5, 2});
  b.node("GatherND", {"x", "i"}, {"y"});
  b.output("y");
  PartialShape s = out_shape(b);
  ASSERT_EQ(s.rank(), 2);
  EXPECT_EQ(s[0].value(), 5);
  EXPECT_EQ(s[1].value(), 4);

  OnnxBuilder c(13);
  c.input("x", kF32, {2, 2});
  c.input("i", kI64, {1, 2});
  c.node("GatherND", {"x", "i"}, {"y"});
  c.output("y");
  expect_run_error(c, {f32({1, 2, 3, 4}, {2, 2}), i64({0, 2}, {1, 2})}, ErrorCode::kOutOfRange, {"index 2"});
  auto out = run_both(c, {f32({1, 2, 3, 4}, {2, 2}), i64({-1, 0}, {1, 2})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3}));
}

// --------------------------------------------------------------------------------------------------------- Scatter

TEST(IndexingScatterElements, AddReductionWithDuplicates) {
  OnnxBuilder b(16);
  b.input("x", kF32, {1, 4});
  b.input("i", kI64, {1, 3});
  b.input("u", kF32, {1, 3});
  auto& n = b.node("ScatterElements", {"x", "i", "u"}, {"y"});
  OnnxBuilder::attr(n, "axis", int64_t(1));
  OnnxBuilder::attr(n, "reduction", std::string("add"));
  b.output("y");
  auto out = run_both(b, {f32({1, 2, 3, 4}, {1, 4}), i64({1, 1, -1}, {1, 3}), f32({10, 20, 30}, {1, 3})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 32, 3, 34}));
}

TEST(IndexingScatterElements, OutOfRangeWritesNothing) {
  OnnxBuilder b(13);
  b.input("x", kF32, {3});
  b.input("i", kI64, {1});
  b.input("u", kF32, {1});
  b.node("ScatterElements", {"x", "i", "u"}, {"y"});
  b.output("y");
  expect_run_error(b, {f32({1, 2, 3}, {3}), i64({100}, {1}), f32({9}, {1})}, ErrorCode::kOutOfRange, {"index 100"});
}

TEST(IndexingScatterElements, DeprecatedScatterAndBadReduction) {
  OnnxBuilder b(10);
  b.input("x", kF32, {3, 2});
  b.input("i", kI64, {1, 2});
  b.input("u", kF32, {1, 2});
  b.node("Scatter", {"x", "i", "u"}, {"y"});
  b.output("y");
  auto out = run_both(b, {f32({0, 0, 0, 0, 0, 0}, {3, 2}), i64({2, 0}, {1, 2}), f32({7, 8}, {1, 2})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 8, 0, 0, 7, 0}));

  OnnxBuilder c(16);
  c.input("x", kF32, {3});
  c.input("i", kI64, {1});
  c.input("u", kF32, {1});
  OnnxBuilder::attr(c.node("ScatterElements", {"x", "i", "u"}, {"y"}), "reduction", std::string("avg"));
  c.output("y");
  expect_load_error(c, {"attribute 'reduction'", "avg"});
}

TEST(IndexingScatterND, MulAndOutOfRange) {
  OnnxBuilder b(16);
  b.input("x", kF32, {2, 2});
  b.input("i", kI64, {2, 1});
  b.input("u", kF32, {2, 2});
  OnnxBuilder::attr(b.node("ScatterND", {"x", "i", "u"}, {"y"}), "reduction", std::string("mul"));
  b.output("y");
  auto out = run_both(b, {f32({1, 2, 3, 4}, {2, 2}), i64({1, 1}, {2, 1}), f32({2, 3, 4, 5}, {2, 2})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 24, 60}));
  expect_run_error(b, {f32({1, 2, 3, 4}, {2, 2}), i64({0, 2}, {2, 1}), f32({2, 3, 4, 5}, {2, 2})},
                   ErrorCode::kOutOfRange, {"index 2"});
}

TEST(IndexingScatterND, UpdatesShapeIsChecked) {
  OnnxBuilder b(13);
  b.input("x", kF32, {4, 3});
  b.input("i", kI64, {2, 1});
  b.input("u", kF32, {2, 4});
  b.node("ScatterND", {"x", "i", "u"}, {"y"});
  b.output("y");
  expect_load_error(b, {"input 'updates'", "[2,3]"});
}

// ------------------------------------------------------------------------------------------------ Depth and space

TEST(IndexingDepthToSpace, DcrAndCrd) {
  std::vector<float> x(8);
  for (int i = 0; i < 8; ++i) x[size_t(i)] = float(i);
  for (const char* mode : {"DCR", "CRD"}) {
    OnnxBuilder b(13);
    b.input("x", kF32, {1, 8, 1, 1});
    auto& n = b.node("DepthToSpace", {"x"}, {"y"});
    OnnxBuilder::attr(n, "blocksize", int64_t(2));
    OnnxBuilder::attr(n, "mode", std::string(mode));
    b.output("y");
    auto out = run_both(b, {f32(x, {1, 8, 1, 1})});
    EXPECT_EQ(out[0].dims(), (Dims{1, 2, 2, 2}));
    // DCR: channel (i*2 + j)*2 + c; CRD: channel c*4 + i*2 + j.
    std::vector<float> want = std::string(mode) == "DCR" ? std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}
                                                         : std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7};
    EXPECT_EQ(values<float>(out[0]), want) << mode;
  }
}

TEST(IndexingDepthToSpace, ShapeAndBadChannels) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 8, -1, 3});
  OnnxBuilder::attr(b.node("DepthToSpace", {"x"}, {"y"}), "blocksize", int64_t(2));
  b.output("y");
  PartialShape s = out_shape(b);
  ASSERT_EQ(s.rank(), 4);
  EXPECT_FALSE(s[0].is_static());
  EXPECT_EQ(s[1].value(), 2);
  EXPECT_FALSE(s[2].is_static());
  EXPECT_EQ(s[3].value(), 6);

  OnnxBuilder c(13);
  c.input("x", kF32, {1, 6, 2, 2});
  OnnxBuilder::attr(c.node("DepthToSpace", {"x"}, {"y"}), "blocksize", int64_t(2));
  c.output("y");
  expect_load_error(c, {"multiple of blocksize"});

  OnnxBuilder d(13);
  d.input("x", kF32, {1, 4, 2, 2});
  OnnxBuilder::attr(d.node("DepthToSpace", {"x"}, {"y"}), "blocksize", int64_t(0));
  d.output("y");
  expect_load_error(d, {"attribute 'blocksize'"});
}

TEST(IndexingSpaceToDepth, InvertsDepthToSpaceDcr) {
  OnnxBuilder b(13);
  b.input("x", kF32, {1, 2, 4, 6});
  OnnxBuilder::attr(b.node("SpaceToDepth", {"x"}, {"t"}), "blocksize", int64_t(2));
  OnnxBuilder::attr(b.node("DepthToSpace", {"t"}, {"y"}), "blocksize", int64_t(2));
  b.output("t");
  b.output("y");
  std::vector<float> x(48);
  for (int i = 0; i < 48; ++i) x[size_t(i)] = float(i);
  auto out = run_both(b, {f32(x, {1, 2, 4, 6})});
  EXPECT_EQ(out[0].dims(), (Dims{1, 8, 2, 3}));
  EXPECT_EQ(out[0].data<float>()[1], 2.0f);  // channel 0 holds the (0, 0) corner of every block
  EXPECT_EQ(values<float>(out[1]), x);

  OnnxBuilder c(13);
  c.input("x", kF32, {1, 1, 3, 4});
  OnnxBuilder::attr(c.node("SpaceToDepth", {"x"}, {"y"}), "blocksize", int64_t(2));
  c.output("y");
  expect_load_error(c, {"multiple of attribute 'blocksize'"});
}

// ------------------------------------------------------------------------------------------------ Compress, NonZero

TEST(IndexingCompress, AxisAndFlattened) {
  OnnxBuilder b(11);
  b.input("x", kF32, {3, 2});
  b.input("c", kBool, {2});
  OnnxBuilder::attr(b.node("Compress", {"x", "c"}, {"y"}), "axis", int64_t(0));
  b.output("y");
  PartialShape s = out_shape(b);
  ASSERT_EQ(s.rank(), 2);
  EXPECT_FALSE(s[0].is_static());
  EXPECT_EQ(s[1].value(), 2);
  // The condition is shorter than the axis: the last row is dropped.
  auto out = run_both(b, {f32({1, 2, 3, 4, 5, 6}, {3, 2}), Tensor::from_vector<bool>({false, true}, {2})});
  EXPECT_EQ(out[0].dims(), (Dims{1, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 4}));

  OnnxBuilder c(11);
  c.input("x", kF32, {2, 2});
  c.input("c", kBool, {4});
  c.node("Compress", {"x", "c"}, {"y"});
  c.output("y");
  out = run_both(c, {f32({1, 2, 3, 4}, {2, 2}), Tensor::from_vector<bool>({true, false, false, true}, {4})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 4}));
  out = run_both(c, {f32({1, 2, 3, 4}, {2, 2}), Tensor::from_vector<bool>({false, false, false, false}, {4})});
  EXPECT_EQ(out[0].dims(), (Dims{0}));
}

TEST(IndexingNonZero, ValuesAndShape) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2, -1});
  b.node("NonZero", {"x"}, {"y"});
  b.output("y");
  PartialShape s = out_shape(b);
  ASSERT_EQ(s.rank(), 2);
  EXPECT_EQ(s[0].value(), 2);
  EXPECT_FALSE(s[1].is_static());
  auto out = run_both(b, {f32({0, 1, 2, 0, 0, 3}, {2, 3})});
  EXPECT_EQ(out[0].dims(), (Dims{2, 3}));
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 0, 1, 1, 2, 2}));
  out = run_both(b, {f32({0, 0}, {2, 1})});
  EXPECT_EQ(out[0].dims(), (Dims{2, 0}));
}

// ---------------------------------------------------------------------------------------------------------- OneHot

TEST(IndexingOneHot, NegativeAndOutOfRangeIndices) {
  OnnxBuilder b(11);
  b.input("i", kI64, {4});
  b.initializer("depth", {3}, {});
  b.input("v", kF32, {2});
  b.node("OneHot", {"i", "depth", "v"}, {"y"});
  b.output("y");
  PartialShape s = out_shape(b);
  ASSERT_EQ(s.rank(), 2);
  EXPECT_EQ(s[1].value(), 3);  // depth is a constant
  auto out = run_both(b, {i64({0, -1, 3, -4}, {4}), f32({0, 5}, {2})});
  EXPECT_EQ(out[0].dims(), (Dims{4, 3}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{5, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0}));
}

TEST(IndexingOneHot, AxisZeroAndUnknownDepth) {
  OnnxBuilder b(11);
  b.input("i", kI64, {2});
  b.input("depth", kI64, {});
  b.input("v", kF32, {2});
  OnnxBuilder::attr(b.node("OneHot", {"i", "depth", "v"}, {"y"}), "axis", int64_t(0));
  b.output("y");
  PartialShape s = out_shape(b);
  ASSERT_EQ(s.rank(), 2);
  EXPECT_FALSE(s[0].is_static());
  EXPECT_EQ(s[1].value(), 2);
  auto out = run_both(b, {i64({1, 2}, {2}), i64({3}, {}), f32({-1, 1}, {2})});
  EXPECT_EQ(out[0].dims(), (Dims{3, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{-1, -1, 1, -1, -1, 1}));
  expect_run_error(b, {i64({1, 2}, {2}), i64({0}, {}), f32({-1, 1}, {2})}, ErrorCode::kInvalidArgument,
                   {"input 'depth'"});
}

// ----------------------------------------------------------------------------------------------- Trilu, EyeLike

TEST(IndexingTrilu, UpperAndLowerWithK) {
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  OnnxBuilder b(14);
  b.input("x", kF32, {3, 3});
  b.input("k", kI64, {});
  b.node("Trilu", {"x", "k"}, {"y"});
  b.output("y");
  auto out = run_both(b, {f32(x, {3, 3}), i64({1}, {})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 2, 3, 0, 0, 6, 0, 0, 0}));

  OnnxBuilder c(14);
  c.input("x", kF32, {-1, 3, 3});
  OnnxBuilder::attr(c.node("Trilu", {"x"}, {"y"}), "upper", int64_t(0));
  c.output("y");
  EXPECT_FALSE(out_shape(c)[0].is_static());
  out = run_both(c, {f32(x, {1, 3, 3})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 0, 0, 4, 5, 0, 7, 8, 9}));
  out = run_both(c, {f32({}, {0, 3, 3})});
  EXPECT_EQ(out[0].dims(), (Dims{0, 3, 3}));

  OnnxBuilder d(14);
  d.input("x", kF32, {3});
  d.node("Trilu", {"x"}, {"y"});
  d.output("y");
  expect_load_error(d, {"rank >= 2"});
}

TEST(IndexingEyeLike, DtypeAndNegativeK) {
  OnnxBuilder b(9);
  b.input("x", kI32, {3, 2});
  auto& n = b.node("EyeLike", {"x"}, {"y"});
  OnnxBuilder::attr(n, "dtype", int64_t(onnx::TensorProto::FLOAT));
  OnnxBuilder::attr(n, "k", int64_t(-1));
  b.output("y");
  auto out = run_both(b, {Tensor::from_vector<int32_t>({0, 0, 0, 0, 0, 0}, {3, 2})});
  EXPECT_EQ(out[0].type(), ElementType::kF32);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 0, 1, 0, 0, 1}));

  OnnxBuilder c(9);
  c.input("x", kF32, {2, 2, 2});
  c.node("EyeLike", {"x"}, {"y"});
  c.output("y");
  expect_load_error(c, {"2-D"});
}

// ------------------------------------------------------------------------------------------------ ReverseSequence

TEST(IndexingReverseSequence, TimeMajorAndBadLength) {
  OnnxBuilder b(10);
  b.input("x", kF32, {3, 2});  // [time, batch]
  b.input("l", kI64, {2});
  b.node("ReverseSequence", {"x", "l"}, {"y"});
  b.output("y");
  auto out = run_both(b, {f32({1, 10, 2, 20, 3, 30}, {3, 2}), i64({3, 2}, {2})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 20, 2, 10, 1, 30}));
  expect_run_error(b, {f32({1, 10, 2, 20, 3, 30}, {3, 2}), i64({4, 1}, {2})}, ErrorCode::kOutOfRange, {"length 4"});

  OnnxBuilder c(10);
  c.input("x", kF32, {3, 2});
  c.input("l", kI64, {2});
  OnnxBuilder::attr(c.node("ReverseSequence", {"x", "l"}, {"y"}), "batch_axis", int64_t(0));
  c.output("y");
  expect_load_error(c, {"'batch_axis'"});
}

// ---------------------------------------------------------------------------------------------------------- Unique

TEST(IndexingUnique, SortedAndUnsortedWithAllOutputs) {
  for (int sorted : {1, 0}) {
    OnnxBuilder b(11);
    b.input("x", kF32, {6});
    OnnxBuilder::attr(b.node("Unique", {"x"}, {"y", "idx", "inv", "cnt"}), "sorted", int64_t(sorted));
    for (const char* o : {"y", "idx", "inv", "cnt"}) b.output(o);
    PartialShape s = out_shape(b, 2);
    ASSERT_EQ(s.rank(), 1);
    EXPECT_EQ(s[0].value(), 6);
    EXPECT_FALSE(out_shape(b, 0)[0].is_static());
    auto out = run_both(b, {f32({2, 1, 1, 3, 4, 3}, {6})});
    if (sorted) {
      EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 3, 4}));
      EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{1, 0, 3, 4}));
      EXPECT_EQ(values<int64_t>(out[2]), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
      EXPECT_EQ(values<int64_t>(out[3]), (std::vector<int64_t>{2, 1, 2, 1}));
    } else {
      EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 1, 3, 4}));
      EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{0, 1, 3, 4}));
      EXPECT_EQ(values<int64_t>(out[2]), (std::vector<int64_t>{0, 1, 1, 2, 3, 2}));
      EXPECT_EQ(values<int64_t>(out[3]), (std::vector<int64_t>{1, 2, 2, 1}));
    }
  }
}

TEST(IndexingUnique, NegativeAxisSlices) {
  OnnxBuilder b(11);
  b.input("x", kF32, {2, 3});
  OnnxBuilder::attr(b.node("Unique", {"x"}, {"y", "", "inv"}), "axis", int64_t(-1));
  b.output("y");
  b.output("inv");
  // Columns: (1,4) (0,5) (1,4): two distinct, sorted (0,5) < (1,4).
  auto out = run_both(b, {f32({1, 0, 1, 4, 5, 4}, {2, 3})});
  EXPECT_EQ(out[0].dims(), (Dims{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 1, 5, 4}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{1, 0, 1}));
}

// ------------------------------------------------------------------------------------------------------------ TopK

TEST(IndexingTopK, TiesKeepTheLowerIndexFirst) {
  OnnxBuilder b(11);
  b.input("x", kF32, {2, 4});
  b.input("k", kI64, {1});
  b.node("TopK", {"x", "k"}, {"v", "i"});
  b.output("v");
  b.output("i");
  PartialShape s = out_shape(b);
  ASSERT_EQ(s.rank(), 2);
  EXPECT_FALSE(s[1].is_static());  // k is not known at load time
  auto out = run_both(b, {f32({1, 3, 3, 2, 5, 5, 5, 5}, {2, 4}), i64({2}, {1})});
  EXPECT_EQ(out[0].dims(), (Dims{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 3, 5, 5}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{1, 2, 0, 1}));
  expect_run_error(b, {f32({1, 3, 3, 2, 5, 5, 5, 5}, {2, 4}), i64({5}, {1})}, ErrorCode::kOutOfRange, {"k = 5"});
}

TEST(IndexingTopK, SmallestAlongAxisZeroAndOpset9Attribute) {
  OnnxBuilder b(11);
  b.input("x", kF32, {3, 2});
  b.input("k", kI64, {1});
  auto& n = b.node("TopK", {"x", "k"}, {"v", "i"});
  OnnxBuilder::attr(n, "axis", int64_t(0));
  OnnxBuilder::attr(n, "largest", int64_t(0));
  b.output("v");
  b.output("i");
  auto out = run_both(b, {f32({3, 1, 1, 2, 2, 0}, {3, 2}), i64({1}, {1})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 0}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{1, 2}));

  OnnxBuilder c(9);
  c.input("x", kF32, {-1, 4});
  OnnxBuilder::attr(c.node("TopK", {"x"}, {"v", "i"}), "k", int64_t(3));
  c.output("v");
  c.output("i");
  PartialShape s = out_shape(c);
  EXPECT_FALSE(s[0].is_static());
  EXPECT_EQ(s[1].value(), 3);
  out = run_both(c, {f32({4, 1, 3, 2}, {1, 4})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{4, 3, 2}));
}

// ---------------------------------------------------------------------------------------------------------- CumSum

TEST(IndexingCumSum, ExclusiveReverseNegativeAxis) {
  OnnxBuilder b(14);
  b.input("x", kF32, {2, 3});
  b.input("a", kI64, {});
  auto& n = b.node("CumSum", {"x", "a"}, {"y"});
  OnnxBuilder::attr(n, "exclusive", int64_t(1));
  OnnxBuilder::attr(n, "reverse", int64_t(1));
  b.output("y");
  auto out = run_both(b, {f32({1, 2, 3, 4, 5, 6}, {2, 3}), i64({-1}, {})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{5, 3, 0, 11, 6, 0}));
  expect_run_error(b, {f32({1, 2, 3, 4, 5, 6}, {2, 3}), i64({2}, {})}, ErrorCode::kInvalidModel, {"input 'axis'"});
}

TEST(IndexingCumSum, IntegerOverflowWraps) {
  OnnxBuilder b(14);
  b.input("x", kI64, {-1});
  b.input("a", kI64, {});
  b.node("CumSum", {"x", "a"}, {"y"});
  b.output("y");
  EXPECT_FALSE(out_shape(b)[0].is_static());
  const int64_t big = std::numeric_limits<int64_t>::max();
  auto out = run_both(b, {i64({big, 1}, {2}), i64({0}, {})});
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{big, std::numeric_limits<int64_t>::min()}));
}
