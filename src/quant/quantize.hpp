// Post-training static quantization of an FP32 ONNX model into a QDQ ONNX model (`celer quantize`).
//
// Steps: read the model (celer validates it; external data is read from the model's folder and written inline),
// plan which ops and activations get quantized (src/quant/qdq_plan.hpp), calibrate activation ranges through celer's
// runtime (src/quant/calibrate.hpp, observers in src/quant/observers.hpp), quantize weights per channel, correct
// biases (src/quant/bias_correction.hpp), write the QDQ graph (src/quant/qdq_writer.hpp) to a temporary file beside
// the output and rename it. Nothing is written on any error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quant/calib_data.hpp"
#include "quant/observers.hpp"
#include "quant/quant_params.hpp"

namespace celer::quant {

// The activation observer `celer quantize` uses by default (chosen on the Fashion-MNIST benchmark, README.md).
inline constexpr ObserverKind kDefaultObserver = ObserverKind::kMinMax;

struct QuantizeOptions {
  Preset preset = Preset::kPerformance;
  ObserverKind observer = kDefaultObserver;  // for activations (weights: per-channel min/max)
  double percentile = 99.99;
  std::vector<std::string> ignored_scope;  // entries as --ignored-scope takes them
  bool bias_correction = true;
  std::string device = "CPU";  // runs the calibration
  ProgressFn progress;
};

struct QuantizeReport {
  std::string preset, observer;
  int64_t samples = 0;
  std::vector<std::string> quantized;  // "Conv 'name'"
  std::vector<std::string> kept;       // "MatMul 'name': reason"
  std::vector<std::string> warnings;
  int64_t activations = 0;  // tensors with a Q/DQ pair
  int64_t residual_adds = 0;
  int64_t biases_corrected = 0;
  double max_bias_shift = 0;  // largest |shift| of a bias value
  std::string output;         // file written (quantize_file)
  int64_t output_bytes = 0;
};

// Quantizes serialized model bytes with a calibration set; returns the QDQ model's bytes. `weights_dir`: where the
// model's external data may be read from ("" refuses external data).
std::string quantize_bytes(const std::string& model_bytes, const std::string& weights_dir, const CalibrationSet& set,
                           const QuantizeOptions& opts, QuantizeReport* report = nullptr);

struct QuantizeFileOptions : QuantizeOptions {
  std::string model, data, output, output_dir;
  int64_t subset = 300;  // samples (0: all)
  ImagePreprocess images;
};

// The whole command: reads MODEL and the data folder, quantizes, writes the output atomically.
QuantizeReport quantize_file(const QuantizeFileOptions& opts);

// The modes that need no calibration data: dynamic quantization (quant/dynamic_quant.hpp) and weight-only
// compression (quant/weight_compression.hpp).
enum class Mode { kStatic, kDynamic, kWeightsInt8, kWeightsInt4 };
Mode parse_mode(const std::string& name);  // static, dynamic, weights-int8, weights-int4

struct RewriteFileOptions {
  std::string model, output, output_dir;
  Mode mode = Mode::kDynamic;
  int64_t group_size = 128;  // weight-only: codes per block along K
  bool asymmetric_weights = false;
  std::vector<std::string> ignored_scope;
};

struct RewriteReport {
  std::vector<std::string> quantized, kept;
  std::string summary;  // one line: what the mode did
  std::string output;
  int64_t output_bytes = 0;
};

// Reads MODEL, rewrites it in the mode, checks that celer loads the result and writes it atomically.
RewriteReport rewrite_file(const RewriteFileOptions& opts);

}  // namespace celer::quant
