// Accuracy of a classifier on labelled samples: the base of `celer evaluate` and of the accuracy-aware quantization.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "celer/celer.hpp"

namespace celer::quant {

struct EvalResult {
  int64_t correct = 0;
  int64_t total = 0;
  double top1() const { return total ? double(correct) / double(total) : 0.0; }
};

// Top-1 accuracy of `model` (one input; its first output holds scores [N, classes]) on `samples` [N, ...] (the model
// input's element type) with `labels` [N] (integers), compiled on `device`. The model is reshaped to a static batch of
// `batch` samples when its batch dim is dynamic (the last batch is padded), else runs its own static batch.
// `progress(done, total)` is called between batches.
EvalResult evaluate_top1(Model model, const std::string& device, const Tensor& samples, const Tensor& labels,
                         int64_t batch = 100, const std::function<void(int64_t, int64_t)>& progress = nullptr);

// The same from files: a model path and two .npy files, compiled on `device`.
EvalResult evaluate_top1_files(const std::string& model, const std::string& samples_npy, const std::string& labels_npy,
                               const std::string& device, int64_t batch = 100,
                               const std::function<void(int64_t, int64_t)>& progress = nullptr);

}  // namespace celer::quant
