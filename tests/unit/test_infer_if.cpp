// Inference of If: only the branch that runs has to be valid for the model's shapes.
#include <gtest/gtest.h>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

// y = If(cond) then Squeeze(x, axes=[1]) else Squeeze(x, axes=[2]): x [1,1,4] suits only the then branch.
OnnxBuilder branchy_model(const std::vector<int64_t>& cond_dims) {
  OnnxBuilder b(13);
  b.input("cond", onnx::TensorProto::BOOL, cond_dims);
  b.input("x", onnx::TensorProto::FLOAT, {1, 1, 4});
  b.initializer_i64("ax1", {1}, {1});
  b.initializer_i64("ax2", {2}, {1});
  auto& n = b.node("If", {"cond"}, {"y"}, "branch");
  for (auto [attr, axes] : {std::pair{"then_branch", "ax1"}, std::pair{"else_branch", "ax2"}}) {
    auto* a = n.add_attribute();
    a->set_name(attr);
    a->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto& g = *a->mutable_g();
    g.set_name(attr);
    auto* sq = g.add_node();
    sq->set_op_type("Squeeze");
    sq->set_name(std::string(attr) + "_squeeze");
    sq->add_input("x");
    sq->add_input(axes);
    sq->add_output(std::string(attr) + "_out");
    g.add_output()->set_name(std::string(attr) + "_out");
  }
  b.output("y");
  return b;
}

}  // namespace

TEST(InferIf, BranchInvalidForTheseShapesOnlyFailsWhenTaken) {
  OnnxBuilder b = branchy_model({});
  for (const char* dev : {"REF", "CPU"}) {
    CompiledModel cm = Core().compile_model(b.read(), dev);
    InferRequest r = cm.create_infer_request();
    r.set_tensor("x", Tensor::from_vector<float>({1, 2, 3, 4}, {1, 1, 4}));
    r.set_tensor("cond", Tensor::scalar<bool>(true));
    r.infer();
    EXPECT_EQ(r.get_output_tensor(0).dims(), (Dims{1, 4})) << dev;
    r.set_tensor("cond", Tensor::scalar<bool>(false));
    try {
      r.infer();
      ADD_FAILURE() << "the else branch cannot squeeze dim 2 of [1,1,4]";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("else_branch_squeeze"), std::string::npos) << e.what();
    }
  }
}

TEST(InferIf, ConditionMayHaveAnyShapeOfOneElement) {
  OnnxBuilder b = branchy_model({1, 1});
  CompiledModel cm = Core().compile_model(b.read(), "CPU");
  InferRequest r = cm.create_infer_request();
  r.set_tensor("x", Tensor::from_vector<float>({1, 2, 3, 4}, {1, 1, 4}));
  r.set_tensor("cond", Tensor::from_vector<bool>({true}, {1, 1}));
  r.infer();
  EXPECT_EQ(r.get_output_tensor(0).dims(), (Dims{1, 4}));
  OnnxBuilder bad = branchy_model({2});
  EXPECT_THROW(bad.read(), Error);
}
