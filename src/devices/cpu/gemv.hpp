// Matrix-vector product against a constant B packed as oneDNN's BA16a64b (see onednn_matmul.cpp): for a single row
// of A the product is memory-bound, and streaming B's 64-column panels with four AVX-512 accumulators reads it at
// close to the memory bandwidth (about 26 GB/s on one Zen 4 core), where oneDNN 2.6's matmul reached 16.
#pragma once

#include <cstdint>

namespace celer::cpu {

// Whether gemv_ba16a64b runs here (AVX-512, unless CELER_CPU_ISA lowers it).
bool gemv_available();

// y[n] = (bias ? bias[n] : 0) + sum over k < K of a[k] * B[k][n], n < N. `packed`: B in BA16a64b, i.e. for each
// block of 64 columns (the last zero-padded), ceil(K / 16) * 16 rows of 64 floats. Panels are split over `threads`.
void gemv_ba16a64b(const float* a, const float* packed, int64_t K, int64_t N, const float* bias, float* y,
                   int threads);

}  // namespace celer::cpu
