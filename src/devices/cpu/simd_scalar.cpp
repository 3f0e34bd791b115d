// The portable variant of the primitives in simd.hpp (one float per "vector"; the compiler may still use SSE2).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "devices/cpu/simd.hpp"

namespace celer::cpu::scalar {

struct V {
  using R = float;
  using M = bool;
  static constexpr int64_t W = 1;
  static R load(const float* p) { return *p; }
  static void store(float* p, R v) { *p = v; }
  static R loadn(const float* p, int64_t n, float fill) { return n > 0 ? *p : fill; }
  static void storen(float* p, R v, int64_t n) {
    if (n > 0) *p = v;
  }
  static R set1(float v) { return v; }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R div(R a, R b) { return a / b; }
  static R max(R a, R b) { return a > b ? a : b; }
  static R min(R a, R b) { return a < b ? a : b; }
  static R fma(R a, R b, R c) { return a * b + c; }
  static R fnma(R a, R b, R c) { return c - a * b; }
  static R sqrt(R a) { return std::sqrt(a); }
  static R abs(R a) { return std::fabs(a); }
  static R neg(R a) { return -a; }
  static R copysign(R mag, R sgn) { return std::copysign(mag, sgn); }
  static M lt(R a, R b) { return a < b; }
  static M le(R a, R b) { return a <= b; }
  static M gt(R a, R b) { return a > b; }
  static M nan(R a) { return std::isnan(a); }
  static R select(M m, R a, R b) { return m ? a : b; }
  static R round(R a) { return std::nearbyint(a); }
  static R floor(R a) { return std::floor(a); }
  static R ceil(R a) { return std::ceil(a); }
  static R scale2(R p, R n) { return std::ldexp(p, int(n)); }
  static float hsum(R a) { return a; }
  static float hmax(R a) { return a; }
  static float hmin(R a) { return a; }
};

namespace {

void f32_to_f16_impl(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float16::from_float(x[i]);
}
void f16_to_f32_impl(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float16::to_float(x[i]);
}
void f32_to_bf16_impl(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = bfloat16::from_float(x[i]);
}
void bf16_to_f32_impl(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = uint32_t(x[i]) << 16;
    std::memcpy(y + i, &u, 4);
  }
}

}  // namespace

#include "devices/cpu/simd_impl.inl"

}  // namespace celer::cpu::scalar

namespace celer::cpu {
const SimdKernels& simd_kernels_scalar() {
  static const SimdKernels table = scalar::make_table(Isa::kScalar);
  return table;
}
}  // namespace celer::cpu
