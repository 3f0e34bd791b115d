// CPU kernels of QuantizeLinear and DequantizeLinear with per-tensor parameters (f32 <-> u8 / i8), the Q and DQ nodes
// left at a quantized model's inputs and outputs (and between float and int8 parts), and of DynamicQuantizeLinear
// (f32 -> u8 with the range measured per inference: dynamic quantization of MatMuls): tight loops over OpenMP threads
// that compute exactly what the reference kernels do (x / scale rounded half to even, saturated; (q - zero) * scale).
// Per-axis parameters run the reference kernels.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "ops/quant_util.hpp"

namespace celer {
namespace {

// Constant per-tensor parameters of a Q/DQ node, when valid (else the reference kernel reports the error).
struct Scalar {
  float scale = 1;
  int32_t zero = 0;
};
std::optional<Scalar> scalar_params(const Node& node) {
  if (node.num_explicit_inputs < 2 || !node.inputs[1] || !node.inputs[1]->constant) return std::nullopt;
  const Tensor& s = *node.inputs[1]->constant;
  if (s.size() != 1 || s.type() != ElementType::kF32) return std::nullopt;
  Scalar p;
  p.scale = s.data<float>()[0];
  if (!std::isfinite(p.scale) || p.scale == 0.0f) return std::nullopt;
  if (node.num_explicit_inputs > 2 && node.inputs[2]) {
    const Value* z = node.inputs[2];
    if (!z->constant || z->constant->size() != 1 || !quant::is_q8(z->constant->type())) return std::nullopt;
    p.zero = int32_t(z->constant->value_as_int(0));
  }
  return p;
}

int64_t chunks(int64_t n, int threads) { return std::max<int64_t>(1, std::min<int64_t>(threads, n / 16384)); }

// out[i] = saturate(round_half_even(in[i] / s) + z) for i in [b, e), branch-free so that it vectorizes: NaN -> 0 as in
// the reference kernel, saturation first, then rounding by adding and subtracting 1.5 * 2^23 (|v| <= 383; default
// rounding mode).
template <typename Q>
__attribute__((always_inline)) inline void quantize_loop(const float* in, Q* out, int64_t b, int64_t e, float s,
                                                         int32_t z) {
  constexpr float qmin = float(std::numeric_limits<Q>::lowest()), qmax = float(std::numeric_limits<Q>::max());
  const float lo = qmin - float(z), hi = qmax - float(z);
  for (int64_t i = b; i < e; ++i) {
    float v = in[i] / s;
    v = v == v ? v : -float(z);
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    v = (v + 12582912.0f) - 12582912.0f;
    out[i] = Q(int32_t(v) + z);
  }
}

// The loops compiled for AVX-512, AVX2 and the baseline, chosen at load time (GCC function multi-versioning). Not
// under the sanitizers: the ifunc resolvers run during relocation, before their runtimes are up (a TSan build
// crashed at start-up).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CELER_CLONES
#else
#define CELER_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
CELER_CLONES void quantize_range(const float* in, uint8_t* out, int64_t b, int64_t e, float s, int32_t z) {
  quantize_loop(in, out, b, e, s, z);
}
CELER_CLONES void quantize_range(const float* in, int8_t* out, int64_t b, int64_t e, float s, int32_t z) {
  quantize_loop(in, out, b, e, s, z);
}
template <typename Q>
__attribute__((always_inline)) inline void dequantize_loop(const Q* in, float* out, int64_t b, int64_t e, float s,
                                                           int32_t z) {
  for (int64_t i = b; i < e; ++i) out[i] = float(int32_t(in[i]) - z) * s;
}
CELER_CLONES void dequantize_range(const uint8_t* in, float* out, int64_t b, int64_t e, float s, int32_t z) {
  dequantize_loop(in, out, b, e, s, z);
}
CELER_CLONES void dequantize_range(const int8_t* in, float* out, int64_t b, int64_t e, float s, int32_t z) {
  dequantize_loop(in, out, b, e, s, z);
}
// min(0, x...), max(0, x...) of in[b, e); false when some value is not finite.
CELER_CLONES bool range_of(const float* in, int64_t b, int64_t e, float* lo, float* hi) {
  float l = 0.0f, h = 0.0f;
  int bad = 0;
  for (int64_t i = b; i < e; ++i) {
    const float v = in[i];
    bad |= (v - v) != 0.0f;  // NaN or an infinity
    l = v < l ? v : l;
    h = v > h ? v : h;
  }
  *lo = l;
  *hi = h;
  return bad == 0;
}

class QuantizeKernel final : public Kernel {
 public:
  QuantizeKernel(Scalar p, ElementType out, int threads) : p_(p), out_(out), threads_(threads) {}
  const char* name() const override { return "cpu:quantize"; }
  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const float* in = x.data<float>();
    const int64_t n = x.size();
    const int64_t parts = chunks(n, threads_);
#pragma omp parallel for num_threads(int(parts)) if (parts > 1)
    for (int64_t c = 0; c < parts; ++c) {
      const int64_t b = n * c / parts, e = n * (c + 1) / parts;
      if (out_ == ElementType::kU8)
        quantize_range(in, y.data<uint8_t>(), b, e, p_.scale, p_.zero);
      else
        quantize_range(in, y.data<int8_t>(), b, e, p_.scale, p_.zero);
    }
  }

