// Resize: nearest, (multi-)linear or cubic interpolation of a tensor of any rank to new sizes, given by `scales` or
// `sizes`; also Upsample (opsets 7-9) and Resize-10, imported with their fixed asymmetric coordinate mapping.
// Inputs: X, roi (tf_crop_and_resize), scales, sizes. Interpolation is separable: each output element is a weighted
// sum over the product of per-dim taps (index, weight), computed once per dim and output coordinate.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

enum class ResizeMode : uint8_t { kNearest, kLinear, kCubic };
enum class ResizeCoord : uint8_t {
  kHalfPixel,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize
};
enum class ResizeNearest : uint8_t { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

class Resize final : public OpBase<Resize, OpKind::kResize> {
 public:
  ResizeMode mode = ResizeMode::kNearest;
  ResizeCoord coord = ResizeCoord::kHalfPixel;
  ResizeNearest nearest = ResizeNearest::kRoundPreferFloor;
  float cubic_coeff_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation_value = 0.0f;

  const char* type_name() const override { return "Resize"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "mode", mode, ResizeMode::kCubic);
    visit_enum(v, "coord", coord, ResizeCoord::kTfCropAndResize);
    visit_enum(v, "nearest", nearest, ResizeNearest::kCeil);
    v.on("cubic_coeff_a", cubic_coeff_a);
    v.on("exclude_outside", exclude_outside);
    v.on("extrapolation_value", extrapolation_value);
  }

  // A non-empty optional input's value, or nullptr (absent, empty or not known yet).
  template <typename Ctx>
  static const Tensor* given(const Ctx& ctx, size_t i, bool* present) {
    if (!ctx.has_input(i)) return nullptr;
    const Tensor* t;
    if constexpr (std::is_same_v<Ctx, InferContext>) {
      t = ctx.input_value(i);
      if (!t) {
        const PartialShape& s = ctx.input_shape(i);
        bool empty = s.rank_known() && s.rank() == 1 && s[0].is_static() && s[0].value() == 0;
        if (!empty) *present = true;
        return nullptr;
      }
    } else {
      t = &ctx.input(i);
    }
    if (t->size() == 0) return nullptr;
    *present = true;
    return t;
  }

  static std::vector<double> scale_values(const Tensor& t, int64_t rank) {
    CELER_CHECK(t.rank() == 1 && t.size() == rank, kInvalidModel, "input 'scales' of shape ", dims_to_string(t.dims()),
                " must hold one scale per input dim (", rank, ")");
    CELER_CHECK(is_float(t.type()), kInvalidModel, "input 'scales' must be a float tensor");
    std::vector<double> s(static_cast<size_t>(rank));
    for (int64_t i = 0; i < rank; ++i) {
      s[size_t(i)] = double(float(t.value_as_double(i)));
      CELER_CHECK(s[size_t(i)] > 0 && std::isfinite(s[size_t(i)]), kInvalidModel, "input 'scales'[", i,
                  "] = ", s[size_t(i)], " must be positive");
    }
    return s;
  }
  static std::vector<int64_t> size_values(const Tensor& t, int64_t rank) {
    CELER_CHECK(t.rank() == 1 && t.size() == rank && t.type() == ElementType::kI64, kInvalidModel, "input 'sizes' (",
                element_type_name(t.type()), " of shape ", dims_to_string(t.dims()),
                ") must be int64 with one size per input dim (", rank, ")");
    std::vector<int64_t> s = t.to_int_vector();
    for (int64_t i = 0; i < rank; ++i)
      CELER_CHECK(s[size_t(i)] >= 0, kInvalidModel, "input 'sizes'[", i, "] = ", s[size_t(i)], " is negative");
    return s;
  }
  // roi_end - roi_start per dim (1 without a roi).
  static std::vector<double> roi_extent(const Tensor* roi, int64_t rank) {
    std::vector<double> e(static_cast<size_t>(rank), 1.0);
    if (!roi) return e;
    CELER_CHECK(roi->size() == 2 * rank, kInvalidModel, "input 'roi' of shape ", dims_to_string(roi->dims()),
                " must hold 2 * rank = ", 2 * rank, " values");
    for (int64_t i = 0; i < rank; ++i) e[size_t(i)] = roi->value_as_double(rank + i) - roi->value_as_double(i);
    return e;
  }
  static int64_t scaled_size(int64_t in, double scale) {
    double v = std::floor(double(in) * scale);
    CELER_CHECK(v >= 0, kInvalidModel, "resized dim ", in, " x ", scale, " is negative");
    CELER_CHECK(v < 9.0e15, kLimitExceeded, "resized dim ", in, " x ", scale, " is too large");
    return int64_t(v);
  }

