// ConvTranspose: the gradient of Conv with respect to its input. Every input element X[n, c, i...] scatters
// X * W[c, m, k...] onto Y[n, g*M/G + m, i*s - pad + k*d]. Output size: s*(in-1) + output_padding + (k-1)*d + 1 - pads,
// or the 'output_shape' attribute (the pads then follow from it).
#include <algorithm>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/conv_transpose.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

void ConvTranspose::infer(InferContext& ctx) const {
  const ElementType e = ctx.input_elem(0);
  const int64_t spatial_axes = check_conv_operands(ctx, "ConvTranspose");
  if (spatial_axes < 0) {
    ctx.set_output(0, e, PartialShape());
    return;
  }
  const PartialShape& xs = ctx.input_shape(0);
  const PartialShape& ws = ctx.input_shape(1);
  const int64_t rank = spatial_axes + 2;
  const size_t spatial = size_t(spatial_axes);
  window.check_rank(spatial);
  CELER_CHECK(output_padding.empty() || output_padding.size() == spatial, kInvalidModel,
              "attribute 'output_padding' has ", output_padding.size(), " values but the input has ", spatial,
              " spatial axes");
  CELER_CHECK(output_shape.empty() || output_shape.size() == spatial, kInvalidModel, "attribute 'output_shape' has ",
              output_shape.size(), " values but the input has ", spatial, " spatial axes");
  const Dim c_in = xs.rank_known() ? xs[1] : Dim();
  const Dim c_w = ws.rank_known() ? ws[0] : Dim();
  if (c_in.is_static() && c_w.is_static())
    CELER_CHECK(c_in.value() == c_w.value(), kShapeMismatch, "input X of shape ", xs.to_string(), " has ", c_in.value(),
                " channels but weight W of shape ", ws.to_string(), " expects ", c_w.value());
  if (c_in.is_static())
    CELER_CHECK(c_in.value() % group == 0, kShapeMismatch, "attribute 'group' = ", group, " does not divide the ",
                c_in.value(), " channels of input X of shape ", xs.to_string());
  Dim m = ws.rank_known() && ws[1].is_static() ? Dim(ws[1].value() * group) : Dim();
  if (ctx.has_input(2)) {
    const PartialShape& bs = ctx.input_shape(2);
    CELER_CHECK(ctx.input_elem(2) == e, kInvalidModel, "bias B has element type ", element_type_name(ctx.input_elem(2)),
                " but input X has ", element_type_name(e));
    if (bs.rank_known())
      CELER_CHECK(bs.rank() == 1 && (!bs[0].is_static() || !m.is_static() || bs[0].value() == m.value()),
                  kShapeMismatch, "bias B of shape ", bs.to_string(),
                  " does not match the output channels of weight W of shape ", ws.to_string(), " with group = ", group);
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
    if (!output_shape.empty()) out[2 + i] = Dim(output_shape[i]);
    if (!in.is_static() || !k.is_static()) continue;
    int64_t o, pb;
    axis(i, spatial, in.value(), k.value(), o, pb);
    CELER_CHECK(o > 0, kShapeMismatch, "output spatial axis ", i, " would have length ", o, " for input X of shape ",
                xs.to_string(), " and weight W of shape ", ws.to_string());
    out[2 + i] = Dim(o);
  }
  ctx.set_output(0, e, PartialShape(std::move(out)));
}

