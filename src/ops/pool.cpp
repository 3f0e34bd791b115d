// Pool: sliding-window (or global) average, max and Lp pooling over the spatial axes of an N x C x D1 x ... input.
// MaxPool can also output the flat indices of the maxima (row major, or column major over the spatial axes when
// storage_order = 1). Padding never contributes a value; AveragePool with count_include_pad divides by the window
// size clipped to the padded input instead of by the number of real elements.
#include "ops/pool.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

const char* Pool::type_name() const {
  switch (fn) {
    case PoolFn::kAverage:
      return global ? "GlobalAveragePool" : "AveragePool";
    case PoolFn::kMax:
      return global ? "GlobalMaxPool" : "MaxPool";
    case PoolFn::kLp:
      return global ? "GlobalLpPool" : "LpPool";
  }
  return "Pool";
}

void Pool::infer(InferContext& ctx) const {
  const ElementType e = ctx.input_elem(0);
  const bool int_ok = fn == PoolFn::kMax && (e == ElementType::kI8 || e == ElementType::kU8);
  CELER_CHECK(is_float(e) || int_ok, kInvalidModel, "input X has element type ", element_type_name(e), "; ",
              type_name(), " needs a float type", fn == PoolFn::kMax ? ", int8 or uint8" : "");
  CELER_CHECK(fn == PoolFn::kMax || !ctx.has_output(1), kInvalidModel, type_name(), " has only one output");
  const PartialShape& xs = ctx.input_shape(0);
  PartialShape out;
  if (xs.rank_known()) {
    CELER_CHECK(xs.rank() >= (global ? 2 : 3), kShapeMismatch, "input X of shape ", xs.to_string(),
                " needs rank >= 3 (N, C, spatial axes...)");
    const size_t spatial = size_t(xs.rank() - 2);
    std::vector<Dim> dims = xs.dims();
    if (global) {
      for (size_t i = 0; i < spatial; ++i) dims[2 + i] = Dim(1);
    } else {
      window.check_rank(spatial);
      CELER_CHECK(window.kernel_shape.size() == spatial, kInvalidModel, "attribute 'kernel_shape' is required");
      for (size_t i = 0; i < spatial; ++i) {
        if (!dims[2 + i].is_static()) {
          dims[2 + i] = Dim();
          continue;
        }
        WindowAxis a = window_axis(dims[2 + i].value(), window.kernel_shape[i], window.stride(i), window.dilation(i),
                                   window.pad_begin(i), window.pad_end(i, spatial), window.auto_pad, ceil_mode);
        CELER_CHECK(a.out > 0, kShapeMismatch, "input X of shape ", xs.to_string(),
                    " is smaller than attribute 'kernel_shape' = ", dims_to_string(window.kernel_shape),
                    " on spatial axis ", i, " (with the given pads and dilations)");
        dims[2 + i] = Dim(a.out);
      }
    }
    out = PartialShape(std::move(dims));
  }
  ctx.set_output(0, e, out);
  if (ctx.has_output(1)) ctx.set_output(1, ElementType::kI64, out);
}

namespace {

struct PoolGeom {
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1},
          pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
};

template <typename T>
void pool_kernel(const Pool& op, const PoolGeom& g, int64_t planes, const T* x, T* y, int64_t* idx) {
  const int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  const int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
  for (int64_t nc = 0; nc < planes; ++nc) {
    const T* xp = x + nc * in_plane;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const int64_t o = (od * g.out[1] + oh) * g.out[2] + ow;
          const int64_t start[3] = {od * g.s[0] - g.pb[0], oh * g.s[1] - g.pb[1], ow * g.s[2] - g.pb[2]};
          double acc = 0;
          double best = -std::numeric_limits<double>::infinity();
          int64_t best_at = -1, count = 0, padded_count = 1;
          for (int a = 0; a < 3; ++a) {  // window size clipped to the padded input (count_include_pad)
            int64_t c = 0;
            for (int64_t k = 0; k < g.k[a]; ++k) {
              int64_t i = start[a] + k * g.d[a];
              c += i >= -g.pb[a] && i < g.in[a] + g.pe[a];
            }
            padded_count *= c;
          }
          for (int64_t kd = 0; kd < g.k[0]; ++kd) {
            const int64_t id = start[0] + kd * g.d[0];
            if (id < 0 || id >= g.in[0]) continue;
            for (int64_t kh = 0; kh < g.k[1]; ++kh) {
              const int64_t ih = start[1] + kh * g.d[1];
              if (ih < 0 || ih >= g.in[1]) continue;
              for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                const int64_t iw = start[2] + kw * g.d[2];
                if (iw < 0 || iw >= g.in[2]) continue;
                const int64_t at = (id * g.in[1] + ih) * g.in[2] + iw;
                const double v = double(xp[at]);
                ++count;
                switch (op.fn) {
                  case PoolFn::kAverage:
                    acc += v;
                    break;
                  case PoolFn::kLp:
                    acc += std::pow(std::fabs(v), double(op.p));
                    break;
                  case PoolFn::kMax:
                    if (best_at < 0 || v > best || (std::isnan(v) && !std::isnan(best))) {
                      best = v;
                      best_at = op.storage_order == 0 ? at : (iw * g.in[1] + ih) * g.in[0] + id;
                    }
                    break;
                }
              }
            }
          }
          double r = 0;
          switch (op.fn) {
            case PoolFn::kAverage: {
              int64_t div = op.count_include_pad ? padded_count : count;
              r = div > 0 ? acc / double(div) : 0.0;
              break;
            }
            case PoolFn::kLp:
              r = std::pow(acc, 1.0 / double(op.p));
              break;
            case PoolFn::kMax:
              r = best_at >= 0 ? best : 0.0;
              break;
          }
          if constexpr (std::is_integral_v<T>)
            y[nc * out_plane + o] = T(r);
          else
            y[nc * out_plane + o] = T(float(r));
          if (idx) idx[nc * out_plane + o] = best_at < 0 ? -1 : nc * in_plane + best_at;
        }
  }
}

