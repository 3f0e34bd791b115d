// The AVX-512 (F, DQ) variant of the primitives in simd.hpp. Only reached when the processor supports it.
#include <immintrin.h>

#include <cstdint>

#include "devices/cpu/simd.hpp"

#pragma GCC push_options
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"                // the vector types never cross these files
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // a false positive inside GCC 12's avx512fintrin.h
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx2")
#pragma GCC optimize("fp-contract=off")  // a * b + c rounds twice unless V::fma is asked for, like the reference

namespace celer::cpu::avx512 {

struct V {
  using R = __m512;
  using M = __mmask16;
  static constexpr int64_t W = 16;
  static __mmask16 tail(int64_t n) { return __mmask16((1u << n) - 1u); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static R loadn(const float* p, int64_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail(n), p);
  }
  static void storen(float* p, R v, int64_t n) { _mm512_mask_storeu_ps(p, tail(n), v); }
  static R set1(float v) { return _mm512_set1_ps(v); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R min(R a, R b) { return _mm512_min_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R fnma(R a, R b, R c) { return _mm512_fnmadd_ps(a, b, c); }
  static R sqrt(R a) { return _mm512_sqrt_ps(a); }
  static R abs(R a) { return _mm512_abs_ps(a); }
  static R neg(R a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }
  static R copysign(R mag, R sgn) {
    const R s = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(s, mag), _mm512_and_ps(s, sgn));
  }
  static M lt(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M le(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static M gt(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M nan(R a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static R select(M m, R a, R b) { return _mm512_mask_blend_ps(m, b, a); }
  static R round(R a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static R floor(R a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static R ceil(R a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC); }
  static R scale2(R p, R n) { return _mm512_scalef_ps(p, n); }
  static float hsum(R a) { return _mm512_reduce_add_ps(a); }
  static float hmax(R a) { return _mm512_reduce_max_ps(a); }
  static float hmin(R a) { return _mm512_reduce_min_ps(a); }
};

#include "devices/cpu/simd_impl.inl"

}  // namespace celer::cpu::avx512

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace celer::cpu {
const SimdKernels& simd_kernels_avx512() {
  static const SimdKernels table = avx512::make_table(Isa::kAvx512);
  return table;
}
}  // namespace celer::cpu
