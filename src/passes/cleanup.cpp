// Cleanup rules (run on every device that runs passes, fusion on or off): Identity, inference-mode Dropout and
// zero Pad removal,
// common subexpression elimination, Transpose/Reshape pairs and no-op layout changes (Transposes of size-1 axes
// become Reshapes).
#include "ops/cast.hpp"
#include "ops/mat_mul.hpp"
#include "ops/reduce.hpp"
#include "ops/reshape.hpp"
#include "ops/softmax.hpp"
#include "ops/transpose.hpp"
#include "passes/pass.hpp"

namespace celer::passes {

namespace {

// Makes `n` (one input x, output 0 = y, other outputs unused) disappear: readers of y read x, or when y must keep its
// name (a graph output) the producer of x produces y directly.
bool bypass(Rewriter& rw, Node& n) {
  Value* x = n.inputs[0];
  Value* y = n.outputs[0];
  if (!x || !y) return false;
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (!rw.unused(n.outputs[i])) return false;
  if (rw.replace_uses(y, x)) {
    rw.erase(&n);
    return true;
  }
  Node* p = rw.producer(x);
  if (!p || rw.is_graph_output(x) || rw.uses(x).size() != 1 || x->type.kind != y->type.kind) return false;
  for (Value*& out : p->outputs)
    if (out == x) out = y;
  x->producer = nullptr;
  n.outputs[0] = nullptr;
  y->producer = p;
  rw.erase(&n);
  return true;
}

bool remove_identity(Rewriter& rw, Node& n) {
  if (n.op->kind() != OpKind::kIdentity) return false;
  return n.num_explicit_inputs == 1 && bypass(rw, n);
}

// Dropout without a training_mode input, or with a constant false one, is the identity (its mask must be unused).
bool remove_dropout(Rewriter& rw, Node& n) {
  if (n.op->kind() != OpKind::kDropout) return false;
  if (n.num_explicit_inputs >= 3 && n.inputs[2]) {
    const Value* t = n.inputs[2];
    if (!t->constant || t->constant->size() != 1 || t->constant->value_as_double(0) != 0) return false;
  }
  return bypass(rw, n);
}

// Pad by zero everywhere is the identity, whatever its mode (PyTorch exports one before DenseNet's average pools).
bool remove_zero_pad(Rewriter& rw, Node& n) {
  if (n.op->kind() != OpKind::kPad || n.num_explicit_inputs < 2 || !n.inputs[0] || !n.inputs[1] ||
      !n.inputs[1]->constant || !n.outputs[0] || n.inputs[0]->type.kind != ValueKind::kTensor ||
      n.inputs[0]->type.elem != n.outputs[0]->type.elem)
    return false;
  for (int64_t p : n.inputs[1]->constant->to_int_vector())
    if (p != 0) return false;
  return bypass(rw, n);
}

// Attribute equality for the ops CSE knows; others are never merged.
bool same_attrs(const Node& a, const Node& b) {
  if (a.op->kind() != b.op->kind()) return false;
  switch (a.op->kind()) {
    case OpKind::kUnary: {
      auto *x = op_as<Unary>(a), *y = op_as<Unary>(b);
      return x->fn == y->fn && x->alpha == y->alpha && x->beta == y->beta && x->gamma == y->gamma;
    }
    case OpKind::kBinary:
      return op_as<Binary>(a)->fn == op_as<Binary>(b)->fn;
    case OpKind::kTranspose:
      return op_as<Transpose>(a)->perm == op_as<Transpose>(b)->perm;
    case OpKind::kSoftmax: {
      auto *x = op_as<Softmax>(a), *y = op_as<Softmax>(b);
      return x->mode == y->mode && x->axis == y->axis && x->coerce_2d == y->coerce_2d;
    }
    case OpKind::kReduce: {
      auto *x = op_as<Reduce>(a), *y = op_as<Reduce>(b);
      return x->fn == y->fn && x->axes == y->axes && x->keepdims == y->keepdims &&
             x->noop_with_empty_axes == y->noop_with_empty_axes;
    }
    case OpKind::kCast: {
      auto *x = op_as<Cast>(a), *y = op_as<Cast>(b);
      return x->to == y->to && x->like == y->like;
    }
    case OpKind::kMatMul:
      return op_as<MatMul>(a)->post_ops.empty() && op_as<MatMul>(b)->post_ops.empty();
    default:
      return false;
  }
}

// Two nodes with the same op, attributes and inputs compute the same outputs: readers of one read the other's.
bool eliminate_common_subexpression(Rewriter& rw, Node& n) {
  if (n.inputs.empty() || !n.inputs[0] || !n.op->subgraphs().empty() || !n.op->deterministic()) return false;
  for (const Use& u : rw.uses(n.inputs[0])) {
    Node* m = u.node;
    if (m == &n || u.index != 0 || m->inputs != n.inputs || m->num_explicit_inputs != n.num_explicit_inputs ||
        m->outputs.size() != n.outputs.size() || !same_attrs(n, *m))
      continue;
    // Keep whichever node's outputs are graph outputs.
    Node* drop = &n;
    Node* keep = m;
    for (const Value* v : n.outputs)
      if (v && rw.is_graph_output(v)) std::swap(drop, keep);
    for (const Value* v : drop->outputs)
      if (v && rw.is_graph_output(v)) return false;
    bool ok = true;
    for (size_t i = 0; i < drop->outputs.size() && ok; ++i) {
      if (!drop->outputs[i]) continue;
      if (!keep->outputs[i]) return false;
      ok = rw.unused(drop->outputs[i]) || rw.replace_uses(drop->outputs[i], keep->outputs[i]);
    }
    if (!ok) return false;  // only the first outputs moved: the rest stay readable from `drop`, still correct
    rw.erase(drop);
    return true;
  }
  return false;
}

std::vector<int64_t> perm_of(const Transpose& t, const PartialShape& in) {
  if (!t.perm.empty()) return t.perm;
  if (!in.rank_known()) return {};
  return t.perm_for(in.rank());
}

// Transpose(Transpose(x, p1), p2) = Transpose(x, p1[p2]); the identity permutation disappears.
bool merge_transposes(Rewriter& rw, Node& n) {
  Transpose* t2 = op_as<Transpose>(n);
  if (!t2) return false;
  Value* mid = n.inputs[0];
  Node* first = rw.producer(mid);
  Transpose* t1 = op_as<Transpose>(first);
  std::vector<int64_t> p2 = perm_of(*t2, mid->type.shape);
  if (p2.empty()) return false;
  bool identity2 = true;
  for (size_t i = 0; i < p2.size(); ++i) identity2 &= p2[i] == int64_t(i);
  if (identity2) return bypass(rw, n);
  if (!t1) return false;
  std::vector<int64_t> p1 = perm_of(*t1, first->inputs[0]->type.shape);
  if (p1.size() != p2.size()) return false;
  std::vector<int64_t> c(p2.size());
  for (size_t j = 0; j < p2.size(); ++j) {
    if (p2[j] < 0 || p2[j] >= int64_t(p1.size())) return false;
    c[j] = p1[size_t(p2[j])];
  }
  n.inputs[0] = first->inputs[0];
  t2->perm = c;
  return true;
}

// A Transpose that moves only size-1 axes (the others keep their order) moves no data: it becomes a Reshape to its
// static output shape, which runs as a view ([1, L, E] <-> [L, 1, E] around torch's MultiheadAttention).
bool transpose_to_reshape(Rewriter& rw, Node& n) {
  Transpose* t = op_as<Transpose>(n);
  if (!t || n.num_explicit_inputs != 1 || !n.inputs[0] || !n.outputs[0]) return false;
  const PartialShape& in = n.inputs[0]->type.shape;
  const PartialShape& out = n.outputs[0]->type.shape;
  if (!in.is_static() || !out.is_static() || !n.outputs[0]->type.is_tensor()) return false;
  const std::vector<int64_t> perm = perm_of(*t, in);
  if (perm.size() != size_t(in.rank())) return false;
  int64_t last = -1;
  for (int64_t a : perm) {
    if (a < 0 || a >= in.rank()) return false;
    if (in[size_t(a)].value() == 1) continue;
    if (a < last) return false;
    last = a;
  }
  const Dims dims = out.to_dims();
  Value* shape =
      rw.add_constant(n.outputs[0]->name + "_shape", Tensor::from_vector<int64_t>(dims, {int64_t(dims.size())}));
  n.op = std::make_unique<Reshape>();
  n.inputs = {n.inputs[0], shape};
  n.num_explicit_inputs = 2;
  return true;
}

// Reshape(Reshape(x, s1), s2) = Reshape(x, s2) when s2 copies no dim (no 0 entry); a Reshape to the input's own
// shape disappears.
bool merge_reshapes(Rewriter& rw, Node& n) {
  if (n.op->kind() != OpKind::kReshape || n.num_explicit_inputs != 2) return false;
  Value* x = n.inputs[0];
  Value* y = n.outputs[0];
  if (x && y && x->type.shape.is_static() && same_shape(x->type.shape, y->type.shape) && !rw.is_graph_output(y))
    return bypass(rw, n);
  Node* first = rw.producer(x);
  if (!first || first->op->kind() != OpKind::kReshape || !n.inputs[1] || !n.inputs[1]->constant) return false;
  for (int64_t d : n.inputs[1]->constant->to_int_vector())
    if (d == 0) return false;
  n.inputs[0] = first->inputs[0];
  return true;
}

}  // namespace

void add_cleanup_rules(std::vector<Rule>& rules) {
  rules.push_back({"remove_identity", remove_identity});
  rules.push_back({"remove_dropout", remove_dropout});
  rules.push_back({"remove_zero_pad", remove_zero_pad});
  rules.push_back({"merge_transposes", merge_transposes});
  rules.push_back({"transpose_to_reshape", transpose_to_reshape});
  rules.push_back({"merge_reshapes", merge_reshapes});
  rules.push_back({"eliminate_common_subexpression", eliminate_common_subexpression});
}

}  // namespace celer::passes
