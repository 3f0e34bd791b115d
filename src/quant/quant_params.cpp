#include "quant/quant_params.hpp"

#include <algorithm>
#include <cmath>

#include "celer/error.hpp"

namespace celer::quant {

Preset parse_preset(const std::string& name) {
  if (name == "performance") return Preset::kPerformance;
  if (name == "mixed") return Preset::kMixed;
  CELER_THROW(kInvalidArgument, "--preset '", name, "': expected performance or mixed");
}

const char* preset_name(Preset p) { return p == Preset::kPerformance ? "performance" : "mixed"; }

namespace {

float valid_scale(double s) {
  if (!(s > 0) || !std::isfinite(s)) return 1.0f;  // all zero (or degenerate): any positive scale is exact
  return std::max(float(s), kMinScale);
}

}  // namespace

float ActParams::quantize_dequantize(float x) const {
  const float qmin = is_signed ? -128.0f : 0.0f, qmax = is_signed ? 127.0f : 255.0f;
  const float q = std::clamp(std::nearbyint(x / scale) + float(zero_point), qmin, qmax);
  return (q - float(zero_point)) * scale;
}

ActParams activation_params(Range r, Preset preset) {
  const double lo = std::min(double(r.lo), 0.0), hi = std::max(double(r.hi), 0.0);
  ActParams p;
  if (preset == Preset::kPerformance) {
    if (lo >= 0) {
      p.scale = valid_scale(hi / 255.0);
    } else {
      p.is_signed = true;
      p.scale = valid_scale(std::max(-lo, hi) / 127.0);
    }
    return p;
  }
  p.scale = valid_scale((hi - lo) / 255.0);
  p.zero_point = int32_t(std::clamp(std::nearbyint(-lo / double(p.scale)), 0.0, 255.0));
  return p;
}

namespace {

// Calls f(channel, flat index) for every element, channels along `axis`.
template <typename F>
void for_each_channel(const Dims& dims, int64_t axis, F f) {
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= dims[size_t(i)];
  for (size_t i = size_t(axis) + 1; i < dims.size(); ++i) inner *= dims[i];
  const int64_t channels = dims[size_t(axis)];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) f(c, (o * channels + c) * inner + i);
}

}  // namespace

WeightQuant quantize_weight(const Tensor& w, int64_t axis, const std::vector<float>* min_scales) {
  CELER_CHECK(w.type() == ElementType::kF32, kUnsupported, "weight quantization expects f32, got ",
              element_type_name(w.type()));
  CELER_CHECK(axis >= 0 && axis < w.rank(), kInternal, "weight axis ", axis, " out of range for rank ", w.rank());
  const int64_t channels = w.dim(axis);
  std::vector<float> amax(size_t(channels), 0.0f);
  const float* src = w.data<float>();
  for_each_channel(w.dims(), axis, [&](int64_t c, int64_t i) {
    if (std::isfinite(src[i])) amax[size_t(c)] = std::max(amax[size_t(c)], std::fabs(src[i]));
  });
  WeightQuant out;
  out.axis = axis;
  out.scales.resize(size_t(channels));
  for (int64_t c = 0; c < channels; ++c) {
    float s = valid_scale(double(amax[size_t(c)]) / 127.0);
    if (min_scales) s = std::max(s, (*min_scales)[size_t(c)]);
    out.scales[size_t(c)] = s;
  }
  out.q = Tensor(ElementType::kI8, w.dims());
  int8_t* q = out.q.data<int8_t>();
  for_each_channel(w.dims(), axis, [&](int64_t c, int64_t i) {
    const float v = std::isfinite(src[i]) ? src[i] / out.scales[size_t(c)] : 0.0f;
    q[i] = int8_t(std::clamp(std::nearbyint(v), -127.0f, 127.0f));
  });
  return out;
}

Tensor WeightQuant::dequantized() const {
  Tensor out(ElementType::kF32, q.dims());
  const int8_t* src = q.data<int8_t>();
  float* dst = out.data<float>();
  for_each_channel(q.dims(), axis, [&](int64_t c, int64_t i) { dst[i] = float(src[i]) * scales[size_t(c)]; });
  return out;
}

Tensor quantize_bias(const Tensor& b, const std::vector<float>& scales) {
  CELER_CHECK(b.type() == ElementType::kF32 && b.size() == int64_t(scales.size()), kInternal,
              "bias quantization: ", b.size(), " values for ", scales.size(), " scales");
  Tensor out(ElementType::kI32, b.dims());
  const float* src = b.data<float>();
  int32_t* dst = out.data<int32_t>();
  for (size_t i = 0; i < scales.size(); ++i) {
    const double v = std::isfinite(src[i]) ? std::nearbyint(double(src[i]) / double(scales[i])) : 0.0;
    dst[i] = int32_t(std::clamp(v, -2147483647.0, 2147483647.0));
  }
  return out;
}

}  // namespace celer::quant