template <typename T>
void global_kernel(PoolFn fn, float p, int64_t planes, int64_t size, const T* x, T* y) {
  for (int64_t nc = 0; nc < planes; ++nc) {
    const T* xp = x + nc * size;
    double acc = fn == PoolFn::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
    for (int64_t i = 0; i < size; ++i) {
      const double v = double(xp[i]);
      if (fn == PoolFn::kAverage)
        acc += v;
      else if (fn == PoolFn::kLp)
        acc += std::pow(std::fabs(v), double(p));
      else if (v > acc || std::isnan(v))
        acc = std::isnan(acc) ? acc : v;
    }
    if (fn == PoolFn::kAverage) acc = size > 0 ? acc / double(size) : 0.0;
    if (fn == PoolFn::kLp) acc = std::pow(acc, 1.0 / double(p));
    if constexpr (std::is_integral_v<T>)
      y[nc] = T(acc);
    else
      y[nc] = T(float(acc));
  }
}

}  // namespace

void Pool::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  Tensor* ind = ctx.has_output(1) ? &ctx.output(1) : nullptr;
  if (y.size() == 0) return;
  const int64_t planes = x.dim(0) * x.dim(1);
  const size_t spatial = x.dims().size() - 2;
  if (global) {
    const int64_t size = planes > 0 ? x.size() / planes : 0;
    dispatch_numeric(x.type(), [&]<typename T>() {
      if constexpr (std::is_same_v<T, bool>) {
        CELER_THROW(kUnsupported, "bool input");
      } else {
        global_kernel<T>(fn, p, planes, size, x.data<T>(), y.data<T>());
      }
    });
    return;
  }
  CELER_CHECK(spatial >= 1 && spatial <= 3, kUnsupported, type_name(), " with ", spatial,
              " spatial axes (1, 2 or 3 are supported)");
  PoolGeom g;
  const size_t off = 3 - spatial;
  for (size_t i = 0; i < spatial; ++i) {
    WindowAxis a = window_axis(x.dim(2 + int64_t(i)), window.kernel_shape[i], window.stride(i), window.dilation(i),
                               window.pad_begin(i), window.pad_end(i, spatial), window.auto_pad, ceil_mode);
    g.in[off + i] = x.dim(2 + int64_t(i));
    g.out[off + i] = y.dim(2 + int64_t(i));
    g.k[off + i] = window.kernel_shape[i];
    g.s[off + i] = window.stride(i);
    g.d[off + i] = window.dilation(i);
    g.pb[off + i] = a.pad_begin;
    g.pe[off + i] = a.pad_end;
  }
  dispatch_numeric(x.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      CELER_THROW(kUnsupported, "bool input");
    } else {
      pool_kernel<T>(*this, g, planes, x.data<T>(), y.data<T>(), ind ? ind->data<int64_t>() : nullptr);
    }
  });
}

namespace {
template <PoolFn F, bool Global>
void import_pool(OnnxNode& n) {
  auto op = std::make_unique<Pool>();
  op->fn = F;
  op->global = Global;
  if constexpr (!Global) {
    op->window = read_window_attrs(n);
    if (op->window.kernel_shape.empty()) n.fail("attribute 'kernel_shape' is required");
    op->ceil_mode = n.attr_int("ceil_mode", 0) != 0;
    op->count_include_pad = n.attr_int("count_include_pad", 0) != 0;
    op->storage_order = n.attr_int("storage_order", 0);
    if (op->storage_order != 0 && op->storage_order != 1)
      n.fail("attribute 'storage_order' = ", op->storage_order, " must be 0 or 1");
    if (F != PoolFn::kMax && !op->window.dilations.empty()) {
      for (int64_t d : op->window.dilations)
        if (d != 1 && n.opset() < 19) n.fail("attribute 'dilations' is only defined for MaxPool");
    }
  }
  if constexpr (F == PoolFn::kLp) {
    // LpPool-1 had a float 'p'; later versions an int.
    op->p = n.opset() < 2 ? n.attr_float("p", 2.0f) : float(n.attr_int("p", 2));
    if (!(op->p > 0)) n.fail("attribute 'p' = ", op->p, " must be positive");
  }
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Pool() { return std::make_unique<Pool>(); }

void register_op_Pool(OpRegistry& r) {
  r.add_onnx("AveragePool", 1, kMaxOpset, import_pool<PoolFn::kAverage, false>);
  r.add_onnx("MaxPool", 1, kMaxOpset, import_pool<PoolFn::kMax, false>);
  r.add_onnx("LpPool", 1, kMaxOpset, import_pool<PoolFn::kLp, false>);
  r.add_onnx("GlobalAveragePool", 1, kMaxOpset, import_pool<PoolFn::kAverage, true>);
  r.add_onnx("GlobalMaxPool", 1, kMaxOpset, import_pool<PoolFn::kMax, true>);
  r.add_onnx("GlobalLpPool", 1, kMaxOpset, import_pool<PoolFn::kLp, true>);
}

}  // namespace celer
