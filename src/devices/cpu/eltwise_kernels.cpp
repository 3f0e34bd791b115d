// Elementwise f32 kernels of the CPU device: Unary (activations and math), Binary (arithmetic with numpy
// broadcasting) and Clip, on the vectorised primitives of simd.hpp. Other element types and functions run the
// reference kernels.
#include <array>
#include <limits>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/binary.hpp"
#include "ops/unary.hpp"

namespace celer {

namespace {

using cpu::simd;

bool is_f32(const Value* v) { return v && v->type.elem == ElementType::kF32; }

bool transcendental(UnaryFn fn) {
  return fn == UnaryFn::kExp || fn == UnaryFn::kErf || fn == UnaryFn::kSigmoid || fn == UnaryFn::kTanh;
}

class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(const Unary& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:unary"; }
  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.type() != ElementType::kF32) return op_.run(ctx);
    Tensor& y = ctx.output(0);
    const float* px = x.data<float>();
    float* py = y.data<float>();
    const int64_t n = x.size();
    const int threads =
        cpu::threads_for(n, transcendental(op_.fn) ? cpu::kGrainTranscendental : cpu::kGrainSimple, threads_);
    cpu::parallel_for(n, threads, 64, [&](int64_t b, int64_t e) {
      simd().unary(op_.fn, op_.alpha, op_.beta, px + b, py + b, e - b);
    });
  }

 private:
  const Unary& op_;
  int threads_;
};

class ClipKernel final : public Kernel {
 public:
  ClipKernel(const Op& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:clip"; }
  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
    for (size_t i = 1; i <= 2; ++i) {
      if (!ctx.has_input(i)) continue;
      const Tensor& b = ctx.input(i);
      if (b.type() != ElementType::kF32 || b.size() != 1) return op_.run(ctx);  // the reference reports the error
      (i == 1 ? lo : hi) = b.data<float>()[0];
    }
    if (x.type() != ElementType::kF32) return op_.run(ctx);
    Tensor& y = ctx.output(0);
    const float* px = x.data<float>();
    float* py = y.data<float>();
    const int64_t n = x.size();
    cpu::parallel_for(n, cpu::threads_for(n, cpu::kGrainSimple, threads_), 64,
                      [&](int64_t b, int64_t e) { simd().clip(px + b, py + b, e - b, lo, hi); });
  }

 private:
  const Op& op_;
  int threads_;
};

// A broadcast of out = a fn b reduced to: an inner run of `inner` elements where a and b step by sa, sb (0 or 1),
// repeated over the outer dims (adjacent dims with the same broadcast pattern merged; size-1 dims dropped).
struct BroadcastPlan {
  static constexpr size_t kMaxOuter = 16;
  int64_t inner = 1, sa = 1, sb = 1, rows = 1;
  size_t num_outer = 0;
  std::array<int64_t, kMaxOuter> size{}, astride{}, bstride{};  // outer dims, outermost first
};

bool plan_broadcast(const Dims& a, const Dims& b, const Dims& out, BroadcastPlan& p) {
  struct Group {
    int64_t size;
    bool abc, bbc;
  };
  std::vector<Group> groups;
  const size_t rank = out.size();
  for (size_t i = 0; i < rank; ++i) {
    const int64_t od = out[i];
    if (od == 1) continue;
    const int64_t ad = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    const int64_t bd = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    const bool abc = ad != od, bbc = bd != od;
    if (!groups.empty() && groups.back().abc == abc && groups.back().bbc == bbc)
      groups.back().size *= od;
    else
      groups.push_back({od, abc, bbc});
  }
  if (groups.empty()) return true;  // one element
  if (groups.size() - 1 > BroadcastPlan::kMaxOuter) return false;
  const Group& last = groups.back();
  p.inner = last.size;
  p.sa = last.abc ? 0 : 1;
  p.sb = last.bbc ? 0 : 1;
  p.num_outer = groups.size() - 1;
  int64_t arun = p.sa ? p.inner : 1, brun = p.sb ? p.inner : 1;
  for (size_t g = p.num_outer; g-- > 0;) {
    p.size[g] = groups[g].size;
    p.astride[g] = groups[g].abc ? 0 : arun;
    p.bstride[g] = groups[g].bbc ? 0 : brun;
    if (!groups[g].abc) arun *= groups[g].size;
    if (!groups[g].bbc) brun *= groups[g].size;
    p.rows *= groups[g].size;
  }
  return true;
}

class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(const Binary& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:binary"; }
  void run(KernelContext& ctx) const override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    BroadcastPlan p;
    if (a.type() != ElementType::kF32 || b.type() != ElementType::kF32) return op_.run(ctx);
    Tensor& out = ctx.output(0);
    if (out.size() == 0) return;
    if (!plan_broadcast(a.dims(), b.dims(), out.dims(), p)) return op_.run(ctx);
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    float* po = out.data<float>();
    const BinaryFn fn = op_.fn;
    const int threads = cpu::threads_for(out.size(), cpu::kGrainSimple, threads_);
    if (p.rows == 1) {
      cpu::parallel_for(p.inner, threads, 64, [&](int64_t s, int64_t e) {
        simd().binary(fn, pa + s * p.sa, p.sa, pb + s * p.sb, p.sb, po + s, e - s);
      });
      return;
    }
    cpu::parallel_for(p.rows, threads, 1, [&](int64_t rb, int64_t re) {
      std::array<int64_t, BroadcastPlan::kMaxOuter> idx{};
      int64_t oa = 0, ob = 0, rest = rb;
      for (size_t g = p.num_outer; g-- > 0;) {
        idx[g] = rest % p.size[g];
        rest /= p.size[g];
        oa += idx[g] * p.astride[g];
        ob += idx[g] * p.bstride[g];
      }
      const cpu::SimdKernels& k = simd();
      for (int64_t r = rb; r < re; ++r) {
        k.binary(fn, pa + oa, p.sa, pb + ob, p.sb, po + r * p.inner, p.inner);
        for (size_t g = p.num_outer; g-- > 0;) {
          oa += p.astride[g];
          ob += p.bstride[g];
          if (++idx[g] < p.size[g]) break;
          oa -= p.astride[g] * p.size[g];
          ob -= p.bstride[g] * p.size[g];
          idx[g] = 0;
        }
      }
    });
  }

 private:
  const Binary& op_;
  int threads_;
};

}  // namespace

std::unique_ptr<Kernel> make_cpu_unary(const Node& node, const CompileOptions& options) {
  const auto& op = static_cast<const Unary&>(*node.op);
  if (!cpu::simd_supports(op.fn) || !is_f32(node.inputs[0])) return nullptr;
  return std::make_unique<UnaryKernel>(op, cpu::max_threads(options));
}

std::unique_ptr<Kernel> make_cpu_binary(const Node& node, const CompileOptions& options) {
  const auto& op = static_cast<const Binary&>(*node.op);
  if (!cpu::simd_supports(op.fn) || !is_f32(node.inputs[0]) || !is_f32(node.inputs[1])) return nullptr;
  return std::make_unique<BinaryKernel>(op, cpu::max_threads(options));
}

std::unique_ptr<Kernel> make_cpu_clip(const Node& node, const CompileOptions& options) {
  // Clip with bounds as inputs (opset 11+); the older attribute form and a Clip without bounds run the reference.
  if (node.num_explicit_inputs < 2 || !is_f32(node.inputs[0])) return nullptr;
  return std::make_unique<ClipKernel>(*node.op, cpu::max_threads(options));
}

}  // namespace celer
