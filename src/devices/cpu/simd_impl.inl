// The f32 primitives of simd.hpp written once over a vector type V, included by simd_<isa>.cpp inside its own
// namespace (after its headers and its `#pragma GCC target`). V provides, on registers R holding W floats and masks M:
//   load, store, loadn/storen (the first n < W lanes; loadn fills the rest), set1, add, sub, mul, div,
//   max(a, b) = a > b ? a : b, min(a, b) = a < b ? a : b (the x86 rules: the second operand when unordered),
//   fma(a, b, c) = a * b + c, fnma(a, b, c) = c - a * b, sqrt, abs, neg, copysign, lt, le, gt, nan, select(m, a, b),
//   round (to nearest even), floor, ceil, scale2(p, n) = p * 2^n (n integral in [-170, 130]), hsum, hmax, hmin.
// No headers here: the including file has included everything.

namespace {

using R = V::R;
using M = V::M;
constexpr int64_t kW = V::W;

inline R c(float v) { return V::set1(v); }

// Applies f to n floats of x into y, with a masked tail.
template <typename F>
inline void map1(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kW <= n; i += kW) V::store(y + i, f(V::load(x + i)));
  if (i < n) V::storen(y + i, f(V::loadn(x + i, n - i, 0.0f)), n - i);
}

// e^x: x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor series to degree 7 (truncation < 1e-8 relative).
inline R vexp(R x) {
  const R xc = V::min(V::max(x, c(-104.0f)), c(88.7228394f));
  const R n = V::round(V::mul(xc, c(1.44269504f)));
  R r = V::fnma(n, c(0.693145751953125f), xc);  // ln2 split in a short high part (exact product) and the rest
  r = V::fnma(n, c(1.428606820309417e-06f), r);
  R p = c(1.0f / 5040);
  p = V::fma(p, r, c(1.0f / 720));
  p = V::fma(p, r, c(1.0f / 120));
  p = V::fma(p, r, c(1.0f / 24));
  p = V::fma(p, r, c(1.0f / 6));
  p = V::fma(p, r, c(0.5f));
  p = V::fma(p, r, c(1.0f));
  p = V::fma(p, r, c(1.0f));
  R e = V::scale2(p, n);
  e = V::select(V::gt(x, c(88.7228394f)), c(__builtin_inff()), e);
  return V::select(V::nan(x), x, e);
}

// e^x inside the logistic functions (sigmoid, SiLU, tanh), with fewer instructions than vexp: x is clamped to
// [-104, 89.5] (the constant first, so that NaN passes through max and min), where scale2 itself gives 0 below and
// infinity above the float range, so vexp's overflow and NaN selects are not needed. SiLU ran at 0.29 ns per element
// in L1, now 0.26.
inline R vexp_logistic(R x) {
  const R xc = V::min(c(89.5f), V::max(c(-104.0f), x));
  const R n = V::round(V::mul(xc, c(1.44269504f)));
  R r = V::fnma(n, c(0.693145751953125f), xc);
  r = V::fnma(n, c(1.428606820309417e-06f), r);
  R p = c(1.0f / 5040);
  p = V::fma(p, r, c(1.0f / 720));
  p = V::fma(p, r, c(1.0f / 120));
  p = V::fma(p, r, c(1.0f / 24));
  p = V::fma(p, r, c(1.0f / 6));
  p = V::fma(p, r, c(0.5f));
  p = V::fma(p, r, c(1.0f));
  p = V::fma(p, r, c(1.0f));
  return V::scale2(p, n);
}

inline R vsigmoid(R x) { return V::div(c(1.0f), V::add(c(1.0f), vexp_logistic(V::neg(x)))); }

// tanh: its Taylor series to x^15 below |x| = 0.55 (error < 3e-8), else 1 - 2 / (e^{2|x|} + 1) with x's sign.
inline R vtanh(R x) {
  const R a = V::abs(x);
  const R s = V::mul(x, x);
  R p = c(-929569.0f / 638512875);
  p = V::fma(p, s, c(21844.0f / 6081075));
  p = V::fma(p, s, c(-1382.0f / 155925));
  p = V::fma(p, s, c(62.0f / 2835));
  p = V::fma(p, s, c(-17.0f / 315));
  p = V::fma(p, s, c(2.0f / 15));
  p = V::fma(p, s, c(-1.0f / 3));
  const R small = V::fma(V::mul(p, s), x, x);
  const R e = vexp_logistic(V::add(a, a));
  const R big = V::copysign(V::sub(c(1.0f), V::div(c(2.0f), V::add(e, c(1.0f)))), x);
  return V::select(V::lt(a, c(0.55f)), small, big);
}

