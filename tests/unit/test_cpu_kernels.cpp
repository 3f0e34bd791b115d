// The CPU device's own kernels (src/devices/cpu/{simd,eltwise,softmax,norm,reduce}_*): every ISA variant of the
// primitives against a double-precision oracle with guard bytes around the output, then each fast kernel against the
// reference kernel through one-node models on odd shapes, broadcast patterns and non-last axes.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"
#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

constexpr int kFloat = onnx::TensorProto::FLOAT;
const int64_t kSizes[] = {0, 1, 7, 15, 16, 17, 33, 1000, 1031};

std::vector<float> random_values(int64_t n, uint32_t seed, float lo = -6, float hi = 6) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

Tensor random_tensor(const Dims& d, uint32_t seed, float lo = -6, float hi = 6) {
  return Tensor::from_vector<float>(random_values(element_count(d), seed, lo, hi), d);
}

bool close(double want, double got, double rtol, double atol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(want - got) <= atol + rtol * std::fabs(want);
}

// A buffer of n floats with guard floats on both sides holding a marker that no kernel produces.
class Guarded {
 public:
  explicit Guarded(int64_t n) : n_(n), buf_(static_cast<size_t>(n + 2 * kGuard)) {
    for (auto& g : buf_) std::memcpy(&g, &kMarker, 4);
  }
  float* data() { return buf_.data() + kGuard; }
  bool guards_intact() const {
    for (int64_t i = 0; i < kGuard; ++i) {
      uint32_t lo, hi;
      std::memcpy(&lo, &buf_[size_t(i)], 4);
      std::memcpy(&hi, &buf_[size_t(n_ + kGuard + i)], 4);
      if (lo != kMarker || hi != kMarker) return false;
    }
    return true;
  }

 private:
  static constexpr int64_t kGuard = 32;
  static constexpr uint32_t kMarker = 0x7fa5a5a5;  // a signalling NaN payload
  int64_t n_;
  std::vector<float> buf_;
};

std::vector<const cpu::SimdKernels*> variants() {
  std::vector<const cpu::SimdKernels*> v;
  for (cpu::Isa isa : {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvx512})
    if (auto* k = cpu::simd_for(isa)) v.push_back(k);
  return v;
}

struct UnaryCase {
  const char* op;  // the ONNX op type, or nullptr for functions made only by fusions
  UnaryFn fn;
  float alpha, beta;
  std::function<double(double)> oracle;
};

std::vector<UnaryCase> unary_cases() {
  // In float like the reference (a * x + b rounds twice); NaN stays NaN, as with std::clamp.
  auto hard = [](double x, float a, float b) {
    const float v = float(a * float(x)) + b;
    return double(v < 0 ? 0.0f : (1 < v ? 1.0f : v));
  };
  return {
      {"Abs", UnaryFn::kAbs, 0, 0, [](double x) { return std::fabs(x); }},
      {"Ceil", UnaryFn::kCeil, 0, 0, [](double x) { return std::ceil(x); }},
      {nullptr, UnaryFn::kClip, -1.5f, 2.0f, [](double x) { return x < -1.5 ? -1.5 : (2.0 < x ? 2.0 : x); }},
      {nullptr, UnaryFn::kGelu, 0, 0, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {nullptr, UnaryFn::kGelu, 1, 0,
       [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }},
      {nullptr, UnaryFn::kSilu, 0, 0, [](double x) { return x / (1 + std::exp(-x)); }},
      {"Erf", UnaryFn::kErf, 0, 0, [](double x) { return std::erf(x); }},
      {"Exp", UnaryFn::kExp, 0, 0, [](double x) { return std::exp(x); }},
      {"Floor", UnaryFn::kFloor, 0, 0, [](double x) { return std::floor(x); }},
      {"HardSigmoid", UnaryFn::kHardSigmoid, 0.2f, 0.5f, [=](double x) { return hard(x, 0.2f, 0.5f); }},
      {"HardSwish", UnaryFn::kHardSwish, 1 / 6.0f, 0.5f,
       [=](double x) { return double(float(x) * float(hard(x, 1 / 6.0f, 0.5f))); }},
      {"LeakyRelu", UnaryFn::kLeakyRelu, 0.1f, 0, [](double x) { return x < 0 ? double(0.1f) * x : x; }},
      {"Neg", UnaryFn::kNeg, 0, 0, [](double x) { return -x; }},
      {"Reciprocal", UnaryFn::kReciprocal, 0, 0, [](double x) { return 1 / x; }},
      {"Relu", UnaryFn::kRelu, 0, 0, [](double x) { return x < 0 ? 0 : x; }},
      {"Round", UnaryFn::kRound, 0, 0, [](double x) { return std::nearbyint(x); }},
      {"Sigmoid", UnaryFn::kSigmoid, 0, 0, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"Sign", UnaryFn::kSign, 0, 0, [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : x); }},
      {"Softsign", UnaryFn::kSoftsign, 0, 0, [](double x) { return x / (1 + std::fabs(x)); }},
      {"Sqrt", UnaryFn::kSqrt, 0, 0, [](double x) { return std::sqrt(x); }},
      {"Tanh", UnaryFn::kTanh, 0, 0, [](double x) { return std::tanh(x); }},
      {"ThresholdedRelu", UnaryFn::kThresholdedRelu, 1.0f, 0, [](double x) { return x > 1.0 ? x : 0.0; }},
  };
}

// Inputs for unary functions: random values, the edges of the approximations' ranges and special values.
std::vector<float> unary_inputs(int64_t n, uint32_t seed) {
  std::vector<float> v = random_values(n, seed);
  const float specials[] = {0.0f,  -0.0f, 1e-6f,  -1e-6f, 0.55f,   -0.55f, 1.0f,    -1.0f,    3.92f,     -3.92f,
                            88.0f, 88.9f, -87.5f, -104.f, 2.5f,    -2.5f,  0.5f,    INFINITY, -INFINITY, NAN,
                            20.0f, -20.f, 9.0f,   1e-30f, -1e-30f, 100.f,  -100.0f, 1.5f,     -0.5f,     4.0f};
  for (size_t i = 0; i < v.size() && i < std::size(specials); ++i) v[i * 7 % v.size()] = specials[i];
  return v;
}

}  // namespace

// ---- Primitives, every ISA variant, guard bytes ----

