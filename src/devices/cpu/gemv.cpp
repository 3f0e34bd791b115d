#include "devices/cpu/gemv.hpp"

#include <immintrin.h>

#include <algorithm>

#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"

namespace celer::cpu {

namespace {

// GCC 12 reports the intrinsics' internal undefined vectors as (maybe-)uninitialized inside target() functions.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// Panels [p0, p1): four accumulators of 16 columns each over the K rows of a panel (contiguous, 256 bytes a row).
__attribute__((target("avx512f"))) void panels_avx512(const float* a, const float* packed, int64_t K, int64_t N,
                                                     const float* bias, float* y, int64_t p0, int64_t p1) {
  const int64_t rows = (K + 15) / 16 * 16;
  for (int64_t p = p0; p < p1; ++p) {
    const float* w = packed + p * rows * 64;
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    for (int64_t k = 0; k < K; ++k, w += 64) {
      const __m512 x = _mm512_set1_ps(a[k]);
      c0 = _mm512_fmadd_ps(x, _mm512_load_ps(w), c0);
      c1 = _mm512_fmadd_ps(x, _mm512_load_ps(w + 16), c1);
      c2 = _mm512_fmadd_ps(x, _mm512_load_ps(w + 32), c2);
      c3 = _mm512_fmadd_ps(x, _mm512_load_ps(w + 48), c3);
    }
    const int64_t n0 = p * 64, cols = std::min<int64_t>(64, N - n0);
    alignas(64) float out[64];
    _mm512_store_ps(out, c0);
    _mm512_store_ps(out + 16, c1);
    _mm512_store_ps(out + 32, c2);
    _mm512_store_ps(out + 48, c3);
    for (int64_t j = 0; j < cols; ++j) y[n0 + j] = out[j] + (bias ? bias[n0 + j] : 0.0f);
  }
}

#pragma GCC diagnostic pop

}  // namespace

bool gemv_available() { return simd().isa == Isa::kAvx512; }

void gemv_ba16a64b(const float* a, const float* packed, int64_t K, int64_t N, const float* bias, float* y,
                   int threads) {
  const int64_t panels = (N + 63) / 64;
  parallel_for(panels, std::max(1, threads), 1,
               [&](int64_t p0, int64_t p1) { panels_avx512(a, packed, K, N, bias, y, p0, p1); });
}

}  // namespace celer::cpu
