// The CPU device's own vectorised f32 primitives, compiled three times (AVX-512, AVX2+FMA, plain x86-64) and chosen
// once at start-up from what the processor supports. The kernels in this directory (eltwise, softmax, norm, reduce)
// do the shape work and threading, and call these on contiguous or strided runs of floats.
//
// Each ISA variant lives in its own translation unit (simd_avx512.cpp, simd_avx2.cpp, simd_scalar.cpp) that defines a
// small vector type and includes simd_impl.inl inside its own namespace, under `#pragma GCC target`; the build itself
// uses no -march flag, so the binary runs on any x86-64.
//
// Accuracy (documented approximations): exp, sigmoid, tanh and erf are polynomial approximations within ~3e-7
// relative of the float reference (inputs past the float range saturate the same way); sums accumulate in float over
// 8-16 lanes (the reference accumulates in double), so a reduction of n values differs by ~n * 1e-7 relative to the
// sum of magnitudes at worst.
#pragma once

#include <cstdint>

#include "ops/binary.hpp"
#include "ops/reduce.hpp"
#include "ops/softmax.hpp"
#include "ops/unary.hpp"

namespace celer::cpu {

enum class Isa : uint8_t { kScalar, kAvx2, kAvx512 };

const char* isa_name(Isa isa);

// The functions the primitives implement (others run the reference kernel).
bool simd_supports(UnaryFn fn);
bool simd_supports(BinaryFn fn);
bool simd_supports(ReduceFn fn);

struct SimdKernels {
  Isa isa;
  // y[i] = fn(x[i]) for i < n (alpha/beta as in Unary).
  void (*unary)(UnaryFn fn, float alpha, float beta, const float* x, float* y, int64_t n);
  // y[i] = min(max(x[i], lo), hi); NaN stays NaN.
  void (*clip)(const float* x, float* y, int64_t n, float lo, float hi);
  // y[i] = a[i * sa] fn b[i * sb] for i < n, with sa, sb in {0, 1} (0: a scalar operand).
  void (*binary)(BinaryFn fn, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n);
  // Softmax or LogSoftmax of `rows` contiguous rows of n elements.
  void (*softmax_rows)(SoftmaxMode mode, const float* x, float* y, int64_t rows, int64_t n);
  // Softmax or LogSoftmax down the columns [0, cols) of an [n, ld] block (x[k * ld + j], k < n).
  void (*softmax_cols)(SoftmaxMode mode, const float* x, float* y, int64_t n, int64_t cols, int64_t ld);
  // LayerNorm of `rows` contiguous rows of n elements: y = (x - mean) * inv * scale + bias (bias may be null);
  // mean and inv (1 / sqrt(var + eps)) are stored per row when not null.
  void (*layernorm_rows)(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t n,
                         float eps, float* mean, float* inv);
  // y[r] = fn over x[r * n + k], k < n, for r < rows (n > 0).
  void (*reduce_rows)(ReduceFn fn, const float* x, float* y, int64_t rows, int64_t n);
  // y[j] = fn over x[k * ld + j], k < n, for j < cols (n > 0).
  void (*reduce_cols)(ReduceFn fn, const float* x, float* y, int64_t n, int64_t cols, int64_t ld);
  // Conversions between f32 and the 16-bit floats (bits), rounding to nearest even like float16/bfloat16 (a NaN
  // stays NaN; its payload bits may differ).
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n);
  void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n);
  void (*f32_to_bf16)(const float* x, uint16_t* y, int64_t n);
  void (*bf16_to_f32)(const uint16_t* x, float* y, int64_t n);
};

// The variant for the best ISA of this processor, chosen at the first call. The environment variable CELER_CPU_ISA
// (avx512, avx2, scalar) may lower the choice, e.g. to test the fallbacks.
const SimdKernels& simd();
// A given variant, or nullptr when the processor cannot run it (tests compare the variants).
const SimdKernels* simd_for(Isa isa);

// The per-ISA tables (simd_<isa>.cpp).
const SimdKernels& simd_kernels_avx512();
const SimdKernels& simd_kernels_avx2();
const SimdKernels& simd_kernels_scalar();

}  // namespace celer::cpu
