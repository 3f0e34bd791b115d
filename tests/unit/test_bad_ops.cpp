// ../shared/BAD-INPUTS.md rows 14-20: bad attributes, shapes and indices end in errors naming the node and the rule.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <functional>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

void expect_error(const std::function<void()>& fn, std::initializer_list<const char*> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected an error mentioning " << *fragments.begin();
  } catch (const Error& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

// A Conv (or pool) model with the given attributes on an input [1, 4, 8, 8] and weights [4, 4/group, 3, 3].
OnnxBuilder conv_model(const std::string& op, std::function<void(onnx::NodeProto&)> attrs, int64_t wgroup = 1) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {1, 4, 8, 8});
  std::vector<std::string> inputs = {"x"};
  if (op == "Conv") {
    b.initializer("w", std::vector<float>(size_t(4 * (4 / wgroup) * 9), 0.1f), {4, 4 / wgroup, 3, 3});
    inputs.push_back("w");
  }
  auto& n = b.node(op, inputs, {"y"}, "the_node");
  attrs(n);
  b.output("y");
  return b;
}

}  // namespace

// Row 14
TEST(BadOps, ConvAndPoolAttributes) {
  using B = OnnxBuilder;
  expect_error([] { conv_model("Conv", [](auto& n) { B::attr(n, "strides", std::vector<int64_t>{0, 1}); }).read(); },
               {"the_node", "strides"});
  expect_error([] { conv_model("Conv", [](auto& n) { B::attr(n, "dilations", std::vector<int64_t>{1, 0}); }).read(); },
               {"the_node", "dilations"});
  expect_error([] { conv_model("Conv", [](auto& n) { B::attr(n, "kernel_shape", std::vector<int64_t>{0, 3}); }).read(); },
               {"the_node", "kernel_shape"});
  expect_error([] { conv_model("Conv", [](auto& n) { B::attr(n, "group", int64_t(0)); }).read(); },
               {"the_node", "group"});
  expect_error([] { conv_model("Conv", [](auto& n) { B::attr(n, "group", int64_t(3)); }).read(); },
               {"the_node", "group"});
  expect_error([] { conv_model("Conv", [](auto& n) { B::attr(n, "pads", std::vector<int64_t>{1, 1, 1}); }).read(); },
               {"the_node", "pads"});
  expect_error(
      [] {
        conv_model("MaxPool", [](auto& n) {
          B::attr(n, "kernel_shape", std::vector<int64_t>{2, 2});
          B::attr(n, "strides", std::vector<int64_t>{0, 0});
        }).read();
      },
      {"the_node", "strides"});
  expect_error([] { conv_model("AveragePool", [](auto& n) { B::attr(n, "kernel_shape", std::vector<int64_t>{0, 2}); }).read(); },
               {"the_node", "kernel_shape"});
}

// Row 15
TEST(BadOps, AxesOutOfRange) {
  auto one = [](const std::string& op, std::function<void(onnx::NodeProto&)> attrs, std::vector<std::string> extra = {}) {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {2, 3});
    std::vector<std::string> in = {"x"};
    for (auto& e : extra) in.push_back(e);
    if (op == "Gather") b.initializer_i64("idx", {0}, {1});
    if (op == "Split") b.initializer_i64("split", {1, 1}, {2});
    auto& n = b.node(op, in, {"y"}, "bad_" + op);
    attrs(n);
    b.output("y");
    return b;
  };
  using B = OnnxBuilder;
  expect_error([&] { one("Concat", [](auto& n) { B::attr(n, "axis", int64_t(5)); }).read(); }, {"bad_Concat", "'axis'", "5"});
  expect_error([&] { one("Softmax", [](auto& n) { B::attr(n, "axis", int64_t(-3)); }).read(); }, {"bad_Softmax", "'axis'"});
  expect_error([&] { one("Gather", [](auto& n) { B::attr(n, "axis", int64_t(2)); }, {"idx"}).read(); },
               {"bad_Gather", "'axis'"});
  expect_error([&] { one("Split", [](auto& n) { B::attr(n, "axis", int64_t(7)); }, {"split"}).read(); },
               {"bad_Split", "'axis'"});
  expect_error([&] { one("Transpose", [](auto& n) { B::attr(n, "perm", std::vector<int64_t>{0, 0}); }).read(); },
               {"bad_Transpose", "perm"});
  // Split sizes that do not add up to the dim (2 + 2 != 3 along axis 1).
  OnnxBuilder split(13);
  split.input("x", onnx::TensorProto::FLOAT, {2, 3});
  split.initializer_i64("sizes", {2, 2}, {2});
  auto& n = split.node("Split", {"x", "sizes"}, {"a", "b"}, "bad_sizes");
  OnnxBuilder::attr(n, "axis", int64_t(1));
  split.output("a");
  split.output("b");
  expect_error([&] { split.read(); }, {"bad_sizes", "split"});
}