TEST(CpuKernelsSimd, UnaryMatchesOracleOnEveryVariant) {
  for (const auto* k : variants()) {
    for (const UnaryCase& uc : unary_cases()) {
      ASSERT_TRUE(cpu::simd_supports(uc.fn)) << unary_fn_name(uc.fn);
      for (int64_t n : kSizes) {
        std::vector<float> x = unary_inputs(n, uint32_t(n) + 1);
        Guarded y(n);
        k->unary(uc.fn, uc.alpha, uc.beta, x.data(), y.data(), n);
        ASSERT_TRUE(y.guards_intact()) << unary_fn_name(uc.fn) << " " << cpu::isa_name(k->isa) << " n=" << n;
        for (int64_t i = 0; i < n; ++i) {
          const double want = double(float(uc.oracle(double(x[size_t(i)]))));
          // Gelu: 1 + erf(x) cancels for x << 0, so its error is absolute (~1e-7 of |x|).
          const double atol = uc.fn == UnaryFn::kGelu ? 1e-7 * std::fabs(x[size_t(i)]) + 1e-37 : 1e-37;
          ASSERT_TRUE(close(want, y.data()[i], 1e-6, atol))
              << unary_fn_name(uc.fn) << " " << uc.alpha << " " << cpu::isa_name(k->isa) << " x=" << x[size_t(i)]
              << " want " << want << " got " << y.data()[i];
        }
      }
    }
  }
}

TEST(CpuKernelsSimd, BinaryStrideModesOnEveryVariant) {
  const BinaryFn fns[] = {BinaryFn::kAdd, BinaryFn::kSub, BinaryFn::kMul,   BinaryFn::kDiv,
                          BinaryFn::kMax, BinaryFn::kMin, BinaryFn::kPRelu, BinaryFn::kPow};
  for (const auto* k : variants()) {
    for (BinaryFn fn : fns) {
      for (int64_t n : kSizes) {
        std::vector<float> a = random_values(n + 1, 3), b = random_values(n + 1, 4, 0.5f, 3);
        if (n > 3) a[3] = NAN;
        for (int mode = 0; mode < 4; ++mode) {
          const int64_t sa = mode & 1 ? 0 : 1, sb = mode & 2 ? 0 : 1;
          if (fn == BinaryFn::kPow && sb == 0) b[0] = n % 2 ? 2.0f : 0.5f;
          Guarded y(n);
          k->binary(fn, a.data(), sa, b.data(), sb, y.data(), n);
          ASSERT_TRUE(y.guards_intact()) << binary_fn_name(fn) << " " << cpu::isa_name(k->isa);
          for (int64_t i = 0; i < n; ++i) {
            const float p = a[size_t(i * sa)], q = b[size_t(i * sb)];
            float want = 0;
            switch (fn) {
              case BinaryFn::kAdd:
                want = p + q;
                break;
              case BinaryFn::kSub:
                want = p - q;
                break;
              case BinaryFn::kMul:
                want = p * q;
                break;
              case BinaryFn::kDiv:
                want = p / q;
                break;
              case BinaryFn::kMax:
                want = std::isnan(p) ? p : std::max(p, q);
                break;
              case BinaryFn::kMin:
                want = std::isnan(p) ? p : std::min(p, q);
                break;
              case BinaryFn::kPRelu:
                want = p < 0 ? q * p : p;
                break;
              default:
                want = std::pow(p, q);
                break;
            }
            ASSERT_TRUE(close(want, y.data()[i], 1e-6, 0))
                << binary_fn_name(fn) << " mode " << mode << " " << cpu::isa_name(k->isa) << " " << want << " vs "
                << y.data()[i];
          }
        }
      }
    }
  }
}

TEST(CpuKernelsSimd, SoftmaxRowsAndColumnsOnEveryVariant) {
  for (const auto* k : variants()) {
    for (SoftmaxMode mode : {SoftmaxMode::kSoftmax, SoftmaxMode::kLogSoftmax}) {
      for (int64_t n : kSizes) {
        if (n == 0) continue;
        for (int64_t cols : {int64_t(1), int64_t(5), int64_t(16), int64_t(19)}) {
          const int64_t ld = cols + 3;
          std::vector<float> x = random_values(n * ld, 7, -20, 20);
          Guarded rows(3 * n), colsy(n * ld);
          std::vector<float> xr = random_values(3 * n, 8, -20, 20);
          k->softmax_rows(mode, xr.data(), rows.data(), 3, n);
          k->softmax_cols(mode, x.data(), colsy.data(), n, cols, ld);
          ASSERT_TRUE(rows.guards_intact() && colsy.guards_intact());
          auto check = [&](const float* in, const float* out, int64_t stride, const char* what) {
            double mx = -INFINITY, sum = 0;
            for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(in[i * stride]));
            for (int64_t i = 0; i < n; ++i) sum += std::exp(double(in[i * stride]) - mx);
            for (int64_t i = 0; i < n; ++i) {
              const double v = double(in[i * stride]) - mx;
              const double want = mode == SoftmaxMode::kSoftmax ? std::exp(v) / sum : v - std::log(sum);
              ASSERT_TRUE(close(want, out[i * stride], 1e-5, mode == SoftmaxMode::kSoftmax ? 1e-30 : 1e-6))
                  << what << " " << cpu::isa_name(k->isa) << " n=" << n << " " << want << " vs " << out[i * stride];
            }
          };
          for (int64_t r = 0; r < 3; ++r) check(xr.data() + r * n, rows.data() + r * n, 1, "rows");
          for (int64_t j = 0; j < cols; ++j) check(x.data() + j, colsy.data() + j, ld, "cols");
          for (int64_t r = 0; r < n; ++r)  // the columns past `cols` are not written
            for (int64_t j = cols; j < ld; ++j) {
              uint32_t bits;
              std::memcpy(&bits, colsy.data() + r * ld + j, 4);
              ASSERT_EQ(bits, 0x7fa5a5a5u);
            }
        }
      }
    }
  }
}

