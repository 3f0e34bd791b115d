// Helpers shared by the quantization ops (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearConv,
// QLinearMatMul, ConvInteger, MatMulInteger): reading and validating scales and zero points, saturating rounding,
// integer matmul and convolution reference loops (int32 results, accumulated without overflow UB).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/dispatch.hpp"
#include "ops/conv.hpp"
#include "ops/op.hpp"
#include "ops/post_ops.hpp"
#include "ops/util.hpp"

namespace celer::quant {

// All values of a float tensor (f16/bf16/f32/f64) as float.
inline std::vector<float> float_values(const Tensor& t, const std::string& what) {
  CELER_CHECK(is_float(t.type()), kInvalidModel, what, " must be a float tensor, got ", element_type_name(t.type()));
  std::vector<float> v(size_t(t.size()));
  dispatch_float(t.type(), [&]<typename T>() {
    const T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(p[i]);
  });
  return v;
}

// All values of an 8/16/32-bit integer tensor as int32.
inline std::vector<int32_t> int_values(const Tensor& t, const std::string& what) {
  std::vector<int32_t> v(size_t(t.size()));
  switch (t.type()) {
    case ElementType::kU8:
      for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<uint8_t>()[i];
      break;
    case ElementType::kI8:
      for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<int8_t>()[i];
      break;
    case ElementType::kI32:
      for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<int32_t>()[i];
      break;
    default:
      CELER_THROW(kInvalidModel, what, " has element type ", element_type_name(t.type()), " (u8, i8 or i32 expected)");
  }
  return v;
}

// Throws kInvalidArgument naming `what` unless every scale is finite and non-zero.
inline std::vector<float> checked_scales(const Tensor& t, const std::string& what) {
  std::vector<float> v = float_values(t, what);
  for (size_t i = 0; i < v.size(); ++i)
    CELER_CHECK(std::isfinite(v[i]) && v[i] != 0.0f, kInvalidArgument, what, " has the value ", v[i],
                v.size() > 1 ? " at index " + std::to_string(i) : std::string(),
                ": a quantization scale must be finite and non-zero");
  return v;
}

// Quantization parameters of one tensor: per tensor (one value) or per channel along an axis.
struct Params {
  std::vector<float> scale;
  std::vector<int32_t> zero;  // same length as scale; zeros when the zero point is omitted
  float scale_at(int64_t c) const { return scale[scale.size() == 1 ? 0 : size_t(c)]; }
  int32_t zero_at(int64_t c) const { return zero[zero.size() == 1 ? 0 : size_t(c)]; }
};

// Reads a scale and an optional zero point. `channels` is the length a 1-D per-channel scale must have (-1 when only
// per-tensor parameters are allowed). The zero point must have the scale's shape.
inline Params read_params(const Tensor& scale, const Tensor* zero, int64_t channels, const std::string& scale_name,
                          const std::string& zero_name) {
  Params p;
  p.scale = checked_scales(scale, scale_name);
  if (scale.size() != 1 || scale.rank() > 1) {
    CELER_CHECK(channels >= 0, kInvalidModel, scale_name, " has shape ", dims_to_string(scale.dims()),
                " but only a per-tensor (scalar) scale is allowed here");
    CELER_CHECK(scale.rank() == 1 && scale.dim(0) == channels, kShapeMismatch, scale_name, " has shape ",
                dims_to_string(scale.dims()), " but a per-axis scale must be 1-D with ", channels,
                " values (the size of the quantization axis)");
  }
  if (zero) {
    CELER_CHECK(zero->dims() == scale.dims() || zero->size() == 1, kShapeMismatch, zero_name, " has shape ",
                dims_to_string(zero->dims()), " but ", scale_name, " has shape ", dims_to_string(scale.dims()));
    p.zero = int_values(*zero, zero_name);
  } else {
    p.zero.assign(p.scale.size(), 0);
  }
  return p;
}

// The channel of element i of a tensor quantized along `axis` (per tensor: always 0).
struct AxisIndexer {
  int64_t inner = 1, dim = 1;
  AxisIndexer(const Dims& dims, int64_t axis, bool per_axis) {
    if (!per_axis) return;
    dim = dims[size_t(axis)];
    for (size_t i = size_t(axis) + 1; i < dims.size(); ++i) inner *= dims[i];
  }
  int64_t channel(int64_t i) const { return dim <= 1 ? 0 : (i / inner) % dim; }
};

// "input 'x_scale' ('conv1.scale')": an input's role and the name of the tensor given for it.
inline std::string input_named(const InferContext& ctx, size_t i, const std::string& role) {
  const Node& n = ctx.node();
  if (i < n.inputs.size() && n.inputs[i] && !n.inputs[i]->name.empty()) return role + " ('" + n.inputs[i]->name + "')";
  return role;
}

// Load-time checks of a (scale, zero point) pair for QuantizeLinear/DequantizeLinear: shapes (per tensor, or 1-D
// along `axis` when allowed) and known scale values. per_axis_ok is false before opset 13.
inline void infer_params(const InferContext& ctx, size_t x_idx, size_t s_idx, size_t z_idx, int64_t axis,
                         bool per_axis_ok, const std::string& s_role, const std::string& z_role) {
  const std::string s_name = input_named(ctx, s_idx, s_role), z_name = input_named(ctx, z_idx, z_role);
  const PartialShape& ss = ctx.input_shape(s_idx);
  CELER_CHECK(is_float(ctx.input_elem(s_idx)), kInvalidModel, s_name, " must be a float tensor, got ",
              element_type_name(ctx.input_elem(s_idx)));
  if (ss.rank_known()) {
    bool single = ss.rank() == 0 || (ss.rank() == 1 && ss[0].is_static() && ss[0].value() == 1);
    CELER_CHECK(ss.rank() <= 1, kInvalidModel, s_name, " has shape ", ss.to_string(),
                " but must be a scalar or a 1-D per-axis tensor");
    if (!single && ss[0].is_static()) {
      CELER_CHECK(per_axis_ok, kInvalidModel, s_name, " has shape ", ss.to_string(),
                  " but only per-tensor (scalar) scales are allowed before opset 13");
      const PartialShape& xs = ctx.input_shape(x_idx);
      if (xs.rank_known()) {
        int64_t a = normalize_axis(axis, xs.rank());
        CELER_CHECK(!xs[size_t(a)].is_static() || xs[size_t(a)].value() == ss[0].value(), kShapeMismatch, s_name,
                    " has ", ss[0].value(), " values but axis ", axis, " of the input (shape ", xs.to_string(),
                    ") has ", xs[size_t(a)].value());
      }
    }
  }
  if (ctx.has_input(z_idx)) {
    const PartialShape& zs = ctx.input_shape(z_idx);
    if (zs.is_static() && ss.is_static())
      CELER_CHECK(element_count(zs.to_dims()) == element_count(ss.to_dims()), kShapeMismatch, z_name, " has shape ",
                  zs.to_string(), " but ", s_name, " has shape ", ss.to_string());
  }
  if (const Tensor* s = ctx.input_value(s_idx)) checked_scales(*s, s_name);
}

// Rounds half to even and saturates into Q's range.
template <typename Q>
Q saturate_round(float v, int32_t zero) {
  double r = std::isnan(v) ? 0.0 : double(std::nearbyint(v)) + double(zero);
  constexpr double lo = double(std::numeric_limits<Q>::lowest()), hi = double(std::numeric_limits<Q>::max());
  return Q(r < lo ? lo : (r > hi ? hi : r));
}

// Element type check for 8-bit quantized tensors.
inline bool is_q8(ElementType t) { return t == ElementType::kU8 || t == ElementType::kI8; }

// Calls f.template operator()<Q>() for Q = uint8_t or int8_t.
template <typename F>
void dispatch_q8(ElementType t, const std::string& what, F&& f) {
  if (t == ElementType::kU8) return f.template operator()<uint8_t>();
  if (t == ElementType::kI8) return f.template operator()<int8_t>();
  CELER_THROW(kInvalidModel, what, " has element type ", element_type_name(t), " (u8 or i8 expected)");
}

// ---- Integer MatMul (numpy matmul rules: 1-D operands promoted, batch dims broadcast) ----

struct MatMulGeometry {
  Dims out;
  int64_t m = 0, k = 0, n = 0;
  Dims a_full, b_full;                // operands with 1-D promoted to 2-D
  std::vector<int64_t> a_mat, b_mat;  // index of the a and b matrix used by each output matrix
};

inline MatMulGeometry matmul_geometry(const Dims& a, const Dims& b) {
  CELER_CHECK(!a.empty() && !b.empty(), kInvalidModel, "MatMul inputs must have rank >= 1");
  MatMulGeometry g;
  g.a_full = a.size() == 1 ? Dims{1, a[0]} : a;
  g.b_full = b.size() == 1 ? Dims{b[0], 1} : b;
  size_t ra = g.a_full.size(), rb = g.b_full.size();
  g.m = g.a_full[ra - 2];
  g.k = g.a_full[ra - 1];
  g.n = g.b_full[rb - 1];
  CELER_CHECK(g.b_full[rb - 2] == g.k, kShapeMismatch, "inner dims differ: A has shape ", dims_to_string(a),
              " and B has shape ", dims_to_string(b));
  Dims ab(g.a_full.begin(), g.a_full.end() - 2), bb(g.b_full.begin(), g.b_full.end() - 2);
  Dims batch = broadcast_dims(ab, bb);
  for_each_broadcast(batch, {ab, bb}, [&](int64_t, const int64_t* off) {
    g.a_mat.push_back(off[0]);
    g.b_mat.push_back(off[1]);
  });
  g.out = batch;
  if (a.size() > 1) g.out.push_back(g.m);
  if (b.size() > 1) g.out.push_back(g.n);
  return g;
}

inline PartialShape matmul_shape(const PartialShape& a, const PartialShape& b) {
  if (!a.rank_known() || !b.rank_known()) return PartialShape();
  CELER_CHECK(a.rank() >= 1 && b.rank() >= 1, kInvalidModel, "MatMul inputs must have rank >= 1");
  std::vector<Dim> ad = a.dims(), bd = b.dims();
  if (ad.size() == 1) ad.insert(ad.begin(), Dim(1));
  if (bd.size() == 1) bd.push_back(Dim(1));
  const Dim &k1 = ad.back(), &k2 = bd[bd.size() - 2];
  CELER_CHECK(!(k1.is_static() && k2.is_static() && k1.value() != k2.value()), kShapeMismatch,
              "inner dims differ: A has shape ", a.to_string(), " and B has shape ", b.to_string());
  PartialShape batch = broadcast_shapes(PartialShape(std::vector<Dim>(ad.begin(), ad.end() - 2)),
                                        PartialShape(std::vector<Dim>(bd.begin(), bd.end() - 2)));
  std::vector<Dim> out = batch.dims();
  if (a.rank() > 1) out.push_back(ad[ad.size() - 2]);
  if (b.rank() > 1) out.push_back(bd.back());
  return PartialShape(std::move(out));
}

// Expands per-tensor / per-row (of A) / per-column (of B) parameter values to one value per row of every A matrix
// (index a_mat * M + m) or per column of every B matrix (index b_mat * N + n). A 1-D parameter of A with several values
// is per row ([M] acts as [M, 1]); N-D parameters broadcast against A's shape with K replaced by 1 (B: K replaced by
// 1).
template <typename T>
std::vector<T> expand_rows_or_cols(const std::vector<T>& v, Dims pdims, const MatMulGeometry& g, bool of_a,
                                   const std::string& what) {
  Dims target = of_a ? g.a_full : g.b_full;
  if (of_a)
    target.back() = 1;
  else
    target[target.size() - 2] = 1;
  if (v.size() == 1)
    pdims = {};
  else if (of_a && pdims.size() == 1)
    pdims = {pdims[0], 1};
  bool ok = pdims.size() <= target.size();
  for (size_t i = 0; ok && i < pdims.size(); ++i) {
    int64_t t = target[target.size() - pdims.size() + i];
    ok = pdims[i] == t || pdims[i] == 1;
  }
  CELER_CHECK(ok, kShapeMismatch, what, " has shape ", dims_to_string(pdims), " which is neither per tensor nor per ",
              of_a ? "row" : "column", " of an input of shape ", dims_to_string(of_a ? g.a_full : g.b_full));
  std::vector<T> out(size_t(element_count(target)));
  for_each_broadcast(target, {pdims}, [&](int64_t i, const int64_t* off) { out[size_t(i)] = v[size_t(off[0])]; });
  return out;
}

// out[mat][m][n] = sum_k (a - za[row]) * (b - zb[col]), wrapped to int32 like an int32 accumulator.
template <typename A, typename B>
void matmul_integer(const MatMulGeometry& g, const A* a, const B* b, const std::vector<int32_t>& za_rows,
                    const std::vector<int32_t>& zb_cols, int32_t* out) {
  const int64_t M = g.m, K = g.k, N = g.n;
  for (size_t mat = 0; mat < g.a_mat.size(); ++mat) {
    const A* pa = a + g.a_mat[mat] * M * K;
    const B* pb = b + g.b_mat[mat] * K * N;
    const int32_t* za = za_rows.data() + g.a_mat[mat] * M;
    const int32_t* zb = zb_cols.data() + g.b_mat[mat] * N;
    int32_t* po = out + int64_t(mat) * M * N;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += (int64_t(pa[m * K + k]) - za[m]) * (int64_t(pb[k * N + n]) - zb[n]);
        po[m * N + n] = int32_t(acc);
      }
  }
}

