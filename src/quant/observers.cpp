#include "quant/observers.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "celer/error.hpp"

namespace celer::quant {

ObserverKind parse_observer(const std::string& name) {
  if (name == "minmax") return ObserverKind::kMinMax;
  if (name == "percentile") return ObserverKind::kPercentile;
  if (name == "mse") return ObserverKind::kMse;
  if (name == "entropy") return ObserverKind::kEntropy;
  CELER_THROW(kInvalidArgument, "--observer '", name, "': expected minmax, percentile, mse or entropy");
}

const char* observer_name(ObserverKind kind) {
  switch (kind) {
    case ObserverKind::kMinMax:
      return "minmax";
    case ObserverKind::kPercentile:
      return "percentile";
    case ObserverKind::kMse:
      return "mse";
    case ObserverKind::kEntropy:
      return "entropy";
  }
  return "?";
}

void TensorStats::observe_minmax(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = p[i];
    if (!std::isfinite(v)) continue;
    if (count_ == 0) {
      min_ = max_ = v;
    } else {
      min_ = std::min(min_, v);
      max_ = std::max(max_, v);
    }
    ++count_;
  }
}

void TensorStats::start_histogram(bool absolute, int bins) {
  absolute_ = absolute;
  if (absolute) {
    lo_ = 0;
    hi_ = std::max(std::fabs(double(min_)), std::fabs(double(max_)));
  } else {
    lo_ = std::min(double(min_), 0.0);
    hi_ = std::max(double(max_), 0.0);
  }
  hist_.assign(size_t(std::max(bins, 1)), 0.0);
}

void TensorStats::observe_histogram(const float* p, int64_t n) {
  if (hist_.empty()) return;
  const double span = hi_ - lo_;
  const int64_t bins = int64_t(hist_.size());
  if (!(span > 0)) {  // a constant (or all-zero) tensor: everything in the first bin
    for (int64_t i = 0; i < n; ++i) (p[i] == 0 ? zeros_ : hist_[0]) += std::isfinite(p[i]) ? 1.0 : 0.0;
    return;
  }
  const double inv = double(bins) / span;
  for (int64_t i = 0; i < n; ++i) {
    const float v = p[i];
    if (!std::isfinite(v)) continue;
    if (v == 0) {
      zeros_ += 1.0;
      continue;
    }
    const double x = absolute_ ? std::fabs(double(v)) : double(v);
    const int64_t b = std::clamp(int64_t((x - lo_) * inv), int64_t(0), bins - 1);
    hist_[size_t(b)] += 1.0;
  }
}

namespace {

double total(const std::vector<double>& h, size_t b, size_t e) {
  double s = 0;
  for (size_t i = b; i < e; ++i) s += h[i];
  return s;
}

// The position x where the cumulative count reaches `target`, interpolating inside the bin.
double cumulative_position(const std::vector<double>& h, double lo, double width, double target) {
  double acc = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    if (acc + h[i] >= target && h[i] > 0) return lo + width * (double(i) + (target - acc) / h[i]);
    acc += h[i];
  }
  return lo + width * double(h.size());
}

}  // namespace

double percentile_threshold(const std::vector<double>& hist, double width, double fraction) {
  const double n = total(hist, 0, hist.size());
  if (n <= 0) return 0;
  return cumulative_position(hist, 0, width, std::clamp(fraction, 0.0, 1.0) * n);
}

Range percentile_range(const std::vector<double>& hist, double lo, double width, double fraction) {
  const double n = total(hist, 0, hist.size());
  if (n <= 0) return {};
  const double tail = (1.0 - std::clamp(fraction, 0.0, 1.0)) / 2.0;
  Range r{float(cumulative_position(hist, lo, width, tail * n)),
          float(cumulative_position(hist, lo, width, (1.0 - tail) * n))};
  r.lo = std::min(r.lo, 0.0f);
  r.hi = std::max(r.hi, 0.0f);
  return r;
}

