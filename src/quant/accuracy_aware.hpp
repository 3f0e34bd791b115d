// Accuracy-aware quantization (`celer quantize --max-drop X --eval DIR --metric M`): quantize with the given options,
// measure the metric of the FP32 and the INT8 model on the evaluation set, and while the drop exceeds X, return the
// most harmful quantized op to FP32, one at a time, until the drop is within X or no quantized op is left.
//
// Ranking: each quantized op is scored by how much of the metric comes back when that op alone is kept in FP32
// (measured on the first `ranking_subset` evaluation samples); ties keep graph order. The calibration runs once
// (quant::calibrate); every variant is written from it (quant::emit_qdq).
//
// Metrics (`--metric`):
//   top1        top-1 accuracy in percent against DIR/labels.npy (one integer per sample, in sample order)
//   agreement   percent of samples whose top-1 matches the FP32 model's (no labels needed)
//   script:CMD  runs `CMD MODEL.onnx` through /bin/sh (MODEL.onnx: a temporary file) and reads the last number it
//               prints on stdout; higher is better. This plugs in any metric (detection mAP, BLEU, ...).
// The evaluation folder holds samples in the calibration-data layout (quant/calib_data.hpp).
#pragma once

#include <string>
#include <vector>

#include "quant/quantize.hpp"

namespace celer::quant {

struct AccuracyAwareOptions {
  double max_drop = 1.0;  // in the metric's units (percentage points for top1 and agreement)
  std::string metric = "top1";
  std::string eval_dir;
  int64_t ranking_subset = 300;  // evaluation samples used to rank the ops (0: all)
  int64_t max_samples = 0;       // evaluation samples (0: all)
  ImagePreprocess images;        // for an evaluation folder of images (as for the calibration data)
};

struct KeptLayer {
  std::string name, op_type;
  double score = 0;  // metric recovered on the ranking subset when this op alone stays in FP32
};

struct AccuracyAwareReport {
  std::string metric;
  int64_t eval_samples = 0;
  double fp32 = 0, initial = 0, final = 0;  // metric of the FP32, the fully quantized and the returned model
  bool reached = false;                     // fp32 - final <= max_drop
  std::vector<KeptLayer> kept;              // returned to FP32, in the order they were
  std::vector<std::string> tried;           // "name: metric with it in FP32" for every op ranked
  QuantizeReport quantize;                  // of the written model
};

// Runs the loop on `model_bytes` and returns the bytes of the chosen model.
std::string quantize_accuracy_aware(const std::string& model_bytes, const std::string& weights_dir,
                                    const CalibrationSet& calibration, const QuantizeOptions& opts,
                                    const AccuracyAwareOptions& aa, AccuracyAwareReport* report);

// The whole command: reads MODEL, the calibration and evaluation folders, runs the loop, writes the output atomically.
AccuracyAwareReport accuracy_aware_file(const QuantizeFileOptions& opts, const AccuracyAwareOptions& aa);

// The metric of a model (bytes) on evaluation samples: see the header comment. `reference` holds the FP32 model's
// top-1 per sample for `agreement` (filled when empty).
double evaluate_metric(const std::string& model_bytes, const std::string& metric, const CalibrationSet& samples,
                       const std::vector<int64_t>& labels, std::vector<int64_t>& reference, size_t count);

}  // namespace celer::quant
