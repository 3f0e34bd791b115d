// Conv: Y[n, m, o...] = B[m] + sum over (c, k...) of X[n, g*C/G + c, o*s - pad + k*d] * W[m, c, k...].
// The reference kernel is a direct loop (no im2col): for each input plane and kernel tap it accumulates into a block
// of output planes over a contiguous run of output positions, so the innermost loop is contiguous (vectorisable).
#include "ops/conv.hpp"

#include <algorithm>
#include <string>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

// ---------------------------------------------------------------------------------------------------------------
// Window geometry shared by Conv, ConvTranspose and Pool.

void WindowAttrs::check_rank(size_t spatial) const {
  auto check = [&](const std::vector<int64_t>& v, size_t want, const char* name) {
    CELER_CHECK(v.empty() || v.size() == want, kInvalidModel, "attribute '", name, "' has ", v.size(),
                " values but the input has ", spatial, " spatial axes (expected ", want, ")");
  };
  check(kernel_shape, spatial, "kernel_shape");
  check(strides, spatial, "strides");
  check(dilations, spatial, "dilations");
  check(pads, 2 * spatial, "pads");
}

WindowAttrs read_window_attrs(const OnnxNode& n) {
  WindowAttrs w;
  w.kernel_shape = n.attr_ints("kernel_shape", std::vector<int64_t>{});
  w.strides = n.attr_ints("strides", std::vector<int64_t>{});
  w.dilations = n.attr_ints("dilations", std::vector<int64_t>{});
  w.pads = n.attr_ints("pads", std::vector<int64_t>{});
  auto positive = [&](const std::vector<int64_t>& v, const char* name) {
    for (int64_t x : v)
      if (x <= 0) n.fail("attribute '", name, "' = ", dims_to_string(v), " must be positive");
  };
  positive(w.kernel_shape, "kernel_shape");
  positive(w.strides, "strides");
  positive(w.dilations, "dilations");
  for (int64_t x : w.pads)
    if (x < 0) n.fail("attribute 'pads' = ", dims_to_string(w.pads), " must not be negative");
  if (w.pads.size() % 2 != 0) n.fail("attribute 'pads' has ", w.pads.size(), " values; expected 2 per spatial axis");
  // The lengths must agree among themselves (the input's rank is checked by infer()).
  size_t spatial = !w.kernel_shape.empty() ? w.kernel_shape.size()
                   : !w.strides.empty()    ? w.strides.size()
                   : !w.dilations.empty()  ? w.dilations.size()
                                           : w.pads.size() / 2;
  auto len = [&](const std::vector<int64_t>& v, size_t want, const char* name) {
    if (!v.empty() && v.size() != want)
      n.fail("attribute '", name, "' has ", v.size(), " values; expected ", want, " (", spatial, " spatial axes)");
  };
  len(w.strides, spatial, "strides");
  len(w.dilations, spatial, "dilations");
  len(w.pads, 2 * spatial, "pads");
  std::string ap = n.attr_string("auto_pad", std::string("NOTSET"));
  if (ap == "NOTSET" || ap.empty())
    w.auto_pad = AutoPad::kNotSet;
  else if (ap == "SAME_UPPER")
    w.auto_pad = AutoPad::kSameUpper;
  else if (ap == "SAME_LOWER")
    w.auto_pad = AutoPad::kSameLower;
  else if (ap == "VALID")
    w.auto_pad = AutoPad::kValid;
  else
    n.fail("attribute 'auto_pad' = '", ap, "' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  if (w.auto_pad != AutoPad::kNotSet) w.pads.clear();  // explicit pads are ignored with auto_pad
  return w;
}

WindowAxis window_axis(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end,
                       AutoPad auto_pad, bool ceil_mode) {
  const int64_t span = (kernel - 1) * dilation + 1;
  WindowAxis a;
  switch (auto_pad) {
    case AutoPad::kSameUpper:
    case AutoPad::kSameLower: {
      a.out = (in + stride - 1) / stride;
      int64_t total = std::max<int64_t>(0, (a.out - 1) * stride + span - in);
      a.pad_begin = auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      a.pad_end = total - a.pad_begin;
      return a;
    }
    case AutoPad::kValid:
      a.out = in >= span ? (in - span) / stride + 1 : 0;
      return a;
    case AutoPad::kNotSet:
      break;
  }
  a.pad_begin = pad_begin;
  a.pad_end = pad_end;
  const int64_t padded = in + pad_begin + pad_end;
  if (padded < span) return a;  // out = 0: the caller reports it
  if (ceil_mode) {
    a.out = (padded - span + stride - 1) / stride + 1;
    if ((a.out - 1) * stride >= in + pad_begin) --a.out;  // the last window must start inside the input or left pad
  } else {
    a.out = (padded - span) / stride + 1;
  }
  return a;
}

// ---------------------------------------------------------------------------------------------------------------
// Conv

int64_t check_conv_operands(const InferContext& ctx, const char* op) {
  const ElementType e = ctx.input_elem(0);
  CELER_CHECK(is_float(e), kInvalidModel, "input X has element type ", element_type_name(e), "; ", op,
              " needs a float type");
  CELER_CHECK(ctx.input_elem(1) == e, kInvalidModel, "weight W has element type ", element_type_name(ctx.input_elem(1)),
              " but input X has ", element_type_name(e));
  const PartialShape& xs = ctx.input_shape(0);
  const PartialShape& ws = ctx.input_shape(1);
  if (!xs.rank_known() && !ws.rank_known()) return -1;
  const int64_t rank = xs.rank_known() ? xs.rank() : ws.rank();
  CELER_CHECK(rank >= 3, kShapeMismatch, "input X of shape ", xs.to_string(), " and weight W of shape ", ws.to_string(),
              " need rank >= 3 (N, C, spatial axes...)");
  CELER_CHECK(!xs.rank_known() || !ws.rank_known() || xs.rank() == ws.rank(), kShapeMismatch, "weight W of shape ",
              ws.to_string(), " has rank ", ws.rank(), " but input X of shape ", xs.to_string(), " has rank ",
              xs.rank(), " (they must be equal)");
  return rank - 2;
}

void Conv::infer(InferContext& ctx) const {
  const ElementType e = ctx.input_elem(0);
  const int64_t spatial_axes = check_conv_operands(ctx, "Conv");
  if (spatial_axes < 0) {
    ctx.set_output(0, e, PartialShape());
    return;
  }
  const PartialShape& xs = ctx.input_shape(0);
  const PartialShape& ws = ctx.input_shape(1);
  const int64_t rank = spatial_axes + 2;
  const size_t spatial = size_t(spatial_axes);
  window.check_rank(spatial);
  CELER_CHECK(group > 0, kInvalidModel, "attribute 'group' = ", group, " must be positive");
  const Dim c_in = xs.rank_known() ? xs[1] : Dim();
  const Dim c_w = ws.rank_known() ? ws[1] : Dim();
  const Dim m = ws.rank_known() ? ws[0] : Dim();
  if (c_in.is_static()) {
    CELER_CHECK(c_in.value() % group == 0, kShapeMismatch, "attribute 'group' = ", group, " does not divide the ",
                c_in.value(), " channels of input X of shape ", xs.to_string());
    if (c_w.is_static())
      CELER_CHECK(c_in.value() == c_w.value() * group, kShapeMismatch, "input X of shape ", xs.to_string(), " has ",
                  c_in.value(), " channels but weight W of shape ", ws.to_string(), " with group = ", group,
                  " expects ", c_w.value() * group);
  }
  if (m.is_static())
    CELER_CHECK(m.value() % group == 0, kShapeMismatch, "attribute 'group' = ", group, " does not divide the ",
                m.value(), " output channels of weight W of shape ", ws.to_string());
  if (ctx.has_input(2)) {
    const PartialShape& bs = ctx.input_shape(2);
    CELER_CHECK(ctx.input_elem(2) == e, kInvalidModel, "bias B has element type ", element_type_name(ctx.input_elem(2)),
                " but input X has ", element_type_name(e));
    if (bs.rank_known()) {
      CELER_CHECK(bs.rank() == 1, kShapeMismatch, "bias B of shape ", bs.to_string(), " must be 1-D");
      CELER_CHECK(!bs[0].is_static() || !m.is_static() || bs[0].value() == m.value(), kShapeMismatch,
                  "bias B of shape ", bs.to_string(), " does not match the ", m.value(),
                  " output channels of weight W of shape ", ws.to_string());
    }
  }
  std::vector<Dim> out(static_cast<size_t>(rank));
  out[0] = xs.rank_known() ? xs[0] : Dim();
  out[1] = m;
  for (size_t i = 0; i < spatial; ++i) {
    Dim k = ws.rank_known() ? ws[2 + i] : Dim();
    if (!window.kernel_shape.empty()) {
      CELER_CHECK(!k.is_static() || k.value() == window.kernel_shape[i], kShapeMismatch,
                  "attribute 'kernel_shape' = ", dims_to_string(window.kernel_shape),
                  " does not match weight W of shape ", ws.to_string());
      k = Dim(window.kernel_shape[i]);
    }
    Dim in = xs.rank_known() ? xs[2 + i] : Dim();
    if (!in.is_static() || !k.is_static()) continue;
    WindowAxis a = window_axis(in.value(), k.value(), window.stride(i), window.dilation(i), window.pad_begin(i),
                               window.pad_end(i, spatial), window.auto_pad);
    CELER_CHECK(a.out > 0, kShapeMismatch, "input X of shape ", xs.to_string(), " is too small for weight W of shape ",
                ws.to_string(), " on spatial axis ", i, " (with the given pads, strides and dilations)");
    out[2 + i] = Dim(a.out);
  }
  ctx.set_output(0, e, PartialShape(std::move(out)));
  check_post_ops(post_ops, ctx, e, ctx.output_types()[0].shape);
}

namespace {

// Spatial geometry padded to 3 axes with leading 1s (so 1-D and 2-D convolutions run through the 3-D loop).
struct Geom3 {
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, p[3] = {0, 0, 0};
};

Geom3 make_geom(const WindowAttrs& w, const Dims& x, const Dims& wdims, const Dims& y) {
  const size_t spatial = x.size() - 2;
  CELER_CHECK(spatial >= 1 && spatial <= 3, kUnsupported, "Conv with ", spatial,
              " spatial axes (1, 2 or 3 are supported)");
  Geom3 g;
  const size_t off = 3 - spatial;
  for (size_t i = 0; i < spatial; ++i) {
    g.in[off + i] = x[2 + i];
    g.out[off + i] = y[2 + i];
    g.k[off + i] = wdims[2 + i];
    g.s[off + i] = w.stride(i);
    g.d[off + i] = w.dilation(i);
    g.p[off + i] = window_axis(x[2 + i], wdims[2 + i], w.stride(i), w.dilation(i), w.pad_begin(i),
                               w.pad_end(i, spatial), w.auto_pad)
                       .pad_begin;
  }
  return g;
}

// The output positions o in [0, out) whose input position o*s - p + k*d lies in [0, in): [lo, hi).
inline void valid_range(int64_t in, int64_t out, int64_t s, int64_t off, int64_t& lo, int64_t& hi) {
  // o*s + off >= 0  and  o*s + off <= in - 1, where off = k*d - p
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = in - 1 - off < 0 ? 0 : (in - 1 - off) / s + 1;
  hi = std::min(hi, out);
  if (lo > hi) lo = hi;
}

// Accumulates the contribution of one input plane x to MB output planes y[b] (weights w[b]): one kernel tap at a time
// over a contiguous run of output positions, the MB planes sharing each loaded input value.
template <typename A, int MB>
void conv_planes_accumulate(const Geom3& g, const A* x, const A* const* w, A* const* y) {
  const int64_t IH = g.in[1], IW = g.in[2], OH = g.out[1], OW = g.out[2];
  for (int64_t kd = 0; kd < g.k[0]; ++kd) {
    int64_t od_lo, od_hi;
    const int64_t offd = kd * g.d[0] - g.p[0];
    valid_range(g.in[0], g.out[0], g.s[0], offd, od_lo, od_hi);
    for (int64_t kh = 0; kh < g.k[1]; ++kh) {
      int64_t oh_lo, oh_hi;
      const int64_t offh = kh * g.d[1] - g.p[1];
      valid_range(IH, OH, g.s[1], offh, oh_lo, oh_hi);
      for (int64_t kw = 0; kw < g.k[2]; ++kw) {
        A wv[MB];
        for (int b = 0; b < MB; ++b) wv[b] = w[b][(kd * g.k[1] + kh) * g.k[2] + kw];
        int64_t ow_lo, ow_hi;
        const int64_t offw = kw * g.d[2] - g.p[2];
        valid_range(IW, OW, g.s[2], offw, ow_lo, ow_hi);
        if (ow_lo >= ow_hi) continue;
        const int64_t sw = g.s[2];
        // Whole rows map onto whole consecutive rows: one contiguous run over several rows.
        const bool rows_contiguous = sw == 1 && g.s[1] == 1 && ow_lo == 0 && ow_hi == OW && OW == IW && offw == 0;
        for (int64_t od = od_lo; od < od_hi; ++od) {
          const int64_t id = od * g.s[0] + offd;
          const A* xp = x + id * IH * IW;
          auto run = [&](const A* xr, int64_t yoff, int64_t n, int64_t step) {
            A* yr[MB];
            for (int b = 0; b < MB; ++b) yr[b] = y[b] + yoff;
            for (int64_t i = 0; i < n; ++i) {
              const A xv = xr[i * step];
              for (int b = 0; b < MB; ++b) yr[b][i] += wv[b] * xv;
            }
          };
          if (rows_contiguous) {
            run(xp + (oh_lo + offh) * IW, od * OH * OW + oh_lo * OW, (oh_hi - oh_lo) * OW, 1);
            continue;
          }
          for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
            const int64_t ih = oh * g.s[1] + offh;
            const A* xr = xp + ih * IW + ow_lo * sw + offw;
            const int64_t yoff = od * OH * OW + oh * OW + ow_lo;
            if (sw == 1)
              run(xr, yoff, ow_hi - ow_lo, 1);
            else
              run(xr, yoff, ow_hi - ow_lo, sw);
          }
        }
      }
    }
  }
}

template <typename A, typename T>
const A* as_acc(const Tensor& t, std::vector<A>& buf) {
  if constexpr (std::is_same_v<A, T>) {
    return t.data<T>();
  } else {
    const T* p = t.data<T>();
    buf.resize(size_t(t.size()));
    for (int64_t i = 0; i < t.size(); ++i) buf[size_t(i)] = A(float(p[i]));
    return buf.data();
  }
}

}  // namespace

