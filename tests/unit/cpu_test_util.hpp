// Helpers shared by the CPU kernel tests that build graphs by hand (test_cpu_onednn.cpp, test_cpu_layout_broadcast.cpp).
#pragma once

#include <cstdint>

#include "celer/tensor.hpp"
#include "runtime/device.hpp"

namespace celer::test {

// Compile options with only the per-stream thread count set.
inline CompileOptions threads_options(int threads) {
  CompileOptions o;
  o.num_threads = threads;
  return o;
}

// f32 values uniform in [-1, 1) from a small seeded generator.
inline Tensor random_f32(const Dims& dims, uint32_t seed) {
  Tensor t(ElementType::kF32, dims);
  uint32_t s = seed * 2654435761u + 12345u;
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = float(s >> 8) / float(1 << 24) * 2.0f - 1.0f;
  }
  return t;
}

}  // namespace celer::test
