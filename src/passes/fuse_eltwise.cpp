// Elementwise chains (f32): a Unary or Binary node followed by more of them on the same shape (each reading the
// previous result once) becomes one Eltwise node computing all steps in one pass over memory. An inference-mode
// BatchNormalization with constant statistics that no Conv/Gemm absorbed becomes an Eltwise (Mul, Add per channel) so
// that the activation after it joins the same pass. A channel Concat read only by such a chain joins it too.
#include <cmath>

#include "ops/batch_normalization.hpp"
#include "ops/concat.hpp"
#include "ops/eltwise.hpp"
#include "passes/pass.hpp"

namespace celer::passes {

namespace {

bool float_unary(const Node* n) {
  const Unary* u = op_as<Unary>(n);
  if (!u) return false;
  switch (u->fn) {
    case UnaryFn::kIsInf:
    case UnaryFn::kIsNaN:
    case UnaryFn::kNot:
      return false;
    default:
      return true;
  }
}

EltwiseStep unary_step(const Unary& u) {
  EltwiseStep s;
  s.ufn = u.fn;
  s.alpha = u.alpha;
  s.beta = u.beta;
  s.gamma = u.gamma;
  return s;
}

// For a Binary node reading `x` (the chain) and another operand that broadcasts onto x: the operand's index.
std::optional<size_t> operand_index(const Node* n, const Value* x) {
  const Binary* b = op_as<Binary>(n);
  if (!b || !eltwise_supports(b->fn) || n->num_explicit_inputs != 2) return std::nullopt;
  for (size_t i = 0; i < 2; ++i) {
    const Value* o = n->inputs[1 - i];
    if (n->inputs[i] == x && o != x && is_f32(o) && broadcasts_onto(o->type.shape, x->type.shape) &&
        same_shape(n->outputs[0]->type.shape, x->type.shape))
      return 1 - i;
  }
  return std::nullopt;
}

// Turns a Unary or Binary node into an equivalent one-step Eltwise (in place).
bool to_eltwise(Node& n) {
  auto op = std::make_unique<Eltwise>();
  if (float_unary(&n)) {
    op->steps.push_back(unary_step(*op_as<Unary>(n)));
    n.inputs.resize(1);
  } else {
    // The full-size input is the chain input x; the other is the step's operand.
    std::optional<size_t> oi;
    for (size_t i = 0; i < 2 && !oi; ++i) oi = operand_index(&n, n.inputs[i]);
    if (!oi) return false;
    EltwiseStep s;
    s.unary = false;
    s.bfn = op_as<Binary>(n)->fn;
    s.input = 1;
    s.operand_first = *oi == 0;
    Value* x = n.inputs[1 - *oi];
    Value* o = n.inputs[*oi];
    n.inputs = {x, o};
    op->steps.push_back(s);
  }
  n.num_explicit_inputs = n.inputs.size();
  n.op = std::move(op);
  return true;
}

bool fuse_eltwise_chain(Rewriter& rw, Node& n) {
  if (n.outputs.size() != 1 || n.inputs.empty() || !is_f32(n.outputs[0]) || !is_f32(n.inputs[0])) return false;
  const bool head_ok = op_as<Eltwise>(n) || float_unary(&n) ||
                       (op_as<Binary>(n) && (operand_index(&n, n.inputs[0]) || operand_index(&n, n.inputs[1])));
  if (!head_ok) return false;
  Value* y = n.outputs[0];
  Node* next = rw.sole_reader(y);
  if (!next || next->outputs.size() != 1 || !same_shape(next->outputs[0]->type.shape, y->type.shape)) return false;
  std::optional<size_t> oi;
  if (!float_unary(next) && !(oi = operand_index(next, y))) return false;
  if (float_unary(next) && next->inputs[0] != y) return false;
  if (!op_as<Eltwise>(n) && !to_eltwise(n)) return false;
  Eltwise* e = op_as<Eltwise>(n);
  if (float_unary(next)) {
    e->steps.push_back(unary_step(*op_as<Unary>(next)));
  } else {
    EltwiseStep s;
    s.unary = false;
    s.bfn = op_as<Binary>(next)->fn;
    s.input = rw.add_operand(&n, next->inputs[*oi], 1);
    s.operand_first = *oi == 0;
    e->steps.push_back(s);
  }
  rw.take_output(&n, next);
  return true;
}

// BatchNormalization (inference, constant statistics, f32, rank >= 2 with known rank) -> Eltwise(x * a + b) with a and
// b of shape [C, 1, ...] broadcasting over axis 1. Only when an elementwise node follows (else nothing is gained).
bool batch_norm_to_eltwise(Rewriter& rw, Node& n) {
  BatchNormalization* bn = op_as<BatchNormalization>(n);
  if (!bn || bn->training || !is_f32(n.outputs[0])) return false;
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (!rw.unused(n.outputs[i])) return false;
  const PartialShape& xs = n.inputs[0]->type.shape;
  if (!xs.rank_known() || xs.rank() < 2 || !xs[1].is_static()) return false;
  Node* next = rw.sole_reader(n.outputs[0]);
  if (!float_unary(next)) return false;
  const int64_t C = xs[1].value();
  for (size_t i = 1; i < 5; ++i) {
    const Value* v = i < n.num_explicit_inputs ? n.inputs[i] : nullptr;
    if (!v || !v->constant || !is_float(v->constant->type()) || v->constant->size() != C) return false;
  }
  Dims dims(static_cast<size_t>(xs.rank() - 1), 1);
  dims[0] = C;
  Tensor a(ElementType::kF32, dims), b(ElementType::kF32, dims);
  for (int64_t c = 0; c < C; ++c) {
    auto val = [&](size_t i) { return n.inputs[i]->constant->value_as_double(c); };
    const double s = val(1) / std::sqrt(val(4) + double(bn->epsilon));
    a.data<float>()[c] = float(s);
    b.data<float>()[c] = float(val(2) - val(3) * s);
  }
  auto op = std::make_unique<Eltwise>();
  EltwiseStep mul, add;
  mul.unary = add.unary = false;
  mul.bfn = BinaryFn::kMul;
  mul.input = 1;
  add.bfn = BinaryFn::kAdd;
  add.input = 2;
  op->steps = {mul, add};
  Value* x = n.inputs[0];
  n.inputs = {x, rw.add_constant(n.name + "/scale", std::move(a)), rw.add_constant(n.name + "/shift", std::move(b))};
  n.num_explicit_inputs = 3;
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i]) n.outputs[i]->producer = nullptr;
  n.outputs.resize(1);
  n.op = std::move(op);
  return true;
}

