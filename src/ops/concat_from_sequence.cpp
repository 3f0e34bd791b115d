// ConcatFromSequence: concatenates the tensors of a non-empty sequence along 'axis', or stacks them along a new axis
// at 'axis' when new_axis = 1 (then 'axis' may also be -rank-1 .. rank).
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"
#include "ops/util.hpp"

namespace celer {

class ConcatFromSequence final : public OpBase<ConcatFromSequence, OpKind::kConcatFromSequence> {
 public:
  int64_t axis = 0;
  bool new_axis = false;

  const char* type_name() const override { return "ConcatFromSequence"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("axis", axis);
    v.on("new_axis", new_axis);
  }

  int64_t resolve_axis(int64_t rank) const {
    return new_axis ? normalize_axis_inclusive(axis, rank) : normalize_axis(axis, rank);
  }

  void infer(InferContext& ctx) const override {
    seq::check_sequence_type(ctx, 0, "input 0 'input_sequence'");
    const ValueType& s = ctx.input_type(0);
    if (!s.shape.rank_known()) {
      ctx.set_output(0, s.elem, PartialShape());
      return;
    }
    std::vector<Dim> dims = s.shape.dims();
    const int64_t a = resolve_axis(int64_t(dims.size()));
    if (new_axis)
      dims.insert(dims.begin() + a, Dim());
    else
      dims[size_t(a)] = Dim();
    ctx.set_output(0, s.elem, PartialShape(std::move(dims)));
  }

  void run(KernelContext& ctx) const override {
    const RtValue& s = seq::input_sequence(ctx, 0, "input 0 'input_sequence'");
    CELER_CHECK(!s.sequence.empty(), kInvalidArgument, "input 0 'input_sequence' is empty: nothing to concatenate");
    const int64_t a = resolve_axis(s.sequence.front().rank());
    Tensor out =
        new_axis ? seq::stack(s.sequence, a, "ConcatFromSequence") : seq::concat(s.sequence, a, "ConcatFromSequence");
    ctx.set_output(0, std::move(out));
  }
};

namespace {
void import_concat_from_sequence(OnnxNode& n) {
  auto op = std::make_unique<ConcatFromSequence>();
  op->axis = n.attr_int("axis");
  int64_t na = n.attr_int("new_axis", 0);
  if (na != 0 && na != 1) n.fail("attribute 'new_axis' = ", na, " must be 0 or 1");
  op->new_axis = na == 1;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_ConcatFromSequence() { return std::make_unique<ConcatFromSequence>(); }

void register_op_ConcatFromSequence(OpRegistry& r) {
  r.add_onnx("ConcatFromSequence", 11, kMaxOpset, import_concat_from_sequence);
}

}  // namespace celer