TEST(CpuKernelsSimd, LayerNormAndReduceOnEveryVariant) {
  for (const auto* k : variants()) {
    for (int64_t n : kSizes) {
      if (n == 0) continue;
      const int64_t rows = 3;
      std::vector<float> x = random_values(rows * n, 11, -3, 5), scale = random_values(n, 12),
                         bias = random_values(n, 13);
      Guarded y(rows * n), mean(rows), inv(rows);
      k->layernorm_rows(x.data(), scale.data(), bias.data(), y.data(), rows, n, 1e-5f, mean.data(), inv.data());
      ASSERT_TRUE(y.guards_intact() && mean.guards_intact() && inv.guards_intact());
      for (int64_t r = 0; r < rows; ++r) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < n; ++i) m += x[size_t(r * n + i)];
        m /= double(n);
        for (int64_t i = 0; i < n; ++i) v += (x[size_t(r * n + i)] - m) * (x[size_t(r * n + i)] - m);
        const double iv = 1 / std::sqrt(v / double(n) + 1e-5);
        ASSERT_TRUE(close(m, mean.data()[r], 1e-5, 1e-6));
        ASSERT_TRUE(close(iv, inv.data()[r], 1e-5, 0));
        for (int64_t i = 0; i < n; ++i) {
          const double want = (x[size_t(r * n + i)] - m) * iv * scale[size_t(i)] + bias[size_t(i)];
          ASSERT_TRUE(close(want, y.data()[r * n + i], 1e-5, 1e-5)) << cpu::isa_name(k->isa) << " n=" << n;
        }
      }
      const ReduceFn fns[] = {ReduceFn::kSum,       ReduceFn::kMean, ReduceFn::kMax, ReduceFn::kMin,
                              ReduceFn::kSumSquare, ReduceFn::kL1,   ReduceFn::kL2};
      for (ReduceFn fn : fns) {
        auto oracle = [&](const float* p, int64_t stride) {
          double acc = fn == ReduceFn::kMax ? -INFINITY : (fn == ReduceFn::kMin ? INFINITY : 0);
          for (int64_t i = 0; i < n; ++i) {
            const double v = p[i * stride];
            if (fn == ReduceFn::kMax)
              acc = std::max(acc, v);
            else if (fn == ReduceFn::kMin)
              acc = std::min(acc, v);
            else if (fn == ReduceFn::kSumSquare || fn == ReduceFn::kL2)
              acc += v * v;
            else if (fn == ReduceFn::kL1)
              acc += std::fabs(v);
            else
              acc += v;
          }
          if (fn == ReduceFn::kMean) acc /= double(n);
          if (fn == ReduceFn::kL2) acc = std::sqrt(acc);
          return acc;
        };
        Guarded yr(rows), yc(n > 17 ? 17 : n);
        const int64_t cols = n > 17 ? 17 : n;  // columns of the [rows, n] block read as [rows, cols] with ld = n
        k->reduce_rows(fn, x.data(), yr.data(), rows, n);
        k->reduce_cols(fn, x.data(), yc.data(), rows, cols, n);
        ASSERT_TRUE(yr.guards_intact() && yc.guards_intact()) << reduce_fn_name(fn);
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_TRUE(close(oracle(x.data() + r * n, 1), yr.data()[r], 1e-5, 1e-4))
              << reduce_fn_name(fn) << " " << cpu::isa_name(k->isa) << " n=" << n;
        const int64_t saved_n = n;
        for (int64_t j = 0; j < cols; ++j) {
          // oracle over the column: `rows` values at stride n
          double acc = 0;
          {
            const int64_t nn = rows;
            double a = fn == ReduceFn::kMax ? -INFINITY : (fn == ReduceFn::kMin ? INFINITY : 0);
            for (int64_t i = 0; i < nn; ++i) {
              const double v = x[size_t(i * saved_n + j)];
              if (fn == ReduceFn::kMax)
                a = std::max(a, v);
              else if (fn == ReduceFn::kMin)
                a = std::min(a, v);
              else if (fn == ReduceFn::kSumSquare || fn == ReduceFn::kL2)
                a += v * v;
              else if (fn == ReduceFn::kL1)
                a += std::fabs(v);
              else
                a += v;
            }
            if (fn == ReduceFn::kMean) a /= double(nn);
            if (fn == ReduceFn::kL2) a = std::sqrt(a);
            acc = a;
          }
          ASSERT_TRUE(close(acc, yc.data()[j], 1e-5, 1e-5)) << reduce_fn_name(fn) << " cols";
        }
      }
    }
  }
}

TEST(CpuKernelsSimd, HalfConversionsMatchTheTypesBitForBit) {
  // Floats around the f16 and bf16 ranges: normals, subnormals, halfway cases, overflow, infinities, NaN.
  std::vector<float> x = random_values(1100, 21, -70000, 70000);  // more than the largest size
  const float specials[] = {0.0f,     -0.0f,     1e-5f, -6e-8f,        3e-8f,          65504.0f, 65520.0f, 1e-40f,
                            INFINITY, -INFINITY, NAN,   1.0009765625f, 1.00048828125f, 3.0e38f,  -1e-7f,   2049.0f};
  for (size_t i = 0; i < std::size(specials); ++i) x[i * 37] = specials[i];
  for (size_t i = 500; i < 700; ++i) x[i] = x[i] * 1e-9f;
  for (const auto* k : variants()) {
    for (int64_t n : kSizes) {
      std::vector<uint16_t> h(static_cast<size_t>(n + 16), 0xbeef), b(static_cast<size_t>(n + 16), 0xbeef);
      k->f32_to_f16(x.data(), h.data() + 8, n);
      k->f32_to_bf16(x.data(), b.data() + 8, n);
      for (int64_t i = 0; i < 8; ++i) {
        ASSERT_EQ(h[size_t(i)], 0xbeef);
        ASSERT_EQ(h[size_t(n + 8 + i)], 0xbeef);
        ASSERT_EQ(b[size_t(i)], 0xbeef);
        ASSERT_EQ(b[size_t(n + 8 + i)], 0xbeef);
      }
      Guarded back_h(n), back_b(n);
      k->f16_to_f32(h.data() + 8, back_h.data(), n);
      k->bf16_to_f32(b.data() + 8, back_b.data(), n);
      ASSERT_TRUE(back_h.guards_intact() && back_b.guards_intact());
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[size_t(i)];
        const uint16_t hh = h[size_t(i + 8)], bb = b[size_t(i + 8)];
        if (std::isnan(v)) {
          EXPECT_TRUE(std::isnan(float16::to_float(hh)) && std::isnan(back_h.data()[i]));
          EXPECT_TRUE(std::isnan(back_b.data()[i]));
          continue;
        }
        ASSERT_EQ(hh, float16::from_float(v)) << cpu::isa_name(k->isa) << " f16 of " << v;
        ASSERT_EQ(bb, bfloat16::from_float(v)) << cpu::isa_name(k->isa) << " bf16 of " << v;
        const float fh = float16::to_float(hh);
        ASSERT_EQ(std::memcmp(&fh, back_h.data() + i, 4), 0) << cpu::isa_name(k->isa);
        bfloat16 bv;
        bv.bits = bb;
        const float fb = float(bv);
        ASSERT_EQ(std::memcmp(&fb, back_b.data() + i, 4), 0) << cpu::isa_name(k->isa);
      }
    }
  }
}

TEST(CpuKernelsSimd, StartupChoiceIsTheBestVariant) {
  const cpu::Isa best = cpu::simd_for(cpu::Isa::kAvx512) ? cpu::Isa::kAvx512
                        : cpu::simd_for(cpu::Isa::kAvx2) ? cpu::Isa::kAvx2
                                                         : cpu::Isa::kScalar;
  if (!std::getenv("CELER_CPU_ISA")) {
    EXPECT_EQ(cpu::simd().isa, best);
  }
  EXPECT_NE(cpu::simd_for(cpu::Isa::kScalar), nullptr);
}

