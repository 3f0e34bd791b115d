// The CPU layout pass: activations stay in the layout oneDNN prefers on this CPU (channels-last, or channel-blocked
// nCx16c / nCx8c; chosen by asking the primitives of the graph's convolutions, or by CELER_CPU_LAYOUT) across chains
// of oneDNN convolutions and poolings and the elementwise nodes between them; explicit Reorder nodes convert at the
// boundaries of a chain. One pass decides; kernels read the decision back from the graph's structure (value_layout):
//   - a Reorder's output has its `to` layout;
//   - Conv, ConvTranspose, Pool and channel-Concat outputs, and the outputs of elementwise nodes (Unary, Clip,
//     same-shape Binary), have the layout of their input 0; a Binary whose other operand broadcasts per channel (a
//     squeeze-excitation scale, read as plain) has the layout of its full-shape operand (layout_operand); an Eltwise
//     whose binary operands all broadcast per channel (e.g. BatchNormalization + Relu) has the layout of input 0 (and
//     of the other inputs it joins, when it is a fused channel Concat + chain);
//   - everything else is plain.
// Every layout of a tensor has the same shape and byte size as the plain one (blocked layouts are only used when the
// channel count is a multiple of the block): Tensor, the memory planner and every other kernel are unchanged, and the
// pass guarantees that no node other than those above ever reads a non-plain value.
//
// BF16 inference (inference_precision = bf16 on a CPU with native bf16): the chains' values carry bf16 (their IR type
// says so: ValueType::elem = kBF16) so that convolutions read and write bf16 without a conversion pass each: the entry
// Reorders convert f32 -> bf16 and the exit Reorders bf16 -> f32 (Reorder::elem), and pooling and concat run on bf16.
// Elementwise nodes inside a chain (f32-only kernels) keep f32 values around them; a convolution reading such a value
// converts it itself, and one writing it writes f32 (see assign_bf16 below).
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/binary.hpp"
#include "ops/conv.hpp"
#include "ops/eltwise.hpp"
#include "ops/pool.hpp"