namespace {

// Expected squared error of quantizing a histogram (bins from `lo`, width `w`) to `levels` steps over the range
// between two bin edges [lo + a*w, lo + b*w]: clipping error of the bins outside, rounding noise step^2/12 inside.
// Prefix sums of count, count*centre and count*centre^2 make each evaluation O(1).
class ErrorTable {
 public:
  ErrorTable(const std::vector<double>& h, double lo, double w)
      : lo_(lo), w_(w), s0_(h.size() + 1), s1_(h.size() + 1), s2_(h.size() + 1) {
    for (size_t i = 0; i < h.size(); ++i) {
      const double c = lo + w * (double(i) + 0.5);
      s0_[i + 1] = s0_[i] + h[i];
      s1_[i + 1] = s1_[i] + h[i] * c;
      s2_[i + 1] = s2_[i] + h[i] * c * c;
    }
  }
  double error(size_t a, size_t b, int levels) const {
    const double ea = lo_ + w_ * double(a), eb = lo_ + w_ * double(b);
    const size_t n = s0_.size() - 1;
    const double step = (eb - ea) / double(levels);
    // below a: sum h (a - c)^2
    const double below = ea * ea * s0_[a] - 2 * ea * s1_[a] + s2_[a];
    // above b: sum h (c - b)^2
    const double c0 = s0_[n] - s0_[b], c1 = s1_[n] - s1_[b], c2 = s2_[n] - s2_[b];
    const double above = c2 - 2 * eb * c1 + eb * eb * c0;
    return below + above + (s0_[b] - s0_[a]) * step * step / 12.0;
  }

 private:
  double lo_, w_;
  std::vector<double> s0_, s1_, s2_;
};

}  // namespace

double mse_threshold(const std::vector<double>& hist, double width, int levels) {
  const size_t bins = hist.size();
  const ErrorTable table(hist, 0, width);
  double best_t = width * double(bins), best = std::numeric_limits<double>::infinity();
  for (size_t i = 1; i <= bins; ++i) {
    const double e = table.error(0, i, levels);
    if (e < best) best = e, best_t = width * double(i);
  }
  return best_t;
}

Range mse_range(const std::vector<double>& hist, double lo, double width, int levels) {
  const size_t bins = hist.size();
  // Candidate ends are bin edges; the range must keep 0 inside.
  const size_t zero = size_t(std::clamp(std::llround(-lo / width), 0LL, (long long)bins));
  const ErrorTable table(hist, lo, width);
  size_t a = 0, b = bins;
  for (int round = 0; round < 3; ++round) {
    double best = std::numeric_limits<double>::infinity();
    size_t best_b = b;
    for (size_t j = std::max(zero, a + 1); j <= bins; ++j) {
      const double e = table.error(a, j, levels);
      if (e < best) best = e, best_b = j;
    }
    b = best_b;
    best = std::numeric_limits<double>::infinity();
    size_t best_a = a;
    for (size_t i = 0; i <= std::min(zero, b - 1); ++i) {
      const double e = table.error(i, b, levels);
      if (e < best) best = e, best_a = i;
    }
    a = best_a;
  }
  return {std::min(float(lo + width * double(a)), 0.0f), std::max(float(lo + width * double(b)), 0.0f)};
}

