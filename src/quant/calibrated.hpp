// A model calibrated once, from which QDQ models with any set of ops kept in FP32 are written (the static mode writes
// one, the accuracy-aware mode many). Internal to src/quant (it holds protobuf types).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "celer/celer.hpp"
#include "onnx/onnx.pb.h"
#include "quant/quantize.hpp"

namespace celer::quant {

// A model calibrated once (activation statistics, corrected biases), from which QDQ models with any further ops kept
// in FP32 are written without running the calibration again (the accuracy-aware mode writes many).
struct Calibrated {
  QuantizeOptions opts;
  const CalibrationSet* set = nullptr;  // the caller keeps it alive (tensors missing from `stats` are observed later)
  Model fp32;                           // celer's import: element types, constants
  onnx::ModelProto model;               // the FP32 model with its initializers inline
  std::set<std::string> model_inputs;   // their ranges are always min/max
  std::map<std::string, TensorStats> stats;
  std::map<int, Tensor> biases;  // node index -> corrected bias (bias correction on)
  double max_bias_shift = 0;
};

Calibrated calibrate(const std::string& model_bytes, const std::string& weights_dir, const CalibrationSet& set,
                     const QuantizeOptions& opts, QuantizeReport* report = nullptr);
// The QDQ model's bytes, with the nodes named in `keep_fp32` (and the options' ignored scope) left in FP32.
std::string emit_qdq(const Calibrated& c, const std::vector<std::string>& keep_fp32, QuantizeReport* report = nullptr);

}  // namespace celer::quant