TEST(CpuKernelsSimd, ThreadsOnlyForLargeWork) {
  EXPECT_EQ(cpu::threads_for(1000, cpu::kGrainTranscendental, 8), 1);  // no parallel region for small nodes
  EXPECT_EQ(cpu::threads_for(64 * 1024 - 1, cpu::kGrainSimple, 8), 1);
  EXPECT_EQ(cpu::threads_for(1 << 20, cpu::kGrainSimple, 8), 8);
  EXPECT_EQ(cpu::threads_for(1 << 20, cpu::kGrainSimple, 1), 1);
  CompileOptions one;
  one.num_threads = 1;
  EXPECT_EQ(cpu::max_threads(one), 1);
  // The parts cover [0, n) once, with bounds on multiples of `align`.
  for (int threads : {1, 2, 3, 7}) {
    std::vector<int> hits(1000, 0);
    std::vector<int64_t> starts(1000, -1);
    cpu::parallel_for(1000, threads, 64, [&](int64_t b, int64_t e) {
      starts[size_t(b)] = b;
      for (int64_t i = b; i < e; ++i) ++hits[size_t(i)];
    });
    for (int h : hits) ASSERT_EQ(h, 1);
    for (int64_t b : starts)
      if (b >= 0) {
        EXPECT_EQ(b % 64, 0);
      }
  }
}

// ---- Fast kernels against the reference kernels, through one-node models ----

namespace {

void expect_same(const std::vector<Tensor>& ref, const std::vector<Tensor>& cpu, const std::string& what,
                 double rtol = 1e-5, double atol = 1e-6) {
  ASSERT_EQ(ref.size(), cpu.size()) << what;
  for (size_t o = 0; o < ref.size(); ++o) {
    ASSERT_EQ(ref[o].dims(), cpu[o].dims()) << what << " output " << o;
    ASSERT_EQ(ref[o].type(), cpu[o].type()) << what << " output " << o;
    const float* r = ref[o].data<float>();
    const float* c = cpu[o].data<float>();
    for (int64_t i = 0; i < ref[o].size(); ++i)
      ASSERT_TRUE(close(r[i], c[i], rtol, atol))
          << what << " output " << o << " element " << i << ": REF " << r[i] << " CPU " << c[i];
  }
}

void compare_devices(const OnnxBuilder& b, const std::vector<Tensor>& inputs, const std::string& what,
                     double rtol = 1e-5, double atol = 1e-6) {
  expect_same(b.run("REF", inputs), b.run("CPU", inputs), what, rtol, atol);
}

std::string shape_str(const Dims& d) { return dims_to_string(d); }

}  // namespace

TEST(CpuKernels, UnaryMatchesReference) {
  const std::vector<Dims> shapes = {{1}, {7}, {15}, {16}, {17}, {33}, {3, 5, 67}, {2, 300, 129}};
  for (const UnaryCase& uc : unary_cases()) {
    if (!uc.op) continue;
    for (const Dims& d : shapes) {
      OnnxBuilder b(14);
      b.input("x", kFloat, d);
      auto& n = b.node(uc.op, {"x"}, {"y"});
      if (uc.fn == UnaryFn::kHardSigmoid || uc.fn == UnaryFn::kLeakyRelu || uc.fn == UnaryFn::kThresholdedRelu)
        OnnxBuilder::attr(n, "alpha", uc.alpha);
      if (uc.fn == UnaryFn::kHardSigmoid) OnnxBuilder::attr(n, "beta", uc.beta);
      b.output("y");
      Tensor x = Tensor::from_vector<float>(unary_inputs(element_count(d), 5), d);
      compare_devices(b, {x}, std::string(uc.op) + " " + shape_str(d), 1e-5, 1e-37);
    }
  }
}

TEST(CpuKernels, BinaryBroadcastPatternsMatchReference) {
  const std::vector<std::pair<Dims, Dims>> pairs = {
      {{7}, {7}},
      {{17}, {1}},
      {{1}, {17}},
      {{}, {33}},
      {{3, 17}, {17}},
      {{3, 17}, {3, 1}},
      {{2, 3, 5, 7}, {3, 1, 1}},
      {{2, 1, 5}, {4, 1}},
      {{2, 3, 4, 5}, {2, 1, 4, 1}},
      {{1, 64, 30, 40}, {1, 64, 1, 1}},
      {{300, 257}, {300, 257}},
      {{5, 1, 1}, {1, 3, 1}},
      {{0, 3}, {3}},
      {{2, 2, 2, 2, 2, 2, 2, 2, 3}, {2, 1, 2, 1, 2, 1, 2, 1, 3}},
  };
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
    for (const auto& [da, db] : pairs) {
      OnnxBuilder b(13);
      b.input("a", kFloat, da);
      b.input("b", kFloat, db);
      b.node(op, {"a", "b"}, {"y"});
      b.output("y");
      compare_devices(b, {random_tensor(da, 1), random_tensor(db, 2, 0.5f, 4)},
                      std::string(op) + " " + shape_str(da) + " " + shape_str(db), 0, 0);
    }
  }
}

TEST(CpuKernels, PReluAndPowMatchReference) {
  for (const Dims& slope : {Dims{1}, Dims{3, 1, 1}, Dims{5}}) {
    OnnxBuilder b(16);
    b.input("x", kFloat, {2, 3, 4, 5});
    b.input("s", kFloat, slope);
    b.node("PRelu", {"x", "s"}, {"y"});
    b.output("y");
    compare_devices(b, {random_tensor({2, 3, 4, 5}, 1), random_tensor(slope, 2)}, "PRelu", 0, 0);
  }
  for (float e : {2.0f, 0.5f, 1.0f, 3.0f}) {
    OnnxBuilder b(15);
    b.input("x", kFloat, {3, 37});
    b.initializer("e", {e}, {});
    b.node("Pow", {"x", "e"}, {"y"});
    b.output("y");
    compare_devices(b, {random_tensor({3, 37}, 1, 0, 5)}, "Pow " + std::to_string(e), 1e-6, 0);
  }
  OnnxBuilder b(15);
  b.input("x", kFloat, {3, 37});
  b.input("e", kFloat, {37});
  b.node("Pow", {"x", "e"}, {"y"});
  b.output("y");
  compare_devices(b, {random_tensor({3, 37}, 1, 0, 5), random_tensor({37}, 2, -2, 2)}, "Pow tensor", 0, 0);
}

TEST(CpuKernels, ClipMatchesReference) {
  for (int bounds = 1; bounds < 4; ++bounds) {
    OnnxBuilder b(13);
    b.input("x", kFloat, {5, 41});
    b.initializer("lo", {-1.5f}, {});
    b.initializer("hi", {2.25f}, {});
    b.node("Clip", {"x", bounds & 1 ? "lo" : "", bounds & 2 ? "hi" : ""}, {"y"});
    b.output("y");
    compare_devices(b, {random_tensor({5, 41}, 1)}, "Clip " + std::to_string(bounds), 0, 0);
  }
}