void Conv::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (y.size() == 0) return;
  const Geom3 g = make_geom(window, x.dims(), w.dims(), y.dims());
  const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0), Cg = w.dim(1), Mg = M / group;
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  const int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
  const int64_t ksize = g.k[0] * g.k[1] * g.k[2];
  dispatch_float(x.type(), [&]<typename T>() {
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    std::vector<A> xb, wb, bb, yb;
    const A* xp = as_acc<A, T>(x, xb);
    const A* wp = as_acc<A, T>(w, wb);
    const A* bp = ctx.has_input(2) ? as_acc<A, T>(ctx.input(2), bb) : nullptr;
    A* yp;
    if constexpr (std::is_same_v<A, T>) {
      yp = y.data<T>();
    } else {
      yb.resize(size_t(y.size()));
      yp = yb.data();
    }
    constexpr int kBlock = 4;  // output channels computed together
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t m = 0; m < M; ++m) {
        A* yplane = yp + (n * M + m) * out_plane;
        std::fill(yplane, yplane + out_plane, bp ? bp[m] : A(0));
      }
      for (int64_t grp = 0; grp < group; ++grp) {
        for (int64_t m0 = grp * Mg; m0 < (grp + 1) * Mg;) {
          const int64_t mb = (grp + 1) * Mg - m0 >= kBlock ? kBlock : 1;
          for (int64_t c = 0; c < Cg; ++c) {
            const A* xplane = xp + (n * C + grp * Cg + c) * in_plane;
            const A* wb[kBlock];
            A* yb[kBlock];
            for (int64_t b = 0; b < mb; ++b) {
              wb[b] = wp + ((m0 + b) * Cg + c) * ksize;
              yb[b] = yp + (n * M + m0 + b) * out_plane;
            }
            if (mb == kBlock)
              conv_planes_accumulate<A, kBlock>(g, xplane, wb, yb);
            else
              conv_planes_accumulate<A, 1>(g, xplane, wb, yb);
          }
          m0 += mb;
        }
      }
    }
    if constexpr (!std::is_same_v<A, T>) {
      T* out = y.data<T>();
      for (int64_t i = 0; i < y.size(); ++i) out[i] = T(float(yb[size_t(i)]));
    }
  });
  apply_post_ops(post_ops, ctx, y);
}

double Conv::flops(const Node& node) const {
  const auto& ys = node.outputs[0]->type.shape;
  const auto& ws = node.inputs[1]->type.shape;
  if (!ys.is_static() || !ws.is_static()) return 0;
  Dims wd = ws.to_dims();
  double per_out = 1;
  for (size_t i = 1; i < wd.size(); ++i) per_out *= double(wd[i]);
  return 2.0 * double(element_count(ys.to_dims())) * per_out;
}

namespace {
void import_conv(OnnxNode& n) {
  auto op = std::make_unique<Conv>();
  op->window = read_window_attrs(n);
  op->group = n.attr_int("group", 1);
  if (op->group <= 0) n.fail("attribute 'group' = ", op->group, " must be positive");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Conv() { return std::make_unique<Conv>(); }

void register_op_Conv(OpRegistry& r) { r.add_onnx("Conv", 1, kMaxOpset, import_conv); }

}  // namespace celer
