// Control flow (If, Loop, Scan, SequenceMap), sequence, optional and recurrent (RNN, GRU, LSTM) ops.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/graph.hpp"
#include "onnx_builder.hpp"
#include "runtime/device.hpp"
#include "runtime/executor.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

constexpr int kF32 = onnx::TensorProto::FLOAT;
constexpr int kI64 = onnx::TensorProto::INT64;
constexpr int kBool = onnx::TensorProto::BOOL;

void set_tensor_type(onnx::ValueInfoProto* vi, const std::string& name, int elem, const std::vector<int64_t>& dims) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (auto d : dims) {
    auto* dim = shape->add_dim();
    if (d >= 0) dim->set_dim_value(d);
  }
}

void set_sequence_type(onnx::ValueInfoProto* vi, const std::string& name, int elem) {
  vi->set_name(name);
  vi->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(elem);
}

// A graph attribute built in place: g.add_input(...), g.add_node(...), g.add_output(...).
struct Sub {
  onnx::GraphProto* g;
  void input(const std::string& name, int elem, const std::vector<int64_t>& dims) {
    set_tensor_type(g->add_input(), name, elem, dims);
  }
  void output(const std::string& name, int elem, const std::vector<int64_t>& dims) {
    set_tensor_type(g->add_output(), name, elem, dims);
  }
  void output(const std::string& name) { g->add_output()->set_name(name); }
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& in,
                        const std::vector<std::string>& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(g->name() + "_" + op + std::to_string(g->node_size()));
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return *n;
  }
  void constant(const std::string& out, const Tensor& t) {
    auto& n = node("Constant", {}, {out});
    auto* a = n.add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    auto* tp = a->mutable_t();
    for (auto d : t.dims()) tp->add_dims(d);
    if (t.type() == ElementType::kF32) {
      tp->set_data_type(kF32);
      for (int64_t i = 0; i < t.size(); ++i) tp->add_float_data(t.data<float>()[i]);
    } else if (t.type() == ElementType::kI64) {
      tp->set_data_type(kI64);
      for (int64_t i = 0; i < t.size(); ++i) tp->add_int64_data(t.data<int64_t>()[i]);
    } else {
      tp->set_data_type(kBool);
      for (int64_t i = 0; i < t.size(); ++i) tp->add_int32_data(t.data<bool>()[i]);
    }
  }
};

Sub graph_attr(onnx::NodeProto& n, const std::string& name) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name(name);
  return Sub{a->mutable_g()};
}

// Runs a model with run-time values (tensors, sequences, optionals) through the executor.
std::vector<RtValue> run_values(const OnnxBuilder& b, const char* device, std::vector<RtValue> inputs) {
  Model m = b.read();
  std::shared_ptr<Graph> g = m.graph().clone();
  const Device* dev = find_device(device);
  dev->run_passes(*g, {});
  Executor exec(g, *dev, {});
  return exec.run(std::move(inputs));
}

std::vector<float> values(const Tensor& t) {
  std::vector<float> v;
  for (int64_t i = 0; i < t.size(); ++i) v.push_back(float(t.value_as_double(i)));
  return v;
}

ErrorCode error_of(const std::function<void()>& f, std::string* msg = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.code();
  }
  return ErrorCode::kInternal;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------- If

OnnxBuilder if_model() {
  OnnxBuilder b(13);
  b.input("cond", kBool, {});
  b.input("x", kF32, {2});
  auto& n = b.node("If", {"cond"}, {"y"}, "my_if");
  Sub then_b = graph_attr(n, "then_branch");
  then_b.node("Identity", {"x"}, {"t"});  // captures x
  then_b.output("t");
  Sub else_b = graph_attr(n, "else_branch");
  else_b.constant("e", Tensor::from_vector<float>({7, 8, 9}, {3}));
  else_b.output("e");
  b.output("y");
  return b;
}

TEST(ControlIf, BranchesOfDifferentShapesMergeToUnknownDim) {
  Model m = if_model().read();
  ASSERT_EQ(m.outputs()[0].shape.rank(), 1);
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
  EXPECT_EQ(m.outputs()[0].type, ElementType::kF32);
}

