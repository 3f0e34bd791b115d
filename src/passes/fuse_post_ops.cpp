// Post-op rules: what follows a Conv, MatMul or Gemm (f32) moves onto it, mapping one-to-one onto oneDNN post-ops:
// a constant per-channel Add into the Conv bias, an activation into a unary post-op, an Add or Mul with an operand that
// broadcasts onto the output (residual connection, MatMul bias) into a kAdd/kMul post-op. The head's output must have
// one reader.
#include <limits>

#include "ops/clip.hpp"
#include "ops/conv.hpp"
#include "ops/gemm.hpp"
#include "ops/mat_mul.hpp"
#include "passes/pass.hpp"

namespace celer::passes {

namespace {

struct Head {
  PostOps* post_ops = nullptr;
  size_t first_operand = 0;  // index of the first post-op operand input
};

Head head_of(Node& n) {
  if (n.outputs.empty() || !is_f32(n.outputs[0])) return {};
  if (Conv* c = op_as<Conv>(n)) return {&c->post_ops, 3};
  if (Gemm* g = op_as<Gemm>(n)) return {&g->post_ops, 3};
  if (MatMul* m = op_as<MatMul>(n)) return {&m->post_ops, 2};
  return {};
}

// Conv + Add(constant of shape [M] aligned to axis 1, e.g. [1, M, 1, 1]) -> the Conv's bias.
bool fuse_conv_bias_add(Rewriter& rw, Node& n) {
  Conv* conv = op_as<Conv>(n);
  if (!conv || !conv->post_ops.empty() || !is_f32(n.outputs[0])) return false;
  Value* y = n.outputs[0];
  Node* add = rw.sole_reader(y);
  if (!binary_of(add, BinaryFn::kAdd)) return false;
  Value* c = other_input(add, y);
  const PartialShape& ys = y->type.shape;
  if (!c || !c->constant || c->constant->type() != ElementType::kF32 || !ys.rank_known() || !ys[1].is_static() ||
      !same_shape(add->outputs[0]->type.shape, ys))
    return false;
  const Tensor& ct = *c->constant;
  const int64_t M = ys[1].value();
  // Aligned to y's rank, every dim but axis 1 must be 1, and axis 1 is 1 or M.
  if (ct.rank() > ys.rank()) return false;
  const int64_t shift = ys.rank() - ct.rank();
  int64_t per_channel = 1;
  for (int64_t i = 0; i < ct.rank(); ++i) {
    const int64_t axis = shift + i, d = ct.dim(i);
    if (axis == 1 && d == M)
      per_channel = M;
    else if (d != 1)
      return false;
  }
  const Value* b = n.num_explicit_inputs > 2 ? n.inputs[2] : nullptr;
  if (b && (!b->constant || b->constant->type() != ElementType::kF32 || b->constant->size() != M)) return false;
  Tensor bias(ElementType::kF32, {M});
  for (int64_t m = 0; m < M; ++m)
    bias.data<float>()[m] = (b ? b->constant->data<float>()[m] : 0.0f) + ct.data<float>()[per_channel == M ? m : 0];
  Value* bv = rw.add_constant(n.name + "/bias", std::move(bias));
  if (n.num_explicit_inputs > 2)
    n.inputs[2] = bv;
  else
    rw.add_operand(&n, bv, 2);
  rw.take_output(&n, add);
  return true;
}

bool fuse_activation(Rewriter& rw, Node& n) {
  Head h = head_of(n);
  if (!h.post_ops) return false;
  Node* a = rw.sole_reader(n.outputs[0]);
  if (!a || a->inputs[0] != n.outputs[0]) return false;
  std::optional<PostOp> p = activation_of(a);
  if (!p) return false;
  h.post_ops->push_back(*p);
  rw.take_output(&n, a);
  return true;
}

// Add/Mul of the output with an operand that broadcasts onto it (residual Add, MatMul bias, scaling Mul).
bool fuse_binary(Rewriter& rw, Node& n) {
  Head h = head_of(n);
  if (!h.post_ops) return false;
  Value* y = n.outputs[0];
  Node* b = rw.sole_reader(y);
  const bool add = binary_of(b, BinaryFn::kAdd) != nullptr;
  if (!add && !binary_of(b, BinaryFn::kMul)) return false;
  Value* other = other_input(b, y);
  if (!other || other->type.elem != ElementType::kF32 || !broadcasts_onto(other->type.shape, y->type.shape) ||
      !same_shape(b->outputs[0]->type.shape, y->type.shape))
    return false;
  const size_t index = rw.add_operand(&n, other, h.first_operand);
  h.post_ops->push_back(PostOp::binary(add ? PostOp::Kind::kAdd : PostOp::Kind::kMul, index));
  rw.take_output(&n, b);
  return true;
}

}  // namespace

// The post-op an activation node computes, if it is one the post-ops can express.
std::optional<PostOp> activation_of(const Node* a) {
  if (const Unary* u = op_as<Unary>(a)) {
    switch (u->fn) {
      case UnaryFn::kRelu:
      case UnaryFn::kLeakyRelu:
      case UnaryFn::kSigmoid:
      case UnaryFn::kTanh:
      case UnaryFn::kHardSigmoid:
      case UnaryFn::kHardSwish:
      case UnaryFn::kElu:
      case UnaryFn::kGelu:
      case UnaryFn::kSilu:
      case UnaryFn::kClip:
      case UnaryFn::kAbs:
      case UnaryFn::kSqrt:
      case UnaryFn::kExp:
      case UnaryFn::kLog:
      case UnaryFn::kSoftplus:
        return PostOp::unary(u->fn, u->alpha, u->beta, u->gamma);
      default:
        return std::nullopt;
    }
  }
  if (const Clip* c = op_as<Clip>(a)) {
    float lo = c->min_attr.value_or(-std::numeric_limits<float>::infinity());
    float hi = c->max_attr.value_or(std::numeric_limits<float>::infinity());
    for (size_t i = 1; i < 3; ++i) {
      if (a->num_explicit_inputs <= i || !a->inputs[i]) continue;
      std::optional<float> v = scalar_constant(a->inputs[i]);
      if (!v) return std::nullopt;
      (i == 1 ? lo : hi) = *v;
    }
    return PostOp::unary(UnaryFn::kClip, lo, hi);
  }
  return std::nullopt;
}

void add_post_op_rules(std::vector<Rule>& rules) {
  rules.push_back({"fuse_conv_bias_add", fuse_conv_bias_add});
  rules.push_back({"fuse_activation", fuse_activation});
  rules.push_back({"fuse_binary_post_op", fuse_binary});
}

}  // namespace celer::passes