TEST(CpuKernels, SoftmaxAnyAxisMatchesReference) {
  const std::vector<std::pair<Dims, int64_t>> cases = {
      {{1}, -1},           {{7}, 0},           {{3, 17}, -1},      {{3, 17}, 0},  {{2, 5, 33}, 1}, {{2, 5, 33}, 0},
      {{4, 16, 1000}, -1}, {{2, 1000, 40}, 1}, {{1, 200, 700}, 1}, {{2, 0, 3}, 1}};
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (const auto& [d, axis] : cases) {
      OnnxBuilder b(13);
      b.input("x", kFloat, d);
      OnnxBuilder::attr(b.node(op, {"x"}, {"y"}), "axis", axis);
      b.output("y");
      // LogSoftmax: absolute 1e-6, since x - max rounds in float (the reference works in double).
      compare_devices(b, {random_tensor(d, 3, -10, 10)}, std::string(op) + " " + shape_str(d), 1e-5, 1e-6);
    }
    OnnxBuilder b(11);  // opset 11: coerced to 2-D at axis 1
    b.input("x", kFloat, {2, 3, 5});
    b.node(op, {"x"}, {"y"});
    b.output("y");
    compare_devices(b, {random_tensor({2, 3, 5}, 3)}, std::string(op) + " opset 11", 1e-5, 1e-6);
  }
}

TEST(CpuKernels, LayerNormMatchesReference) {
  struct Case {
    Dims x;
    int64_t axis;
    Dims scale;
    bool bias, stats;
  };
  const Case cases[] = {{{1, 7}, -1, {7}, true, false},       {{3, 17}, -1, {17}, false, false},
                        {{2, 5, 33}, -1, {33}, true, true},   {{2, 5, 33}, 1, {5, 33}, true, true},
                        {{128, 768}, -1, {768}, true, false}, {{4, 9}, -1, {1}, true, false},
                        {{2, 3, 4}, 1, {4}, true, false}};
  for (const Case& c : cases) {
    OnnxBuilder b(17);
    b.input("x", kFloat, c.x);
    b.input("s", kFloat, c.scale);
    std::vector<std::string> ins = {"x", "s"};
    if (c.bias) {
      b.input("b", kFloat, c.scale);
      ins.push_back("b");
    }
    std::vector<std::string> outs = {"y"};
    if (c.stats) outs = {"y", "mean", "inv"};
    OnnxBuilder::attr(b.node("LayerNormalization", ins, outs), "axis", c.axis);
    for (const auto& o : outs) b.output(o);
    std::vector<Tensor> inputs = {random_tensor(c.x, 1, -2, 6), random_tensor(c.scale, 2)};
    if (c.bias) inputs.push_back(random_tensor(c.scale, 3));
    compare_devices(b, inputs, "LayerNorm " + shape_str(c.x), 1e-5, 1e-5);
  }
}

TEST(CpuKernels, ReduceAxesMatchReference) {
  struct Case {
    const char* op;
    Dims x;
    std::vector<int64_t> axes;
    int64_t keepdims;
  };
  const Case cases[] = {
      {"ReduceMean", {3, 17}, {-1}, 1},  {"ReduceMean", {2, 64, 7, 7}, {2, 3}, 1}, {"ReduceSum", {4, 33, 5}, {1}, 0},
      {"ReduceMax", {5, 1000}, {1}, 1},  {"ReduceMin", {2, 3, 19}, {0, 1}, 0},     {"ReduceSumSquare", {6, 17}, {0}, 1},
      {"ReduceL1", {1, 7}, {1}, 1},      {"ReduceL2", {3, 1, 15}, {0, 2}, 1},      {"ReduceMean", {2, 3, 4}, {0, 2}, 1},
      {"ReduceSum", {300, 300}, {0}, 1}, {"ReduceMean", {128, 768}, {-1}, 1},      {"ReduceMax", {1, 1, 1}, {1}, 1},
      {"ReduceMean", {4, 5}, {}, 0},
  };
  for (const Case& c : cases) {
    OnnxBuilder b(13);
    b.input("x", kFloat, c.x);
    std::vector<std::string> ins = {"x"};
    const bool axes_input = std::string(c.op) == "ReduceSum" && !c.axes.empty();  // an input from opset 13
    if (axes_input) {
      b.initializer_i64("axes", c.axes, {int64_t(c.axes.size())});
      ins.push_back("axes");
    }
    auto& n = b.node(c.op, ins, {"y"});
    if (!c.axes.empty() && !axes_input) OnnxBuilder::attr(n, "axes", c.axes);
    OnnxBuilder::attr(n, "keepdims", c.keepdims);
    b.output("y");
    // Sums accumulate in float (the reference: double): the error grows with the sum of magnitudes, here up to ~1000.
    compare_devices(b, {random_tensor(c.x, 4)}, std::string(c.op) + " " + shape_str(c.x), 1e-5, 1e-4);
  }
  OnnxBuilder b(13);  // ReduceSum with axes as an input
  b.input("x", kFloat, {4, 6, 9});
  b.initializer_i64("axes", {1}, {1});
  b.node("ReduceSum", {"x", "axes"}, {"y"});
  b.output("y");
  compare_devices(b, {random_tensor({4, 6, 9}, 4)}, "ReduceSum axes input", 1e-5, 1e-5);
}