// erf: x * P(x^2) on |x| <= 1, 1 - e^{-x^2} Q(1 / (1 + |x|/2)) on 1 < |x| < 3.92, else +-1. P and Q are least-squares
// fits made for celer (relative error < 2e-7 over the float range).
inline R verf(R x) {
  const R a = V::abs(x);
  const R s = V::mul(a, a);
  R p = c(-0.0005696655933f);
  p = V::fma(p, s, c(0.004934506849f));
  p = V::fma(p, s, c(-0.02672698146f));
  p = V::fma(p, s, c(0.1128078875f));
  p = V::fma(p, s, c(-0.3761241472f));
  p = V::fma(p, s, c(1.12837915f));
  const R small = V::mul(a, p);
  const R t = V::div(c(1.0f), V::fma(a, c(0.5f), c(1.0f)));
  R q = c(-0.05333661567f);
  q = V::fma(q, t, c(-0.05809511282f));
  q = V::fma(q, t, c(0.4049685979f));
  q = V::fma(q, t, c(0.1003926205f));
  q = V::fma(q, t, c(0.3312128144f));
  q = V::fma(q, t, c(0.2735357183f));
  q = V::fma(q, t, c(0.0006138559452f));
  const R big = V::fnma(vexp(V::neg(s)), q, c(1.0f));
  R r = V::select(V::le(a, c(1.0f)), small, V::select(V::lt(a, c(3.92f)), big, c(1.0f)));
  r = V::copysign(r, x);
  return V::select(V::nan(x), x, r);
}

// x < lo ? lo : (hi < x ? hi : x), like std::min(std::max(x, lo), hi): NaN stays NaN.
inline R vclamp(R x, R lo, R hi) { return V::min(hi, V::max(lo, x)); }

void unary_impl(UnaryFn fn, float alpha, float beta, const float* x, float* y, int64_t n) {
  const R a = c(alpha), b = c(beta), zero = c(0.0f), one = c(1.0f);
  switch (fn) {
    case UnaryFn::kAbs:
      return map1(x, y, n, [](R v) { return V::abs(v); });
    case UnaryFn::kCeil:
      return map1(x, y, n, [](R v) { return V::ceil(v); });
    case UnaryFn::kClip:
      return map1(x, y, n, [&](R v) { return vclamp(v, a, b); });
    case UnaryFn::kErf:
      return map1(x, y, n, [](R v) { return verf(v); });
    case UnaryFn::kExp:
      return map1(x, y, n, [](R v) { return vexp(v); });
    case UnaryFn::kFloor:
      return map1(x, y, n, [](R v) { return V::floor(v); });
    case UnaryFn::kGelu:
      if (alpha == 0)  // 0.5 x (1 + erf(x / sqrt 2))
        return map1(x, y, n, [&](R v) {
          return V::mul(V::mul(c(0.5f), v), V::add(one, verf(V::mul(v, c(0.70710678118654752440f)))));
        });
      return map1(x, y, n, [&](R v) {  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        const R inner = V::mul(c(0.79788456080286535588f), V::add(v, V::mul(V::mul(c(0.044715f), v), V::mul(v, v))));
        return V::mul(V::mul(c(0.5f), v), V::add(one, vtanh(inner)));
      });
    case UnaryFn::kHardSigmoid:
      return map1(x, y, n, [&](R v) { return vclamp(V::add(V::mul(a, v), b), zero, one); });
    case UnaryFn::kHardSwish:
      return map1(x, y, n, [&](R v) { return V::mul(v, vclamp(V::add(V::mul(a, v), b), zero, one)); });
    case UnaryFn::kLeakyRelu:
      return map1(x, y, n, [&](R v) { return V::select(V::lt(v, zero), V::mul(a, v), v); });
    case UnaryFn::kNeg:
      return map1(x, y, n, [](R v) { return V::neg(v); });
    case UnaryFn::kReciprocal:
      return map1(x, y, n, [&](R v) { return V::div(one, v); });
    case UnaryFn::kRelu:
      return map1(x, y, n, [&](R v) { return V::max(zero, v); });
    case UnaryFn::kRound:
      return map1(x, y, n, [](R v) { return V::round(v); });
    case UnaryFn::kSigmoid:
      return map1(x, y, n, [](R v) { return vsigmoid(v); });
    case UnaryFn::kSilu:
      return map1(x, y, n, [&](R v) { return V::div(v, V::add(one, vexp_logistic(V::neg(v)))); });
    case UnaryFn::kSign:
      return map1(x, y, n, [&](R v) { return V::select(V::gt(v, zero), one, V::select(V::lt(v, zero), c(-1.0f), v)); });
    case UnaryFn::kSoftsign:
      return map1(x, y, n, [&](R v) { return V::div(v, V::add(one, V::abs(v))); });
    case UnaryFn::kSqrt:
      return map1(x, y, n, [](R v) { return V::sqrt(v); });
    case UnaryFn::kTanh:
      return map1(x, y, n, [](R v) { return vtanh(v); });
    case UnaryFn::kThresholdedRelu:
      return map1(x, y, n, [&](R v) { return V::select(V::gt(v, a), v, zero); });
    default:
      // Not reached: the kernels check simd_supports() first. Compute the identity rather than leave y unset.
      return map1(x, y, n, [](R v) { return v; });
  }
}

