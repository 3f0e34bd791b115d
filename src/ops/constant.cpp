// Constant: a value given in the model. Inference records the value, so the node folds away at load time.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class Constant final : public OpBase<Constant, OpKind::kConstant> {
 public:
  Constant() = default;  // for make_op
  explicit Constant(Tensor v) : value(std::move(v)) {}
  Tensor value;

  const char* type_name() const override { return "Constant"; }
  void visit_attrs(AttrVisitor& v) override { v.on("value", value); }
  void infer(InferContext& ctx) const override { ctx.set_output_value(0, value); }
  void run(KernelContext& ctx) const override { ctx.set_output(0, value); }
};

namespace {
void import_constant(OnnxNode& n) {
  Tensor t;
  int given = 0;
  if (n.has_attr("value")) {
    t = n.attr_tensor("value");
    ++given;
  }
  if (n.has_attr("value_float")) {
    t = Tensor::scalar<float>(n.attr_float("value_float"));
    ++given;
  }
  if (n.has_attr("value_floats")) {
    auto v = n.attr_floats("value_floats");
    t = Tensor::from_vector(v, {int64_t(v.size())});
    ++given;
  }
  if (n.has_attr("value_int")) {
    t = Tensor::scalar<int64_t>(n.attr_int("value_int"));
    ++given;
  }
  if (n.has_attr("value_ints")) {
    auto v = n.attr_ints("value_ints");
    t = Tensor::from_vector(v, {int64_t(v.size())});
    ++given;
  }
  if (n.has_attr("value_string")) {
    t = Tensor::scalar<std::string>(n.attr_string("value_string"));
    ++given;
  }
  if (n.has_attr("value_strings")) {
    auto v = n.attr_strings("value_strings");
    t = Tensor::from_vector(v, {int64_t(v.size())});
    ++given;
  }
  if (n.has_attr("sparse_value")) n.unsupported("attribute 'sparse_value' (sparse tensors) is not supported");
  if (given != 1) n.fail("exactly one of the value attributes must be set, found ", given);
  n.emit(std::make_unique<Constant>(std::move(t)));
}
}  // namespace

std::unique_ptr<Op> make_op_Constant() { return std::make_unique<Constant>(); }

void register_op_Constant(OpRegistry& r) { r.add_onnx("Constant", 1, kMaxOpset, import_constant); }

}  // namespace celer
