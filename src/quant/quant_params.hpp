// Quantization parameters: activations (per tensor, from a clipping range and the preset) and weights (symmetric int8
// per output channel, range [-127, 127]), following the QDQ contract (docs in src/quant/qdq_writer.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "celer/tensor.hpp"
#include "quant/observers.hpp"

namespace celer::quant {

// performance: symmetric activations (uint8 with zero point 0 for non-negative tensors, else int8 with zero point 0);
// mixed: asymmetric uint8 activations. Both: symmetric per-channel int8 weights.
enum class Preset { kPerformance, kMixed };
Preset parse_preset(const std::string& name);
const char* preset_name(Preset p);

// Scales never go below this (so that bias scales x_scale * w_scale stay normal floats); a tensor that is all zero
// gets scale 1.
inline constexpr float kMinScale = 1e-12f;

struct ActParams {
  float scale = 1;
  int32_t zero_point = 0;
  bool is_signed = false;  // int8 (else uint8)
  float quantize_dequantize(float x) const;
};

// Parameters of an activation quantized over `range` (which contains 0) under `preset`.
ActParams activation_params(Range range, Preset preset);

struct WeightQuant {
  Tensor q;                   // int8, the weight's shape
  std::vector<float> scales;  // one per channel along `axis`
  int64_t axis = 0;
  Tensor dequantized() const;  // f32: q * scale (for bias correction)
};

// Symmetric per-channel quantization of a float weight along `axis` (range [-127, 127]). An all-zero channel gets
// scale 1. `min_scales` (optional, one per channel) raises channel scales (used to keep int32 biases in range).
WeightQuant quantize_weight(const Tensor& w, int64_t axis, const std::vector<float>* min_scales = nullptr);

// round(b[c] / scale[c]) as int32, saturating.
Tensor quantize_bias(const Tensor& b, const std::vector<float>& scales);

}  // namespace celer::quant