  void infer(InferContext& ctx) const override {
    ElementType e = ctx.input_elem(0);
    CELER_CHECK(e != ElementType::kString && e != ElementType::kBool, kInvalidModel, "input 'X' has element type ",
                element_type_name(e), ", a numeric type is required");
    const PartialShape& x = ctx.input_shape(0);
    bool scales_present = false, sizes_present = false;
    const Tensor* scales = given(ctx, 2, &scales_present);
    const Tensor* sizes = given(ctx, 3, &sizes_present);
    CELER_CHECK(!(scales && sizes), kInvalidModel, "only one of the inputs 'scales' and 'sizes' may be given");
    CELER_CHECK(scales_present || sizes_present, kInvalidModel, "one of the inputs 'scales' and 'sizes' is required");
    if (!x.rank_known()) {
      int64_t r = sizes ? sizes->size() : scales ? scales->size() : -1;
      ctx.set_output(0, e, r >= 0 ? PartialShape::unknown_dims(r) : PartialShape::unknown_rank());
      return;
    }
    const int64_t rank = x.rank();
    std::vector<Dim> out(static_cast<size_t>(rank));
    if (sizes) {
      std::vector<int64_t> s = size_values(*sizes, rank);
      for (int64_t i = 0; i < rank; ++i) out[size_t(i)] = Dim(s[size_t(i)]);
    } else if (scales && !sizes_present) {
      std::vector<double> s = scale_values(*scales, rank);
      // tf_crop_and_resize resizes the roi: its extent multiplies the scale (unknown until the roi is).
      const bool crop = coord == ResizeCoord::kTfCropAndResize;
      bool roi_present = false;
      const Tensor* roi = crop ? given(ctx, 1, &roi_present) : nullptr;
      std::vector<double> extent = roi_extent(roi, rank);
      for (int64_t i = 0; i < rank; ++i) {
        const Dim& d = x[size_t(i)];
        if (crop && !roi) continue;
        if (s[size_t(i)] == 1.0 && extent[size_t(i)] == 1.0)
          out[size_t(i)] = d;
        else if (d.is_static())
          out[size_t(i)] = Dim(scaled_size(d.value(), s[size_t(i)] * extent[size_t(i)]));
      }
    }
    ctx.set_output(0, e, PartialShape(std::move(out)));
  }

  // Source coordinate of output coordinate `o` along a dim of `in` elements resized to `out` (`len` = in * scale).
  double source_coord(int64_t o, int64_t in, double len, double scale, double start, double end) const {
    const double x = double(o);
    switch (coord) {
      case ResizeCoord::kHalfPixel:
        return (x + 0.5) / scale - 0.5;
      case ResizeCoord::kPytorchHalfPixel:
        return len > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
      case ResizeCoord::kAlignCorners:
        return len == 1 ? 0.0 : x * double(in - 1) / (len - 1);
      case ResizeCoord::kAsymmetric:
        return x / scale;
      case ResizeCoord::kTfHalfPixelForNn:
        return (x + 0.5) / scale;
      case ResizeCoord::kTfCropAndResize:
        return len > 1 ? start * double(in - 1) + x * (end - start) * double(in - 1) / (len - 1)
                       : 0.5 * (start + end) * double(in - 1);
    }
    return 0;
  }

