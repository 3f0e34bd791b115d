// Activations exported in decomposed form, recognised and replaced by one Unary node (rewritten in place on the last
// node of the pattern, so its output keeps its name):
//   GELU (erf):  x * 0.5 * (1 + erf(x / sqrt2)), any grouping of the three factors, x * (1/sqrt2) also accepted
//   GELU (tanh): x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), x^3 as Pow(x, 3) or x * x * x
//   SiLU:        x * Sigmoid(x)
//   HardSwish:   x * HardSigmoid(x) (alpha 1/6, beta 0.5), and x * Clip(x + 3, 0, 6) / 6
#include <cmath>

#include "ops/clip.hpp"
#include "passes/pass.hpp"

namespace celer::passes {

namespace {

bool near(std::optional<float> v, double want, double tol = 1e-4) {
  return v && std::fabs(double(*v) - want) <= tol * std::max(1.0, std::fabs(want));
}

// The value v produced by a node only the pattern reads (its sole reader is inside the pattern).
Node* inner(Rewriter& rw, const Value* v, const Node* reader) {
  Node* p = rw.producer(v);
  return p && rw.sole_reader(v) == reader ? p : nullptr;
}

// Leaves of a product tree of Mul nodes rooted at `root` (inner Mul nodes must be read only inside the tree).
void product_leaves(Rewriter& rw, Node* mul, std::vector<Value*>& leaves, int depth) {
  for (size_t i = 0; i < 2; ++i) {
    Value* v = mul->inputs[i];
    Node* p = inner(rw, v, mul);
    if (depth < 3 && binary_of(p, BinaryFn::kMul))
      product_leaves(rw, p, leaves, depth + 1);
    else
      leaves.push_back(v);
  }
}

// z == x / sqrt2 or x * (1/sqrt2) (or (1/sqrt2) * x).
bool is_x_over_sqrt2(Rewriter& rw, Value* z, Value* x, const Node* reader) {
  Node* p = inner(rw, z, reader);
  if (binary_of(p, BinaryFn::kDiv)) return p->inputs[0] == x && near(scalar_constant(p->inputs[1]), std::sqrt(2.0));
  if (binary_of(p, BinaryFn::kMul))
    return other_input(p, x) && near(scalar_constant(other_input(p, x)), std::sqrt(0.5));
  return false;
}

// x^3 as Pow(x, 3), x * (x * x) or (x * x) * x.
bool is_cube(Rewriter& rw, Value* v, Value* x, const Node* reader) {
  Node* p = inner(rw, v, reader);
  if (binary_of(p, BinaryFn::kPow)) return p->inputs[0] == x && near(scalar_constant(p->inputs[1]), 3.0, 0);
  if (!binary_of(p, BinaryFn::kMul)) return false;
  std::vector<Value*> leaves;
  product_leaves(rw, p, leaves, 1);
  return leaves.size() == 3 && leaves[0] == x && leaves[1] == x && leaves[2] == x;
}

// `t` == 1 + erf(x / sqrt2) (tanh_form false) or 1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)) (tanh_form true).
bool is_gelu_term(Rewriter& rw, Value* t, Value* x, const Node* reader, bool tanh_form) {
  Node* add = inner(rw, t, reader);
  if (!binary_of(add, BinaryFn::kAdd)) return false;
  Value* f = nullptr;
  for (size_t i = 0; i < 2; ++i)
    if (near(scalar_constant(add->inputs[1 - i]), 1.0, 0)) f = add->inputs[i];
  Node* fn = f ? inner(rw, f, add) : nullptr;
  if (!tanh_form) return unary_of(fn, UnaryFn::kErf) && is_x_over_sqrt2(rw, fn->inputs[0], x, fn);
  if (!unary_of(fn, UnaryFn::kTanh)) return false;
  Node* scaled = inner(rw, fn->inputs[0], fn);
  if (!binary_of(scaled, BinaryFn::kMul)) return false;
  for (size_t i = 0; i < 2; ++i) {
    if (!near(scalar_constant(scaled->inputs[i]), std::sqrt(2.0 / M_PI))) continue;
    Node* sum = inner(rw, scaled->inputs[1 - i], scaled);
    Value* cubic = binary_of(sum, BinaryFn::kAdd) ? other_input(sum, x) : nullptr;
    Node* m = cubic ? inner(rw, cubic, sum) : nullptr;
    if (!binary_of(m, BinaryFn::kMul)) return false;
    for (size_t j = 0; j < 2; ++j)
      if (near(scalar_constant(m->inputs[j]), 0.044715) && is_cube(rw, m->inputs[1 - j], x, m)) return true;
  }
  return false;
}

void become_unary(Node& n, Value* x, UnaryFn fn, float alpha = 0, float beta = 0) {
  n.op = std::make_unique<Unary>(fn, alpha, beta);
  n.inputs = {x};
  n.num_explicit_inputs = 1;
}

bool recognize_gelu(Rewriter& rw, Node& n) {
  if (!binary_of(&n, BinaryFn::kMul) || !is_f32(n.outputs[0])) return false;
  std::vector<Value*> leaves;
  product_leaves(rw, &n, leaves, 1);
  if (leaves.size() != 3) return false;
  for (size_t half = 0; half < 3; ++half) {
    if (!near(scalar_constant(leaves[half]), 0.5, 0)) continue;
    for (size_t xi = 0; xi < 3; ++xi) {
      if (xi == half) continue;
      Value* x = leaves[xi];
      Value* term = leaves[3 - half - xi];
      if (!same_shape(x->type.shape, n.outputs[0]->type.shape)) continue;
      // The term's reader is the Mul node it feeds (n or an inner Mul of the tree).
      const auto& u = rw.uses(term);
      if (u.size() != 1 || rw.is_graph_output(term)) continue;
      for (int tanh_form = 0; tanh_form < 2; ++tanh_form) {
        if (is_gelu_term(rw, term, x, u[0].node, tanh_form != 0)) {
          become_unary(n, x, UnaryFn::kGelu, float(tanh_form));
          return true;
        }
      }
    }
  }
  return false;
}

// x * Sigmoid(x) -> Silu(x); x * HardSigmoid(x) with alpha 1/6, beta 1/2 -> HardSwish(x).
bool recognize_silu_hardswish(Rewriter& rw, Node& n) {
  if (!binary_of(&n, BinaryFn::kMul) || !is_f32(n.outputs[0])) return false;
  for (size_t i = 0; i < 2; ++i) {
    Value* x = n.inputs[1 - i];
    Node* g = inner(rw, n.inputs[i], &n);
    if (!g || g->inputs.empty() || g->inputs[0] != x) continue;
    if (unary_of(g, UnaryFn::kSigmoid)) {
      become_unary(n, x, UnaryFn::kSilu);
      return true;
    }
    Unary* hs = unary_of(g, UnaryFn::kHardSigmoid);
    if (hs && near(hs->alpha, 1.0 / 6.0, 1e-6) && hs->beta == 0.5f) {
      become_unary(n, x, UnaryFn::kHardSwish, hs->alpha, hs->beta);
      return true;
    }
  }
  return false;
}

// x * Clip(x + 3, 0, 6) / 6 (the Mul may also be Clip(...) * x) -> HardSwish(x).
bool recognize_hardswish_clip(Rewriter& rw, Node& n) {
  if (!binary_of(&n, BinaryFn::kDiv) || !is_f32(n.outputs[0]) || !near(scalar_constant(n.inputs[1]), 6.0, 0))
    return false;
  Node* mul = inner(rw, n.inputs[0], &n);
  if (!binary_of(mul, BinaryFn::kMul)) return false;
  for (size_t i = 0; i < 2; ++i) {
    Value* x = mul->inputs[1 - i];
    Node* clip = inner(rw, mul->inputs[i], mul);
    Clip* c = op_as<Clip>(clip);
    if (!c) continue;
    std::optional<float> lo = c->min_attr, hi = c->max_attr;
    if (clip->num_explicit_inputs > 1 && clip->inputs[1]) lo = scalar_constant(clip->inputs[1]);
    if (clip->num_explicit_inputs > 2 && clip->inputs[2]) hi = scalar_constant(clip->inputs[2]);
    if (!near(lo, 0.0, 0) || !near(hi, 6.0, 0)) continue;
    Node* add = inner(rw, clip->inputs[0], clip);
    if (!binary_of(add, BinaryFn::kAdd) || !other_input(add, x) || !near(scalar_constant(other_input(add, x)), 3.0, 0))
      continue;
    if (!same_shape(x->type.shape, n.outputs[0]->type.shape)) continue;
    become_unary(n, x, UnaryFn::kHardSwish, 1.0f / 6.0f, 0.5f);
    return true;
  }
  return false;
}

}  // namespace

void add_activation_pattern_rules(std::vector<Rule>& rules) {
  rules.push_back({"recognize_gelu", recognize_gelu});
  rules.push_back({"recognize_silu_hardswish", recognize_silu_hardswish});
  rules.push_back({"recognize_hardswish_clip", recognize_hardswish_clip});
}

}  // namespace celer::passes
