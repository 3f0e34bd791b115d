// The discrete Fourier transform kernel shared by DFT and STFT.
#pragma once

#include <complex>
#include <cstdint>

namespace celer {

// out[k] = sum_j in[j] * exp(-+2 pi i j k / n) for k < out_len (<= n); the inverse (+ sign) is divided by n.
// Straightforward O(n * out_len), in double precision.
void dft_1d(const std::complex<double>* in, int64_t n, int64_t out_len, bool inverse, std::complex<double>* out);

}  // namespace celer
