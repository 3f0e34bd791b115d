// OptionalGetElement: the value an optional holds (an error for an empty optional). A plain tensor or sequence
// passes through unchanged (opset 18 semantics, harmless for older models).
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class OptionalGetElement final : public OpBase<OptionalGetElement, OpKind::kOptionalGetElement> {
 public:
  const char* type_name() const override { return "OptionalGetElement"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    ValueType t = ctx.input_type(0);
    t.optional = false;
    ctx.set_output(0, t);
  }

  void run(KernelContext& ctx) const override {
    const RtValue& v = ctx.input_value(0);
    CELER_CHECK(!v.is_none(), kInvalidArgument, "input 0 'input' is an empty optional: it has no element to get");
    ctx.set_output(0, v);
  }
};

namespace {
void import_optional_get_element(OnnxNode& n) { n.emit(std::make_unique<OptionalGetElement>()); }
}  // namespace

std::unique_ptr<Op> make_op_OptionalGetElement() { return std::make_unique<OptionalGetElement>(); }

void register_op_OptionalGetElement(OpRegistry& r) {
  r.add_onnx("OptionalGetElement", 15, kMaxOpset, import_optional_get_element);
}

}  // namespace celer
