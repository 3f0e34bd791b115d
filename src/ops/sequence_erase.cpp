// SequenceErase: the sequence without the tensor at 'position' (in [-n, n-1]; default: the last one).
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"

namespace celer {

class SequenceErase final : public OpBase<SequenceErase, OpKind::kSequenceErase> {
 public:
  const char* type_name() const override { return "SequenceErase"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    seq::check_sequence_type(ctx, 0, "input 0 'input_sequence'");
    if (ctx.has_input(1)) {
      ElementType pe = ctx.input_elem(1);
      CELER_CHECK(pe == ElementType::kI32 || pe == ElementType::kI64 || pe == ElementType::kUndefined, kInvalidModel,
                  "input 1 'position' must be int32 or int64, got ", element_type_name(pe));
    }
    ValueType t = ctx.input_type(0);
    t.optional = false;
    ctx.set_output(0, t);
  }

  void run(KernelContext& ctx) const override {
    const RtValue& s = seq::input_sequence(ctx, 0, "input 0 'input_sequence'");
    const int64_t n = int64_t(s.sequence.size());
    int64_t pos = n - 1;
    if (ctx.has_input(1)) pos = seq::position_value(ctx.input(1), "input 1 'position'");
    CELER_CHECK(pos >= -n && pos < n, kOutOfRange, "input 1 'position' = ", pos,
                " is out of range for a sequence of length ", n, n == 0 ? " (nothing to erase)" : "");
    if (pos < 0) pos += n;
    std::vector<Tensor> items = s.sequence;
    items.erase(items.begin() + pos);
    ctx.set_output(0, RtValue::make_sequence(std::move(items), seq::sequence_elem(s)));
  }
};

namespace {
void import_sequence_erase(OnnxNode& n) { n.emit(std::make_unique<SequenceErase>()); }
}  // namespace

std::unique_ptr<Op> make_op_SequenceErase() { return std::make_unique<SequenceErase>(); }

void register_op_SequenceErase(OpRegistry& r) { r.add_onnx("SequenceErase", 11, kMaxOpset, import_sequence_erase); }

}  // namespace celer