 private:
  Scalar p_;
  ElementType out_;
  int threads_;
};

class DequantizeKernel final : public Kernel {
 public:
  DequantizeKernel(Scalar p, ElementType in, int threads) : p_(p), in_(in), threads_(threads) {}
  const char* name() const override { return "cpu:dequantize"; }
  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    float* out = y.data<float>();
    const int64_t n = x.size();
    const int64_t parts = chunks(n, threads_);
#pragma omp parallel for num_threads(int(parts)) if (parts > 1)
    for (int64_t c = 0; c < parts; ++c) {
      const int64_t b = n * c / parts, e = n * (c + 1) / parts;
      if (in_ == ElementType::kU8)
        dequantize_range(x.data<uint8_t>(), out, b, e, p_.scale, p_.zero);
      else
        dequantize_range(x.data<int8_t>(), out, b, e, p_.scale, p_.zero);
    }
  }

 private:
  Scalar p_;
  ElementType in_;
  int threads_;
};

class DynamicQuantizeKernel final : public Kernel {
 public:
  explicit DynamicQuantizeKernel(int threads) : threads_(threads) {}
  const char* name() const override { return "cpu:dynamic_quantize"; }
  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const float* in = x.data<float>();
    const int64_t n = x.size();
    const int64_t parts = chunks(n, threads_);
    float lo = 0.0f, hi = 0.0f;
    bool finite = true;
#pragma omp parallel for num_threads(int(parts)) if (parts > 1) reduction(min : lo) reduction(max : hi) \
    reduction(&& : finite)
    for (int64_t c = 0; c < parts; ++c) {
      float l = 0.0f, h = 0.0f;
      const bool f = range_of(in, n * c / parts, n * (c + 1) / parts, &l, &h);
      lo = std::min(lo, l);
      hi = std::max(hi, h);
      finite = finite && f;
    }
    if (!finite)  // the reference kernel names the value
      for (int64_t i = 0; i < n; ++i)
        CELER_CHECK(std::isfinite(in[i]), kInvalidArgument, "input 'x' holds ", in[i],
                    ": its range cannot be quantized");
    const float scale = (hi - lo) / 255.0f;
    const uint8_t zero = scale == 0.0f ? 0 : quant::saturate_round<uint8_t>(0.0f - lo / scale, 0);
    uint8_t* out = ctx.output(0).data<uint8_t>();
    if (scale == 0.0f) {
      std::fill(out, out + n, zero);
    } else {
#pragma omp parallel for num_threads(int(parts)) if (parts > 1)
      for (int64_t c = 0; c < parts; ++c) quantize_range(in, out, n * c / parts, n * (c + 1) / parts, scale, zero);
    }
    if (ctx.has_output(1)) ctx.output(1).data<float>()[0] = scale;
    if (ctx.has_output(2)) ctx.output(2).data<uint8_t>()[0] = zero;
  }

 private:
  int threads_;
};

bool plain_tensor(const Value* v) { return v && v->type.is_tensor() && onednn::value_layout(v) == Layout::kPlain; }

}  // namespace

std::unique_ptr<Kernel> make_cpu_quantize(const Node& node, const CompileOptions& options) {
  const Value* x = node.inputs[0];
  if (!plain_tensor(x) || x->type.elem != ElementType::kF32 || !quant::is_q8(node.outputs[0]->type.elem))
    return nullptr;
  std::optional<Scalar> p = scalar_params(node);
  if (!p) return nullptr;
  return std::make_unique<QuantizeKernel>(*p, node.outputs[0]->type.elem,
                                          options.num_threads > 0 ? options.num_threads : omp_get_max_threads());
}

std::unique_ptr<Kernel> make_cpu_dequantize(const Node& node, const CompileOptions& options) {
  const Value* x = node.inputs[0];
  if (!plain_tensor(x) || !quant::is_q8(x->type.elem) || node.outputs[0]->type.elem != ElementType::kF32)
    return nullptr;
  std::optional<Scalar> p = scalar_params(node);
  if (!p) return nullptr;
  return std::make_unique<DequantizeKernel>(*p, x->type.elem,
                                            options.num_threads > 0 ? options.num_threads : omp_get_max_threads());
}

std::unique_ptr<Kernel> make_cpu_dynamic_quantize(const Node& node, const CompileOptions& options) {
  if (!plain_tensor(node.inputs[0]) || node.inputs[0]->type.elem != ElementType::kF32) return nullptr;
  return std::make_unique<DynamicQuantizeKernel>(options.num_threads > 0 ? options.num_threads : omp_get_max_threads());
}

}  // namespace celer
