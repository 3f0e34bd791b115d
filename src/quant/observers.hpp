// Activation statistics over a calibration set and the clipping range each observer chooses from them.
//
// Calibration observes a tensor in two passes over the samples: the exact minimum and maximum first, then (for the
// histogram observers) a histogram of kHistogramBins bins over a range fixed by the first pass: [0, max|x|] for
// symmetric quantization (a histogram of |x|), [min(min, 0), max(max, 0)] for asymmetric quantization.
//
// Observers:
// - minmax: the observed range;
// - percentile: clips the fraction (100 - p)% of values farthest from zero (symmetric: of |x|; asymmetric: half of it
//   at each end), interpolating inside the histogram bin;
// - mse: the clipping range that minimises the expected squared quantization error (clipping error of the values
//   outside, rounding noise step^2/12 inside); asymmetric ranges by coordinate descent on both ends;
// - entropy: the threshold minimising the KL divergence between the clipped distribution and its quantized version,
//   as TensorRT's INT8 calibrator describes it (128 levels for signed, 256 for non-negative tensors).
// Non-finite activation values (the model's own overflow) are left out of the statistics. (The quantizer applies the
// observer to intermediate tensors; model inputs always take min/max: src/quant/quantize.cpp.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace celer::quant {

enum class ObserverKind { kMinMax, kPercentile, kMse, kEntropy };
// "minmax", "percentile", "mse", "entropy"; throws kInvalidArgument naming the option otherwise.
ObserverKind parse_observer(const std::string& name);
const char* observer_name(ObserverKind kind);

inline constexpr int kHistogramBins = 2048;

struct Range {
  float lo = 0;
  float hi = 0;
};

class TensorStats {
 public:
  void observe_minmax(const float* data, int64_t n);
  bool seen() const { return count_ > 0; }
  int64_t count() const { return count_; }
  float min() const { return min_; }
  float max() const { return max_; }
  bool non_negative() const { return !seen() || min_ >= 0; }

  // Sets up the histogram over the range fixed by observe_minmax (see the file comment).
  void start_histogram(bool absolute, int bins = kHistogramBins);
  void observe_histogram(const float* data, int64_t n);
  bool has_histogram() const { return !hist_.empty(); }
  bool absolute() const { return absolute_; }
  double hist_lo() const { return lo_; }
  double hist_hi() const { return hi_; }
  // Exact zeros are counted apart from the histogram: they quantize without error (zero is always on the grid), and
  // the spike a Relu output has there would otherwise dominate the MSE and entropy searches.
  const std::vector<double>& histogram() const { return hist_; }
  double zeros() const { return zeros_; }

 private:
  int64_t count_ = 0;
  float min_ = 0, max_ = 0;
  bool absolute_ = false;
  double lo_ = 0, hi_ = 0;
  std::vector<double> hist_;
  double zeros_ = 0;
};

// The range an observer chooses. Symmetric: [-t, t], or [0, t] for a non-negative tensor; asymmetric: always
// containing 0. `percentile` is in (0, 100] (percentile observer only). Histogram observers need the histogram (made
// with absolute = symmetric); without one (or for a tensor never seen) they fall back to minmax.
Range choose_range(const TensorStats& stats, ObserverKind kind, bool symmetric, double percentile = 99.99);

// The pieces of choose_range, on a histogram of bins [i*w, (i+1)*w) starting at `lo` (exposed for tests).
// Symmetric |x| histograms (lo = 0): thresholds.
double percentile_threshold(const std::vector<double>& hist, double width, double fraction);
double mse_threshold(const std::vector<double>& hist, double width, int levels);
double entropy_threshold(const std::vector<double>& hist, double width, int levels);
// Asymmetric histograms over [lo, lo + bins*w]: ranges.
Range percentile_range(const std::vector<double>& hist, double lo, double width, double fraction);
Range mse_range(const std::vector<double>& hist, double lo, double width, int levels);

}  // namespace celer::quant
