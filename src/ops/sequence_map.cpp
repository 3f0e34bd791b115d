// SequenceMap: applies 'body' to each position of the input sequence. Additional inputs that are sequences (of the
// same length) contribute their element at that position; tensors are passed whole to every call. Each body output
// is collected into an output sequence.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"

namespace celer {

class SequenceMap final : public Op {
 public:
  std::shared_ptr<Graph> body;

  OpKind kind() const override { return OpKind::kSequenceMap; }
  const char* type_name() const override { return "SequenceMap"; }
  void visit_attrs(AttrVisitor& v) override { v.on("body", body); }
  std::vector<Graph*> subgraphs() const override { return {body.get()}; }
  std::unique_ptr<Op> clone(const CloneContext& ctx) const override {
    auto op = std::make_unique<SequenceMap>();
    op->body = body->clone(ctx.values, ctx.graph);
    return op;
  }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(ctx.num_inputs() == body->inputs.size(), kInvalidModel, "the node has ", ctx.num_inputs(),
                " inputs; its body takes ", body->inputs.size());
    seq::check_sequence_type(ctx, 0, "input 0 'input_sequence'");
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      if (!ctx.has_output(i)) continue;
      const ValueType t = seq::outer_view(body->outputs[i]->type);
      CELER_CHECK(t.kind == ValueKind::kTensor || seq::type_unknown(t), kInvalidModel, "body output ", i,
                  " must be a tensor, got ", t.to_string());
      ctx.set_output(i, ValueType::sequence(t.elem, t.shape));
    }
  }

  void run(KernelContext& ctx) const override {
    const RtValue& first = seq::input_sequence(ctx, 0, "input 0 'input_sequence'");
    const size_t len = first.sequence.size();
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
      const RtValue& v = ctx.input_value(i);
      CELER_CHECK(!v.is_none(), kInvalidArgument, "input ", i, " is missing");
      if (v.is_sequence())
        CELER_CHECK(v.sequence.size() == len, kShapeMismatch, "input ", i, " is a sequence of length ",
                    v.sequence.size(), ", input 0 has length ", len, " (they must match)");
    }
    std::vector<std::vector<Tensor>> outs(ctx.num_outputs());
    for (size_t p = 0; p < len; ++p) {
      std::vector<RtValue> in;
      for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        const RtValue& v = ctx.input_value(i);
        in.push_back(v.is_sequence() ? RtValue(v.sequence[p]) : v);
      }
      std::vector<RtValue> res = ctx.run_subgraph(*body, std::move(in));
      for (size_t o = 0; o < outs.size() && o < res.size(); ++o) {
        CELER_CHECK(res[o].is_tensor(), kInvalidArgument, "body output ", o, " must be a tensor");
        outs[o].push_back(std::move(res[o].tensor));
      }
    }
    for (size_t o = 0; o < outs.size(); ++o) {
      if (!ctx.has_output(o)) continue;
      ElementType e = outs[o].empty() ? body->outputs[o]->type.elem : outs[o].front().type();
      ctx.set_output(o, RtValue::make_sequence(std::move(outs[o]), e));
    }
  }
};

namespace {
void import_sequence_map(OnnxNode& n) {
  auto op = std::make_unique<SequenceMap>();
  op->body = n.attr_graph("body");
  if (op->body->inputs.size() != n.num_inputs())
    n.fail("the body takes ", op->body->inputs.size(), " inputs; the node has ", n.num_inputs());
  if (op->body->outputs.size() != n.num_outputs())
    n.fail("the body gives ", op->body->outputs.size(), " outputs; the node has ", n.num_outputs());
  for (size_t i = 0; i < n.num_inputs(); ++i)
    if (!n.input(i)) n.fail("input ", i, " is missing");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_SequenceMap() { return std::make_unique<SequenceMap>(); }

void register_op_SequenceMap(OpRegistry& r) { r.add_onnx("SequenceMap", 17, kMaxOpset, import_sequence_map); }

}  // namespace celer