// Chains of elementwise nodes that the CPU device fuses (Eltwise, recognised activations) against the unfused
// reference.
TEST(CpuKernels, FusedElementwiseChainsMatchReference) {
  struct Case {
    const char* name;
    Dims x;
    std::function<void(OnnxBuilder&)> build;          // x -> y
    std::vector<std::pair<std::string, Dims>> extra;  // further inputs
  };
  const Case cases[] = {
      {"add-relu-mul",
       {2, 16, 7, 9},
       [](OnnxBuilder& b) {
         b.node("Add", {"x", "c"}, {"a"});
         b.node("Relu", {"a"}, {"r"});
         b.node("Mul", {"r", "s"}, {"m"});
         b.node("Sigmoid", {"m"}, {"g"});
         b.node("Sub", {"s", "g"}, {"y"});
       },
       {{"c", {16, 1, 1}}, {"s", {}}}},
      {"gelu-erf",
       {3, 5, 37},
       [](OnnxBuilder& b) {
         b.initializer("r2", {1.41421356f}, {});
         b.initializer("one", {1.0f}, {});
         b.initializer("half", {0.5f}, {});
         b.node("Div", {"x", "r2"}, {"d"});
         b.node("Erf", {"d"}, {"e"});
         b.node("Add", {"e", "one"}, {"p"});
         b.node("Mul", {"x", "p"}, {"m"});
         b.node("Mul", {"m", "half"}, {"y"});
       },
       {}},
      {"gelu-tanh",
       {4, 77},
       [](OnnxBuilder& b) {
         b.initializer("three", {3.0f}, {});
         b.initializer("k", {0.044715f}, {});
         b.initializer("c", {0.7978845608f}, {});
         b.initializer("one", {1.0f}, {});
         b.initializer("half", {0.5f}, {});
         b.node("Pow", {"x", "three"}, {"x3"});
         b.node("Mul", {"x3", "k"}, {"kx3"});
         b.node("Add", {"x", "kx3"}, {"inner"});
         b.node("Mul", {"inner", "c"}, {"ci"});
         b.node("Tanh", {"ci"}, {"t"});
         b.node("Add", {"t", "one"}, {"p"});
         b.node("Mul", {"x", "half"}, {"hx"});
         b.node("Mul", {"hx", "p"}, {"y"});
       },
       {}},
      {"silu",
       {2, 33, 17},
       [](OnnxBuilder& b) {
         b.node("Sigmoid", {"x"}, {"s"});
         b.node("Mul", {"x", "s"}, {"y"});
       },
       {}},
      {"bias-tanh-big",
       {2, 256, 160},
       [](OnnxBuilder& b) {
         b.node("Add", {"x", "c"}, {"a"});
         b.node("Tanh", {"a"}, {"t"});
         b.node("Max", {"t", "c"}, {"y"});
       },
       {{"c", {160}}}},
  };
  for (const Case& c : cases) {
    OnnxBuilder b(13);
    b.input("x", kFloat, c.x);
    for (const auto& [name, d] : c.extra) b.input(name, kFloat, d);
    c.build(b);
    b.output("y");
    std::vector<Tensor> in = {random_tensor(c.x, 1, -5, 5)};
    uint32_t seed = 2;
    for (const auto& e : c.extra) in.push_back(random_tensor(e.second, seed++, -2, 2));
    compare_devices(b, in, c.name, 1e-5, 1e-6);
  }
}

TEST(CpuKernels, TransposeMatchesReferenceBitForBit) {
  struct Case {
    Dims x;
    std::vector<int64_t> perm;  // empty: reverse
  };
  const Case cases[] = {{{2, 3}, {1, 0}},
                        {{7, 17}, {1, 0}},
                        {{2, 3, 4, 5}, {0, 2, 1, 3}},
                        {{2, 3, 4, 5}, {0, 2, 3, 1}},
                        {{2, 3, 4, 5}, {3, 2, 1, 0}},
                        {{2, 3, 4, 5}, {1, 0, 2, 3}},
                        {{2, 3, 4, 5}, {}},
                        {{1, 64, 1, 33}, {0, 3, 2, 1}},
                        {{384, 771}, {1, 0}},
                        {{2, 12, 128, 64}, {0, 2, 1, 3}},
                        {{5}, {0}},
                        {{3, 0, 2}, {2, 0, 1}},
                        {{1, 1, 1}, {2, 1, 0}},
                        {{17, 1, 33, 2}, {2, 3, 1, 0}}};
  const std::pair<int, ElementType> types[] = {{onnx::TensorProto::FLOAT, ElementType::kF32},
                                               {onnx::TensorProto::INT64, ElementType::kI64},
                                               {onnx::TensorProto::UINT8, ElementType::kU8},
                                               {onnx::TensorProto::FLOAT16, ElementType::kF16}};
  for (const Case& c : cases) {
    for (const auto& [onnx_type, type] : types) {
      OnnxBuilder b(13);
      b.input("x", onnx_type, c.x);
      auto& n = b.node("Transpose", {"x"}, {"y"});
      if (!c.perm.empty()) OnnxBuilder::attr(n, "perm", c.perm);
      b.output("y");
      Tensor x(type, c.x);
      auto* bytes = static_cast<uint8_t*>(x.raw());
      for (size_t i = 0; i < x.byte_size(); ++i) bytes[i] = uint8_t(i * 131 + i / 7);
      if (type == ElementType::kF16)  // keep the values finite
        for (size_t i = 1; i < x.byte_size(); i += 2) bytes[i] &= 0x3f;
      const Tensor ref = b.run("REF", {x})[0], cpu = b.run("CPU", {x})[0];
      ASSERT_EQ(ref.dims(), cpu.dims()) << shape_str(c.x);
      ASSERT_EQ(ref.byte_size(), cpu.byte_size());
      EXPECT_EQ(std::memcmp(ref.raw(), cpu.raw(), ref.byte_size()), 0)
          << "Transpose " << shape_str(c.x) << " " << element_type_name(type);
    }
  }
}

namespace {
// A tensor of `type` with arbitrary (finite for floats) bytes.
Tensor patterned(ElementType type, const Dims& d, uint32_t seed) {
  Tensor x(type, d);
  auto* bytes = static_cast<uint8_t*>(x.raw());
  for (size_t i = 0; i < x.byte_size(); ++i) bytes[i] = uint8_t(i * 131 + i / 7 + seed);
  if (type == ElementType::kF32)
    for (size_t i = 3; i < x.byte_size(); i += 4) bytes[i] &= 0x3f;
  if (type == ElementType::kBool)
    for (size_t i = 0; i < x.byte_size(); ++i) bytes[i] = (bytes[i] >> 3) & 1;
  return x;
}
void expect_same_bytes(const OnnxBuilder& b, const std::vector<Tensor>& in, const std::string& what) {
  const Tensor ref = b.run("REF", in)[0], cpu = b.run("CPU", in)[0];
  ASSERT_EQ(ref.dims(), cpu.dims()) << what;
  ASSERT_EQ(ref.type(), cpu.type()) << what;
  EXPECT_EQ(std::memcmp(ref.raw(), cpu.raw(), ref.byte_size()), 0) << what;
}
}  // namespace

