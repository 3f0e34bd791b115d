// Multi-head attention exported in decomposed form, replaced by one Attention node (rewritten in place on the last
// MatMul):  MatMul(Softmax(MatMul(Q', Kt) [* or / scale] [+ mask], last axis), V), where Q' is Q or Q * or / scale.
// Then the Transposes that swap heads and rows (axes -3 and -2: perm (0, 2, 1, 3) or (1, 0, 2)) on Q, V and the output
// fold into the Attention node, which reads and writes those tensors "heads inner" (see ops/attention.hpp).
#include "ops/attention.hpp"
#include "ops/mat_mul.hpp"
#include "ops/softmax.hpp"
#include "ops/transpose.hpp"
#include "passes/pass.hpp"

namespace celer::passes {

namespace {

Node* inner(Rewriter& rw, const Value* v, const Node* reader) {
  Node* p = rw.producer(v);
  return p && rw.sole_reader(v) == reader ? p : nullptr;
}

bool plain_matmul(const Node* n) {
  const MatMul* m = op_as<MatMul>(n);
  if (!m || !m->post_ops.empty() || !is_f32(n->outputs[0])) return false;
  for (size_t i = 0; i < 2; ++i) {
    const PartialShape& s = n->inputs[i]->type.shape;
    if (!is_f32(n->inputs[i]) || !s.rank_known() || s.rank() < 2) return false;
  }
  return true;
}

// v == Mul(u, scalar) or Div(u, scalar) (Mul either order), read only by `reader`: sets u, mode and scale.
bool scaled(Rewriter& rw, Value* v, const Node* reader, Value** u, bool* div, float* s) {
  Node* p = inner(rw, v, reader);
  if (binary_of(p, BinaryFn::kDiv)) {
    std::optional<float> c = scalar_constant(p->inputs[1]);
    if (!c) return false;
    *u = p->inputs[0];
    *div = true;
    *s = *c;
  } else if (binary_of(p, BinaryFn::kMul)) {
    size_t ci = scalar_constant(p->inputs[1]) ? 1 : (scalar_constant(p->inputs[0]) ? 0 : 2);
    if (ci == 2) return false;
    *u = p->inputs[1 - ci];
    *div = false;
    *s = *scalar_constant(p->inputs[ci]);
  } else {
    return false;
  }
  return same_shape((*u)->type.shape, p->outputs[0]->type.shape);
}

// Scores `s` (read by `reader`) = [Mul/Div scale] <- MatMul(Q', Kt): rewrites `n` into Attention on success.
bool match_scores(Rewriter& rw, Node& n, Value* s, const Node* reader, Value* mask) {
  Attention::Scale mode = Attention::Scale::kNone;
  float scale = 1.0f;
  Value* u = nullptr;
  bool div = false;
  if (scaled(rw, s, reader, &u, &div, &scale)) {
    mode = div ? Attention::Scale::kDivScores : Attention::Scale::kMulScores;
    reader = rw.producer(s);
    s = u;
  }
  Node* qk = inner(rw, s, reader);
  if (!plain_matmul(qk)) return false;
  Value* q = qk->inputs[0];
  Value* kt = qk->inputs[1];
  if (mode == Attention::Scale::kNone && scaled(rw, q, qk, &u, &div, &scale)) {
    if (!u->type.shape.rank_known() || u->type.shape.rank() < 2) return false;
    mode = div ? Attention::Scale::kDivQ : Attention::Scale::kMulQ;
    q = u;
  }
  auto op = std::make_unique<Attention>();
  op->scale_mode = mode;
  op->scale = scale;
  Value* v = n.inputs[1];
  n.op = std::move(op);
  n.inputs = {q, kt, v};
  if (mask) n.inputs.push_back(mask);
  n.num_explicit_inputs = n.inputs.size();
  return true;
}

bool fuse_attention(Rewriter& rw, Node& n) {
  if (!plain_matmul(&n)) return false;
  Node* sm = inner(rw, n.inputs[0], &n);
  const Softmax* softmax = op_as<Softmax>(sm);
  if (!softmax || softmax->mode != SoftmaxMode::kSoftmax) return false;
  const PartialShape& ss = sm->inputs[0]->type.shape;
  if (!ss.rank_known() || ss.rank() < 2 || (softmax->axis != -1 && softmax->axis != ss.rank() - 1)) return false;
  Node* p = inner(rw, sm->inputs[0], sm);
  if (binary_of(p, BinaryFn::kAdd)) {
    for (size_t i = 0; i < 2; ++i) {
      Value* s = p->inputs[i];
      Value* mask = p->inputs[1 - i];
      if (s != mask && is_f32(mask) && broadcasts_onto(mask->type.shape, p->outputs[0]->type.shape) &&
          same_shape(s->type.shape, p->outputs[0]->type.shape) && match_scores(rw, n, s, p, mask))
        return true;
    }
  }
  return match_scores(rw, n, sm->inputs[0], sm, nullptr);
}

// Whether `perm` swaps axes -3 and -2 and keeps the others.
bool swaps_heads_rows(const std::vector<int64_t>& perm) {
  const size_t r = perm.size();
  if (r < 3) return false;
  for (size_t i = 0; i < r; ++i) {
    const size_t want = i == r - 3 ? r - 2 : (i == r - 2 ? r - 3 : i);
    if (perm[i] != int64_t(want)) return false;
  }
  return true;
}

// The input of the Transpose producing `v` when that Transpose swaps heads and rows; else nullptr.
Value* heads_rows_source(Rewriter& rw, Value* v) {
  Node* p = rw.producer(v);
  const Transpose* t = op_as<Transpose>(p);
  if (!t || !is_f32(p->inputs[0])) return nullptr;
  const PartialShape& s = p->inputs[0]->type.shape;
  if (!s.rank_known() || s.rank() < 3 || !swaps_heads_rows(t->perm_for(s.rank()))) return nullptr;
  return p->inputs[0];
}

// Attention(Transpose(q), kt, Transpose(v)) -> Attention(q, kt, v) reading q, v heads inner; Transpose(Attention(..))
// -> Attention writing heads inner. The Transposes go once nothing else reads them.
bool fold_attention_transposes(Rewriter& rw, Node& n) {
  Attention* op = op_as<Attention>(n);
  if (!op) return false;
  bool changed = false;
  if (!op->q_heads_inner)
    if (Value* src = heads_rows_source(rw, n.inputs[0])) {
      n.inputs[0] = src;
      op->q_heads_inner = changed = true;
    }
  if (!op->v_heads_inner)
    if (Value* src = heads_rows_source(rw, n.inputs[2])) {
      n.inputs[2] = src;
      op->v_heads_inner = changed = true;
    }
  Node* t = rw.sole_reader(n.outputs[0]);
  const PartialShape& ys = n.outputs[0]->type.shape;
  if (!op->y_heads_inner && op_as<Transpose>(t) && ys.rank_known() && ys.rank() >= 3 &&
      swaps_heads_rows(op_as<Transpose>(t)->perm_for(ys.rank()))) {
    op->y_heads_inner = true;
    rw.take_output(&n, t);
    changed = true;
  }
  return changed;
}

}  // namespace

void add_attention_rules(std::vector<Rule>& rules) {
  rules.push_back({"fuse_attention", fuse_attention});
  rules.push_back({"fold_attention_transposes", fold_attention_transposes});
}

}  // namespace celer::passes
