// GridSample: samples a [N, C, H, W] input at the normalised (x, y) locations of a [N, Ho, Wo, 2] grid, giving
// [N, C, Ho, Wo]; bilinear, nearest or bicubic interpolation with zeros, border or reflection padding.
#include <algorithm>
#include <cmath>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

enum class GridMode : uint8_t { kBilinear, kNearest, kBicubic };
enum class GridPadding : uint8_t { kZeros, kBorder, kReflection };

class GridSample final : public OpBase<GridSample, OpKind::kGridSample> {
 public:
  GridMode mode = GridMode::kBilinear;
  GridPadding padding = GridPadding::kZeros;
  bool align_corners = false;

  const char* type_name() const override { return "GridSample"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "mode", mode, GridMode::kBicubic);
    visit_enum(v, "padding", padding, GridPadding::kReflection);
    v.on("align_corners", align_corners);
  }

  void infer(InferContext& ctx) const override {
    ElementType e = ctx.input_elem(0);
    CELER_CHECK(e != ElementType::kString, kInvalidModel, "input 'X' must be numeric");
    CELER_CHECK(is_float(ctx.input_elem(1)), kInvalidModel, "input 'grid' has element type ",
                element_type_name(ctx.input_elem(1)), ", a float type is required");
    const PartialShape& x = ctx.input_shape(0);
    const PartialShape& g = ctx.input_shape(1);
    CELER_CHECK(!x.rank_known() || x.rank() == 4, kShapeMismatch, "input 'X' of shape ", x.to_string(),
                " must have rank 4");
    CELER_CHECK(!g.rank_known() || (g.rank() == 4 && (!g[3].is_static() || g[3].value() == 2)), kShapeMismatch,
                "input 'grid' of shape ", g.to_string(), " must be [N, H_out, W_out, 2]");
    Dim n = x.rank_known() ? x[0] : Dim();
    if (g.rank_known()) {
      CELER_CHECK(!n.is_static() || !g[0].is_static() || n.value() == g[0].value(), kShapeMismatch, "inputs 'X' ",
                  x.to_string(), " and 'grid' ", g.to_string(), " differ in the batch dim");
      if (!n.is_static()) n = g[0];
    }
    ctx.set_output(
        0, e,
        PartialShape({n, x.rank_known() ? x[1] : Dim(), g.rank_known() ? g[1] : Dim(), g.rank_known() ? g[2] : Dim()}));
  }

  // Pixel coordinate of a normalised one.
  double unnormalize(double c, int64_t size) const {
    return align_corners ? (c + 1) / 2 * double(size - 1) : ((c + 1) * double(size) - 1) / 2;
  }
  static double reflect(double c, double twice_low, double twice_high) {
    if (twice_low == twice_high) return 0;
    double lo = twice_low / 2, span = (twice_high - twice_low) / 2;
    c = std::fabs(c - lo);
    double extra = std::fmod(c, span);
    double flips = std::floor(c / span);
    return std::fmod(flips, 2.0) == 0 ? extra + lo : span - extra + lo;
  }
  // Applies border or reflection padding to a pixel coordinate.
  double pad_coord(double c, int64_t size) const {
    if (!std::isfinite(c)) return padding == GridPadding::kZeros ? c : 0;
    if (padding == GridPadding::kBorder) return std::clamp(c, 0.0, double(size - 1));
    if (padding == GridPadding::kReflection) {
      c = align_corners ? reflect(c, 0, 2.0 * double(size - 1)) : reflect(c, -1, 2.0 * double(size) - 1);
      return std::clamp(c, 0.0, double(size - 1));
    }
    return c;
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& grid = ctx.input(1);
    Tensor& y = ctx.output(0);
    const int64_t n = x.dim(0), ch = x.dim(1), h = x.dim(2), w = x.dim(3);
    const int64_t oh = grid.dim(1), ow = grid.dim(2);
    std::vector<double> gv(size_t(grid.size()));
    dispatch_float(grid.type(), [&]<typename G>() {
      const G* p = grid.data<G>();
      for (size_t i = 0; i < gv.size(); ++i) gv[i] = double(p[i]);
    });
    dispatch_numeric(x.type(), [&]<typename T>() {
      const T* in = x.data<T>();
      T* out = y.data<T>();
      for (int64_t b = 0; b < n; ++b)
        for (int64_t c = 0; c < ch; ++c) {
          const T* plane = in + (b * ch + c) * h * w;
          // Value at integer pixel (yy, xx), 0 outside.
          auto at = [&](double yy, double xx) -> double {
            if (!(yy >= 0 && yy <= double(h - 1) && xx >= 0 && xx <= double(w - 1))) return 0;
            return double(plane[int64_t(yy) * w + int64_t(xx)]);
          };
          for (int64_t i = 0; i < oh; ++i)
            for (int64_t j = 0; j < ow; ++j) {
              const double* gp = &gv[size_t(((b * oh + i) * ow + j) * 2)];
              double ix = unnormalize(gp[0], w), iy = unnormalize(gp[1], h);
              double v = 0;
              if (mode == GridMode::kBicubic) {
                double x0 = std::floor(ix), y0 = std::floor(iy);
                double cx[4], cy[4];
                cubic_coeffs(ix - x0, cx);
                cubic_coeffs(iy - y0, cy);
                for (int dy = 0; dy < 4; ++dy)
                  for (int dx = 0; dx < 4; ++dx)
                    v += cy[dy] * cx[dx] * at(pad_coord(y0 - 1 + dy, h), pad_coord(x0 - 1 + dx, w));
              } else {
                ix = pad_coord(ix, w);
                iy = pad_coord(iy, h);
                if (mode == GridMode::kNearest) {
                  v = at(std::nearbyint(iy), std::nearbyint(ix));
                } else {
                  double x0 = std::floor(ix), y0 = std::floor(iy), lx = ix - x0, ly = iy - y0;
                  v = (1 - ly) * (1 - lx) * at(y0, x0) + (1 - ly) * lx * at(y0, x0 + 1) +
                      ly * (1 - lx) * at(y0 + 1, x0) + ly * lx * at(y0 + 1, x0 + 1);
                }
              }
              T* o = out + ((b * ch + c) * oh + i) * ow + j;
              if constexpr (std::is_same_v<T, double>)
                *o = v;
              else if constexpr (std::is_integral_v<T>)
                *o = T(std::isfinite(v) ? std::nearbyint(v) : 0);
              else
                *o = T(float(v));
            }
        }
    });
  }

 private:
  static void cubic_coeffs(double t, double* c) {
    const double a = -0.75;
    auto near = [&](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };
    auto far = [&](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };
    c[0] = far(t + 1);
    c[1] = near(t);
    c[2] = near(1 - t);
    c[3] = far(2 - t);
  }
};

namespace {
void import_grid_sample(OnnxNode& n) {
  auto op = std::make_unique<GridSample>();
  std::string mode = n.attr_string("mode", "bilinear");
  if (mode == "bilinear")
    op->mode = GridMode::kBilinear;
  else if (mode == "nearest")
    op->mode = GridMode::kNearest;
  else if (mode == "bicubic")
    op->mode = GridMode::kBicubic;
  else
    n.fail("attribute 'mode' = '", mode, "' must be 'bilinear', 'nearest' or 'bicubic'");
  std::string pad = n.attr_string("padding_mode", "zeros");
  if (pad == "zeros")
    op->padding = GridPadding::kZeros;
  else if (pad == "border")
    op->padding = GridPadding::kBorder;
  else if (pad == "reflection")
    op->padding = GridPadding::kReflection;
  else
    n.fail("attribute 'padding_mode' = '", pad, "' must be 'zeros', 'border' or 'reflection'");
  op->align_corners = n.attr_int("align_corners", 0) != 0;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_GridSample() { return std::make_unique<GridSample>(); }

void register_op_GridSample(OpRegistry& r) { r.add_onnx("GridSample", 16, kMaxOpset, import_grid_sample); }

}  // namespace celer
