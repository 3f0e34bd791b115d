// The CPU int8 layout pass: int8 activations stay channels-last (nhwc, the layout oneDNN's int8 convolutions read and
// write) across chains of int8 convolutions (QLinearConv run by onednn_qconv.cpp) and the u8/s8 max poolings between
// them; Reorder nodes convert at the chains' boundaries. It follows the f32 layout pass's conventions
// (layout_pass.cpp): a chain node's output keeps the layout of its input 0 (value_layout), and no node outside a chain
// ever reads a channels-last value. Full-shape int8 operands of fused residual Adds are read channels-last too.
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "devices/cpu/onednn_int8.hpp"
#include "ops/pool.hpp"
#include "ops/q_linear_conv.hpp"
#include "ops/quant_util.hpp"

namespace celer {
namespace {

using onednn::static_shape;

bool int8_activation(const Value* v) {
  return static_shape(v) && quant::is_q8(v->type.elem) && v->type.shape.rank() >= 3 && v->type.shape.rank() <= 5;
}

// Inputs of a chain node read in the chain's layout.
std::vector<size_t> chain_inputs(const Node& n) {
  std::vector<size_t> idx{0};
  if (const QLinearConv* c = dynamic_cast<const QLinearConv*>(n.op.get()))
    for (const PostOp& p : c->post_ops)
      if (p.kind != PostOp::Kind::kUnary && int8_activation(n.inputs[p.input]) &&
          n.inputs[p.input]->type.shape == n.outputs[0]->type.shape)
        idx.push_back(p.input);
  return idx;
}

}  // namespace

void run_int8_layout_pass(Graph& g, const CompileOptions& options) {
  if (const char* env = std::getenv("CELER_CPU_LAYOUT"); env && std::string(env) == "plain") return;
  CompileOptions probe = options;
  probe.packed.reset();  // poolings made here only to see that they can run; nothing is recorded
  std::unordered_set<Node*> chain;
  for (auto& n : g.nodes) {
    if (n->outputs.empty() || !n->outputs[0] || n->num_explicit_inputs == 0) continue;
    if (!int8_activation(n->inputs[0])) continue;
    if (n->op->kind() == OpKind::kQLinearConv) {
      if (onednn::qconv_runnable(*n, options)) chain.insert(n.get());
    } else if (const Pool* p = dynamic_cast<const Pool*>(n->op.get())) {
      if (p->fn == PoolFn::kMax && int8_activation(n->outputs[0]) && make_onednn_pool(*n, probe)) chain.insert(n.get());
    }
  }
  // Poolings only join a chain that reaches them.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& n : g.nodes) {
      if (!chain.count(n.get()) || n->op->kind() != OpKind::kPool) continue;
      const Value* in = n->inputs[0];
      if (!in->producer || !chain.count(in->producer)) {
        chain.erase(n.get());
        changed = true;
      }
    }
  }
  if (chain.empty()) return;
  const Layout nhwc = Layout::kChannelsLast;
  int counter = 0;
  auto fresh = [&](const std::string& base) { return base + "#i8nhwc" + std::to_string(counter++); };
  std::vector<Node*> order;
  for (auto& n : g.nodes)
    if (chain.count(n.get())) order.push_back(n.get());
  std::unordered_map<const Value*, Value*> twin_of;  // plain value -> its channels-last twin
  std::vector<std::pair<Value*, Value*>> twins;
  for (Node* n : order) {
    Value* plain = n->outputs[0];
    Value* t = g.add_value(fresh(plain->name), plain->type);
    n->outputs[0] = t;
    t->producer = n;
    plain->producer = nullptr;
    twin_of[plain] = t;
    twins.emplace_back(plain, t);
  }
  for (Node* n : order)
    for (size_t i : chain_inputs(*n)) {
      Value* u = n->inputs[i];
      auto it = twin_of.find(u);
      if (it == twin_of.end()) {
        Value* t = g.add_value(fresh(u->name), u->type);
        g.add_node(fresh(u->name + "/to_nhwc"), std::make_unique<Reorder>(Layout::kPlain, nhwc), {u}, {t});
        it = twin_of.emplace(u, t).first;
      }
      n->inputs[i] = it->second;
    }
  std::unordered_set<const Value*> read(g.outputs.begin(), g.outputs.end());
  for (auto& n : g.nodes)
    for (const Value* v : n->inputs) read.insert(v);
  for (auto& [plain, t] : twins)
    if (read.count(plain))
      g.add_node(fresh(t->producer->name + "/to_plain"), std::make_unique<Reorder>(nhwc, Layout::kPlain), {t}, {plain});
  g.sort();
}

}  // namespace celer
