// RoiAlign: pools each region of interest of a [N, C, H, W] feature map into [C, output_height, output_width] by
// averaging (or taking the max of) bilinearly interpolated samples on a regular grid inside each bin.
#include <algorithm>
#include <cmath>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class RoiAlign final : public OpBase<RoiAlign, OpKind::kRoiAlign> {
 public:
  bool max_mode = false;
  bool half_pixel = true;  // coordinate_transformation_mode: half_pixel (true) or output_half_pixel (false)
  int64_t output_height = 1;
  int64_t output_width = 1;
  int64_t sampling_ratio = 0;
  float spatial_scale = 1.0f;

  const char* type_name() const override { return "RoiAlign"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("max_mode", max_mode);
    v.on("half_pixel", half_pixel);
    v.on("output_height", output_height);
    v.on("output_width", output_width);
    v.on("sampling_ratio", sampling_ratio);
    v.on("spatial_scale", spatial_scale);
  }

  void infer(InferContext& ctx) const override {
    ElementType e = ctx.input_elem(0);
    CELER_CHECK(is_float(e), kInvalidModel, "input 'X' has element type ", element_type_name(e),
                ", a float type is required");
    CELER_CHECK(ctx.input_elem(1) == e, kInvalidModel, "input 'rois' has element type ",
                element_type_name(ctx.input_elem(1)), ", expected ", element_type_name(e));
    CELER_CHECK(is_integer(ctx.input_elem(2)), kInvalidModel, "input 'batch_indices' must be an integer tensor");
    const PartialShape& x = ctx.input_shape(0);
    const PartialShape& r = ctx.input_shape(1);
    const PartialShape& bi = ctx.input_shape(2);
    CELER_CHECK(!x.rank_known() || x.rank() == 4, kShapeMismatch, "input 'X' of shape ", x.to_string(),
                " must have rank 4");
    CELER_CHECK(!r.rank_known() || (r.rank() == 2 && (!r[1].is_static() || r[1].value() == 4)), kShapeMismatch,
                "input 'rois' of shape ", r.to_string(), " must be [num_rois, 4]");
    CELER_CHECK(!bi.rank_known() || bi.rank() == 1, kShapeMismatch, "input 'batch_indices' of shape ", bi.to_string(),
                " must have rank 1");
    Dim n = r.rank_known() ? r[0] : (bi.rank_known() ? bi[0] : Dim());
    if (r.rank_known() && bi.rank_known()) {
      CELER_CHECK(!r[0].is_static() || !bi[0].is_static() || r[0].value() == bi[0].value(), kShapeMismatch,
                  "inputs 'rois' ", r.to_string(), " and 'batch_indices' ", bi.to_string(), " differ in num_rois");
      if (!n.is_static()) n = bi[0];
    }
    Dim c = x.rank_known() ? x[1] : Dim();
    ctx.set_output(0, e, PartialShape({n, c, Dim(output_height), Dim(output_width)}));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& rois = ctx.input(1);
    const Tensor& bidx = ctx.input(2);
    Tensor& y = ctx.output(0);
    const int64_t n = x.dim(0), ch = x.dim(1), h = x.dim(2), w = x.dim(3);
    const int64_t num_rois = rois.dim(0);
    const int64_t oh = output_height, ow = output_width;
    dispatch_float(x.type(), [&]<typename T>() {
      const T* in = x.data<T>();
      const T* rp = rois.data<T>();
      T* out = y.data<T>();
      const double offset = half_pixel ? 0.5 : 0.0;
      for (int64_t r = 0; r < num_rois; ++r) {
        const int64_t b = bidx.value_as_int(r);
        CELER_CHECK(b >= 0 && b < n, kOutOfRange, "input 'batch_indices'[", r, "] = ", b,
                    " is out of range for a batch of ", n);
        const double x1 = double(rp[r * 4 + 0]) * spatial_scale - offset;
        const double y1 = double(rp[r * 4 + 1]) * spatial_scale - offset;
        const double x2 = double(rp[r * 4 + 2]) * spatial_scale - offset;
        const double y2 = double(rp[r * 4 + 3]) * spatial_scale - offset;
        double roi_w = x2 - x1, roi_h = y2 - y1;
        if (!half_pixel) roi_w = std::max(roi_w, 1.0), roi_h = std::max(roi_h, 1.0);
        const double bin_h = roi_h / double(oh), bin_w = roi_w / double(ow);
        // Adaptive grid: ceil(roi / bins) samples per bin (none for an empty or non-finite roi).
        auto grid = [&](double extent, int64_t bins) -> int64_t {
          if (sampling_ratio > 0) return sampling_ratio;
          double g = std::ceil(extent / double(bins));
          CELER_CHECK(!(g > 1e6), kLimitExceeded, "roi ", r, " needs ", g, " samples per bin");
          return g > 0 ? int64_t(g) : 0;
        };
        const int64_t gh = grid(roi_h, oh), gw = grid(roi_w, ow);
        const double count = double(std::max<int64_t>(gh * gw, 1));
        for (int64_t c = 0; c < ch; ++c) {
          const T* plane = in + (b * ch + c) * h * w;
          auto at = [&](int64_t yy, int64_t xx) { return double(plane[yy * w + xx]); };
          for (int64_t ph = 0; ph < oh; ++ph)
            for (int64_t pw = 0; pw < ow; ++pw) {
              double acc = 0;
              bool first = true;
              for (int64_t iy = 0; iy < gh; ++iy) {
                double sy = y1 + double(ph) * bin_h + (double(iy) + 0.5) * bin_h / double(gh);
                for (int64_t ix = 0; ix < gw; ++ix) {
                  double sx = x1 + double(pw) * bin_w + (double(ix) + 0.5) * bin_w / double(gw);
                  double v = 0;
                  if (!(sy < -1.0 || sy > double(h) || sx < -1.0 || sx > double(w)) && h > 0 && w > 0) {
                    double yy = std::max(sy, 0.0), xx = std::max(sx, 0.0);
                    int64_t y_lo = int64_t(yy), x_lo = int64_t(xx), y_hi, x_hi;
                    if (y_lo >= h - 1)
                      y_hi = y_lo = h - 1, yy = double(y_lo);
                    else
                      y_hi = y_lo + 1;
                    if (x_lo >= w - 1)
                      x_hi = x_lo = w - 1, xx = double(x_lo);
                    else
                      x_hi = x_lo + 1;
                    double ly = yy - double(y_lo), lx = xx - double(x_lo), hy = 1 - ly, hx = 1 - lx;
                    double t1 = hy * hx * at(y_lo, x_lo), t2 = hy * lx * at(y_lo, x_hi);
                    double t3 = ly * hx * at(y_hi, x_lo), t4 = ly * lx * at(y_hi, x_hi);
                    v = max_mode ? std::max(std::max(t1, t2), std::max(t3, t4)) : t1 + t2 + t3 + t4;
                  }
                  if (max_mode)
                    acc = first ? v : std::max(acc, v);
                  else
                    acc += v;
                  first = false;
                }
              }
              double res = max_mode ? acc : acc / count;
              T* o = out + ((r * ch + c) * oh + ph) * ow + pw;
              if constexpr (std::is_same_v<T, double>)
                *o = res;
              else
                *o = T(float(res));
            }
        }
      }
    });
  }
};

