// The CPU layout pass: activations stay in the layout oneDNN prefers on this CPU (channels-last, or channel-blocked
// nCx16c / nCx8c; chosen by asking the primitives of the graph's convolutions, or by CELER_CPU_LAYOUT) across chains
// of oneDNN convolutions and poolings and the elementwise nodes between them; explicit Reorder nodes convert at the
// boundaries of a chain. One pass decides; kernels read the decision back from the graph's structure (value_layout):
//   - a Reorder's output has its `to` layout;
//   - Conv, ConvTranspose, Pool and channel-Concat outputs, and the outputs of elementwise nodes (Unary, Clip,
//     same-shape Binary), have the layout of their input 0;
//   - everything else is plain.
// Every layout of a tensor has the same shape and byte size as the plain one (blocked layouts are only used when the
// channel count is a multiple of the block): Tensor, the memory planner and every other kernel are unchanged, and the
// pass guarantees that no node other than those above ever reads a non-plain value.
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "ops/binary.hpp"
#include "ops/conv.hpp"
#include "ops/pool.hpp"

namespace celer {
namespace onednn {

namespace {
bool keeps_input_layout(OpKind k) {
  return k == OpKind::kConv || k == OpKind::kConvTranspose || k == OpKind::kPool || k == OpKind::kUnary ||
         k == OpKind::kClip || k == OpKind::kBinary || k == OpKind::kConcat;
}
}  // namespace

Layout value_layout(const Value* v) {
  while (v && v->producer && !v->producer->outputs.empty() && v->producer->outputs[0] == v) {
    const Node& p = *v->producer;
    if (p.op->kind() == OpKind::kReorder) return static_cast<const Reorder&>(*p.op).to;
    if (!keeps_input_layout(p.op->kind()) || p.inputs.empty()) break;
    v = p.inputs[0];
  }
  return Layout::kPlain;
}

std::vector<Layout> input_layouts(const Node& node) {
  std::vector<Layout> l(node.num_explicit_inputs, Layout::kPlain);
  for (size_t i = 0; i < l.size(); ++i) l[i] = value_layout(node.inputs[i]);
  return l;
}

}  // namespace onednn

namespace {

using onednn::static_shape;

// An f32 activation of static shape, rank 3 to 5, whose channels fill whole blocks of the layout.
bool blockable(const Value* v, Layout layout) {
  if (!static_shape(v) || v->type.elem != ElementType::kF32) return false;
  const PartialShape& s = v->type.shape;
  return s.rank() >= 3 && s.rank() <= 5 && s[1].value() > 0 && s[1].value() % layout_block(layout) == 0;
}

// Inputs of `n` that must share its layout when it runs blocked (others, e.g. weights, bias and per-channel post-op
// operands, stay plain).
std::vector<size_t> layout_inputs(const Node& n) {
  std::vector<size_t> idx{0};
  if (n.op->kind() == OpKind::kBinary) idx.push_back(1);
  if (n.op->kind() == OpKind::kConcat)
    for (size_t i = 1; i < n.num_explicit_inputs; ++i) idx.push_back(i);
  if (n.op->kind() == OpKind::kConv)
    for (const PostOp& p : static_cast<const Conv&>(*n.op).post_ops)
      if (p.kind != PostOp::Kind::kUnary && onednn::static_shape(n.inputs[p.input]) &&
          n.inputs[p.input]->type.shape == n.outputs[0]->type.shape)
        idx.push_back(p.input);
  return idx;
}

bool is_elementwise(const Node& n) {
  const OpKind k = n.op->kind();
  if (k != OpKind::kUnary && k != OpKind::kClip && k != OpKind::kBinary) return false;
  if (n.outputs.size() != 1 || !n.outputs[0] || n.outputs[0]->type.elem != ElementType::kF32) return false;
  if (k == OpKind::kClip)  // min and max are scalars
    for (size_t i = 1; i < n.num_explicit_inputs; ++i)
      if (n.inputs[i] && (!static_shape(n.inputs[i]) || n.inputs[i]->type.shape.rank() != 0)) return false;
  // Binary: no broadcasting, both operands have the output's shape; neither is a constant (a Reorder of a constant
  // could be folded into a constant whose layout the graph no longer shows).
  if (k == OpKind::kBinary)
    return n.num_explicit_inputs == 2 && static_shape(n.inputs[1]) && !n.inputs[0]->constant &&
           !n.inputs[1]->constant && n.inputs[0]->type.shape == n.outputs[0]->type.shape &&
           n.inputs[1]->type.shape == n.outputs[0]->type.shape;
  return n.inputs[0]->type.shape == n.outputs[0]->type.shape;
}

// A node that can run with activations in `layout`, judged on its own. `runnable`: the Conv nodes oneDNN runs.
bool candidate(const Node& n, Layout layout, const std::unordered_set<const Node*>& runnable,
               const CompileOptions& options) {
  if (n.outputs.empty() || !n.outputs[0] || n.num_explicit_inputs == 0 || !n.inputs[0]) return false;
  if (!blockable(n.inputs[0], layout) || !blockable(n.outputs[0], layout)) return false;
  switch (n.op->kind()) {
    case OpKind::kConv: {
      const auto& op = static_cast<const Conv&>(*n.op);
      if (onednn::mappable_post_ops(op.post_ops) != op.post_ops.size()) return false;
      const PartialShape& out = n.outputs[0]->type.shape;
      for (const PostOp& p : op.post_ops) {  // operands: the output's shape, or per channel
        if (p.kind == PostOp::Kind::kUnary) continue;
        const Value* v = n.inputs[p.input];
        if (!static_shape(v) || v->type.elem != ElementType::kF32) return false;
        if (v->type.shape == out && !v->constant) continue;
        const Dims d = v->type.shape.to_dims();
        const size_t c_axis = 1 + d.size() - size_t(out.rank());
        for (size_t i = 0; i < d.size(); ++i)
          if (d[i] != 1 && !(i == c_axis && d[i] == out[1].value())) return false;
      }
      return runnable.count(&n) != 0;
    }
    case OpKind::kPool:
      return make_onednn_pool(n, options) != nullptr;
    case OpKind::kConcat:  // every input in the layout too, none a constant
      if (!onednn::is_channel_concat(n)) return false;
      for (size_t i = 0; i < n.num_explicit_inputs; ++i)
        if (!blockable(n.inputs[i], layout) || n.inputs[i]->constant) return false;
      return true;
    default:
      return is_elementwise(n);
  }
}

// The layout for the graph's chains: CELER_CPU_LAYOUT (plain, nhwc, nCx8c, nCx16c) when set, else the layout most of
// its convolutions' primitives prefer on this CPU. Also collects the Conv nodes oneDNN runs.
Layout choose_layout(const Graph& g, const CompileOptions& options, std::unordered_set<const Node*>& runnable) {
  std::map<Layout, int> votes;
  for (const auto& n : g.nodes) {
    if (n->op->kind() != OpKind::kConv) continue;
    if (std::optional<Layout> l = onednn::conv_preferred_layout(*n, options)) {
      runnable.insert(n.get());
      if (n->inputs[0]->type.shape[1].value() >= 16) ++votes[*l];  // not the stem: it prefers plain input
    }
  }
  if (const char* env = std::getenv("CELER_CPU_LAYOUT")) {
    for (Layout l : {Layout::kPlain, Layout::kChannelsLast, Layout::kBlocked8, Layout::kBlocked16})
      if (std::string(env) == layout_name(l)) return l;
  }
  Layout best = Layout::kPlain;
  int most = 0;
  for (auto [l, n] : votes)
    if (n > most) {
      best = l;
      most = n;
    }
  return best;
}

}  // namespace

void run_layout_pass(Graph& g, const CompileOptions& options) {
  std::unordered_set<const Node*> runnable;
  const Layout blocked = choose_layout(g, options, runnable);
  if (blocked == Layout::kPlain) return;

  std::unordered_set<Node*> chain;
  for (auto& n : g.nodes)
    if (candidate(*n, blocked, runnable, options)) chain.insert(n.get());
  // Pooling and elementwise nodes only join a chain that reaches them (a lone one would just add reorders).
  auto in_chain = [&](const Value* v) { return v && v->producer && chain.count(v->producer) != 0; };
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& n : g.nodes) {
      if (!chain.count(n.get()) || n->op->kind() == OpKind::kConv) continue;
      bool fed = false;
      for (size_t i : layout_inputs(*n)) fed = fed || in_chain(n->inputs[i]);
      if (!fed) {
        chain.erase(n.get());
        changed = true;
      }
    }
  }
  if (chain.empty()) return;

  // Chain nodes produce a blocked value; a Reorder turns it back into the original (plain) value for everyone else.
  std::unordered_map<const Value*, Value*> blocked_of;  // plain value -> its blocked twin
  int counter = 0;
  auto fresh = [&](const std::string& base) { return base + "#" + layout_name(blocked) + std::to_string(counter++); };
  std::vector<Node*> order;
  for (auto& n : g.nodes)
    if (chain.count(n.get())) order.push_back(n.get());
  std::vector<std::pair<Value*, Value*>> twins;  // (plain, blocked) outputs of chain nodes
  for (Node* n : order) {
    Value* plain = n->outputs[0];
    Value* b = g.add_value(fresh(plain->name), plain->type);
    n->outputs[0] = b;
    b->producer = n;
    plain->producer = nullptr;
    blocked_of[plain] = b;
    twins.emplace_back(plain, b);
  }
  for (Node* n : order) {
    for (size_t i : layout_inputs(*n)) {
      Value* u = n->inputs[i];
      auto it = blocked_of.find(u);
      if (it == blocked_of.end()) {
        Value* b = g.add_value(fresh(u->name), u->type);
        g.add_node(fresh(u->name + "/to_blocked"), std::make_unique<Reorder>(Layout::kPlain, blocked), {u}, {b});
        it = blocked_of.emplace(u, b).first;
      }
      n->inputs[i] = it->second;
    }
  }
  // The plain values still read (by other nodes, subgraphs or as graph outputs) come from a Reorder.
  std::unordered_set<const Value*> read(g.outputs.begin(), g.outputs.end());
  for (auto& n : g.nodes)
    for (const Value* v : n->inputs) read.insert(v);
  for (auto& [plain, b] : twins)
    if (read.count(plain))
      g.add_node(fresh(b->producer->name + "/to_plain"), std::make_unique<Reorder>(blocked, Layout::kPlain), {b},
                 {plain});
  g.sort();
}

}  // namespace celer
