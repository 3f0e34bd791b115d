// LayerNorm exported in decomposed form (opsets before 17), replaced by one LayerNormalization node:
//   D = X - ReduceMean(X, trailing axes); V = ReduceMean(Pow(D, 2) or D * D, same axes);
//   Y = D / Sqrt(V + eps) * gamma + beta   (gamma and beta optional, either operand order)
// The node is rewritten in place on the last node of the pattern.
#include "ops/layer_normalization.hpp"
#include "ops/reduce.hpp"
#include "passes/pass.hpp"

namespace celer::passes {

namespace {

Node* inner(Rewriter& rw, const Value* v, const Node* reader) {
  Node* p = rw.producer(v);
  return p && rw.sole_reader(v) == reader ? p : nullptr;
}

// The first reduced axis of a ReduceMean with keepdims over trailing contiguous axes of its input; -1 otherwise.
int64_t trailing_mean_axis(const Node* n) {
  const Reduce* r = op_as<Reduce>(n);
  if (!r || r->fn != ReduceFn::kMean || !r->keepdims) return -1;
  const PartialShape& s = n->inputs[0]->type.shape;
  if (!s.rank_known() || s.rank() == 0) return -1;
  const Tensor* axes_input = nullptr;
  if (n->num_explicit_inputs > 1 && n->inputs[1]) {
    if (!n->inputs[1]->constant) return -1;
    axes_input = n->inputs[1]->constant.get();
  }
  std::vector<int64_t> axes;
  try {
    axes = r->resolve_axes(s.rank(), axes_input);
  } catch (const Error&) {
    return -1;
  }
  if (axes.empty()) return -1;
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != s.rank() - int64_t(axes.size()) + int64_t(i)) return -1;
  return axes[0];
}

// Y = D / Sqrt(V + eps) with the pattern above: returns X and sets axis/eps.
Value* match_normalize(Rewriter& rw, Node* div, int64_t* axis, float* eps) {
  if (!binary_of(div, BinaryFn::kDiv)) return nullptr;
  Value* d = div->inputs[0];
  Node* sub = rw.producer(d);
  if (!binary_of(sub, BinaryFn::kSub) || rw.is_graph_output(d) || rw.uses(d).size() != 2) return nullptr;
  Value* x = sub->inputs[0];
  Node* mean = inner(rw, sub->inputs[1], sub);
  if (!mean || mean->inputs[0] != x) return nullptr;
  const int64_t a = trailing_mean_axis(mean);
  if (a < 0) return nullptr;
  Node* sqrt = inner(rw, div->inputs[1], div);
  if (!unary_of(sqrt, UnaryFn::kSqrt)) return nullptr;
  Node* add = inner(rw, sqrt->inputs[0], sqrt);
  if (!binary_of(add, BinaryFn::kAdd)) return nullptr;
  for (size_t i = 0; i < 2; ++i) {
    std::optional<float> e = scalar_constant(add->inputs[1 - i]);
    Node* var = inner(rw, add->inputs[i], add);
    if (!e || trailing_mean_axis(var) != a) continue;
    Node* sq = inner(rw, var->inputs[0], var);
    const bool square =
        (binary_of(sq, BinaryFn::kPow) && sq->inputs[0] == d && scalar_constant(sq->inputs[1]) == 2.0f) ||
        (binary_of(sq, BinaryFn::kMul) && sq->inputs[0] == d && sq->inputs[1] == d);
    if (!square) continue;
    // D's two readers are the square and the Div.
    for (const Use& u : rw.uses(d))
      if (u.node != sq && u.node != div) return nullptr;
    if (!same_shape(x->type.shape, div->outputs[0]->type.shape)) return nullptr;
    *axis = a;
    *eps = *e;
    return x;
  }
  return nullptr;
}

// The operand of a Mul/Add node `n` other than `v`, when it is a constant broadcasting onto the normalized shape.
Value* affine_operand(const Node* n, const Value* v, const PartialShape& xs, int64_t axis) {
  Value* o = other_input(n, v);
  if (!o || !o->constant || o->constant->type() != ElementType::kF32) return nullptr;
  PartialShape norm(std::vector<Dim>(xs.dims().begin() + axis, xs.dims().end()));
  return broadcasts_onto(o->type.shape, norm) ? o : nullptr;
}

bool recognize_layer_norm(Rewriter& rw, Node& n) {
  if (!is_f32(n.outputs[0])) return false;
  // Walk up from n: [Add beta] <- [Mul gamma] <- Div.
  Node* div = &n;
  Node* mul = nullptr;
  Node* add = nullptr;
  if (binary_of(&n, BinaryFn::kAdd)) {
    add = &n;
    for (size_t i = 0; i < 2 && !mul; ++i) {
      Node* p = inner(rw, n.inputs[i], &n);
      if (binary_of(p, BinaryFn::kMul)) mul = p;
    }
    if (!mul) return false;
  } else if (binary_of(&n, BinaryFn::kMul)) {
    mul = &n;
  }
  if (mul) {
    div = nullptr;
    for (size_t i = 0; i < 2 && !div; ++i) {
      Node* p = inner(rw, mul->inputs[i], mul);
      if (binary_of(p, BinaryFn::kDiv)) div = p;
    }
    if (!div) return false;
  }
  int64_t axis = -1;
  float eps = 0;
  Value* x = match_normalize(rw, div, &axis, &eps);
  if (!x) return false;
  const PartialShape& xs = x->type.shape;
  Value* gamma = mul ? affine_operand(mul, div->outputs[0], xs, axis) : nullptr;
  Value* beta = add ? affine_operand(add, mul->outputs[0], xs, axis) : nullptr;
  if ((mul && !gamma) || (add && !beta)) return false;
  // Leave the match to the affine node that follows, when there is one.
  if (Node* next = add ? nullptr : rw.sole_reader(n.outputs[0])) {
    if (!mul && binary_of(next, BinaryFn::kMul) && affine_operand(next, n.outputs[0], xs, axis)) return false;
    if (mul && binary_of(next, BinaryFn::kAdd) && affine_operand(next, n.outputs[0], xs, axis)) return false;
  }
  if (!gamma) {
    Tensor ones(ElementType::kF32, {1});
    ones.data<float>()[0] = 1.0f;
    gamma = rw.add_constant(n.name + "/scale", std::move(ones));
  }
  auto op = std::make_unique<LayerNormalization>();
  op->axis = axis;
  op->epsilon = eps;
  n.op = std::move(op);
  n.inputs = {x, gamma};
  if (beta) n.inputs.push_back(beta);
  n.num_explicit_inputs = n.inputs.size();
  return true;
}

}  // namespace

void add_layer_norm_rules(std::vector<Rule>& rules) { rules.push_back({"recognize_layer_norm", recognize_layer_norm}); }

}  // namespace celer::passes
