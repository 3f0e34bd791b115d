#include "ir/infer.hpp"

#include "ops/op.hpp"

namespace celer {

ValueType type_of(const Tensor& t) { return ValueType::tensor(t.type(), PartialShape::of(t.dims())); }

namespace {

std::string with_node(const Node& n, const std::string& msg) {
  if (msg.rfind("node '", 0) == 0) return msg;
  return n.describe() + ": " + msg;
}

// Runs a node's reference kernel on constant inputs; returns false when it cannot be folded here.
bool try_fold(Graph& g, Node& n, const std::vector<ValueType>& types, int64_t max_elements) {
  (void)g;
  if (!n.op->deterministic() || !n.op->subgraphs().empty()) return false;
  int64_t total = 0;
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    if (!n.outputs[i]) continue;
    const ValueType& t = types[i];
    if (!t.is_tensor() || !t.shape.is_static() || t.elem == ElementType::kUndefined) return false;
    Dims dims = t.shape.to_dims();
    int64_t count = element_count(dims);
    int64_t bytes = 0;
    CELER_CHECK(!__builtin_mul_overflow(count, int64_t(element_size(t.elem)), &bytes) && bytes <= kMaxTensorBytes,
                kLimitExceeded, "output '", n.outputs[i]->name, "' of shape ", dims_to_string(dims),
                " exceeds the tensor size limit of ", kMaxTensorBytes, " bytes");
    total += count;
  }
  if (total > max_elements) return false;
  std::vector<RtValue> in_values(n.inputs.size());
  std::vector<const RtValue*> in_ptrs(n.inputs.size(), nullptr);
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!n.inputs[i]) continue;
    in_values[i] = RtValue(*n.inputs[i]->constant);
    in_ptrs[i] = &in_values[i];
  }
  std::vector<RtValue> outs(n.outputs.size());
  KernelContext kctx(n, in_ptrs, &outs, &types, nullptr);
  n.op->run(kctx);
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    if (!n.outputs[i]) continue;
    if (!outs[i].is_tensor()) return false;
    n.outputs[i]->constant = std::make_shared<const Tensor>(outs[i].tensor);
    n.outputs[i]->type = type_of(outs[i].tensor);
  }
  return true;
}

}  // namespace

void infer_graph(Graph& g, const InferOptions& options) {
  for (size_t c = 0; c < g.captures.size(); ++c) (void)c;
  std::vector<Node*> folded;
  for (auto& np : g.nodes) {
    Node& n = *np;
    try {
      for (Graph* sub : n.op->subgraphs()) {
        // Captures take the (now known) types of the values they stand for.
        for (Value* cap : sub->captures) {
          for (size_t i = n.num_explicit_inputs; i < n.inputs.size(); ++i)
            if (n.inputs[i] && n.inputs[i]->name == cap->name) cap->type = n.inputs[i]->type;
        }
        if (n.op->kind() != OpKind::kIf) {
          infer_graph(*sub, options);
          continue;
        }
        // Only the branch that runs has to make sense for these shapes (a model may keep a branch for another input
        // size). With a constant condition the other branch is not inferred; otherwise a branch whose inference fails
        // is left partly unknown, and the error surfaces at run time if that branch is taken.
        const Value* cond = n.inputs.empty() ? nullptr : n.inputs[0];
        if (cond && cond->constant && cond->constant->size() == 1) {
          const bool then_taken = cond->constant->value_as_int(0) != 0;
          if ((sub == n.op->subgraphs().front()) == then_taken) infer_graph(*sub, options);
          continue;
        }
        try {
          infer_graph(*sub, options);
        } catch (const Error& e) {
          if (e.code() == ErrorCode::kLimitExceeded) throw;
        }
      }
      std::vector<const ValueType*> types;
      std::vector<const Tensor*> values;
      bool all_const = true;
      for (size_t i = 0; i < n.num_explicit_inputs; ++i) {
        Value* v = n.inputs[i];
        types.push_back(v ? &v->type : nullptr);
        values.push_back(v && v->constant ? v->constant.get() : nullptr);
        if (v && !v->constant) all_const = false;
      }
      for (size_t i = n.num_explicit_inputs; i < n.inputs.size(); ++i)
        if (n.inputs[i] && !n.inputs[i]->constant) all_const = false;
      InferContext ctx(n, std::move(types), std::move(values));
      n.op->infer(ctx);
      bool all_values = true;
      for (size_t i = 0; i < n.outputs.size(); ++i) {
        if (!n.outputs[i]) continue;
        const ValueType& t = ctx.output_types()[i];
        if (t.elem != ElementType::kUndefined || t.kind != ValueKind::kTensor || t.optional) n.outputs[i]->type = t;
        if (!ctx.output_values()[i].empty()) {
          n.outputs[i]->constant = std::make_shared<const Tensor>(ctx.output_values()[i]);
        } else {
          all_values = false;
        }
      }
      if (all_values) {
        folded.push_back(&n);
      } else if (options.fold_max_elements > 0 && all_const && try_fold(g, n, ctx.output_types(), options.fold_max_elements)) {
        folded.push_back(&n);
      }
    } catch (const Error& e) {
      throw Error(e.code(), with_node(n, e.message()));
    }
  }
  if (!folded.empty()) {
    // Folded nodes' outputs are constants now: drop the nodes.
    std::vector<std::unique_ptr<Node>> kept;
    for (auto& np : g.nodes) {
      if (std::find(folded.begin(), folded.end(), np.get()) != folded.end()) {
        for (Value* v : np->outputs)
          if (v) v->producer = nullptr;
        continue;
      }
      kept.push_back(std::move(np));
    }
    g.nodes = std::move(kept);
  }
}

}  // namespace celer