namespace {
void import_roi_align(OnnxNode& n) {
  auto op = std::make_unique<RoiAlign>();
  std::string mode = n.attr_string("mode", "avg");
  if (mode != "avg" && mode != "max") n.fail("attribute 'mode' = '", mode, "' must be 'avg' or 'max'");
  op->max_mode = mode == "max";
  std::string ctm =
      n.attr_string("coordinate_transformation_mode", n.opset() >= 16 ? "half_pixel" : "output_half_pixel");
  if (ctm != "half_pixel" && ctm != "output_half_pixel")
    n.fail("attribute 'coordinate_transformation_mode' = '", ctm, "' must be 'half_pixel' or 'output_half_pixel'");
  op->half_pixel = ctm == "half_pixel";
  op->output_height = n.attr_int("output_height", 1);
  op->output_width = n.attr_int("output_width", 1);
  if (op->output_height <= 0) n.fail("attribute 'output_height' = ", op->output_height, " must be positive");
  if (op->output_width <= 0) n.fail("attribute 'output_width' = ", op->output_width, " must be positive");
  op->sampling_ratio = n.attr_int("sampling_ratio", 0);
  if (op->sampling_ratio < 0) n.fail("attribute 'sampling_ratio' = ", op->sampling_ratio, " must be >= 0");
  op->spatial_scale = n.attr_float("spatial_scale", 1.0f);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_RoiAlign() { return std::make_unique<RoiAlign>(); }

void register_op_RoiAlign(OpRegistry& r) { r.add_onnx("RoiAlign", 10, kMaxOpset, import_roi_align); }

}  // namespace celer