TEST(ControlIf, RunsTheChosenBranchWithCaptures) {
  for (const char* dev : {"REF", "CPU"}) {
    auto out = if_model().run(dev, {Tensor::scalar<bool>(true), Tensor::from_vector<float>({1, 2}, {2})});
    EXPECT_EQ(values(out[0]), (std::vector<float>{1, 2})) << dev;
    out = if_model().run(dev, {Tensor::scalar<bool>(false), Tensor::from_vector<float>({1, 2}, {2})});
    EXPECT_EQ(values(out[0]), (std::vector<float>{7, 8, 9})) << dev;
  }
}

TEST(ControlIf, NonBoolConditionIsRejected) {
  OnnxBuilder b(13);
  b.input("cond", kF32, {});
  auto& n = b.node("If", {"cond"}, {"y"}, "bad_if");
  Sub t = graph_attr(n, "then_branch");
  t.constant("a", Tensor::scalar<float>(1));
  t.output("a");
  Sub e = graph_attr(n, "else_branch");
  e.constant("c", Tensor::scalar<float>(2));
  e.output("c");
  b.output("y");
  std::string msg;
  EXPECT_EQ(error_of([&] { b.read(); }, &msg), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("bad_if"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'cond'"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------------------- Loop

// Loop with a carried value y (passed through) and a scan output of the iteration numbers; the body's condition is
// `next_cond` (a constant) or the incoming one.
OnnxBuilder loop_model(bool constant_false_cond) {
  OnnxBuilder b(13);
  b.input("M", kI64, {});
  b.input("cond", kBool, {});
  b.input("y", kF32, {-1});
  auto& n = b.node("Loop", {"M", "cond", "y"}, {"y_final", "iters"});
  Sub body = graph_attr(n, "body");
  body.input("i", kI64, {});
  body.input("c_in", kBool, {});
  body.input("y_in", kF32, {-1});
  if (constant_false_cond)
    body.constant("c_out", Tensor::scalar<bool>(false));
  else
    body.node("Identity", {"c_in"}, {"c_out"});
  body.node("Identity", {"y_in"}, {"y_out"});
  body.node("Identity", {"i"}, {"scan"});
  body.output("c_out", kBool, {});
  body.output("y_out", kF32, {-1});
  body.output("scan", kI64, {});
  b.output("y_final");
  b.output("iters");
  return b;
}

TEST(ControlLoop, InfersCarriedAndScanOutputs) {
  Model m = loop_model(false).read();
  EXPECT_EQ(m.outputs()[0].type, ElementType::kF32);
  EXPECT_EQ(m.outputs()[1].type, ElementType::kI64);
  ASSERT_EQ(m.outputs()[1].shape.rank(), 1);
  EXPECT_FALSE(m.outputs()[1].shape[0].is_static());
}

TEST(ControlLoop, TripCountAndScanOutputs) {
  for (const char* dev : {"REF", "CPU"}) {
    auto out = loop_model(false).run(
        dev, {Tensor::scalar<int64_t>(4), Tensor::scalar<bool>(true), Tensor::from_vector<float>({3, 4}, {2})});
    EXPECT_EQ(values(out[0]), (std::vector<float>{3, 4})) << dev;
    EXPECT_EQ(out[1].dims(), (Dims{4})) << dev;
    EXPECT_EQ(values(out[1]), (std::vector<float>{0, 1, 2, 3})) << dev;
  }
}

TEST(ControlLoop, FalseConditionRunsZeroTimes) {
  auto out = loop_model(false).run(
      "REF", {Tensor::scalar<int64_t>(4), Tensor::scalar<bool>(false), Tensor::from_vector<float>({3, 4}, {2})});
  EXPECT_EQ(values(out[0]), (std::vector<float>{3, 4}));
  EXPECT_EQ(out[1].dims(), (Dims{0}));
}

TEST(ControlLoop, HugeTripCountEndsWhenTheBodyConditionTurnsFalse) {
  auto out = loop_model(true).run(
      "REF", {Tensor::scalar<int64_t>(INT64_MAX), Tensor::scalar<bool>(true), Tensor::from_vector<float>({1}, {1})});
  EXPECT_EQ(out[1].dims(), (Dims{1}));
}

TEST(ControlLoop, WrongNumberOfInputsIsRejected) {
  OnnxBuilder b = loop_model(false);
  b.graph().mutable_node(0)->add_input("y");  // one value more than the body carries
  std::string msg;
  EXPECT_EQ(error_of([&] { b.read(); }, &msg), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("loop-carried"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------------------- Scan

TEST(ControlScan, AxesAndDirections) {
  // State passes through; the scan output is the slice along input axis 1, scanned in reverse and stacked along
  // output axis 1 in reverse, so it equals the input.
  OnnxBuilder b(11);
  b.input("s", kF32, {1});
  b.input("x", kF32, {2, 3});
  auto& n = b.node("Scan", {"s", "x"}, {"s_final", "y"});
  OnnxBuilder::attr(n, "num_scan_inputs", int64_t(1));
  OnnxBuilder::attr(n, "scan_input_axes", std::vector<int64_t>{1});
  OnnxBuilder::attr(n, "scan_input_directions", std::vector<int64_t>{1});
  OnnxBuilder::attr(n, "scan_output_axes", std::vector<int64_t>{-1});
  OnnxBuilder::attr(n, "scan_output_directions", std::vector<int64_t>{1});
  Sub body = graph_attr(n, "body");
  body.input("s_in", kF32, {1});
  body.input("x_in", kF32, {2});
  body.node("Identity", {"s_in"}, {"s_out"});
  body.node("Identity", {"x_in"}, {"y_out"});
  body.output("s_out", kF32, {1});
  body.output("y_out", kF32, {2});
  b.output("s_final");
  b.output("y");
  Model m = b.read();
  ASSERT_EQ(m.outputs()[1].shape.rank(), 2);
  EXPECT_EQ(m.outputs()[1].shape[0].value(), 2);
  EXPECT_EQ(m.outputs()[1].shape[1].value(), 3);
  for (const char* dev : {"REF", "CPU"}) {
    auto out =
        b.run(dev, {Tensor::from_vector<float>({5}, {1}), Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})});
    EXPECT_EQ(values(out[0]), (std::vector<float>{5})) << dev;
    EXPECT_EQ(out[1].dims(), (Dims{2, 3})) << dev;
    EXPECT_EQ(values(out[1]), (std::vector<float>{1, 2, 3, 4, 5, 6})) << dev;
  }
}

TEST(ControlScan, Opset8SequenceLensPadsWithZeros) {
  OnnxBuilder b(8);
  b.input("lens", kI64, {2});
  b.input("x", kF32, {2, 3, 1});
  auto& n = b.node("Scan", {"lens", "x"}, {"y"});
  OnnxBuilder::attr(n, "num_scan_inputs", int64_t(1));
  Sub body = graph_attr(n, "body");
  body.input("x_in", kF32, {1});
  body.node("Identity", {"x_in"}, {"y_out"});
  body.output("y_out", kF32, {1});
  b.output("y");
  auto out = b.run(
      "REF", {Tensor::from_vector<int64_t>({3, 1}, {2}), Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3, 1})});
  EXPECT_EQ(out[0].dims(), (Dims{2, 3, 1}));
  EXPECT_EQ(values(out[0]), (std::vector<float>{1, 2, 3, 4, 0, 0}));
}

TEST(ControlScan, BadDirectionIsRejected) {
  OnnxBuilder b(11);
  b.input("x", kF32, {2});
  auto& n = b.node("Scan", {"x"}, {"y"});
  OnnxBuilder::attr(n, "num_scan_inputs", int64_t(1));
  OnnxBuilder::attr(n, "scan_input_directions", std::vector<int64_t>{2});
  Sub body = graph_attr(n, "body");
  body.input("x_in", kF32, {});
  body.node("Identity", {"x_in"}, {"y_out"});
  body.output("y_out", kF32, {});
  b.output("y");
  std::string msg;
  EXPECT_EQ(error_of([&] { b.read(); }, &msg), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("scan_input_directions"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------------- sequences

TEST(ControlSequence, SplitInsertEraseConcat) {
  // x [5] -> split by 2 -> {[0,1],[2,3],[4]}; insert t at -1 -> {.., t, [4]}; erase position 0; concat on axis 0.
  OnnxBuilder b(13);
  b.input("x", kF32, {5});
  b.input("t", kF32, {2});
  b.initializer_i64("two", {2}, {});
  b.initializer_i64("minus1", {-1}, {});
  b.initializer_i64("zero", {0}, {});
  b.node("SplitToSequence", {"x", "two"}, {"s1"});
  b.node("SequenceInsert", {"s1", "t", "minus1"}, {"s2"});
  b.node("SequenceErase", {"s2", "zero"}, {"s3"});
  b.node("SequenceLength", {"s3"}, {"len"});
  auto& c = b.node("ConcatFromSequence", {"s3"}, {"y"});
  OnnxBuilder::attr(c, "axis", int64_t(0));
  b.node("SequenceAt", {"s3", "minus1"}, {"last"});
  b.output("y");
  b.output("len");
  b.output("last");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[1].type, ElementType::kI64);
  EXPECT_EQ(m.outputs()[1].shape.rank(), 0);
  for (const char* dev : {"REF", "CPU"}) {
    auto out = b.run(dev, {Tensor::from_vector<float>({0, 1, 2, 3, 4}, {5}), Tensor::from_vector<float>({8, 9}, {2})});
    EXPECT_EQ(values(out[0]), (std::vector<float>{2, 3, 8, 9, 4})) << dev;
    EXPECT_EQ(out[1].data<int64_t>()[0], 3) << dev;
    EXPECT_EQ(values(out[2]), (std::vector<float>{4})) << dev;
  }
}

TEST(ControlSequence, SplitWithoutKeepdimsAndStackOnNewAxis) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 3});
  auto& s = b.node("SplitToSequence", {"x"}, {"seq"});
  OnnxBuilder::attr(s, "axis", int64_t(1));
  OnnxBuilder::attr(s, "keepdims", int64_t(0));
  auto& c = b.node("ConcatFromSequence", {"seq"}, {"y"});
  OnnxBuilder::attr(c, "axis", int64_t(-1));
  OnnxBuilder::attr(c, "new_axis", int64_t(1));
  b.output("y");
  Model m = b.read();
  ASSERT_EQ(m.outputs()[0].shape.rank(), 2);  // item [N], stacked on a new last axis
  auto out = b.run("REF", {Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})});
  EXPECT_EQ(out[0].dims(), (Dims{2, 3}));
  EXPECT_EQ(values(out[0]), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(ControlSequence, PositionOutOfRangeIsReported) {
  OnnxBuilder b(13);
  b.input("x", kF32, {2});
  b.input("pos", kI64, {});
  b.node("SequenceConstruct", {"x", "x"}, {"s"});
  b.node("SequenceAt", {"s", "pos"}, {"y"});
  b.output("y");
  EXPECT_EQ(values(b.run("REF", {Tensor::from_vector<float>({1, 2}, {2}), Tensor::scalar<int64_t>(-2)})[0]),
            (std::vector<float>{1, 2}));
  std::string msg;
  EXPECT_EQ(error_of(
                [&] {
                  b.run("REF", {Tensor::from_vector<float>({1, 2}, {2}), Tensor::scalar<int64_t>(2)});
                },
                &msg),
            ErrorCode::kOutOfRange);
  EXPECT_NE(msg.find("'position' = 2"), std::string::npos) << msg;
}

TEST(ControlSequence, SplitLengthsMustSumToTheAxis) {
  OnnxBuilder b(13);
  b.input("x", kF32, {4});
  b.initializer_i64("split", {1, 2}, {2});
  b.node("SplitToSequence", {"x", "split"}, {"s"});
  auto& c = b.node("ConcatFromSequence", {"s"}, {"y"});
  OnnxBuilder::attr(c, "axis", int64_t(0));
  b.output("y");
  EXPECT_EQ(error_of([&] {
              b.run("REF", {Tensor::from_vector<float>({1, 2, 3, 4}, {4})});
            }),
            ErrorCode::kShapeMismatch);
}

TEST(ControlSequence, EmptySequenceAndSequenceValues) {
  OnnxBuilder b(13);
  b.input("t", kI64, {2});
  auto& e = b.node("SequenceEmpty", {}, {"s0"});
  OnnxBuilder::attr(e, "dtype", int64_t(kI64));
  b.node("SequenceInsert", {"s0", "t"}, {"s1"});
  b.output("s1");
  for (const char* dev : {"REF", "CPU"}) {
    auto out = run_values(b, dev, {RtValue(Tensor::from_vector<int64_t>({4, 5}, {2}))});
    ASSERT_TRUE(out[0].is_sequence());
    ASSERT_EQ(out[0].sequence.size(), 1u);
    EXPECT_EQ(out[0].sequence[0].data<int64_t>()[1], 5);
  }
}

TEST(ControlSequenceMap, MapsSequencesAndBroadcastsTensors) {
  OnnxBuilder b(17);
  set_sequence_type(b.graph().add_input(), "seq", kF32);
  b.input("extra", kF32, {1});
  auto& n = b.node("SequenceMap", {"seq", "extra"}, {"out_a", "out_b"});
  Sub body = graph_attr(n, "body");
  body.input("a", kF32, {-1});
  body.input("e", kF32, {1});
  body.node("Identity", {"a"}, {"ra"});
  body.node("Identity", {"e"}, {"rb"});
  body.output("ra", kF32, {-1});
  body.output("rb", kF32, {1});
  b.output("out_a");
  b.output("out_b");
  RtValue s = RtValue::make_sequence({Tensor::from_vector<float>({1}, {1}), Tensor::from_vector<float>({2, 3}, {2})},
                                     ElementType::kF32);
  for (const char* dev : {"REF", "CPU"}) {
    auto out = run_values(b, dev, {s, RtValue(Tensor::from_vector<float>({9}, {1}))});
    ASSERT_TRUE(out[0].is_sequence() && out[1].is_sequence());
    ASSERT_EQ(out[0].sequence.size(), 2u);
    EXPECT_EQ(values(out[0].sequence[1]), (std::vector<float>{2, 3}));
    EXPECT_EQ(values(out[1].sequence[1]), (std::vector<float>{9}));
  }
}

// ---------------------------------------------------------------------------------------------------- optionals

TEST(ControlOptional, WrapHasAndGet) {
  OnnxBuilder b(15);
  b.input("x", kF32, {2});
  b.node("Optional", {"x"}, {"o"});
  b.node("OptionalHasElement", {"o"}, {"has"});
  b.node("OptionalGetElement", {"o"}, {"y"});
  b.output("has");
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].type, ElementType::kBool);
  EXPECT_EQ(m.outputs()[1].shape.to_dims(), (Dims{2}));
  for (const char* dev : {"REF", "CPU"}) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 2}, {2})});
    EXPECT_TRUE(out[0].data<bool>()[0]) << dev;
    EXPECT_EQ(values(out[1]), (std::vector<float>{1, 2})) << dev;
  }
}

