// BatchNormalization (inference mode, constant statistics) folded into the preceding Conv or Gemm with constant
// weights: y = a * (W x + B) + (beta - mean * a), a = scale / sqrt(var + eps), becomes new constant weights a * W and
// bias a * B + beta - mean * a.
#include <cmath>

#include "ops/batch_normalization.hpp"
#include "ops/conv.hpp"
#include "ops/gemm.hpp"
#include "passes/pass.hpp"

namespace celer::passes {

namespace {

struct Affine {
  std::vector<double> a, b;  // y = a[c] * x + b[c]
};

// The BatchNormalization reading `y` (as its only reader) as a per-channel affine map over `channels` channels.
std::optional<Affine> batch_norm_after(Rewriter& rw, Value* y, int64_t channels, Node** bn_node) {
  Node* bn = rw.sole_reader(y);
  BatchNormalization* op = op_as<BatchNormalization>(bn);
  if (!op || op->training || bn->inputs[0] != y || !is_f32(bn->outputs[0])) return std::nullopt;
  for (size_t i = 1; i < bn->outputs.size(); ++i)
    if (!rw.unused(bn->outputs[i])) return std::nullopt;
  for (size_t i = 1; i < 5; ++i) {
    const Value* v = i < bn->num_explicit_inputs ? bn->inputs[i] : nullptr;
    if (!v || !v->constant || !is_float(v->constant->type()) || v->constant->size() != channels) return std::nullopt;
  }
  Affine f;
  for (int64_t c = 0; c < channels; ++c) {
    auto val = [&](size_t i) { return bn->inputs[i]->constant->value_as_double(c); };
    const double a = val(1) / std::sqrt(val(4) + double(op->epsilon));
    f.a.push_back(a);
    f.b.push_back(val(2) - val(3) * a);
  }
  *bn_node = bn;
  return f;
}

bool fold_into_conv(Rewriter& rw, Node& n) {
  Conv* conv = op_as<Conv>(n);
  if (!conv || !conv->post_ops.empty() || !is_f32(n.outputs[0])) return false;
  const Value* w = n.inputs[1];
  const Value* b = n.num_explicit_inputs > 2 ? n.inputs[2] : nullptr;
  if (!w || !w->constant || w->constant->type() != ElementType::kF32 || w->constant->rank() < 3) return false;
  const int64_t M = w->constant->dim(0);
  if (b && (!b->constant || b->constant->type() != ElementType::kF32 || b->constant->size() != M)) return false;
  Node* bn = nullptr;
  std::optional<Affine> f = batch_norm_after(rw, n.outputs[0], M, &bn);
  if (!f) return false;
  Tensor nw(ElementType::kF32, w->constant->dims());
  const int64_t per = M > 0 ? nw.size() / M : 0;
  const float* pw = w->constant->data<float>();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < per; ++i) nw.data<float>()[m * per + i] = float(double(pw[m * per + i]) * f->a[size_t(m)]);
  Tensor nb(ElementType::kF32, {M});
  for (int64_t m = 0; m < M; ++m)
    nb.data<float>()[m] = float((b ? double(b->constant->data<float>()[m]) : 0.0) * f->a[size_t(m)] + f->b[size_t(m)]);
  n.inputs[1] = rw.add_constant(n.name + "/W", std::move(nw));
  Value* bv = rw.add_constant(n.name + "/B", std::move(nb));
  if (n.num_explicit_inputs > 2)
    n.inputs[2] = bv;
  else
    rw.add_operand(&n, bv, 2);
  rw.take_output(&n, bn);
  return true;
}

// Gemm [M, N] followed by BatchNormalization over N (channel axis 1): columns of B' scale; C becomes a per-column
// bias (only when C is absent or per-column, so it stays [N]).
bool fold_into_gemm(Rewriter& rw, Node& n) {
  Gemm* gemm = op_as<Gemm>(n);
  if (!gemm || !gemm->post_ops.empty() || !is_f32(n.outputs[0])) return false;
  const Value* w = n.inputs[1];
  const Value* c = n.num_explicit_inputs > 2 ? n.inputs[2] : nullptr;
  if (!w || !w->constant || w->constant->type() != ElementType::kF32 || w->constant->rank() != 2) return false;
  const int64_t N = w->constant->dim(gemm->trans_b ? 0 : 1), K = w->constant->dim(gemm->trans_b ? 1 : 0);
  if (c && (!c->constant || c->constant->type() != ElementType::kF32 ||
            !(c->constant->size() == N || c->constant->size() == 1) ||
            (c->constant->rank() == 2 && c->constant->dim(0) != 1)))
    return false;
  Node* bn = nullptr;
  std::optional<Affine> f = batch_norm_after(rw, n.outputs[0], N, &bn);
  if (!f) return false;
  Tensor nw(ElementType::kF32, w->constant->dims());
  const float* pw = w->constant->data<float>();
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) {
      const int64_t at = gemm->trans_b ? j * K + k : k * N + j;
      nw.data<float>()[at] = float(double(pw[at]) * f->a[size_t(j)]);
    }
  Tensor nc(ElementType::kF32, {N});
  for (int64_t j = 0; j < N; ++j) {
    const double cv = c ? double(c->constant->data<float>()[c->constant->size() == 1 ? 0 : j]) * gemm->beta : 0.0;
    nc.data<float>()[j] = float(cv * f->a[size_t(j)] + f->b[size_t(j)]);
  }
  gemm->beta = 1.0f;
  n.inputs[1] = rw.add_constant(n.name + "/B", std::move(nw));
  Value* cv = rw.add_constant(n.name + "/C", std::move(nc));
  if (n.num_explicit_inputs > 2)
    n.inputs[2] = cv;
  else
    rw.add_operand(&n, cv, 2);
  rw.take_output(&n, bn);
  return true;
}

}  // namespace

void add_batch_norm_rules(std::vector<Rule>& rules) {
  rules.push_back({"fold_batch_norm_into_conv", fold_into_conv});
  rules.push_back({"fold_batch_norm_into_gemm", fold_into_gemm});
}

}  // namespace celer::passes