// ---- Integer convolution (ConvInteger, QLinearConv) ----

struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  Dims in, kernel, out, stride, dilation, pad_begin;  // spatial
  Dims out_dims;                                      // [N, M, out...]
};

// Output shape of a convolution with weights [M, C/group, k...] (static, symbolic or unknown dims).
inline PartialShape conv_shape(const PartialShape& x, const PartialShape& w, const WindowAttrs& wa, int64_t group) {
  if (!x.rank_known()) return PartialShape();
  CELER_CHECK(x.rank() >= 3, kInvalidModel, "input 'x' must have rank >= 3 ([N, C, spatial...]), got shape ",
              x.to_string());
  size_t sp = size_t(x.rank() - 2);
  wa.check_rank(sp);
  std::vector<Dim> out{x[0], Dim()};
  if (w.rank_known()) {
    CELER_CHECK(w.rank() == x.rank(), kShapeMismatch, "input 'w' has shape ", w.to_string(),
                " but input 'x' has shape ", x.to_string());
    out[1] = w[0];
    if (x[1].is_static() && w[1].is_static())
      CELER_CHECK(x[1].value() == w[1].value() * group, kShapeMismatch, "input 'x' has ", x[1].value(),
                  " channels but the weights expect ", w[1].value(), " x group ", group);
  }
  for (size_t i = 0; i < sp; ++i) {
    int64_t k = !wa.kernel_shape.empty() ? wa.kernel_shape[i] : (w.rank_known() ? w[2 + i].value() : -1);
    if (!x[2 + i].is_static() || k < 0) {
      out.emplace_back();
      continue;
    }
    WindowAxis a =
        window_axis(x[2 + i].value(), k, wa.stride(i), wa.dilation(i), wa.pad_begin(i), wa.pad_end(i, sp), wa.auto_pad);
    out.emplace_back(a.out);
  }
  return PartialShape(std::move(out));
}