// Concat along axis 1 (two or more f32 inputs of known rank >= 3) whose only reader is an Eltwise chain, as its input 0
// and not as a step operand -> the chain joins the inputs itself (Eltwise::concat) and the joined tensor is never
// written: one pass over memory instead of two. DenseNet joins all earlier feature maps before every
// BatchNormalization -> Relu of a layer.
bool fuse_concat_into_eltwise(Rewriter& rw, Node& n) {
  const Concat* c = op_as<Concat>(n);
  if (!c || n.num_explicit_inputs < 2 || !is_f32(n.outputs[0])) return false;
  const PartialShape& ys = n.outputs[0]->type.shape;
  if (!ys.rank_known() || ys.rank() < 3 || (c->axis != 1 && c->axis != 1 - ys.rank())) return false;
  Node* e = rw.sole_reader(n.outputs[0]);
  Eltwise* chain = op_as<Eltwise>(e);
  if (!chain || chain->concat != 0 || e->inputs[0] != n.outputs[0] || e->outputs.size() != 1) return false;
  for (size_t i = 1; i < e->inputs.size(); ++i)
    if (e->inputs[i] == n.outputs[0]) return false;
  for (size_t i = 0; i < n.num_explicit_inputs; ++i)
    if (!n.inputs[i] || !is_f32(n.inputs[i])) return false;
  // The joined inputs come first; the chain's other inputs (step operands, from 1) move up behind them.
  const size_t k = n.num_explicit_inputs;
  std::vector<Value*> inputs(n.inputs.begin(), n.inputs.begin() + std::ptrdiff_t(k));
  inputs.insert(inputs.end(), e->inputs.begin() + 1, e->inputs.end());
  for (EltwiseStep& s : chain->steps)
    if (!s.unary) s.input += k - 1;
  chain->concat = int64_t(k);
  e->inputs = std::move(inputs);
  e->num_explicit_inputs += k - 1;
  rw.erase(&n);
  return true;
}

}  // namespace

void add_eltwise_rules(std::vector<Rule>& rules) {
  rules.push_back({"batch_norm_to_eltwise", batch_norm_to_eltwise});
  rules.push_back({"fuse_eltwise_chain", fuse_eltwise_chain});
  rules.push_back({"fuse_concat_into_eltwise", fuse_concat_into_eltwise});
}

}  // namespace celer::passes