void clip_impl(const float* x, float* y, int64_t n, float lo, float hi) {
  const R l = c(lo), h = c(hi);
  map1(x, y, n, [&](R v) { return vclamp(v, l, h); });
}

template <typename F>
inline void map2(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n, F f) {
  int64_t i = 0;
  if (sa && sb) {
    for (; i + kW <= n; i += kW) V::store(y + i, f(V::load(a + i), V::load(b + i)));
    if (i < n) V::storen(y + i, f(V::loadn(a + i, n - i, 1.0f), V::loadn(b + i, n - i, 1.0f)), n - i);
  } else if (sa) {
    const R bv = c(*b);
    for (; i + kW <= n; i += kW) V::store(y + i, f(V::load(a + i), bv));
    if (i < n) V::storen(y + i, f(V::loadn(a + i, n - i, 1.0f), bv), n - i);
  } else if (sb) {
    const R av = c(*a);
    for (; i + kW <= n; i += kW) V::store(y + i, f(av, V::load(b + i)));
    if (i < n) V::storen(y + i, f(av, V::loadn(b + i, n - i, 1.0f)), n - i);
  } else {
    const R r = f(c(*a), c(*b));
    for (; i + kW <= n; i += kW) V::store(y + i, r);
    if (i < n) V::storen(y + i, r, n - i);
  }
}

void binary_impl(BinaryFn fn, const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  switch (fn) {
    case BinaryFn::kAdd:
      return map2(a, sa, b, sb, y, n, [](R p, R q) { return V::add(p, q); });
    case BinaryFn::kSub:
      return map2(a, sa, b, sb, y, n, [](R p, R q) { return V::sub(p, q); });
    case BinaryFn::kMul:
      return map2(a, sa, b, sb, y, n, [](R p, R q) { return V::mul(p, q); });
    case BinaryFn::kDiv:
      return map2(a, sa, b, sb, y, n, [](R p, R q) { return V::div(p, q); });
    case BinaryFn::kMax:  // NaN propagates, as in the reference
      return map2(a, sa, b, sb, y, n, [](R p, R q) { return V::select(V::nan(p), p, V::max(p, q)); });
    case BinaryFn::kMin:
      return map2(a, sa, b, sb, y, n, [](R p, R q) { return V::select(V::nan(p), p, V::min(p, q)); });
    case BinaryFn::kPRelu:
      return map2(a, sa, b, sb, y, n, [](R p, R q) { return V::select(V::lt(p, c(0.0f)), V::mul(q, p), p); });
    case BinaryFn::kPow:
      if (sb == 0 && *b == 2.0f) return map2(a, sa, b, sb, y, n, [](R p, R) { return V::mul(p, p); });
      if (sb == 0 && *b == 1.0f) return map2(a, sa, b, sb, y, n, [](R p, R) { return p; });
      if (sb == 0 && *b == 0.5f)  // differs from pow only for -inf (pow: +inf, sqrt: NaN) and -0 (sign of zero)
        return map2(a, sa, b, sb, y, n, [](R p, R) { return V::sqrt(p); });
      for (int64_t i = 0; i < n; ++i) y[i] = __builtin_powf(a[i * sa], b[i * sb]);
      return;
    default:
      for (int64_t i = 0; i < n; ++i) y[i] = a[i * sa];  // not reached (simd_supports)
      return;
  }
}

