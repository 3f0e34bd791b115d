// Optional: an optional holding the input (tensor or sequence), or an empty optional when there is no input.
// The empty optional's type comes from the 'type' attribute, a TypeProto; OnnxNode cannot read TypeProto attributes,
// so inference takes it from the type the model declares for the output (graph output or value_info) when it does.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class Optional final : public OpBase<Optional, OpKind::kOptional> {
 public:
  const char* type_name() const override { return "Optional"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    ValueType t;
    if (ctx.has_input(0)) {
      t = ctx.input_type(0);
    } else if (ctx.node().outputs[0]) {
      t = ctx.node().outputs[0]->type;
    }
    t.optional = true;
    ctx.set_output(0, t);
  }

  void run(KernelContext& ctx) const override { ctx.set_output(0, ctx.has_input(0) ? ctx.input_value(0) : RtValue()); }
};

namespace {
void import_optional(OnnxNode& n) {
  bool has_input = n.num_inputs() > 0 && n.input(0) != nullptr;
  if (!has_input && !n.has_attr("type"))
    n.fail("an Optional without an input needs the attribute 'type' (the type of the empty optional)");
  n.emit(std::make_unique<Optional>());
}
}  // namespace

std::unique_ptr<Op> make_op_Optional() { return std::make_unique<Optional>(); }

void register_op_Optional(OpRegistry& r) { r.add_onnx("Optional", 15, kMaxOpset, import_optional); }

}  // namespace celer