// Row 16
TEST(BadOps, HugeFoldableTensorsHitTheBudget) {
  for (const char* op : {"Expand", "Tile", "ConstantOfShape"}) {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {1});
    b.initializer("one", {1.f}, {1});
    std::vector<std::string> in;
    if (std::string(op) == "Expand") {
      b.initializer_i64("shape", {10000000, 1000000}, {2});
      in = {"one", "shape"};
    } else if (std::string(op) == "Tile") {
      b.initializer_i64("reps", {10000000000000}, {1});
      in = {"one", "reps"};
    } else {
      b.initializer_i64("shape", {10000000, 1000000}, {2});
      in = {"shape"};
    }
    b.node(op, in, {"big"}, std::string("huge_") + op);
    b.node("Add", {"x", "big"}, {"y"});
    b.output("y");
    expect_error([&] { b.read(); }, {"huge_", "limit"});
  }
}

// Row 17
TEST(BadOps, ShapeMismatchesNameBothShapes) {
  OnnxBuilder mm(13);
  mm.input("a", onnx::TensorProto::FLOAT, {2, 3});
  mm.input("b", onnx::TensorProto::FLOAT, {4, 5});
  mm.node("MatMul", {"a", "b"}, {"y"}, "the_matmul");
  mm.output("y");
  expect_error([&] { mm.read(); }, {"the_matmul", "[2,3]", "[4,5]"});

  OnnxBuilder conv(13);
  conv.input("x", onnx::TensorProto::FLOAT, {1, 4, 8, 8});
  conv.initializer("w", std::vector<float>(4 * 4 * 3, 0.f), {4, 4, 3});
  conv.node("Conv", {"x", "w"}, {"y"}, "the_conv");
  conv.output("y");
  expect_error([&] { conv.read(); }, {"the_conv", "rank"});

  OnnxBuilder rs(13);
  rs.input("x", onnx::TensorProto::FLOAT, {2, 3});
  rs.initializer_i64("shape", {4, 2}, {2});
  rs.node("Reshape", {"x", "shape"}, {"y"}, "the_reshape");
  rs.output("y");
  expect_error([&] { rs.read(); }, {"the_reshape", "[2,3]", "4"});
}

// Row 18: indices out of range at run time fail the request and leave the compiled model usable.
TEST(BadOps, RuntimeIndicesOutOfRange) {
  struct Case {
    std::string op;
    std::vector<std::string> inputs;
  };
  for (const Case& c : {Case{"Gather", {"data", "idx"}}, Case{"GatherElements", {"data", "idx"}},
                        Case{"ScatterElements", {"data", "idx", "upd"}}, Case{"ScatterND", {"data", "idx", "upd"}}}) {
    OnnxBuilder b(16);
    b.input("data", onnx::TensorProto::FLOAT, {3, 2});
    bool nd = c.op == "ScatterND";
    b.input("idx", onnx::TensorProto::INT64, nd ? std::vector<int64_t>{1, 1} : std::vector<int64_t>{1, 2});
    if (c.inputs.size() == 3) b.input("upd", onnx::TensorProto::FLOAT, nd ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{1, 2});
    b.node(c.op, c.inputs, {"y"}, "runtime_" + c.op);
    b.output("y");
    CompiledModel cm = Core().compile_model(b.read(), "CPU");
    InferRequest r = cm.create_infer_request();
    r.set_tensor("data", Tensor(ElementType::kF32, {3, 2}));
    Tensor bad = nd ? Tensor::from_vector<int64_t>({7}, {1, 1}) : Tensor::from_vector<int64_t>({0, 7}, {1, 2});
    r.set_tensor("idx", bad);
    if (c.inputs.size() == 3) r.set_tensor("upd", Tensor(ElementType::kF32, {1, 2}));
    expect_error([&] { r.infer(); }, {("runtime_" + c.op).c_str(), "7"});
    Tensor good = nd ? Tensor::from_vector<int64_t>({1}, {1, 1}) : Tensor::from_vector<int64_t>({0, 1}, {1, 2});
    r.set_tensor("idx", good);
    EXPECT_NO_THROW(r.infer()) << c.op;
  }
}

