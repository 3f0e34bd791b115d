// SequenceEmpty: an empty sequence of tensors of the element type 'dtype' (default float).
#include "onnx/onnx_node.hpp"
#include "onnx/onnx_tensor.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class SequenceEmpty final : public OpBase<SequenceEmpty, OpKind::kSequenceEmpty> {
 public:
  ElementType elem = ElementType::kF32;

  const char* type_name() const override { return "SequenceEmpty"; }
  void visit_attrs(AttrVisitor& v) override { visit_enum(v, "elem", elem, ElementType::kString); }
  void infer(InferContext& ctx) const override { ctx.set_output(0, ValueType::sequence(elem)); }
  void run(KernelContext& ctx) const override { ctx.set_output(0, RtValue::make_sequence({}, elem)); }
};

namespace {
void import_sequence_empty(OnnxNode& n) {
  auto op = std::make_unique<SequenceEmpty>();
  if (n.has_attr("dtype"))
    op->elem = onnx_element_type(int(n.attr_int("dtype")), "attribute 'dtype' of node '" + n.name() + "'");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_SequenceEmpty() { return std::make_unique<SequenceEmpty>(); }

void register_op_SequenceEmpty(OpRegistry& r) { r.add_onnx("SequenceEmpty", 11, kMaxOpset, import_sequence_empty); }

}  // namespace celer
