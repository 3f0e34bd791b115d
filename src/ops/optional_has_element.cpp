// OptionalHasElement: true when the input optional holds a value. A plain tensor or sequence gives true and a missing
// input gives false (opset 18 semantics, harmless for opset 15-17 models).
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class OptionalHasElement final : public OpBase<OptionalHasElement, OpKind::kOptionalHasElement> {
 public:
  const char* type_name() const override { return "OptionalHasElement"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    ctx.set_output(0, ElementType::kBool, PartialShape(std::vector<Dim>{}));
    // A missing input certainly holds nothing.
    if (!ctx.has_input(0)) ctx.set_output_value(0, Tensor::scalar<bool>(false));
  }

  void run(KernelContext& ctx) const override {
    ctx.output(0, ElementType::kBool, {}).data<bool>()[0] = ctx.has_input(0);
  }
};

namespace {
void import_optional_has_element(OnnxNode& n) { n.emit(std::make_unique<OptionalHasElement>()); }
}  // namespace

std::unique_ptr<Op> make_op_OptionalHasElement() { return std::make_unique<OptionalHasElement>(); }

void register_op_OptionalHasElement(OpRegistry& r) {
  r.add_onnx("OptionalHasElement", 15, kMaxOpset, import_optional_has_element);
}

}  // namespace celer