  struct DimTaps {
    std::vector<int64_t> first;  // per output coordinate: first tap; first[o + 1] - first[o] taps
    std::vector<int64_t> index;  // input index (clamped)
    std::vector<double> weight;
    std::vector<uint8_t> outside;  // per output coordinate: extrapolated (tf_crop_and_resize)
  };

  void add_taps(DimTaps& t, double x, int64_t in) const {
    auto clamp = [&](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
    const double fl = std::floor(x);
    const double r = x - fl;
    const int64_t x0 = fl < -1e15 ? int64_t(-1e15) : fl > 1e15 ? int64_t(1e15) : int64_t(fl);
    switch (mode) {
      case ResizeMode::kNearest: {
        int64_t i = x0;
        if (r != 0) {
          bool up = false;
          switch (nearest) {
            case ResizeNearest::kRoundPreferFloor:
              up = r > 0.5;
              break;
            case ResizeNearest::kRoundPreferCeil:
              up = r >= 0.5;
              break;
            case ResizeNearest::kFloor:
              up = false;
              break;
            case ResizeNearest::kCeil:
              up = true;
              break;
          }
          if (up) ++i;
        }
        t.index.push_back(clamp(i));
        t.weight.push_back(1.0);
        break;
      }
      case ResizeMode::kLinear:
        t.index.push_back(clamp(x0));
        t.weight.push_back(1 - r);
        if (r != 0) {
          t.index.push_back(clamp(x0 + 1));
          t.weight.push_back(r);
        }
        break;
      case ResizeMode::kCubic: {
        const double a = cubic_coeff_a;
        double c[4] = {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
                       ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
                       ((a * (2 - r) - 5 * a) * (2 - r) + 8 * a) * (2 - r) - 4 * a};
        if (exclude_outside) {
          double sum = 0;
          for (int k = 0; k < 4; ++k) {
            int64_t i = x0 - 1 + k;
            if (i < 0 || i >= in) c[k] = 0;
            sum += c[k];
          }
          if (sum != 0)
            for (double& v : c) v /= sum;
        }
        for (int k = 0; k < 4; ++k) {
          if (c[k] == 0) continue;
          t.index.push_back(clamp(x0 - 1 + k));
          t.weight.push_back(c[k]);
        }
        break;
      }
    }
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t rank = x.rank();
    bool unused = false;
    const Tensor* scales_t = given(ctx, 2, &unused);
    const Tensor* sizes_t = given(ctx, 3, &unused);
    const Tensor* roi_t = given(ctx, 1, &unused);
    Dims out_dims(static_cast<size_t>(rank));
    std::vector<double> scale(static_cast<size_t>(rank)), len(static_cast<size_t>(rank));
    if (sizes_t) {
      std::vector<int64_t> s = size_values(*sizes_t, rank);
      for (int64_t i = 0; i < rank; ++i) {
        out_dims[size_t(i)] = s[size_t(i)];
        len[size_t(i)] = double(s[size_t(i)]);
        scale[size_t(i)] = x.dim(i) > 0 ? double(s[size_t(i)]) / double(x.dim(i)) : 1.0;
      }
    } else {
      CELER_CHECK(scales_t, kInvalidArgument, "one of the inputs 'scales' and 'sizes' must be non-empty");
      scale = scale_values(*scales_t, rank);
      std::vector<double> extent = roi_extent(coord == ResizeCoord::kTfCropAndResize ? roi_t : nullptr, rank);
      for (int64_t i = 0; i < rank; ++i) {
        len[size_t(i)] = double(x.dim(i)) * scale[size_t(i)] * extent[size_t(i)];
        out_dims[size_t(i)] = scaled_size(x.dim(i), scale[size_t(i)] * extent[size_t(i)]);
      }
    }
    std::vector<double> roi(size_t(2 * rank));
    for (int64_t i = 0; i < rank; ++i) roi[size_t(rank + i)] = 1.0;
    if (coord == ResizeCoord::kTfCropAndResize) {
      CELER_CHECK(roi_t && roi_t->size() == 2 * rank, kInvalidArgument, "input 'roi' must hold 2 * rank = ", 2 * rank,
                  " values for tf_crop_and_resize");
      for (int64_t i = 0; i < 2 * rank; ++i) roi[size_t(i)] = roi_t->value_as_double(i);
    }
    Tensor& y = ctx.output(0, x.type(), out_dims);
    if (y.size() == 0) return;
    CELER_CHECK(x.size() > 0, kInvalidArgument, "cannot resize an empty input of shape ", dims_to_string(x.dims()),
                " to ", dims_to_string(out_dims));

    std::vector<DimTaps> taps(static_cast<size_t>(rank));
    for (int64_t d = 0; d < rank; ++d) {
      DimTaps& t = taps[size_t(d)];
      const int64_t in = x.dim(d);
      for (int64_t o = 0; o < out_dims[size_t(d)]; ++o) {
        t.first.push_back(int64_t(t.index.size()));
        double src = source_coord(o, in, len[size_t(d)], scale[size_t(d)], roi[size_t(d)], roi[size_t(rank + d)]);
        bool outside = coord == ResizeCoord::kTfCropAndResize && (src < 0 || src > double(in - 1));
        t.outside.push_back(outside ? 1 : 0);
        if (!outside) add_taps(t, src, in);
      }
      t.first.push_back(int64_t(t.index.size()));
    }

    const Dims in_strides = strides_of(x.dims());
    dispatch_numeric(x.type(), [&]<typename T>() {
      if constexpr (!std::is_same_v<T, bool>) {
        const T* in = x.data<T>();
        T* out = y.data<T>();
        std::vector<int64_t> pos(size_t(rank), 0), k(size_t(rank), 0);
        const int64_t total = y.size();
        for (int64_t e = 0; e < total; ++e) {
          bool outside = false;
          for (int64_t d = 0; d < rank; ++d) outside = outside || taps[size_t(d)].outside[size_t(pos[size_t(d)])];
          double v = extrapolation_value;
          if (!outside) {
            // Sum over the product of the dims' taps.
            v = 0;
            for (int64_t d = 0; d < rank; ++d) k[size_t(d)] = taps[size_t(d)].first[size_t(pos[size_t(d)])];
            while (true) {
              double w = 1;
              int64_t off = 0;
              for (int64_t d = 0; d < rank; ++d) {
                w *= taps[size_t(d)].weight[size_t(k[size_t(d)])];
                off += taps[size_t(d)].index[size_t(k[size_t(d)])] * in_strides[size_t(d)];
              }
              v += w * double(in[off]);
              int64_t d = rank - 1;
              for (; d >= 0; --d) {
                if (++k[size_t(d)] < taps[size_t(d)].first[size_t(pos[size_t(d)] + 1)]) break;
                k[size_t(d)] = taps[size_t(d)].first[size_t(pos[size_t(d)])];
              }
              if (d < 0) break;
            }
          }
          if constexpr (std::is_same_v<T, double>) {
            out[e] = v;
          } else if constexpr (std::is_integral_v<T>) {
            double rv = std::nearbyint(v);
            out[e] = !(rv >= double(std::numeric_limits<T>::lowest())) ? std::numeric_limits<T>::lowest()
                     : rv >= double(std::numeric_limits<T>::max())     ? std::numeric_limits<T>::max()
                                                                       : T(rv);
          } else {
            out[e] = T(float(v));
          }
          for (int64_t d = rank - 1; d >= 0; --d) {
            if (++pos[size_t(d)] < out_dims[size_t(d)]) break;
            pos[size_t(d)] = 0;
          }
        }
      }
    });
  }
};

namespace {

ResizeCoord parse_coord(OnnxNode& n, const std::string& s) {
  if (s == "half_pixel") return ResizeCoord::kHalfPixel;
  if (s == "pytorch_half_pixel") return ResizeCoord::kPytorchHalfPixel;
  if (s == "align_corners") return ResizeCoord::kAlignCorners;
  if (s == "asymmetric") return ResizeCoord::kAsymmetric;
  if (s == "tf_half_pixel_for_nn") return ResizeCoord::kTfHalfPixelForNn;
  if (s == "tf_crop_and_resize") return ResizeCoord::kTfCropAndResize;
  n.fail("attribute 'coordinate_transformation_mode' = '", s, "' is not a known mode");
}

ResizeMode parse_mode(OnnxNode& n, bool allow_cubic) {
  std::string s = n.attr_string("mode", "nearest");
  if (s == "nearest") return ResizeMode::kNearest;
  if (s == "linear" || s == "bilinear") return ResizeMode::kLinear;
  if (s == "cubic" && allow_cubic) return ResizeMode::kCubic;
  n.fail("attribute 'mode' = '", s, "' must be 'nearest', 'linear'", allow_cubic ? " or 'cubic'" : "");
}

// Resize 11+: the canonical inputs are the ONNX ones.
void import_resize(OnnxNode& n) {
  auto op = std::make_unique<Resize>();
  op->mode = parse_mode(n, true);
  op->coord = parse_coord(n, n.attr_string("coordinate_transformation_mode", "half_pixel"));
  std::string nm = n.attr_string("nearest_mode", "round_prefer_floor");
  if (nm == "round_prefer_floor")
    op->nearest = ResizeNearest::kRoundPreferFloor;
  else if (nm == "round_prefer_ceil")
    op->nearest = ResizeNearest::kRoundPreferCeil;
  else if (nm == "floor")
    op->nearest = ResizeNearest::kFloor;
  else if (nm == "ceil")
    op->nearest = ResizeNearest::kCeil;
  else
    n.fail("attribute 'nearest_mode' = '", nm, "' is not a known mode");
  op->cubic_coeff_a = n.attr_float("cubic_coeff_a", -0.75f);
  op->exclude_outside = n.attr_int("exclude_outside", 0) != 0;
  op->extrapolation_value = n.attr_float("extrapolation_value", 0.0f);
  if (n.num_inputs() < 2) n.fail("needs the inputs 'X', 'roi' and 'scales' or 'sizes'");
  n.emit(std::move(op));
}

// Upsample 7-9 and Resize 10: x_original = x_resized / scale, nearest rounds down. Scales are an input (an attribute
// for Upsample-7).
void import_upsample(OnnxNode& n) {
  auto op = std::make_unique<Resize>();
  op->mode = parse_mode(n, false);
  op->coord = ResizeCoord::kAsymmetric;
  op->nearest = ResizeNearest::kFloor;
  Value* scales = nullptr;
  if (n.op_type() == "Upsample" && n.opset() < 9) {
    std::vector<float> s = n.attr_floats("scales");
    for (float v : s)
      if (!(v >= 1)) n.fail("attribute 'scales' has ", v, ", every scale must be >= 1");
    scales = n.constant(Tensor::from_vector(s, {int64_t(s.size())}));
  } else {
    if (n.num_inputs() < 2 || !n.input(1)) n.fail("needs the input 'scales'");
    scales = n.input(1);
  }
  n.emit(std::move(op), {n.input(0), nullptr, scales, nullptr}, {n.output(0)});
}

}  // namespace

std::unique_ptr<Op> make_op_Resize() { return std::make_unique<Resize>(); }

void register_op_Resize(OpRegistry& r) {
  r.add_onnx("Upsample", 7, 9, import_upsample);
  r.add_onnx("Resize", 10, 10, import_upsample);
  r.add_onnx("Resize", 11, kMaxOpset, import_resize);
}

}  // namespace celer