TEST(CpuKernels, ExpandTileWhereMatchReferenceBitForBit) {
  const std::pair<int, ElementType> types[] = {{onnx::TensorProto::FLOAT, ElementType::kF32},
                                               {onnx::TensorProto::INT64, ElementType::kI64},
                                               {onnx::TensorProto::UINT8, ElementType::kU8},
                                               {onnx::TensorProto::BOOL, ElementType::kBool}};
  const std::vector<std::pair<Dims, Dims>> expands = {
      {{3, 1}, {2, 3, 17}}, {{1}, {33}}, {{7, 1, 5}, {7, 4, 5}}, {{}, {2, 3}}, {{1, 16}, {300, 16}}, {{2, 1}, {1, 1}}};
  const std::vector<std::pair<Dims, std::vector<int64_t>>> tiles = {
      {{3, 5}, {2, 3}}, {{7}, {5}}, {{2, 1, 3}, {1, 4, 2}}, {{1, 33}, {300, 1}}, {{4, 3}, {0, 2}}};
  const std::vector<std::vector<Dims>> wheres = {{{17}, {17}, {17}},
                                                 {{2, 1, 5}, {3, 1}, {5}},
                                                 {{1, 1, 1, 9}, {2, 3, 7, 9}, {}},
                                                 {{4, 1}, {1, 33}, {4, 33}},
                                                 {{300, 257}, {300, 257}, {1}}};
  for (const auto& [onnx_type, type] : types) {
    const std::string tn(element_type_name(type));
    for (const auto& [in_dims, shape] : expands) {
      OnnxBuilder b(13);
      b.input("x", onnx_type, in_dims);
      b.initializer_i64("shape", shape, {int64_t(shape.size())});
      b.node("Expand", {"x", "shape"}, {"y"});
      b.output("y");
      expect_same_bytes(b, {patterned(type, in_dims, 1)}, "Expand " + tn + shape_str(in_dims));
    }
    for (const auto& [in_dims, reps] : tiles) {
      OnnxBuilder b(13);
      b.input("x", onnx_type, in_dims);
      b.initializer_i64("reps", reps, {int64_t(reps.size())});
      b.node("Tile", {"x", "reps"}, {"y"});
      b.output("y");
      expect_same_bytes(b, {patterned(type, in_dims, 2)}, "Tile " + tn + shape_str(in_dims));
    }
    for (const auto& w : wheres) {
      OnnxBuilder b(13);
      b.input("c", onnx::TensorProto::BOOL, w[0]);
      b.input("x", onnx_type, w[1]);
      b.input("y", onnx_type, w[2]);
      b.node("Where", {"c", "x", "y"}, {"z"});
      b.output("z");
      expect_same_bytes(b, {patterned(ElementType::kBool, w[0], 3), patterned(type, w[1], 4), patterned(type, w[2], 5)},
                        "Where " + tn + shape_str(w[0]) + shape_str(w[1]) + shape_str(w[2]));
    }
  }
}

TEST(CpuKernels, CastHalfTypesMatchReferenceBitForBit) {
  const std::pair<int, ElementType> halves[] = {{onnx::TensorProto::FLOAT16, ElementType::kF16},
                                                {onnx::TensorProto::BFLOAT16, ElementType::kBF16}};
  for (const auto& [onnx_type, type] : halves) {
    for (const Dims& d : {Dims{1}, Dims{17}, Dims{3, 333}, Dims{2, 300, 129}}) {
      Tensor x = random_tensor(d, 5, -70000, 70000);
      for (int64_t i = 0; i < x.size(); i += 3) x.data<float>()[i] *= 1e-9f;  // subnormal halves too
      OnnxBuilder to(13);
      to.input("x", kFloat, d);
      OnnxBuilder::attr(to.node("Cast", {"x"}, {"y"}), "to", int64_t(onnx_type));
      to.output("y");
      const Tensor ref = to.run("REF", {x})[0], cpu = to.run("CPU", {x})[0];
      ASSERT_EQ(ref.type(), type);
      ASSERT_EQ(cpu.type(), type);
      ASSERT_EQ(std::memcmp(ref.raw(), cpu.raw(), ref.byte_size()), 0) << element_type_name(type) << shape_str(d);
      OnnxBuilder from(13);
      from.input("h", onnx_type, d);
      OnnxBuilder::attr(from.node("Cast", {"h"}, {"y"}), "to", int64_t(onnx::TensorProto::FLOAT));
      from.output("y");
      const Tensor rf = from.run("REF", {ref})[0], cf = from.run("CPU", {ref})[0];
      ASSERT_EQ(std::memcmp(rf.raw(), cf.raw(), rf.byte_size()), 0) << element_type_name(type) << shape_str(d);
    }
  }
}

// Decomposed attention, fused into one Attention node on CPU, against the unfused reference.
TEST(CpuKernels, AttentionMatchesReference) {
  struct Case {
    Dims q, kt, v, mask;  // mask empty: none
    bool scale_q;
  };
  const Case cases[] = {{{2, 3, 7, 5}, {2, 3, 5, 9}, {2, 3, 9, 4}, {2, 1, 1, 9}, false},
                        {{1, 12, 17, 64}, {1, 12, 64, 17}, {1, 12, 17, 64}, {}, true},
                        {{4, 33, 8}, {4, 8, 33}, {4, 33, 16}, {33, 33}, false},
                        {{7, 5}, {5, 9}, {9, 3}, {7, 1}, true}};
  for (const Case& c : cases) {
    OnnxBuilder b(13);
    b.input("q", kFloat, c.q);
    b.input("kt", kFloat, c.kt);
    b.input("v", kFloat, c.v);
    b.initializer("s", {c.scale_q ? 0.125f : 8.0f}, {});  // 1 / sqrt(64): scores of a realistic size
    std::string scores = "sc";
    if (c.scale_q) {
      b.node("Mul", {"q", "s"}, {"qs"});
      b.node("MatMul", {"qs", "kt"}, {"sc"});
    } else {
      b.node("MatMul", {"q", "kt"}, {"raw"});
      b.node("Div", {"raw", "s"}, {"sc"});
    }
    std::vector<Tensor> in = {random_tensor(c.q, 1, -2, 2), random_tensor(c.kt, 2, -2, 2), random_tensor(c.v, 3)};
    if (!c.mask.empty()) {
      b.input("m", kFloat, c.mask);
      b.node("Add", {"sc", "m"}, {"masked"});
      scores = "masked";
      in.push_back(random_tensor(c.mask, 4, -3, 0));
    }
    OnnxBuilder::attr(b.node("Softmax", {scores}, {"p"}), "axis", int64_t(-1));
    b.node("MatMul", {"p", "v"}, {"y"});
    b.output("y");
    compare_devices(b, in, "Attention " + shape_str(c.q), 1e-4, 1e-5);
  }
}

