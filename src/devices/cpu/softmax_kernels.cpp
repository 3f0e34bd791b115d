// Softmax and LogSoftmax of f32 tensors along any axis: contiguous rows when the axis is the last one (or the input
// is coerced to 2-D), else down the columns of each [n, inner] block. Hardmax and other types run the reference.
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/softmax.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(const Softmax& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:softmax"; }
  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.type() != ElementType::kF32) return op_.run(ctx);
    const Dims& d = x.dims();
    const int64_t rank = x.rank();
    int64_t outer = 1, n = 1, inner = 1;
    if (op_.coerce_2d) {
      if (op_.axis < -rank || op_.axis > rank) return op_.run(ctx);  // the reference reports it
      const int64_t a = op_.axis < 0 ? op_.axis + rank : op_.axis;
      for (int64_t i = 0; i < a; ++i) outer *= d[size_t(i)];
      for (int64_t i = a; i < rank; ++i) n *= d[size_t(i)];
    } else {
      const int64_t a = normalize_axis(op_.axis, rank, "attribute 'axis'");
      for (int64_t i = 0; i < a; ++i) outer *= d[size_t(i)];
      n = d[size_t(a)];
      for (int64_t i = a + 1; i < rank; ++i) inner *= d[size_t(i)];
    }
    Tensor& y = ctx.output(0);
    if (x.size() == 0) return;
    const float* px = x.data<float>();
    float* py = y.data<float>();
    const SoftmaxMode mode = op_.mode;
    const int threads = cpu::threads_for(x.size(), cpu::kGrainTranscendental, threads_);
    if (inner == 1) {
      cpu::parallel_for(outer, threads, 1, [&](int64_t b, int64_t e) {
        cpu::simd().softmax_rows(mode, px + b * n, py + b * n, e - b, n);
      });
    } else if (outer >= threads) {
      cpu::parallel_for(outer, threads, 1, [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o)
          cpu::simd().softmax_cols(mode, px + o * n * inner, py + o * n * inner, n, inner, inner);
      });
    } else {  // few blocks: split the columns
      for (int64_t o = 0; o < outer; ++o) {
        const float* xb = px + o * n * inner;
        float* yb = py + o * n * inner;
        cpu::parallel_for(inner, threads, 16, [&](int64_t b, int64_t e) {
          cpu::simd().softmax_cols(mode, xb + b, yb + b, n, e - b, inner);
        });
      }
    }
  }

 private:
  const Softmax& op_;
  int threads_;
};

}  // namespace

std::unique_ptr<Kernel> make_cpu_softmax(const Node& node, const CompileOptions& options) {
  const auto& op = static_cast<const Softmax&>(*node.op);
  if (op.mode == SoftmaxMode::kHardmax || node.inputs[0]->type.elem != ElementType::kF32) return nullptr;
  return std::make_unique<SoftmaxKernel>(op, cpu::max_threads(options));
}

}  // namespace celer