inline ConvGeometry conv_geometry(const Dims& x, const Dims& w, const WindowAttrs& wa, int64_t group) {
  CELER_CHECK(x.size() >= 3 && w.size() == x.size(), kShapeMismatch, "input 'x' has shape ", dims_to_string(x),
              " and input 'w' has shape ", dims_to_string(w), " (both must be [N|M, C, spatial...] of the same rank)");
  CELER_CHECK(group >= 1, kInvalidModel, "attribute 'group' = ", group, " must be positive");
  ConvGeometry g;
  size_t sp = x.size() - 2;
  wa.check_rank(sp);
  g.batch = x[0];
  g.in_channels = x[1];
  g.out_channels = w[0];
  g.group = group;
  CELER_CHECK(x[1] == w[1] * group && w[0] % group == 0, kShapeMismatch, "input 'x' has shape ", dims_to_string(x),
              " and input 'w' has shape ", dims_to_string(w), ", which do not fit group = ", group);
  g.out_dims = {x[0], w[0]};
  for (size_t i = 0; i < sp; ++i) {
    int64_t k = w[2 + i];
    CELER_CHECK(wa.kernel_shape.empty() || wa.kernel_shape[i] == k, kShapeMismatch, "attribute 'kernel_shape' ",
                dims_to_string(wa.kernel_shape), " differs from the weights' shape ", dims_to_string(w));
    WindowAxis a =
        window_axis(x[2 + i], k, wa.stride(i), wa.dilation(i), wa.pad_begin(i), wa.pad_end(i, sp), wa.auto_pad);
    g.in.push_back(x[2 + i]);
    g.kernel.push_back(k);
    g.out.push_back(a.out);
    g.stride.push_back(wa.stride(i));
    g.dilation.push_back(wa.dilation(i));
    g.pad_begin.push_back(a.pad_begin);
    g.out_dims.push_back(a.out);
  }
  return g;
}