namespace celer {
namespace onednn {

namespace {
bool keeps_input_layout(OpKind k) {
  return k == OpKind::kConv || k == OpKind::kConvTranspose || k == OpKind::kPool || k == OpKind::kUnary ||
         k == OpKind::kClip || k == OpKind::kBinary || k == OpKind::kEltwise || k == OpKind::kConcat ||
         k == OpKind::kQLinearConv;  // int8 chains: int8_layout_pass.cpp
}
}  // namespace

size_t layout_operand(const Node& n) {
  if (n.op->kind() != OpKind::kBinary || n.num_explicit_inputs < 2 || !n.inputs[0] || !n.inputs[1] ||
      n.outputs.empty() || !n.outputs[0])
    return 0;
  const PartialShape& out = n.outputs[0]->type.shape;
  return n.inputs[0]->type.shape != out && n.inputs[1]->type.shape == out ? 1 : 0;
}

bool per_channel_operand(const Value* v, const PartialShape& out) {
  if (!static_shape(v) || v->type.elem != ElementType::kF32 || !out.is_static() || out.rank() < 3) return false;
  const Dims d = v->type.shape.to_dims();
  if (d.size() > size_t(out.rank())) return false;
  const size_t shift = size_t(out.rank()) - d.size();
  for (size_t i = 0; i < d.size(); ++i) {
    const size_t axis = shift + i;
    if (d[i] != 1 && !(axis <= 1 && d[i] == out[axis].value())) return false;
  }
  return true;
}

Layout value_layout(const Value* v) {
  while (v && v->producer && !v->producer->outputs.empty() && v->producer->outputs[0] == v) {
    const Node& p = *v->producer;
    if (p.op->kind() == OpKind::kReorder) return static_cast<const Reorder&>(*p.op).to;
    if (!keeps_input_layout(p.op->kind()) || p.inputs.empty()) break;
    v = p.inputs[layout_operand(p)];
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
  if (n.op->kind() == OpKind::kBinary) {  // both operands, or the one a per-channel operand broadcasts onto
    const size_t f = onednn::layout_operand(n);
    if (n.inputs[1 - f]->type.shape == n.outputs[0]->type.shape) return {0, 1};
    return {f};
  }
  std::vector<size_t> idx{0};
  if (n.op->kind() == OpKind::kConcat)
    for (size_t i = 1; i < n.num_explicit_inputs; ++i) idx.push_back(i);
  if (n.op->kind() == OpKind::kEltwise)  // the inputs it joins
    for (size_t i = 1; i < static_cast<const Eltwise&>(*n.op).chain_inputs(); ++i) idx.push_back(i);
  if (n.op->kind() == OpKind::kConv)
    for (const PostOp& p : static_cast<const Conv&>(*n.op).post_ops)
      if (p.kind != PostOp::Kind::kUnary && onednn::static_shape(n.inputs[p.input]) &&
          n.inputs[p.input]->type.shape == n.outputs[0]->type.shape)
        idx.push_back(p.input);
  return idx;
}

bool is_elementwise(const Node& n) {
  const OpKind k = n.op->kind();
  if (k != OpKind::kUnary && k != OpKind::kClip && k != OpKind::kBinary && k != OpKind::kEltwise) return false;
  if (n.outputs.size() != 1 || !n.outputs[0] || n.outputs[0]->type.elem != ElementType::kF32) return false;
  // Eltwise (e.g. an unfolded BatchNormalization + Relu): input 0 has the output's shape (or the inputs it joins have
  // it but for their channels), every binary step's operand broadcasts per channel (read as plain), and the CPU kernel
  // runs every step.
  if (k == OpKind::kEltwise) {
    const PartialShape& out = n.outputs[0]->type.shape;
    const auto& op = static_cast<const Eltwise&>(*n.op);
    if (op.steps.empty()) return false;
    for (size_t i = 0; i < op.chain_inputs(); ++i) {
      const Value* x = n.inputs[i];
      if (!x || x->constant || x->type.elem != ElementType::kF32 || !static_shape(x) || !out.is_static() ||
          x->type.shape.rank() != out.rank())
        return false;
      for (int64_t a = 0; a < out.rank(); ++a)
        if ((a != 1 || op.concat == 0) && x->type.shape[a].value() != out[a].value()) return false;
    }
    for (const EltwiseStep& s : op.steps) {
      if (s.unary ? !cpu::simd_supports(s.ufn) : !cpu::simd_supports(s.bfn)) return false;
      if (!s.unary && (s.input >= n.num_explicit_inputs || !onednn::per_channel_operand(n.inputs[s.input], out)))
        return false;
    }
    return true;
  }
  if (k == OpKind::kClip)  // min and max are scalars
    for (size_t i = 1; i < n.num_explicit_inputs; ++i)
      if (n.inputs[i] && (!static_shape(n.inputs[i]) || n.inputs[i]->type.shape.rank() != 0)) return false;
  // Binary: both operands have the output's shape and neither is a constant (a Reorder of a constant could be folded
  // into a constant whose layout the graph no longer shows); or one has it and the other (plain, any) broadcasts per
  // channel, e.g. the scale of a squeeze-excitation block (the CPU Binary kernel runs these in any layout).
  if (k == OpKind::kBinary) {
    if (n.num_explicit_inputs != 2 || !static_shape(n.inputs[0]) || !static_shape(n.inputs[1])) return false;
    const PartialShape& out = n.outputs[0]->type.shape;
    const size_t f = onednn::layout_operand(n);
    const Value* full = n.inputs[f];
    const Value* other = n.inputs[1 - f];
    if (full->constant || full->type.shape != out) return false;
    if (other->type.shape == out) return !other->constant;
    return full->type.elem == ElementType::kF32 && onednn::per_channel_operand(other, out) &&
           cpu::simd_supports(static_cast<const Binary&>(*n.op).fn);
  }
  return n.inputs[0]->type.shape == n.outputs[0]->type.shape;
}

// A node that can run with activations in `layout`, judged on its own. `runnable`: the Conv nodes oneDNN runs.
bool candidate(const Node& n, Layout layout, const std::unordered_set<const Node*>& runnable,
               const CompileOptions& options) {
  if (n.outputs.empty() || !n.outputs[0] || n.num_explicit_inputs == 0 || !n.inputs[0]) return false;
  if (!blockable(n.inputs[onednn::layout_operand(n)], layout) || !blockable(n.outputs[0], layout)) return false;
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
      return onednn::pool_supported(n, options);
    case OpKind::kConcat:  // every input in the layout too, none a constant
      if (!onednn::is_channel_concat(n)) return false;
      for (size_t i = 0; i < n.num_explicit_inputs; ++i)
        if (!blockable(n.inputs[i], layout) || n.inputs[i]->constant) return false;
      return true;
    case OpKind::kEltwise:  // f32 only: it stays out of BF16 chains; every input it joins in the layout too
      if (onednn::use_bf16(options) || !is_elementwise(n)) return false;
      for (size_t i = 1; i < static_cast<const Eltwise&>(*n.op).chain_inputs(); ++i)
        if (!blockable(n.inputs[i], layout)) return false;
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
      if (n->inputs[0]->type.shape[1].value() >= 8) ++votes[*l];  // not the stem (1-4 channels): it prefers plain input
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

// Makes the blocked values bf16 where every node touching them takes bf16: a pooling's input and output, and all inputs
// and the output of a concat, share one type (a group); values read or written by elementwise nodes stay f32. The
// Reorders at the chains' ends convert.
void assign_bf16(const std::vector<Node*>& chain_nodes, const std::vector<Node*>& reorders) {
  std::unordered_map<Value*, Value*> parent;
  std::function<Value*(Value*)> find = [&](Value* v) -> Value* {
    auto it = parent.find(v);
    if (it == parent.end() || it->second == v) return v;
    return it->second = find(it->second);
  };
  auto unite = [&](Value* a, Value* b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[a] = b;
  };
  std::unordered_set<Value*> blocked, f32;
  for (Node* n : chain_nodes) {
    blocked.insert(n->outputs[0]);
    const OpKind k = n->op->kind();
    const std::vector<size_t> ins = layout_inputs(*n);
    if (k == OpKind::kPool || k == OpKind::kConcat)
      for (size_t i : ins) unite(n->inputs[i], n->outputs[0]);
    if (k == OpKind::kUnary || k == OpKind::kClip || k == OpKind::kBinary) {
      f32.insert(n->outputs[0]);
      for (size_t i : ins) f32.insert(n->inputs[i]);
    }
  }
  for (Node* r : reorders)
    if (static_cast<const Reorder&>(*r->op).to != Layout::kPlain) blocked.insert(r->outputs[0]);
  std::unordered_set<Value*> f32_groups;
  for (Value* v : f32) f32_groups.insert(find(v));
  for (Value* v : blocked)
    if (!f32_groups.count(find(v))) v->type.elem = ElementType::kBF16;
  for (Node* r : reorders) {
    auto& op = static_cast<Reorder&>(*r->op);
    if (r->inputs[0]->type.elem != r->outputs[0]->type.elem) op.elem = r->outputs[0]->type.elem;
  }
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
  std::vector<Node*> reorders;
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
        reorders.push_back(
            g.add_node(fresh(u->name + "/to_blocked"), std::make_unique<Reorder>(Layout::kPlain, blocked), {u}, {b}));
        it = blocked_of.emplace(u, b).first;
      }
      n->inputs[i] = it->second;
    }
    // A per-channel operand of a chain Binary made in the chain: with all spatial dims 1, every layout stores it like
    // the plain one, so the Binary reads the chain's value (no Reorder). Not in BF16 chains (their values are bf16).
    if (n->op->kind() == OpKind::kBinary && layout_inputs(*n).size() == 1 && !onednn::use_bf16(options)) {
      const size_t o = 1 - onednn::layout_operand(*n);
      auto it = blocked_of.find(n->inputs[o]);
      const Dims d = n->inputs[o]->type.shape.to_dims();
      if (it != blocked_of.end() && d.size() >= 3 && element_count(d) == d[0] * d[1]) n->inputs[o] = it->second;
    }
  }
  // The plain values still read (by other nodes, subgraphs or as graph outputs) come from a Reorder.
  std::unordered_set<const Value*> read(g.outputs.begin(), g.outputs.end());
  for (auto& n : g.nodes)
    for (const Value* v : n->inputs) read.insert(v);
  for (auto& [plain, b] : twins)
    if (read.count(plain))
      reorders.push_back(g.add_node(fresh(b->producer->name + "/to_plain"),
                                    std::make_unique<Reorder>(blocked, Layout::kPlain), {b}, {plain}));
  if (onednn::use_bf16(options)) assign_bf16(order, reorders);
  g.sort();
}

}  // namespace celer
