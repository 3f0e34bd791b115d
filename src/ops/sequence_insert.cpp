// SequenceInsert: inserts a tensor into a sequence at 'position' (in [-n, n]; default: at the end).
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"

namespace celer {

class SequenceInsert final : public OpBase<SequenceInsert, OpKind::kSequenceInsert> {
 public:
  const char* type_name() const override { return "SequenceInsert"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    seq::check_sequence_type(ctx, 0, "input 0 'input_sequence'");
    const ValueType& s = ctx.input_type(0);
    const ValueType& t = ctx.input_type(1);
    CELER_CHECK(t.kind == ValueKind::kTensor && !t.optional, kInvalidModel, "input 1 'tensor' must be a tensor, got ",
                t.to_string());
    CELER_CHECK(s.elem == ElementType::kUndefined || t.elem == ElementType::kUndefined || s.elem == t.elem,
                kInvalidModel, "input 1 'tensor' has element type ", element_type_name(t.elem), ", the sequence holds ",
                element_type_name(s.elem));
    if (ctx.has_input(2)) {
      ElementType pe = ctx.input_elem(2);
      CELER_CHECK(pe == ElementType::kI32 || pe == ElementType::kI64 || pe == ElementType::kUndefined, kInvalidModel,
                  "input 2 'position' must be int32 or int64, got ", element_type_name(pe));
    }
    ElementType e = s.elem == ElementType::kUndefined ? t.elem : s.elem;
    // Every item has the new tensor's shape and the sequence's item shape: what they agree on (an empty sequence's
    // item shape is unknown, so nothing is assumed from the tensor alone).
    PartialShape items = seq::merge_shapes(s.shape, t.shape);
    ctx.set_output(0, ValueType::sequence(e, items));
  }

  void run(KernelContext& ctx) const override {
    const RtValue& s = seq::input_sequence(ctx, 0, "input 0 'input_sequence'");
    const Tensor& t = ctx.input(1);
    ElementType e = seq::sequence_elem(s);
    CELER_CHECK(e == ElementType::kUndefined || e == t.type(), kInvalidArgument, "input 1 'tensor' has element type ",
                element_type_name(t.type()), ", the sequence holds ", element_type_name(e));
    const int64_t n = int64_t(s.sequence.size());
    int64_t pos = n;
    if (ctx.has_input(2)) {
      pos = seq::position_value(ctx.input(2), "input 2 'position'");
      CELER_CHECK(pos >= -n && pos <= n, kOutOfRange, "input 2 'position' = ", pos,
                  " is out of range for a sequence of length ", n, " (must be in [", -n, ", ", n, "])");
      if (pos < 0) pos += n;
    }
    std::vector<Tensor> items = s.sequence;
    items.insert(items.begin() + pos, t);
    ctx.set_output(0, RtValue::make_sequence(std::move(items), t.type()));
  }
};

namespace {
void import_sequence_insert(OnnxNode& n) { n.emit(std::make_unique<SequenceInsert>()); }
}  // namespace

std::unique_ptr<Op> make_op_SequenceInsert() { return std::make_unique<SequenceInsert>(); }

void register_op_SequenceInsert(OpRegistry& r) { r.add_onnx("SequenceInsert", 11, kMaxOpset, import_sequence_insert); }

}  // namespace celer
