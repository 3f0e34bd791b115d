// SequenceConstruct: a sequence of the input tensors (at least one, all of one element type).
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"

namespace celer {

class SequenceConstruct final : public OpBase<SequenceConstruct, OpKind::kSequenceConstruct> {
 public:
  const char* type_name() const override { return "SequenceConstruct"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    CELER_CHECK(ctx.num_inputs() >= 1, kInvalidModel, "needs at least one input");
    ValueType item = ctx.input_type(0);
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const ValueType& t = ctx.input_type(i);
      CELER_CHECK(t.kind == ValueKind::kTensor && !t.optional, kInvalidModel, "input ", i, " must be a tensor, got ",
                  t.to_string());
      CELER_CHECK(t.elem == item.elem || t.elem == ElementType::kUndefined || item.elem == ElementType::kUndefined,
                  kInvalidModel, "input ", i, " has element type ", element_type_name(t.elem), ", input 0 has ",
                  element_type_name(item.elem), " (all must match)");
      item = seq::merge_types(item, t);
    }
    ctx.set_output(0, ValueType::sequence(item.elem, item.shape));
  }

  void run(KernelContext& ctx) const override {
    std::vector<Tensor> items;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) items.push_back(ctx.input(i));
    ElementType e = items.front().type();
    ctx.set_output(0, RtValue::make_sequence(std::move(items), e));
  }
};

namespace {
void import_sequence_construct(OnnxNode& n) {
  if (n.num_inputs() == 0) n.fail("needs at least one input");
  n.emit(std::make_unique<SequenceConstruct>());
}
}  // namespace

std::unique_ptr<Op> make_op_SequenceConstruct() { return std::make_unique<SequenceConstruct>(); }

void register_op_SequenceConstruct(OpRegistry& r) {
  r.add_onnx("SequenceConstruct", 11, kMaxOpset, import_sequence_construct);
}

}  // namespace celer
