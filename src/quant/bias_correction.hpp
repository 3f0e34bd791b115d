// Fast bias correction: for each quantized op with a constant bias, the bias moves per output channel by the mean
// difference between the op's FP32 output and its output with quantized weights and a quantized input, over the
// calibration data, so that per-channel output means match.
//
// Each op is measured on its own FP32 input (errors of earlier layers do not leak in, so all ops are corrected from
// one run): a "shadow" copy of every such op, reading QDQ(x) and the dequantized int8 weight, is added to the float
// model next to the original, and both outputs are compared channel by channel.
#pragma once

#include <map>

#include "quant/calibrate.hpp"
#include "quant/qdq_plan.hpp"
#include "quant/quant_params.hpp"

namespace celer::quant {

struct BiasCorrection {
  std::map<int, Tensor> biases;  // node index -> corrected bias (f32, one value per output channel)
  double max_shift = 0;          // largest |shift|
};

BiasCorrection correct_biases(const onnx::ModelProto& model, const QdqPlan& plan, const Graph& inferred,
                              const std::map<std::string, ActParams>& act, const std::map<int, WeightQuant>& weights,
                              const CalibrationSet& set, const std::string& device, const ProgressFn& progress);

}  // namespace celer::quant