namespace {

// The input positions i in [0, in) whose output position i*s + off lies in [0, out): [lo, hi).
inline void valid_inputs(int64_t in, int64_t out, int64_t s, int64_t off, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = out - 1 - off < 0 ? 0 : (out - 1 - off) / s + 1;
  hi = std::min(hi, in);
  if (lo > hi) lo = hi;
}

struct Geom3 {
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, p[3] = {0, 0, 0};
};

template <typename A>
void scatter_plane(const Geom3& g, const A* x, const A* w, A* y) {
  const int64_t IH = g.in[1], IW = g.in[2], OH = g.out[1], OW = g.out[2];
  for (int64_t kd = 0; kd < g.k[0]; ++kd) {
    const int64_t offd = kd * g.d[0] - g.p[0];
    int64_t id_lo, id_hi;
    valid_inputs(g.in[0], g.out[0], g.s[0], offd, id_lo, id_hi);
    for (int64_t kh = 0; kh < g.k[1]; ++kh) {
      const int64_t offh = kh * g.d[1] - g.p[1];
      int64_t ih_lo, ih_hi;
      valid_inputs(IH, OH, g.s[1], offh, ih_lo, ih_hi);
      for (int64_t kw = 0; kw < g.k[2]; ++kw) {
        const int64_t offw = kw * g.d[2] - g.p[2];
        int64_t iw_lo, iw_hi;
        valid_inputs(IW, OW, g.s[2], offw, iw_lo, iw_hi);
        const A wv = w[(kd * g.k[1] + kh) * g.k[2] + kw];
        const int64_t sw = g.s[2], n = iw_hi - iw_lo;
        if (n <= 0) continue;
        for (int64_t id = id_lo; id < id_hi; ++id) {
          const int64_t od = id * g.s[0] + offd;
          for (int64_t ih = ih_lo; ih < ih_hi; ++ih) {
            const int64_t oh = ih * g.s[1] + offh;
            const A* xr = x + (id * IH + ih) * IW + iw_lo;
            A* yr = y + (od * OH + oh) * OW + iw_lo * sw + offw;
            if (sw == 1) {
              for (int64_t i = 0; i < n; ++i) yr[i] += wv * xr[i];
            } else {
              for (int64_t i = 0; i < n; ++i) yr[i * sw] += wv * xr[i];
            }
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

void ConvTranspose::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (y.size() == 0) return;
  const size_t spatial = x.dims().size() - 2;
  CELER_CHECK(spatial >= 1 && spatial <= 3, kUnsupported, "ConvTranspose with ", spatial,
              " spatial axes (1, 2 or 3 are supported)");
  Geom3 g;
  const size_t off = 3 - spatial;
  for (size_t i = 0; i < spatial; ++i) {
    int64_t o, pb;
    axis(i, spatial, x.dim(2 + int64_t(i)), w.dim(2 + int64_t(i)), o, pb);
    g.in[off + i] = x.dim(2 + int64_t(i));
    g.out[off + i] = y.dim(2 + int64_t(i));
    g.k[off + i] = w.dim(2 + int64_t(i));
    g.s[off + i] = window.stride(i);
    g.d[off + i] = window.dilation(i);
    g.p[off + i] = pb;
  }
  const int64_t N = x.dim(0), C = x.dim(1), Mg = w.dim(1), M = Mg * group, Cg = C / group;
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
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t m = 0; m < M; ++m) {
        A* yplane = yp + (n * M + m) * out_plane;
        std::fill(yplane, yplane + out_plane, bp ? bp[m] : A(0));
      }
      for (int64_t c = 0; c < C; ++c) {
        const int64_t grp = c / Cg;
        const A* xplane = xp + (n * C + c) * in_plane;
        for (int64_t mo = 0; mo < Mg; ++mo) {
          const int64_t m = grp * Mg + mo;
          scatter_plane(g, xplane, wp + (c * Mg + mo) * ksize, yp + (n * M + m) * out_plane);
        }
      }
    }
    if constexpr (!std::is_same_v<A, T>) {
      T* out = y.data<T>();
      for (int64_t i = 0; i < y.size(); ++i) out[i] = T(float(yb[size_t(i)]));
    }
  });
}

double ConvTranspose::flops(const Node& node) const {
  const auto& xs = node.inputs[0]->type.shape;
  const auto& ws = node.inputs[1]->type.shape;
  if (!xs.is_static() || !ws.is_static()) return 0;
  Dims wd = ws.to_dims();
  double per_in = 1;
  for (size_t i = 1; i < wd.size(); ++i) per_in *= double(wd[i]);
  return 2.0 * double(element_count(xs.to_dims())) * per_in;
}

namespace {
void import_conv_transpose(OnnxNode& n) {
  auto op = std::make_unique<ConvTranspose>();
  op->window = read_window_attrs(n);
  op->group = n.attr_int("group", 1);
  if (op->group <= 0) n.fail("attribute 'group' = ", op->group, " must be positive");
  op->output_padding = n.attr_ints("output_padding", std::vector<int64_t>{});
  for (int64_t v : op->output_padding)
    if (v < 0) n.fail("attribute 'output_padding' = ", dims_to_string(op->output_padding), " must not be negative");
  op->output_shape = n.attr_ints("output_shape", std::vector<int64_t>{});
  const size_t k = op->window.kernel_shape.size();
  // Some exporters write the full output shape (N, C, spatial...): keep the spatial part.
  if (k != 0 && op->output_shape.size() == k + 2)
    op->output_shape.erase(op->output_shape.begin(), op->output_shape.begin() + 2);
  for (int64_t v : op->output_shape)
    if (v <= 0) n.fail("attribute 'output_shape' = ", dims_to_string(op->output_shape), " must be positive");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_ConvTranspose() { return std::make_unique<ConvTranspose>(); }

void register_op_ConvTranspose(OpRegistry& r) { r.add_onnx("ConvTranspose", 1, kMaxOpset, import_conv_transpose); }

}  // namespace celer
