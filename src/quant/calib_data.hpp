// Calibration (and evaluation) samples read from a folder.
//
// Folder layout:
// - a model with one input: DIR holds .npy files, or images (.png, .jpg, .jpeg; not mixed with .npy);
// - a model with several inputs: DIR/<input name>/ holds the .npy files of each input; sample i takes the i-th sample
//   of every input (the counts must agree).
// Files are taken in sorted name order (subfolders and other files are ignored). A .npy file of the input's rank is
// a batch: its first dim is split into samples (of the model's batch size when that dim is static, else of 1); a file
// of one rank less is one sample (a batch dim of 1 is added). Images need a model input of rank 4 with 1 or 3
// channels (NCHW or NHWC: ImagePreprocess) and are preprocessed one by one.
// Errors (kInvalidArgument, naming the file): no samples, NaN or Inf in float data, an element type or shape the
// model's input does not accept.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "celer/celer.hpp"
#include "quant/images.hpp"

namespace celer::quant {

// The labels of an evaluation folder (one integer per sample, in sample order); skipped as a sample.
inline constexpr const char* kLabelsFile = "labels.npy";

// Progress of a long phase: (phase name, done, total).
using ProgressFn = std::function<void(const std::string& phase, int64_t done, int64_t total)>;

struct CalibrationSet {
  std::vector<std::string> input_names;      // the model's inputs, in order
  std::vector<std::vector<Tensor>> samples;  // per sample: one tensor per input
  std::vector<std::string> sources;          // per sample: "file.npy[3]" or "img.png"
};

// Reads at most `limit` samples (0: all) from `dir` for a model with inputs `ports`.
CalibrationSet load_calibration(const std::string& dir, const std::vector<PortInfo>& ports, const ImagePreprocess& pre,
                                int64_t limit);

// Throws kInvalidArgument naming `source` if a float tensor holds NaN or Inf.
void check_finite(const Tensor& t, const std::string& source);

}  // namespace celer::quant
