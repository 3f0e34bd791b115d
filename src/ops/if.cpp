// If: runs then_branch or else_branch depending on a boolean scalar 'cond'; the node's outputs are the branch's.
// The branches may give outputs of different shapes: inference keeps what they agree on.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"

namespace celer {

class If final : public Op {
 public:
  std::shared_ptr<Graph> then_branch, else_branch;

  OpKind kind() const override { return OpKind::kIf; }
  const char* type_name() const override { return "If"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("then_branch", then_branch);
    v.on("else_branch", else_branch);
  }
  std::vector<Graph*> subgraphs() const override { return {then_branch.get(), else_branch.get()}; }
  std::unique_ptr<Op> clone(const CloneContext& ctx) const override {
    auto op = std::make_unique<If>();
    op->then_branch = then_branch->clone(ctx.values, ctx.graph);
    op->else_branch = else_branch->clone(ctx.values, ctx.graph);
    return op;
  }

  void infer(InferContext& ctx) const override {
    const ValueType& c = ctx.input_type(0);
    CELER_CHECK(c.elem == ElementType::kBool || c.elem == ElementType::kUndefined, kInvalidModel,
                "input 0 'cond' must be bool, got ", element_type_name(c.elem));
    if (c.shape.rank_known()) {
      for (const Dim& d : c.shape.dims())
        CELER_CHECK(!d.is_static() || d.value() == 1, kInvalidModel, "input 0 'cond' must hold one element, got shape ",
                    c.shape.to_string());
    }
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      if (!ctx.has_output(i)) continue;
      const ValueType& a = then_branch->outputs[i]->type;
      const ValueType& b = else_branch->outputs[i]->type;
      ValueType t = seq::merge_types(a, b);
      if (const Tensor* cv = ctx.input_value(0); cv && cv->size() == 1) t = cv->value_as_int(0) ? a : b;
      ctx.set_output(i, t);
    }
  }

  void run(KernelContext& ctx) const override {
    const Tensor& c = ctx.input(0);
    CELER_CHECK(c.size() == 1, kInvalidArgument, "input 0 'cond' must hold one element, got shape ",
                dims_to_string(c.dims()));
    const Graph& g = c.value_as_int(0) != 0 ? *then_branch : *else_branch;
    std::vector<RtValue> outs = ctx.run_subgraph(g, {});
    for (size_t i = 0; i < ctx.num_outputs() && i < outs.size(); ++i)
      if (ctx.has_output(i)) ctx.set_output(i, std::move(outs[i]));
  }
};

namespace {
void import_if(OnnxNode& n) {
  auto op = std::make_unique<If>();
  op->then_branch = n.attr_graph("then_branch");
  op->else_branch = n.attr_graph("else_branch");
  const size_t nt = op->then_branch->outputs.size(), ne = op->else_branch->outputs.size();
  if (nt != ne) n.fail("then_branch has ", nt, " outputs and else_branch has ", ne, " (they must match)");
  if (n.num_outputs() != nt) n.fail("the node has ", n.num_outputs(), " outputs, its branches ", nt);
  if (!op->then_branch->inputs.empty() || !op->else_branch->inputs.empty()) n.fail("the branches must not have inputs");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_If() { return std::make_unique<If>(); }

void register_op_If(OpRegistry& r) { r.add_onnx("If", 1, kMaxOpset, import_if); }

}  // namespace celer
