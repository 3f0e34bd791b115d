// Calibration runs: the float model through celer's own runtime, sample by sample, with the tensors to observe added
// as graph outputs.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "celer/celer.hpp"
#include "onnx/onnx.pb.h"
#include "quant/calib_data.hpp"
#include "quant/observers.hpp"

namespace celer::quant {

// Serialises a copy of `model` whose graph also outputs `names` (those it does not output already).
std::string with_outputs(const onnx::ModelProto& model, const std::vector<std::string>& names);

// Compiles `model_bytes` on `device` and runs every sample of `set`; `f(sample, outputs by name)` sees each result.
void run_samples(const std::string& model_bytes, const CalibrationSet& set, const std::string& device,
                 const std::string& phase, const ProgressFn& progress,
                 const std::function<void(size_t, const std::map<std::string, const Tensor*>&)>& f);

// Statistics of `tensors` (f32 activations of `model`) over the calibration set: min/max, then, when `histogram`,
// a histogram (of |x| when `symmetric`) in a second pass.
std::map<std::string, TensorStats> collect_stats(const onnx::ModelProto& model, const std::vector<std::string>& tensors,
                                                 const CalibrationSet& set, bool histogram, bool symmetric,
                                                 const std::string& device, const ProgressFn& progress);

}  // namespace celer::quant