// Timings of the fast kernels against the reference (run with --gtest_also_run_disabled_tests).
TEST(CpuKernels, DISABLED_Timing) {
  auto time_ms = [](const OnnxBuilder& b, const char* dev, const std::vector<Tensor>& in) {
    Core core;
    CompiledModel cm = core.compile_model(b.read(), dev);
    InferRequest r = cm.create_infer_request();
    for (size_t i = 0; i < in.size(); ++i) r.set_input_tensor(i, in[i]);
    r.infer();
    double best = 1e30;  // the best of 20 runs: the machine may be shared
    for (int i = 0; i < 20; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      r.infer();
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  auto report = [&](const std::string& what, const OnnxBuilder& b, const std::vector<Tensor>& in) {
    const double ref = time_ms(b, "REF", in), cpu = time_ms(b, "CPU", in);
    std::printf("%-36s REF %8.3f ms  CPU %8.3f ms  x%.1f\n", what.c_str(), ref, cpu, ref / cpu);
  };
  {
    OnnxBuilder b(13);
    b.input("a", kFloat, {1, 256, 56, 56});
    b.input("b", kFloat, {1, 256, 56, 56});
    b.node("Add", {"a", "b"}, {"y"});
    b.output("y");
    report("Add 1x256x56x56", b, {random_tensor({1, 256, 56, 56}, 1), random_tensor({1, 256, 56, 56}, 2)});
  }
  {
    OnnxBuilder b(13);
    b.input("a", kFloat, {1, 256, 56, 56});
    b.input("b", kFloat, {1, 256, 1, 1});
    b.node("Mul", {"a", "b"}, {"y"});
    b.output("y");
    report("Mul 1x256x56x56 * 1x256x1x1", b, {random_tensor({1, 256, 56, 56}, 1), random_tensor({1, 256, 1, 1}, 2)});
  }
  for (const char* op : {"Relu", "Sigmoid", "Erf", "Tanh", "HardSwish"}) {
    OnnxBuilder b(14);
    b.input("x", kFloat, {128, 3072});
    b.node(op, {"x"}, {"y"});
    b.output("y");
    report(std::string(op) + " 128x3072", b, {random_tensor({128, 3072}, 1)});
  }
  {
    OnnxBuilder b(13);  // Gelu as exported: x * 0.5 * (1 + erf(x / sqrt(2)))
    b.input("x", kFloat, {128, 3072});
    b.initializer("r2", {1.41421356f}, {});
    b.initializer("one", {1.0f}, {});
    b.initializer("half", {0.5f}, {});
    b.node("Div", {"x", "r2"}, {"d"});
    b.node("Erf", {"d"}, {"e"});
    b.node("Add", {"e", "one"}, {"p"});
    b.node("Mul", {"x", "p"}, {"m"});
    b.node("Mul", {"m", "half"}, {"y"});
    b.output("y");
    report("Gelu (5 nodes) 128x3072", b, {random_tensor({128, 3072}, 1)});
  }
  {
    OnnxBuilder b(13);  // BERT-base attention, one sequence of 128
    b.input("q", kFloat, {1, 12, 128, 64});
    b.input("kt", kFloat, {1, 12, 64, 128});
    b.input("v", kFloat, {1, 12, 128, 64});
    b.input("m", kFloat, {1, 1, 1, 128});
    b.initializer("s", {8.0f}, {});
    b.node("MatMul", {"q", "kt"}, {"raw"});
    b.node("Div", {"raw", "s"}, {"sc"});
    b.node("Add", {"sc", "m"}, {"masked"});
    b.node("Softmax", {"masked"}, {"p"});
    b.node("MatMul", {"p", "v"}, {"y"});
    b.output("y");
    report("Attention 12 heads 128x64", b,
           {random_tensor({1, 12, 128, 64}, 1), random_tensor({1, 12, 64, 128}, 2), random_tensor({1, 12, 128, 64}, 3),
            random_tensor({1, 1, 1, 128}, 4)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kFloat, {12, 128, 128});
    b.node("Softmax", {"x"}, {"y"});
    b.output("y");
    report("Softmax 12x128x128", b, {random_tensor({12, 128, 128}, 1)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kFloat, {1, 128, 12, 64});
    OnnxBuilder::attr(b.node("Transpose", {"x"}, {"y"}), "perm", std::vector<int64_t>{0, 2, 3, 1});
    b.output("y");
    report("Transpose 1x128x12x64 (0,2,3,1)", b, {random_tensor({1, 128, 12, 64}, 1)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kFloat, {1, 128, 12, 64});
    OnnxBuilder::attr(b.node("Transpose", {"x"}, {"y"}), "perm", std::vector<int64_t>{0, 2, 1, 3});
    b.output("y");
    report("Transpose 1x128x12x64 (0,2,1,3)", b, {random_tensor({1, 128, 12, 64}, 1)});
  }
  {
    OnnxBuilder b(17);
    b.input("x", kFloat, {128, 768});
    b.input("s", kFloat, {768});
    b.input("b", kFloat, {768});
    b.node("LayerNormalization", {"x", "s", "b"}, {"y"});
    b.output("y");
    report("LayerNorm 128x768", b, {random_tensor({128, 768}, 1), random_tensor({768}, 2), random_tensor({768}, 3)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kFloat, {128, 768});
    OnnxBuilder::attr(b.node("ReduceMean", {"x"}, {"y"}), "axes", std::vector<int64_t>{-1});
    b.output("y");
    report("ReduceMean 128x768 axis -1", b, {random_tensor({128, 768}, 1)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kFloat, {1, 256, 56, 56});
    b.initializer_i64("axes", {1}, {1});
    b.node("ReduceSum", {"x", "axes"}, {"y"});
    b.output("y");
    report("ReduceSum 1x256x56x56 axis 1", b, {random_tensor({1, 256, 56, 56}, 1)});
  }
  {
    OnnxBuilder b(13);  // an attention mask applied to the scores
    b.input("c", onnx::TensorProto::BOOL, {1, 1, 1, 128});
    b.input("x", kFloat, {1, 12, 128, 128});
    b.initializer("ninf", {-1e9f}, {});
    b.node("Where", {"c", "x", "ninf"}, {"y"});
    b.output("y");
    report("Where 1x12x128x128 mask 1x1x1x128", b,
           {Tensor(ElementType::kBool, {1, 1, 1, 128}), random_tensor({1, 12, 128, 128}, 1)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kFloat, {1, 1, 768});
    b.initializer_i64("shape", {64, 197, 768}, {3});
    b.node("Expand", {"x", "shape"}, {"y"});
    b.output("y");
    report("Expand 1x1x768 -> 64x197x768", b, {random_tensor({1, 1, 768}, 1)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kFloat, {128, 3072});
    OnnxBuilder::attr(b.node("Cast", {"x"}, {"y"}), "to", int64_t(onnx::TensorProto::BFLOAT16));
    b.output("y");
    report("Cast f32->bf16 128x3072", b, {random_tensor({128, 3072}, 1)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kFloat, {128, 3072});
    OnnxBuilder::attr(b.node("Cast", {"x"}, {"y"}), "to", int64_t(onnx::TensorProto::FLOAT16));
    b.output("y");
    report("Cast f32->f16 128x3072", b, {random_tensor({128, 3072}, 1)});
  }
  {
    OnnxBuilder b(13);
    b.input("x", kFloat, {1, 96, 112, 112});
    b.initializer("lo", {0.0f}, {});
    b.initializer("hi", {6.0f}, {});
    b.node("Clip", {"x", "lo", "hi"}, {"y"});
    b.output("y");
    report("Clip (Relu6) 1x96x112x112", b, {random_tensor({1, 96, 112, 112}, 1)});
  }
}