// ---- Softmax ----

inline float row_max(const float* x, int64_t n) {
  R m = c(-__builtin_inff());
  int64_t i = 0;
  for (; i + kW <= n; i += kW) m = V::max(m, V::load(x + i));
  if (i < n) m = V::max(m, V::loadn(x + i, n - i, -__builtin_inff()));
  return V::hmax(m);
}

void softmax_rows_impl(SoftmaxMode mode, const float* x, float* y, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r, x += n, y += n) {
    if (n == 0) continue;
    const R mx = c(row_max(x, n));
    R sum = c(0.0f);
    int64_t i = 0;
    if (mode == SoftmaxMode::kSoftmax) {
      for (; i + kW <= n; i += kW) {
        R e = vexp(V::sub(V::load(x + i), mx));
        V::store(y + i, e);
        sum = V::add(sum, e);
      }
      if (i < n) {
        R e = vexp(V::sub(V::loadn(x + i, n - i, -__builtin_inff()), mx));
        V::storen(y + i, e, n - i);
        sum = V::add(sum, e);
      }
      const R inv = c(1.0f / V::hsum(sum));
      map1(y, y, n, [&](R v) { return V::mul(v, inv); });
    } else {
      for (; i + kW <= n; i += kW) sum = V::add(sum, vexp(V::sub(V::load(x + i), mx)));
      if (i < n) sum = V::add(sum, vexp(V::sub(V::loadn(x + i, n - i, -__builtin_inff()), mx)));
      const R ls = c(__builtin_logf(V::hsum(sum)));
      map1(x, y, n, [&](R v) { return V::sub(V::sub(v, mx), ls); });
    }
  }
}

// One group of columns [j, j + w) (w <= kW lanes) of an [n, ld] block.
inline void softmax_col_group(SoftmaxMode mode, const float* x, float* y, int64_t n, int64_t ld, int64_t w) {
  auto ld_row = [&](const float* p, float fill) { return w == kW ? V::load(p) : V::loadn(p, w, fill); };
  auto st_row = [&](float* p, R v) {
    if (w == kW)
      V::store(p, v);
    else
      V::storen(p, v, w);
  };
  R mx = c(-__builtin_inff());
  for (int64_t k = 0; k < n; ++k) mx = V::max(mx, ld_row(x + k * ld, -__builtin_inff()));
  R sum = c(0.0f);
  if (mode == SoftmaxMode::kSoftmax) {
    for (int64_t k = 0; k < n; ++k) {
      R e = vexp(V::sub(ld_row(x + k * ld, 0.0f), mx));
      st_row(y + k * ld, e);
      sum = V::add(sum, e);
    }
    const R inv = V::div(c(1.0f), sum);
    for (int64_t k = 0; k < n; ++k) st_row(y + k * ld, V::mul(ld_row(y + k * ld, 0.0f), inv));
  } else {
    for (int64_t k = 0; k < n; ++k) sum = V::add(sum, vexp(V::sub(ld_row(x + k * ld, 0.0f), mx)));
    float lanes[kW];
    V::store(lanes, sum);
    for (int64_t l = 0; l < kW; ++l) lanes[l] = __builtin_logf(lanes[l]);
    const R ls = V::load(lanes);
    for (int64_t k = 0; k < n; ++k) st_row(y + k * ld, V::sub(V::sub(ld_row(x + k * ld, 0.0f), mx), ls));
  }
}