// out[n][m][o...] = sum over the group's channels and the kernel of (x - xz) * (w - wz[m]); padding contributes 0.
template <typename X, typename W>
void conv_integer(const ConvGeometry& g, const X* x, const W* w, int32_t xz, const std::vector<int32_t>& wz,
                  int32_t* out) {
  const size_t sp = g.in.size();
  const int64_t in_size = element_count(g.in), k_size = element_count(g.kernel), out_size = element_count(g.out);
  const int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  std::vector<int64_t> o_idx(sp), k_idx(sp);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t m = 0; m < g.out_channels; ++m) {
      const int64_t grp = m / mg;
      const int32_t wzm = wz[wz.size() == 1 ? 0 : size_t(m)];
      int32_t* po = out + (n * g.out_channels + m) * out_size;
      std::fill(o_idx.begin(), o_idx.end(), 0);
      for (int64_t o = 0; o < out_size; ++o) {
        int64_t acc = 0;
        for (int64_t c = 0; c < cg; ++c) {
          const X* px = x + (n * g.in_channels + grp * cg + c) * in_size;
          const W* pw = w + (m * cg + c) * k_size;
          std::fill(k_idx.begin(), k_idx.end(), 0);
          for (int64_t kk = 0; kk < k_size; ++kk) {
            int64_t off = 0;
            bool inside = true;
            for (size_t d = 0; d < sp && inside; ++d) {
              int64_t pos = o_idx[d] * g.stride[d] - g.pad_begin[d] + k_idx[d] * g.dilation[d];
              inside = pos >= 0 && pos < g.in[d];
              off = off * g.in[d] + pos;
            }
            if (inside) acc += (int64_t(px[off]) - xz) * (int64_t(pw[kk]) - wzm);
            for (size_t d = sp; d-- > 0;) {
              if (++k_idx[d] < g.kernel[d]) break;
              k_idx[d] = 0;
            }
          }
        }
        po[o] = int32_t(acc);
        for (size_t d = sp; d-- > 0;) {
          if (++o_idx[d] < g.out[d]) break;
          o_idx[d] = 0;
        }
      }
    }
}

