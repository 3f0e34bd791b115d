// MatMulNBits on the CPU device: weight-only compressed MatMul (int8/int4/int2 codes with per-block scales and zero
// points, see ops/mat_mul_n_bits.hpp). The weights stay compressed in memory; each run decompresses them inside the
// kernel, a panel of output columns at a time, into a small per-thread buffer (K x 32 floats) that the panel's
// SGEMM (oneDNN's dnnl_sgemm, single-threaded inside our parallel loop) reads while it is still in cache. A single
// row of A (M = 1, the memory-bound case weight compression is for) skips SGEMM and the buffer: with AVX-512, each
// block's codes are widened to floats in registers and multiplied with A there, y[n] = sum over blocks of
// s * (codes . a) + zs * sum(a) (zs = -zero point * s; the per-block sums of A are taken once per run).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/parallel.hpp"
#include "dnnl.h"
#include "ops/mat_mul_n_bits.hpp"

namespace celer {

namespace {

constexpr int64_t kPanel = 32;  // output columns decoded per SGEMM call

bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return yes;
}

// GCC 12 reports the intrinsics' internal undefined vectors as (maybe-)uninitialized inside target() functions.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// out[i] = code_i * s + zs for `n` codes (n a multiple of 32 for 4 bits, of 16 for 8 bits).
__attribute__((target("avx512f,avx512bw"))) void decode4_avx512(const uint8_t* p, int64_t n, float s, float zs,
                                                                float* out) {
  const __m512 vs = _mm512_set1_ps(s), vz = _mm512_set1_ps(zs);
  const __m128i mask = _mm_set1_epi8(15);
  for (int64_t i = 0; i < n; i += 32) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i / 2));
    const __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
    const __m128i c0 = _mm_unpacklo_epi8(lo, hi), c1 = _mm_unpackhi_epi8(lo, hi);
    _mm512_storeu_ps(out + i, _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c0)), vs, vz));
    _mm512_storeu_ps(out + i + 16, _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c1)), vs, vz));
  }
}

__attribute__((target("avx512f,avx512bw"))) void decode8_avx512(const uint8_t* p, int64_t n, float s, float zs,
                                                                float* out) {
  const __m512 vs = _mm512_set1_ps(s), vz = _mm512_set1_ps(zs);
  for (int64_t i = 0; i < n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    _mm512_storeu_ps(out + i, _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)), vs, vz));
  }
}

// For R = 1 or 2 weight rows (`row`, the next row `stride` bytes on, with their scales s/zs `kb` apart): the sum over
// the `full` whole blocks of s_j * (codes_j . a_j) + zs_j * asum_j, into out[0..R). Two rows share the loads of A and
// give the FMA chains twice the independent work. 4-bit codes, bs a multiple of 32.
template <int R>
__attribute__((target("avx512f,avx512bw"))) void dot4_avx512(const uint8_t* row, int64_t stride, const float* a,
                                                             const float* asum, const float* s, const float* zs,
                                                             int64_t kb, int64_t full, int64_t bs, int64_t blob,
                                                             float* out) {
  const __m128i mask = _mm_set1_epi8(15);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t j = 0; j < full; ++j) {
    const float* x = a + j * bs;
    __m512 b0[R], b1[R];
    for (int r = 0; r < R; ++r) b0[r] = b1[r] = _mm512_setzero_ps();
    for (int64_t i = 0; i < bs; i += 32) {
      const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
      for (int r = 0; r < R; ++r) {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + r * stride + j * blob + i / 2));
        const __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
        b0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi))), x0, b0[r]);
        b1[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi))), x1, b1[r]);
      }
    }
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_add_ps(b0[r], b1[r]), _mm512_set1_ps(s[r * kb + j]), acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    float t = _mm512_reduce_add_ps(acc[r]);
    for (int64_t j = 0; j < full; ++j) t += zs[r * kb + j] * asum[j];
    out[r] = t;
  }
}

// The same for 8-bit codes (bs a multiple of 16).
template <int R>
__attribute__((target("avx512f,avx512bw"))) void dot8_avx512(const uint8_t* row, int64_t stride, const float* a,
                                                             const float* asum, const float* s, const float* zs,
                                                             int64_t kb, int64_t full, int64_t bs, int64_t blob,
                                                             float* out) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t j = 0; j < full; ++j) {
    const float* x = a + j * bs;
    __m512 b0[R];
    for (int r = 0; r < R; ++r) b0[r] = _mm512_setzero_ps();
    for (int64_t i = 0; i < bs; i += 16) {
      const __m512 x0 = _mm512_loadu_ps(x + i);
      for (int r = 0; r < R; ++r) {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + r * stride + j * blob + i));
        b0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)), x0, b0[r]);
      }
    }
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(b0[r], _mm512_set1_ps(s[r * kb + j]), acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    float t = _mm512_reduce_add_ps(acc[r]);
    for (int64_t j = 0; j < full; ++j) t += zs[r * kb + j] * asum[j];
    out[r] = t;
  }
}