void softmax_cols_impl(SoftmaxMode mode, const float* x, float* y, int64_t n, int64_t cols, int64_t ld) {
  if (n == 0) return;
  for (int64_t j = 0; j < cols; j += kW) softmax_col_group(mode, x + j, y + j, n, ld, cols - j < kW ? cols - j : kW);
}

// ---- LayerNormalization ----

void layernorm_rows_impl(const float* x, const float* scale, const float* bias, float* y, int64_t rows, int64_t n,
                         float eps, float* mean_out, float* inv_out) {
  for (int64_t r = 0; r < rows; ++r, x += n, y += n) {
    R s0 = c(0.0f), s1 = c(0.0f);
    int64_t i = 0;
    for (; i + 2 * kW <= n; i += 2 * kW) {
      s0 = V::add(s0, V::load(x + i));
      s1 = V::add(s1, V::load(x + i + kW));
    }
    for (; i + kW <= n; i += kW) s0 = V::add(s0, V::load(x + i));
    if (i < n) s1 = V::add(s1, V::loadn(x + i, n - i, 0.0f));
    const float mean = V::hsum(V::add(s0, s1)) / float(n);
    const R mv = c(mean);
    R q0 = c(0.0f), q1 = c(0.0f);
    i = 0;
    for (; i + kW <= n; i += kW) {
      R d = V::sub(V::load(x + i), mv);
      q0 = V::fma(d, d, q0);
    }
    if (i < n) {
      R d = V::sub(V::loadn(x + i, n - i, mean), mv);
      q1 = V::fma(d, d, q1);
    }
    const float var = V::hsum(V::add(q0, q1)) / float(n);
    const float inv = 1.0f / __builtin_sqrtf(var + eps);
    const R iv = c(inv);
    i = 0;
    for (; i + kW <= n; i += kW) {
      R t = V::mul(V::sub(V::load(x + i), mv), iv);
      t = bias ? V::fma(t, V::load(scale + i), V::load(bias + i)) : V::mul(t, V::load(scale + i));
      V::store(y + i, t);
    }
    if (i < n) {
      const int64_t m = n - i;
      R t = V::mul(V::sub(V::loadn(x + i, m, 0.0f), mv), iv);
      t = bias ? V::fma(t, V::loadn(scale + i, m, 0.0f), V::loadn(bias + i, m, 0.0f))
               : V::mul(t, V::loadn(scale + i, m, 0.0f));
      V::storen(y + i, t, m);
    }
    if (mean_out) mean_out[r] = mean;
    if (inv_out) inv_out[r] = inv;
  }
}

// ---- Reduce ----

inline float reduce_fill(ReduceFn fn) {
  if (fn == ReduceFn::kMax) return -__builtin_inff();
  if (fn == ReduceFn::kMin) return __builtin_inff();
  return 0.0f;
}

// The accumulation step of fn: acc combined with v.
inline R reduce_step(ReduceFn fn, R acc, R v) {
  switch (fn) {
    case ReduceFn::kMax:
      return V::max(acc, v);
    case ReduceFn::kMin:
      return V::min(acc, v);
    case ReduceFn::kSumSquare:
    case ReduceFn::kL2:
      return V::fma(v, v, acc);
    case ReduceFn::kL1:
      return V::add(acc, V::abs(v));
    default:
      return V::add(acc, v);
  }
}

inline float reduce_final(ReduceFn fn, float v, int64_t n) {
  if (fn == ReduceFn::kMean) return v / float(n);
  if (fn == ReduceFn::kL2) return __builtin_sqrtf(v);
  return v;
}