double entropy_threshold(const std::vector<double>& hist, double width, int levels) {
  const size_t bins = hist.size();
  const size_t q = size_t(std::max(levels, 1));
  if (bins <= q) return width * double(bins);
  double best = std::numeric_limits<double>::infinity();
  size_t best_i = bins;
  std::vector<double> p, qd;
  for (size_t i = q; i <= bins; ++i) {
    // P: the first i bins, with everything beyond folded into the last one.
    p.assign(hist.begin(), hist.begin() + long(i));
    p[i - 1] += total(hist, i, bins);
    // Q: the first i bins merged into q levels, each level's count spread evenly over its non-empty bins.
    qd.assign(i, 0.0);
    const double per = double(i) / double(q);
    for (size_t k = 0; k < q; ++k) {
      const size_t s = size_t(double(k) * per), e = (k + 1 == q) ? i : size_t(double(k + 1) * per);
      double sum = 0;
      size_t nonzero = 0;
      for (size_t j = s; j < e; ++j) {
        sum += hist[j];
        nonzero += hist[j] > 0 ? 1 : 0;
      }
      if (nonzero == 0) continue;
      for (size_t j = s; j < e; ++j)
        if (hist[j] > 0) qd[j] = sum / double(nonzero);
    }
    const double sp = total(p, 0, i), sq = total(qd, 0, i);
    if (sp <= 0 || sq <= 0) continue;
    double kl = 0;
    for (size_t j = 0; j < i; ++j) {
      if (p[j] <= 0) continue;
      const double pj = p[j] / sp;
      const double qj = std::max(qd[j] / sq, 1e-12);  // smoothing for the folded last bin
      kl += pj * std::log(pj / qj);
    }
    if (kl < best) best = kl, best_i = i;
  }
  return width * (double(best_i) + 0.5 > double(bins) ? double(bins) : double(best_i) + 0.5);
}

Range choose_range(const TensorStats& s, ObserverKind kind, bool symmetric, double percentile) {
  if (!s.seen()) return {};
  const float amax = std::max(std::fabs(s.min()), std::fabs(s.max()));
  const bool nonneg = s.non_negative();
  auto from_threshold = [&](double t) {
    const float tf = float(std::min(t, double(amax)));
    return nonneg ? Range{0.0f, tf} : Range{-tf, tf};
  };
  Range minmax = symmetric ? from_threshold(amax) : Range{std::min(s.min(), 0.0f), std::max(s.max(), 0.0f)};
  const bool hist_ok =
      kind != ObserverKind::kMinMax && s.has_histogram() && s.absolute() == symmetric && s.hist_hi() > s.hist_lo();
  if (!hist_ok) return minmax;
  const auto& h = s.histogram();
  const double width = (s.hist_hi() - s.hist_lo()) / double(h.size());
  const double fraction = std::clamp(percentile, 0.0, 100.0) / 100.0;
  // Percentiles count the zeros too (in the bin holding 0).
  std::vector<double> with_zeros = h;
  with_zeros[std::min(h.size() - 1, size_t(std::max(0.0, -s.hist_lo() / width)))] += s.zeros();
  if (symmetric) {
    const int levels = nonneg ? 255 : 127;
    switch (kind) {
      case ObserverKind::kPercentile:
        return from_threshold(percentile_threshold(with_zeros, width, fraction));
      case ObserverKind::kMse:
        return from_threshold(mse_threshold(h, width, levels));
      case ObserverKind::kEntropy:
        return from_threshold(entropy_threshold(h, width, nonneg ? 256 : 128));
      default:
        return minmax;
    }
  }
  switch (kind) {
    case ObserverKind::kPercentile:
      return percentile_range(with_zeros, s.hist_lo(), width, fraction);
    case ObserverKind::kMse:
      return mse_range(h, s.hist_lo(), width, 255);
    case ObserverKind::kEntropy: {
      // KL on |x| (folded from the signed histogram onto bins of the same width), the threshold applied to both ends.
      const double a = std::max(-s.hist_lo(), s.hist_hi());
      std::vector<double> folded(h.size(), 0.0);
      const double fw = a / double(h.size());
      for (size_t i = 0; i < h.size(); ++i) {
        const double c = std::fabs(s.hist_lo() + width * (double(i) + 0.5));
        folded[std::min(h.size() - 1, size_t(c / fw))] += h[i];
      }
      const double t = entropy_threshold(folded, fw, nonneg ? 256 : 128);
      return {std::max(minmax.lo, float(-t)), std::min(minmax.hi, float(t))};
    }
    default:
      return minmax;
  }
}

}  // namespace celer::quant