#pragma GCC diagnostic pop

class NBitsMatMulKernel final : public Kernel {
 public:
  NBitsMatMulKernel(const MatMulNBits& op, const Node& node, const CompileOptions& options)
      : op_(op), threads_(cpu::max_threads(options)) {
    const Tensor* zp = node.inputs.size() > 3 && node.inputs[3] ? node.inputs[3]->constant.get() : nullptr;
    codes_ = *node.inputs[1]->constant;
    // Validates B, scales and zero points against the attributes (errors name the input).
    const NBitsWeights check(op, codes_, *node.inputs[2]->constant, zp);
    scale_.resize(size_t(op.N * op.k_blocks()));
    zs_.resize(scale_.size());
    scales_and_zeros(op, *node.inputs[2]->constant, zp);
    if (node.inputs.size() > 5 && node.inputs[5]) {
      const Tensor& b = *node.inputs[5]->constant;
      bias_.resize(size_t(b.size()));
      for (int64_t i = 0; i < b.size(); ++i) bias_[size_t(i)] = float(b.value_as_double(i));
    }
  }

  const char* name() const override { return "cpu:matmul_nbits"; }
  // Scales, zero points and bias were copied; the codes are read at every run.
  bool reads_constant_input(size_t i) const override { return i < 2; }

  void run(KernelContext& ctx) const override {
    const Tensor& a = ctx.input(0);
    Tensor& y = ctx.output(0);
    const int64_t K = op_.K, N = op_.N, M = K > 0 ? a.size() / K : 0;
    if (y.size() == 0) return;
    const float* pa = a.data<float>();
    float* py = y.data<float>();
    if (M == 1) {
      run_vector(pa, py);
    } else {
      const int64_t panels = (N + kPanel - 1) / kPanel;
      const int nt = int(std::min<int64_t>(threads_, panels));
#pragma omp parallel num_threads(nt) if (nt > 1)
      {
        std::vector<float> buf(static_cast<size_t>(kPanel * K));
#pragma omp for schedule(static)
        for (int64_t p = 0; p < panels; ++p) {
          const int64_t n0 = p * kPanel, w = std::min(kPanel, N - n0);
          for (int64_t j = 0; j < w; ++j) decode_row(n0 + j, buf.data() + j * K);
          dnnl_sgemm('N', 'T', M, w, K, 1.0f, pa, K, buf.data(), K, 0.0f, py + n0, N);
        }
      }
    }
    if (!bias_.empty())
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) py[m * N + n] += bias_[size_t(n)];
  }

 private:
  void scales_and_zeros(const MatMulNBits& op, const Tensor& scales, const Tensor* zp) {
    // The reference decoder gives (code - z) * s; here code * s + (-z * s), from the same per-block values.
    const int64_t kb = op.k_blocks();
    std::vector<float> zero(static_cast<size_t>(op.N * kb), float(1 << (op.bits - 1)));
    if (zp && zp->type() == ElementType::kU8) {
      const int64_t row_bytes = (kb * op.bits + 7) / 8;
      for (int64_t n = 0; n < op.N; ++n)
        for (int64_t j = 0; j < kb; ++j) {
          const int64_t bit = j * op.bits;
          zero[size_t(n * kb + j)] =
              float((zp->data<uint8_t>()[n * row_bytes + (bit >> 3)] >> (bit & 7)) & ((1 << op.bits) - 1));
        }
    } else if (zp) {
      for (int64_t i = 0; i < op.N * kb; ++i) zero[size_t(i)] = float(zp->value_as_double(i));
    }
    for (int64_t i = 0; i < op.N * kb; ++i) {
      scale_[size_t(i)] = float(scales.value_as_double(i));
      zs_[size_t(i)] = -zero[size_t(i)] * scale_[size_t(i)];
    }
  }

  // The K weights of output column n.
  void decode_row(int64_t n, float* out) const {
    const int64_t K = op_.K, kb = op_.k_blocks(), blob = op_.blob_bytes(), bs = op_.block_size, bits = op_.bits;
    const uint8_t* r = codes_.data<uint8_t>() + n * kb * blob;
    for (int64_t j = 0; j < kb; ++j) {
      const float s = scale_[size_t(n * kb + j)], zs = zs_[size_t(n * kb + j)];
      const uint8_t* blk = r + j * blob;
      const int64_t k0 = j * bs, len = std::min(bs, K - k0);
      int64_t done = 0;
      if (have_avx512() && bits == 4) {
        done = len / 32 * 32;
        decode4_avx512(blk, done, s, zs, out + k0);
      } else if (have_avx512() && bits == 8) {
        done = len / 16 * 16;
        decode8_avx512(blk, done, s, zs, out + k0);
      }
      for (int64_t i = done; i < len; ++i) {
        const int64_t bit = i * bits;
        out[k0 + i] = float((blk[bit >> 3] >> (bit & 7)) & ((1 << bits) - 1)) * s + zs;
      }
    }
  }

  // y[n] = dot(a, w_n) for every n, rows split over the threads. With AVX-512 and whole blocks of a fitting size, the
  // codes are multiplied in registers (dot4/dot8_avx512) and a last partial block is decoded; otherwise each row is
  // decoded into a buffer (in L1) and dotted.
  void run_vector(const float* a, float* y) const {
    const int64_t K = op_.K, N = op_.N, bs = op_.block_size, kb = op_.k_blocks(), blob = op_.blob_bytes();
    const bool direct = have_avx512() && ((op_.bits == 4 && bs % 32 == 0) || (op_.bits == 8 && bs % 16 == 0));
    const int64_t full = direct ? K / bs : 0;
    std::vector<float> asum(static_cast<size_t>(full));
    for (int64_t j = 0; j < full; ++j) {
      float t = 0;
      for (int64_t k = j * bs; k < (j + 1) * bs; ++k) t += a[k];
      asum[size_t(j)] = t;
    }
    const int nt = int(std::min<int64_t>(threads_, std::max<int64_t>(1, N * K / (256 * 1024))));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      std::vector<float> w(static_cast<size_t>(K));
#pragma omp for schedule(static)
      for (int64_t p = 0; p < (N + 1) / 2; ++p) {  // pairs of rows (the last may be single)
        const int64_t n = 2 * p, rows = std::min<int64_t>(2, N - n);
        const int64_t row_bytes = kb * blob;
        const uint8_t* row = codes_.data<uint8_t>() + n * row_bytes;
        const float* s = scale_.data() + n * kb;
        const float* zs = zs_.data() + n * kb;
        float acc[2] = {0, 0};
        if (full > 0) {
          if (op_.bits == 4 && rows == 2)
            dot4_avx512<2>(row, row_bytes, a, asum.data(), s, zs, kb, full, bs, blob, acc);
          else if (op_.bits == 4)
            dot4_avx512<1>(row, row_bytes, a, asum.data(), s, zs, kb, full, bs, blob, acc);
          else if (rows == 2)
            dot8_avx512<2>(row, row_bytes, a, asum.data(), s, zs, kb, full, bs, blob, acc);
          else
            dot8_avx512<1>(row, row_bytes, a, asum.data(), s, zs, kb, full, bs, blob, acc);
        }
        const int64_t k0 = full * bs;
        for (int64_t r = 0; r < rows; ++r) {
          if (k0 < K) {  // no direct path, or the last partial block
            decode_row(n + r, w.data());
            for (int64_t k = k0; k < K; ++k) acc[r] += a[k] * w[size_t(k)];
          }
          y[n + r] = acc[r];
        }
      }
    }
  }

  MatMulNBits op_;
  int threads_;
  Tensor codes_;
  std::vector<float> scale_, zs_, bias_;
};

}  // namespace

std::unique_ptr<Kernel> make_cpu_matmul_nbits(const Node& node, const CompileOptions& options) {
  const auto* op = dynamic_cast<const MatMulNBits*>(node.op.get());
  if (!op || node.inputs.size() < 3 || node.inputs[0]->type.elem != ElementType::kF32) return nullptr;
  if (node.outputs[0]->type.elem != ElementType::kF32) return nullptr;
  for (size_t i = 1; i < node.inputs.size(); ++i)
    if (i != 4 && node.inputs[i] && !node.inputs[i]->constant) return nullptr;  // weights given at run time: REF
  if (node.inputs.size() > 4 && node.inputs[4]) return nullptr;
  return std::make_unique<NBitsMatMulKernel>(*op, node, options);
}

}  // namespace celer
