// LayerNormalization (see layer_normalization.hpp): shape inference, the reference kernel and the ONNX mapping.
#include "ops/layer_normalization.hpp"

#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

void LayerNormalization::infer(InferContext& ctx) const {
  const ElementType e = ctx.input_elem(0);
  CELER_CHECK(is_float(e), kInvalidModel, "input X has element type ", element_type_name(e),
              "; LayerNormalization needs a float type");
  CELER_CHECK(ctx.input_elem(1) == e, kInvalidModel, "input Scale has element type ",
              element_type_name(ctx.input_elem(1)), " but X has ", element_type_name(e));
  if (ctx.has_input(2))
    CELER_CHECK(ctx.input_elem(2) == e, kInvalidModel, "input B has element type ",
                element_type_name(ctx.input_elem(2)), " but X has ", element_type_name(e));
  const PartialShape& xs = ctx.input_shape(0);
  ctx.set_output(0, e, xs);
  PartialShape stat;
  if (xs.rank_known()) {
    const int64_t a = normalize_axis(axis, xs.rank());
    std::vector<Dim> d = xs.dims();
    for (size_t i = size_t(a); i < d.size(); ++i) d[i] = Dim(1);
    stat = PartialShape(std::move(d));
    PartialShape norm(std::vector<Dim>(xs.dims().begin() + a, xs.dims().end()));
    for (size_t i = 1; i < 3; ++i) {
      if (!ctx.has_input(i)) continue;
      const PartialShape& s = ctx.input_shape(i);
      bool ok = true;
      try {
        ok = !s.rank_known() || (s.rank() <= norm.rank() && broadcast_shapes(s, norm).rank() == norm.rank());
      } catch (const Error&) {
        ok = false;
      }
      CELER_CHECK(ok, kShapeMismatch, "input ", i == 1 ? "Scale" : "B", " of shape ", s.to_string(),
                  " does not broadcast to the normalized shape ", norm.to_string(), " of X of shape ", xs.to_string(),
                  " (axis = ", axis, ")");
    }
  }
  if (ctx.has_output(1)) ctx.set_output(1, stash, stat);
  if (ctx.has_output(2)) ctx.set_output(2, stash, stat);
}

void LayerNormalization::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int64_t a = normalize_axis(axis, x.rank());
  const Dims norm(x.dims().begin() + a, x.dims().end());
  const int64_t inner = element_count(norm);
  const int64_t outer = inner > 0 ? x.size() / inner : 0;
  // Scale and B expanded to the normalized shape.
  auto expand = [&](size_t i, double def) {
    std::vector<double> v(size_t(inner), def);
    if (!ctx.has_input(i)) return v;
    const Tensor& t = ctx.input(i);
    CELER_CHECK(t.rank() <= int64_t(norm.size()) && broadcast_dims(t.dims(), norm) == norm, kShapeMismatch, "input ",
                i == 1 ? "Scale" : "B", " of shape ", dims_to_string(t.dims()),
                " does not broadcast to the normalized shape ", dims_to_string(norm));
    for_each_broadcast(norm, {t.dims()},
                       [&](int64_t j, const int64_t* off) { v[size_t(j)] = t.value_as_double(off[0]); });
    return v;
  };
  const std::vector<double> scale = expand(1, 1.0), bias = expand(2, 0.0);
  Tensor* mean_t = ctx.has_output(1) ? &ctx.output(1) : nullptr;
  Tensor* inv_t = ctx.has_output(2) ? &ctx.output(2) : nullptr;
  dispatch_float(x.type(), [&]<typename T>() {
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = px + o * inner;
      T* q = py + o * inner;
      double s = 0, ss = 0;
      for (int64_t i = 0; i < inner; ++i) s += double(p[i]);
      const double mean = s / double(inner);
      for (int64_t i = 0; i < inner; ++i) ss += (double(p[i]) - mean) * (double(p[i]) - mean);
      const double inv = 1.0 / std::sqrt(ss / double(inner) + double(epsilon));
      for (int64_t i = 0; i < inner; ++i) q[i] = T(A((double(p[i]) - mean) * inv * scale[size_t(i)] + bias[size_t(i)]));
      auto store = [&](Tensor* t, double v) {
        if (!t) return;
        dispatch_float(t->type(), [&]<typename U>() {
          using B = std::conditional_t<std::is_same_v<U, double>, double, float>;
          t->data<U>()[o] = U(B(v));
        });
      };
      store(mean_t, mean);
      store(inv_t, inv);
    }
  });
}

namespace {
void import_layer_normalization(OnnxNode& n) {
  auto op = std::make_unique<LayerNormalization>();
  op->axis = n.attr_int("axis", -1);
  op->epsilon = n.attr_float("epsilon", 1e-5f);
  const int64_t st = n.attr_int("stash_type", 1);
  switch (st) {
    case 1:
      op->stash = ElementType::kF32;
      break;
    case 10:
      op->stash = ElementType::kF16;
      break;
    case 11:
      op->stash = ElementType::kF64;
      break;
    case 16:
      op->stash = ElementType::kBF16;
      break;
    default:
      n.fail("attribute 'stash_type' = ", st, " must be a float type (1, 10, 11 or 16)");
  }
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_LayerNormalization() { return std::make_unique<LayerNormalization>(); }

void register_op_LayerNormalization(OpRegistry& r) {
  r.add_onnx("LayerNormalization", 17, kMaxOpset, import_layer_normalization);
}

}  // namespace celer