// ---- Post-ops of the fused QLinearConv / QLinearMatMul ----

// Load-time checks of post-op operands: present, f32 or u8/i8 (a quantized operand is dequantized with its scale
// PostOp::alpha and zero point PostOp::beta), broadcastable onto `out` without growing it.
inline void check_quant_post_ops(const PostOps& ops, const InferContext& ctx, const PartialShape& out) {
  for (const PostOp& p : ops) {
    if (p.kind == PostOp::Kind::kUnary) continue;
    CELER_CHECK(ctx.has_input(p.input), kInvalidModel, "fused operand input ", p.input, " is missing");
    const ElementType t = ctx.input_elem(p.input);
    CELER_CHECK(t == ElementType::kF32 || is_q8(t) || t == ElementType::kUndefined, kInvalidModel,
                "fused operand input ", p.input, " has element type ", element_type_name(t),
                " (f32, u8 or i8 expected)");
    if (is_q8(t))
      CELER_CHECK(std::isfinite(p.alpha) && p.alpha != 0.0f, kInvalidModel, "fused operand input ", p.input,
                  " has the scale ", p.alpha, ": a quantization scale must be finite and non-zero");
    PartialShape b = broadcast_shapes(out, ctx.input_shape(p.input));
    CELER_CHECK(!b.rank_known() || !out.rank_known() || b.rank() == out.rank(), kShapeMismatch, "fused operand input ",
                p.input, " of shape ", ctx.input_shape(p.input).to_string(), " would grow the output ",
                out.to_string());
  }
}

// Applies the post-ops to the f32 tensor `v` in order (quantized Add/Mul operands dequantized first).
inline void apply_quant_post_ops(const PostOps& ops, const KernelContext& ctx, Tensor& v) {
  for (const PostOp& p : ops) {
    if (p.kind == PostOp::Kind::kUnary || ctx.input(p.input).type() == v.type()) {
      apply_post_ops({p}, ctx, v);
      continue;
    }
    const Tensor& other = ctx.input(p.input);
    CELER_CHECK(broadcast_dims(v.dims(), other.dims()) == v.dims(), kShapeMismatch, "fused operand input ", p.input,
                " of shape ", dims_to_string(other.dims()), " does not broadcast to ", dims_to_string(v.dims()));
    float* y = v.data<float>();
    const bool add = p.kind == PostOp::Kind::kAdd;
    dispatch_q8(other.type(), "fused operand input " + std::to_string(p.input), [&]<typename Q>() {
      const Q* o = other.data<Q>();
      for_each_broadcast(v.dims(), {other.dims()}, [&](int64_t i, const int64_t* off) {
        const float d = (float(o[off[0]]) - p.beta) * p.alpha;
        y[i] = add ? y[i] + d : y[i] * d;
      });
    });
  }
}

}  // namespace celer::quant
