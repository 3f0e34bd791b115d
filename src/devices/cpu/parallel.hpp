// Threading for the CPU device's own kernels: OpenMP (like oneDNN), and only when the work pays for the threads, so
// small models never start a parallel region (the thread count of a node is chosen from its work).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "runtime/device.hpp"

namespace celer::cpu {

// Elements of simple elementwise work per thread below which another thread does not pay (a parallel region costs
// a few microseconds); kernels with costlier elements (exp, erf) pass a smaller grain.
inline constexpr int64_t kGrainSimple = 32 * 1024;
inline constexpr int64_t kGrainTranscendental = 8 * 1024;

// The most threads a compiled model may use (CompileOptions::num_threads, 0 = all OpenMP offers).
inline int max_threads(const CompileOptions& options) {
  const int all = omp_get_max_threads();
  return options.num_threads > 0 ? std::min(options.num_threads, all) : all;
}

// Threads for `work` elements: 1 below two grains, so that e.g. a kernel over 1000 elements stays serial.
inline int threads_for(int64_t work, int64_t grain, int limit) {
  if (limit <= 1 || work < 2 * grain) return 1;
  return int(std::min<int64_t>(limit, work / grain));
}

// Calls f(begin, end) on `threads` disjoint parts of [0, n) whose bounds are multiples of `align` (except n), in
// parallel when threads > 1. f must not throw.
template <typename F>
void parallel_for(int64_t n, int threads, int64_t align, F&& f) {
  if (threads <= 1 || n <= align) {
    f(int64_t(0), n);
    return;
  }
  const int64_t blocks = (n + align - 1) / align;
  threads = int(std::min<int64_t>(threads, blocks));
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t b = std::min(n, blocks * t / nt * align), e = std::min(n, blocks * (t + 1) / nt * align);
    if (b < e) f(b, e);
  }
}

}  // namespace celer::cpu
