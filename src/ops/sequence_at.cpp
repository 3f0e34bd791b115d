// SequenceAt: the tensor at 'position' (in [-n, n-1]) of a sequence.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"

namespace celer {

class SequenceAt final : public OpBase<SequenceAt, OpKind::kSequenceAt> {
 public:
  const char* type_name() const override { return "SequenceAt"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    seq::check_sequence_type(ctx, 0, "input 0 'input_sequence'");
    ElementType pe = ctx.input_elem(1);
    CELER_CHECK(pe == ElementType::kI32 || pe == ElementType::kI64 || pe == ElementType::kUndefined, kInvalidModel,
                "input 1 'position' must be int32 or int64, got ", element_type_name(pe));
    const ValueType& s = ctx.input_type(0);
    ctx.set_output(0, ValueType::tensor(s.elem, s.shape));
  }

  void run(KernelContext& ctx) const override {
    const RtValue& s = seq::input_sequence(ctx, 0, "input 0 'input_sequence'");
    const int64_t n = int64_t(s.sequence.size());
    int64_t pos = seq::position_value(ctx.input(1), "input 1 'position'");
    CELER_CHECK(pos >= -n && pos < n, kOutOfRange, "input 1 'position' = ", pos,
                " is out of range for a sequence of length ", n, " (must be in [", -n, ", ", n - 1, "])");
    if (pos < 0) pos += n;
    ctx.set_output(0, s.sequence[size_t(pos)]);
  }
};

namespace {
void import_sequence_at(OnnxNode& n) { n.emit(std::make_unique<SequenceAt>()); }
}  // namespace

std::unique_ptr<Op> make_op_SequenceAt() { return std::make_unique<SequenceAt>(); }

void register_op_SequenceAt(OpRegistry& r) { r.add_onnx("SequenceAt", 11, kMaxOpset, import_sequence_at); }

}  // namespace celer