TEST(ControlOptional, EmptyOptional) {
  OnnxBuilder b(15);
  auto& n = b.node("Optional", {}, {"o"});
  auto* a = n.add_attribute();
  a->set_name("type");
  a->set_type(onnx::AttributeProto::TYPE_PROTO);
  a->mutable_tp()->mutable_tensor_type()->set_elem_type(kF32);
  b.node("OptionalHasElement", {"o"}, {"has"});
  b.output("has");
  for (const char* dev : {"REF", "CPU"}) EXPECT_FALSE(b.run(dev, {})[0].data<bool>()[0]) << dev;
}

TEST(ControlOptional, GettingFromAnEmptyOptionalFails) {
  OnnxBuilder b(15);
  auto* in = b.graph().add_input();
  in->set_name("o");
  in->mutable_type()->mutable_optional_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(kF32);
  b.node("OptionalGetElement", {"o"}, {"y"});
  b.output("y");
  std::string msg;
  EXPECT_EQ(error_of([&] { run_values(b, "REF", {RtValue()}); }, &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("empty optional"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------------- recurrent

TEST(ControlRecurrent, RnnValuesAndLayout1) {
  // hidden 1, input 1: h1 = tanh(0.5 x1), h2 = tanh(0.5 x2 + 0.25 h1).
  for (int layout : {0, 1}) {
    OnnxBuilder b(14);
    b.input("X", kF32, {2, 1, 1});
    b.initializer("W", {0.5f}, {1, 1, 1});
    b.initializer("R", {0.25f}, {1, 1, 1});
    auto& n = b.node("RNN", {"X", "W", "R"}, {"Y", "Y_h"});
    OnnxBuilder::attr(n, "hidden_size", int64_t(1));
    OnnxBuilder::attr(n, "layout", int64_t(layout));
    b.output("Y");
    b.output("Y_h");
    for (const char* dev : {"REF", "CPU"}) {
      auto out = b.run(dev, {Tensor::from_vector<float>({1, 2}, {2, 1, 1})});
      const double h1 = std::tanh(0.5), h2 = std::tanh(1.0 + 0.25 * h1);
      if (layout == 0) {
        EXPECT_EQ(out[0].dims(), (Dims{2, 1, 1, 1}));
        EXPECT_NEAR(out[0].data<float>()[0], h1, 1e-6);
        EXPECT_NEAR(out[0].data<float>()[1], h2, 1e-6);
        EXPECT_NEAR(out[1].data<float>()[0], h2, 1e-6);
      } else {  // X is [batch=2, seq=1, input=1]: two independent single steps
        EXPECT_EQ(out[0].dims(), (Dims{2, 1, 1, 1}));
        EXPECT_NEAR(out[1].data<float>()[1], std::tanh(1.0), 1e-6);
      }
    }
  }
}

TEST(ControlRecurrent, BidirectionalShapeInferenceWithUnknownBatch) {
  OnnxBuilder b(14);
  b.input("X", kF32, {5, -1, 3});
  b.input("W", kF32, {2, 16, 3});
  b.input("R", kF32, {2, 16, 4});
  auto& n = b.node("LSTM", {"X", "W", "R"}, {"Y", "Y_h", "Y_c"});
  OnnxBuilder::attr(n, "hidden_size", int64_t(4));
  OnnxBuilder::attr(n, "direction", std::string("bidirectional"));
  b.output("Y");
  b.output("Y_h");
  b.output("Y_c");
  Model m = b.read();
  const PartialShape& y = m.outputs()[0].shape;
  ASSERT_EQ(y.rank(), 4);
  EXPECT_EQ(y[0].value(), 5);
  EXPECT_EQ(y[1].value(), 2);
  EXPECT_FALSE(y[2].is_static());
  EXPECT_EQ(y[3].value(), 4);
  EXPECT_EQ(m.outputs()[2].shape.rank(), 3);
}

TEST(ControlRecurrent, GruAndLstmWithZeroWeights) {
  // GRU: z = r = 0.5, h~ = 0 -> h halves each step. LSTM: i = f = o = 0.5, c~ = 0 -> C halves, H = 0.5 tanh(C).
  OnnxBuilder g(14);
  g.input("X", kF32, {2, 1, 1});
  g.initializer("W", std::vector<float>(3, 0.f), {1, 3, 1});
  g.initializer("R", std::vector<float>(3, 0.f), {1, 3, 1});
  g.initializer("H0", {1.f}, {1, 1, 1});
  auto& gn = g.node("GRU", {"X", "W", "R", "", "", "H0"}, {"", "Y_h"});
  OnnxBuilder::attr(gn, "hidden_size", int64_t(1));
  g.output("Y_h");
  OnnxBuilder l(14);
  l.input("X", kF32, {2, 1, 1});
  l.initializer("W", std::vector<float>(4, 0.f), {1, 4, 1});
  l.initializer("R", std::vector<float>(4, 0.f), {1, 4, 1});
  l.initializer("C0", {1.f}, {1, 1, 1});
  auto& ln = l.node("LSTM", {"X", "W", "R", "", "", "", "C0"}, {"", "Y_h", "Y_c"});
  OnnxBuilder::attr(ln, "hidden_size", int64_t(1));
  OnnxBuilder::attr(ln, "direction", std::string("reverse"));
  l.output("Y_h");
  l.output("Y_c");
  for (const char* dev : {"REF", "CPU"}) {
    auto go = g.run(dev, {Tensor::from_vector<float>({3, 4}, {2, 1, 1})});
    EXPECT_NEAR(go[0].data<float>()[0], 0.25, 1e-6) << dev;
    auto lo = l.run(dev, {Tensor::from_vector<float>({3, 4}, {2, 1, 1})});
    EXPECT_NEAR(lo[1].data<float>()[0], 0.25, 1e-6) << dev;
    EXPECT_NEAR(lo[0].data<float>()[0], 0.5 * std::tanh(0.25), 1e-6) << dev;
  }
}

TEST(ControlRecurrent, BadAttributesAreRejected) {
  OnnxBuilder b(14);
  b.input("X", kF32, {2, 1, 1});
  b.initializer("W", {0.5f}, {1, 1, 1});
  b.initializer("R", {0.25f}, {1, 1, 1});
  auto& n = b.node("RNN", {"X", "W", "R"}, {"Y"}, "my_rnn");
  OnnxBuilder::attr(n, "direction", std::string("sideways"));
  b.output("Y");
  std::string msg;
  EXPECT_EQ(error_of([&] { b.read(); }, &msg), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("'direction'"), std::string::npos) << msg;
  OnnxBuilder b2(14);
  b2.input("X", kF32, {2, 1, 1});
  b2.initializer("W", {0.5f}, {1, 1, 1});
  b2.initializer("R", {0.25f}, {1, 1, 1});
  auto& n2 = b2.node("RNN", {"X", "W", "R"}, {"Y"});
  OnnxBuilder::attr(n2, "hidden_size", int64_t(3));  // R says 1
  b2.output("Y");
  EXPECT_EQ(error_of([&] { b2.read(); }, &msg), ErrorCode::kShapeMismatch);
  EXPECT_NE(msg.find("hidden_size 3"), std::string::npos) << msg;
}

TEST(ControlSequence, ItemShapesAreInferredThroughSequenceOps) {
  OnnxBuilder b(13);
  b.input("x", kF32, {-1, 4});
  b.input("t", kF32, {3, 4});
  b.input("pos", kI64, {});
  b.node("SequenceConstruct", {"x", "t"}, {"s1"});  // items [?, 4]
  b.node("SequenceInsert", {"s1", "t"}, {"s2"});    // still [?, 4]
  b.node("SequenceAt", {"s2", "pos"}, {"item"});
  auto& c = b.node("ConcatFromSequence", {"s2"}, {"stacked"});
  OnnxBuilder::attr(c, "axis", int64_t(0));
  OnnxBuilder::attr(c, "new_axis", int64_t(1));
  b.output("item");
  b.output("stacked");
  Model m = b.read();
  const PartialShape& item = m.outputs()[0].shape;
  ASSERT_EQ(item.rank(), 2);
  EXPECT_FALSE(item[0].is_static());
  EXPECT_EQ(item[1].value(), 4);
  ASSERT_EQ(m.outputs()[1].shape.rank(), 3);
  EXPECT_EQ(m.outputs()[1].shape[2].value(), 4);
  auto out =
      b.run("CPU", {Tensor::from_vector<float>(std::vector<float>(12, 1.f), {3, 4}),
                    Tensor::from_vector<float>(std::vector<float>(12, 2.f), {3, 4}), Tensor::scalar<int64_t>(0)});
  EXPECT_EQ(out[0].dims(), (Dims{3, 4}));
  EXPECT_EQ(out[1].dims(), (Dims{3, 3, 4}));
  EXPECT_EQ(out[1].data<float>()[12], 2.f);
}

TEST(ControlLoop, SequenceAsLoopCarriedValue) {
  // Opset 13: each iteration appends the iteration number to a sequence.
  OnnxBuilder b(13);
  b.input("M", kI64, {});
  auto& e = b.node("SequenceEmpty", {}, {"s0"});
  OnnxBuilder::attr(e, "dtype", int64_t(kI64));
  auto& n = b.node("Loop", {"M", "", "s0"}, {"s_final"});
  Sub body = graph_attr(n, "body");
  body.input("i", kI64, {});
  body.input("c_in", kBool, {});
  set_sequence_type(body.g->add_input(), "s_in", kI64);
  body.node("Identity", {"c_in"}, {"c_out"});
  body.node("SequenceInsert", {"s_in", "i"}, {"s_out"});
  body.output("c_out", kBool, {});
  set_sequence_type(body.g->add_output(), "s_out", kI64);
  auto& c = b.node("ConcatFromSequence", {"s_final"}, {"y"});
  OnnxBuilder::attr(c, "axis", int64_t(0));
  OnnxBuilder::attr(c, "new_axis", int64_t(1));
  b.output("y");
  for (const char* dev : {"REF", "CPU"}) {
    auto out = b.run(dev, {Tensor::scalar<int64_t>(3)});
    EXPECT_EQ(values(out[0]), (std::vector<float>{0, 1, 2})) << dev;
  }
}

TEST(ControlScan, Opset8EmptyBatch) {
  OnnxBuilder b(8);
  b.input("x", kF32, {0, 3, 2});
  auto& n = b.node("Scan", {"", "x"}, {"y"});
  OnnxBuilder::attr(n, "num_scan_inputs", int64_t(1));
  Sub body = graph_attr(n, "body");
  body.input("x_in", kF32, {2});
  body.node("Identity", {"x_in"}, {"y_out"});
  body.output("y_out", kF32, {2});
  b.output("y");
  auto out = b.run("REF", {Tensor(ElementType::kF32, {0, 3, 2})});
  EXPECT_EQ(out[0].dims(), (Dims{0, 3, 2}));
}
