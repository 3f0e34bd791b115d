// Reductions of f32 tensors (Sum, Mean, Max, Min, SumSquare, L1, L2) over one contiguous block of axes (after dims
// of size 1 are dropped): the last axes (row reductions) or middle axes (column reductions). Other cases run the
// reference kernel.
#include <algorithm>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/reduce.hpp"

namespace celer {

namespace {

class ReduceKernel final : public Kernel {
 public:
  ReduceKernel(const Reduce& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:reduce"; }
  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.type() != ElementType::kF32 || x.size() == 0) return op_.run(ctx);
    const std::vector<int64_t> red = op_.resolve_axes(x.rank(), ctx.has_input(1) ? &ctx.input(1) : nullptr);
    // [outer, n, inner] with n the product of the reduced dims, which must be adjacent once size-1 dims are dropped.
    int64_t outer = 1, n = 1, inner = 1;
    int state = 0;  // 0: before the reduced block, 1: in it, 2: after it
    for (int64_t i = 0; i < x.rank(); ++i) {
      const int64_t d = x.dim(i);
      if (d == 1) continue;
      const bool r = std::binary_search(red.begin(), red.end(), i);
      if (r && state == 2) return op_.run(ctx);
      if (r) state = 1;
      if (!r && state == 1) state = 2;
      (state == 0 ? outer : state == 1 ? n : inner) *= d;
    }
    if (state == 0) return op_.run(ctx);  // nothing to reduce: a copy, left to the reference
    Tensor& y = ctx.output(0);
    const float* px = x.data<float>();
    float* py = y.data<float>();
    const ReduceFn fn = op_.fn;
    const int threads = cpu::threads_for(x.size(), cpu::kGrainSimple, threads_);
    if (inner == 1) {
      cpu::parallel_for(outer, threads, 1,
                        [&](int64_t b, int64_t e) { cpu::simd().reduce_rows(fn, px + b * n, py + b, e - b, n); });
    } else if (outer >= threads) {
      cpu::parallel_for(outer, threads, 1, [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o)
          cpu::simd().reduce_cols(fn, px + o * n * inner, py + o * inner, n, inner, inner);
      });
    } else {
      for (int64_t o = 0; o < outer; ++o) {
        const float* xb = px + o * n * inner;
        float* yb = py + o * inner;
        cpu::parallel_for(inner, threads, 16,
                          [&](int64_t b, int64_t e) { cpu::simd().reduce_cols(fn, xb + b, yb + b, n, e - b, inner); });
      }
    }
  }

 private:
  const Reduce& op_;
  int threads_;
};

}  // namespace

std::unique_ptr<Kernel> make_cpu_reduce(const Node& node, const CompileOptions& options) {
  const auto& op = static_cast<const Reduce&>(*node.op);
  if (!cpu::simd_supports(op.fn) || node.inputs[0]->type.elem != ElementType::kF32) return nullptr;
  return std::make_unique<ReduceKernel>(op, cpu::max_threads(options));
}

}  // namespace celer