// Row 19: a Loop whose trip count is INT64_MAX and whose condition stays true stops at the documented limit.
TEST(BadOps, EndlessLoopStopsAtTheLimit) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {1});
  auto* m = b.graph().add_initializer();
  m->set_name("M");
  m->set_data_type(onnx::TensorProto::INT64);
  m->add_int64_data(INT64_MAX);
  auto* cond = b.graph().add_initializer();
  cond->set_name("cond");
  cond->set_data_type(onnx::TensorProto::BOOL);
  cond->add_int32_data(1);
  auto& loop = b.node("Loop", {"M", "cond", "x"}, {"y"}, "endless");
  auto* body_attr = loop.add_attribute();
  body_attr->set_name("body");
  body_attr->set_type(onnx::AttributeProto::GRAPH);
  onnx::GraphProto& body = *body_attr->mutable_g();
  body.set_name("body");
  auto add_in = [&](const char* name, int type) {
    auto* vi = body.add_input();
    vi->set_name(name);
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(type);
  };
  add_in("i", onnx::TensorProto::INT64);
  add_in("c_in", onnx::TensorProto::BOOL);
  add_in("v_in", onnx::TensorProto::FLOAT);
  for (auto [in, out] : {std::pair{"c_in", "c_out"}, std::pair{"v_in", "v_out"}}) {
    auto* n = body.add_node();
    n->set_op_type("Identity");
    n->add_input(in);
    n->add_output(out);
    body.add_output()->set_name(out);
  }
  b.output("y");
  CompiledModel cm = Core().compile_model(b.read(), "CPU");
  InferRequest r = cm.create_infer_request();
  r.set_tensor("x", Tensor(ElementType::kF32, {1}));
  expect_error([&] { r.infer(); }, {"endless", "limit"});
}

// Row 20: quantization parameters.
TEST(BadOps, QuantizationParameters) {
  auto q = [](std::vector<float> scale, std::vector<int64_t> scale_dims, int zp_value) {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {2, 3});
    b.initializer("scale", scale, scale_dims);
    auto* zp = b.graph().add_initializer();
    zp->set_name("zp");
    zp->set_data_type(onnx::TensorProto::UINT8);
    for (int64_t d : scale_dims) zp->add_dims(d);
    for (size_t i = 0; i < scale.size(); ++i) zp->add_int32_data(zp_value);
    auto& n = b.node("QuantizeLinear", {"x", "scale", "zp"}, {"y"}, "the_quant");
    if (!scale_dims.empty()) OnnxBuilder::attr(n, "axis", int64_t(1));
    b.output("y");
    CompiledModel cm = Core().compile_model(b.read(), "CPU");
    InferRequest r = cm.create_infer_request();
    r.set_tensor("x", Tensor(ElementType::kF32, {2, 3}));
    r.infer();
  };
  expect_error([&] { q({0.f}, {}, 0); }, {"the_quant", "scale"});
  expect_error([&] { q({NAN}, {}, 0); }, {"the_quant", "scale"});
  expect_error([&] { q({INFINITY}, {}, 0); }, {"the_quant", "scale"});
  expect_error([&] { q({1.f, 1.f}, {2}, 0); }, {"the_quant", "scale"});  // per-axis scales of the wrong length
  // A zero point out of range: an i32 zero point for DequantizeLinear of int32 data must be 0.
  OnnxBuilder dq(13);
  dq.input("x", onnx::TensorProto::INT32, {2});
  dq.initializer("s", {1.f}, {});
  auto* zp = dq.graph().add_initializer();
  zp->set_name("z");
  zp->set_data_type(onnx::TensorProto::INT32);
  zp->add_int32_data(5);
  dq.node("DequantizeLinear", {"x", "s", "z"}, {"y"}, "the_dequant");
  dq.output("y");
  expect_error(
      [&] {
        CompiledModel cm = Core().compile_model(dq.read(), "CPU");
        InferRequest r = cm.create_infer_request();
        r.set_tensor("x", Tensor(ElementType::kI32, {2}));
        r.infer();
      },
      {"the_dequant", "zero point"});
}
