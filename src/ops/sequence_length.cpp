// SequenceLength: the number of tensors in a sequence, as an int64 scalar.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"

namespace celer {

class SequenceLength final : public OpBase<SequenceLength, OpKind::kSequenceLength> {
 public:
  const char* type_name() const override { return "SequenceLength"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    seq::check_sequence_type(ctx, 0, "input 0 'input_sequence'");
    ctx.set_output(0, ElementType::kI64, PartialShape(std::vector<Dim>{}));
  }

  void run(KernelContext& ctx) const override {
    const RtValue& s = seq::input_sequence(ctx, 0, "input 0 'input_sequence'");
    ctx.output(0, ElementType::kI64, {}).data<int64_t>()[0] = int64_t(s.sequence.size());
  }
};

namespace {
void import_sequence_length(OnnxNode& n) { n.emit(std::make_unique<SequenceLength>()); }
}  // namespace

std::unique_ptr<Op> make_op_SequenceLength() { return std::make_unique<SequenceLength>(); }

void register_op_SequenceLength(OpRegistry& r) { r.add_onnx("SequenceLength", 11, kMaxOpset, import_sequence_length); }

}  // namespace celer