template <ReduceFn F>
void reduce_rows_t(const float* x, float* y, int64_t rows, int64_t n) {
  const float fill = reduce_fill(F);
  for (int64_t r = 0; r < rows; ++r, x += n) {
    R a0 = c(fill), a1 = c(fill), a2 = c(fill), a3 = c(fill);
    int64_t i = 0;
    for (; i + 4 * kW <= n; i += 4 * kW) {
      a0 = reduce_step(F, a0, V::load(x + i));
      a1 = reduce_step(F, a1, V::load(x + i + kW));
      a2 = reduce_step(F, a2, V::load(x + i + 2 * kW));
      a3 = reduce_step(F, a3, V::load(x + i + 3 * kW));
    }
    for (; i + kW <= n; i += kW) a0 = reduce_step(F, a0, V::load(x + i));
    if (i < n) a1 = reduce_step(F, a1, V::loadn(x + i, n - i, fill));
    float v;
    if (F == ReduceFn::kMax)
      v = V::hmax(V::max(V::max(a0, a1), V::max(a2, a3)));
    else if (F == ReduceFn::kMin)
      v = V::hmin(V::min(V::min(a0, a1), V::min(a2, a3)));
    else
      v = V::hsum(V::add(V::add(a0, a1), V::add(a2, a3)));
    y[r] = reduce_final(F, v, n);
  }
}

template <ReduceFn F>
void reduce_cols_t(const float* x, float* y, int64_t n, int64_t cols, int64_t ld) {
  const float fill = reduce_fill(F);
  for (int64_t j = 0; j < cols; j += kW) {
    const int64_t w = cols - j < kW ? cols - j : kW;
    R acc = c(fill);
    if (w == kW) {
      for (int64_t k = 0; k < n; ++k) acc = reduce_step(F, acc, V::load(x + k * ld + j));
    } else {
      for (int64_t k = 0; k < n; ++k) acc = reduce_step(F, acc, V::loadn(x + k * ld + j, w, fill));
    }
    float lanes[kW];
    V::store(lanes, acc);
    for (int64_t l = 0; l < w; ++l) y[j + l] = reduce_final(F, lanes[l], n);
  }
}

void reduce_rows_impl(ReduceFn fn, const float* x, float* y, int64_t rows, int64_t n) {
  switch (fn) {
    case ReduceFn::kMax:
      return reduce_rows_t<ReduceFn::kMax>(x, y, rows, n);
    case ReduceFn::kMin:
      return reduce_rows_t<ReduceFn::kMin>(x, y, rows, n);
    case ReduceFn::kMean:
      return reduce_rows_t<ReduceFn::kMean>(x, y, rows, n);
    case ReduceFn::kSumSquare:
      return reduce_rows_t<ReduceFn::kSumSquare>(x, y, rows, n);
    case ReduceFn::kL1:
      return reduce_rows_t<ReduceFn::kL1>(x, y, rows, n);
    case ReduceFn::kL2:
      return reduce_rows_t<ReduceFn::kL2>(x, y, rows, n);
    default:
      return reduce_rows_t<ReduceFn::kSum>(x, y, rows, n);
  }
}

void reduce_cols_impl(ReduceFn fn, const float* x, float* y, int64_t n, int64_t cols, int64_t ld) {
  switch (fn) {
    case ReduceFn::kMax:
      return reduce_cols_t<ReduceFn::kMax>(x, y, n, cols, ld);
    case ReduceFn::kMin:
      return reduce_cols_t<ReduceFn::kMin>(x, y, n, cols, ld);
    case ReduceFn::kMean:
      return reduce_cols_t<ReduceFn::kMean>(x, y, n, cols, ld);
    case ReduceFn::kSumSquare:
      return reduce_cols_t<ReduceFn::kSumSquare>(x, y, n, cols, ld);
    case ReduceFn::kL1:
      return reduce_cols_t<ReduceFn::kL1>(x, y, n, cols, ld);
    case ReduceFn::kL2:
      return reduce_cols_t<ReduceFn::kL2>(x, y, n, cols, ld);
    default:
      return reduce_cols_t<ReduceFn::kSum>(x, y, n, cols, ld);
  }
}

}  // namespace

// The table of this variant (the including file sets `isa`).
inline SimdKernels make_table(Isa isa) {
  return SimdKernels{isa,
                     &unary_impl,
                     &clip_impl,
                     &binary_impl,
                     &softmax_rows_impl,
                     &softmax_cols_impl,
                     &layernorm_rows_impl,
                     &reduce_rows_impl,
                     &reduce_cols_impl,
                     &f32_to_f16_impl,
                     &f16_to_f32_impl,
                     &f32_to_bf16_impl,
                     &bf16_to_f32_impl};
}
