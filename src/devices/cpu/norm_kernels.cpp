// LayerNormalization of f32 tensors whose Scale (and B) have one value per normalised element (the usual case: the
// last dims' shape); per-row statistics in float. Other cases run the reference kernel.
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/layer_normalization.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

// Whether t holds exactly one value per element of the normalized shape `norm` (in the same order).
bool per_element(const Tensor& t, const Dims& norm, int64_t inner) {
  if (t.type() != ElementType::kF32 || t.size() != inner || t.rank() > int64_t(norm.size())) return false;
  for (size_t i = 0; i < size_t(t.rank()); ++i)
    if (t.dims()[t.dims().size() - 1 - i] != norm[norm.size() - 1 - i]) return false;
  return true;
}

class LayerNormKernel final : public Kernel {
 public:
  LayerNormKernel(const LayerNormalization& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:layer_norm"; }
  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.type() != ElementType::kF32 || op_.axis < -x.rank() || op_.axis >= x.rank()) return op_.run(ctx);
    const int64_t a = op_.axis < 0 ? op_.axis + x.rank() : op_.axis;
    const Dims norm(x.dims().begin() + a, x.dims().end());
    const int64_t inner = element_count(norm);
    if (inner == 0 || !per_element(ctx.input(1), norm, inner) ||
        (ctx.has_input(2) && !per_element(ctx.input(2), norm, inner)))
      return op_.run(ctx);
    for (size_t i = 1; i <= 2; ++i)
      if (ctx.has_output(i) && op_.stash != ElementType::kF32) return op_.run(ctx);
    Tensor& y = ctx.output(0);
    float* mean = ctx.has_output(1) ? ctx.output(1).data<float>() : nullptr;
    float* inv = ctx.has_output(2) ? ctx.output(2).data<float>() : nullptr;
    const float* px = x.data<float>();
    const float* scale = ctx.input(1).data<float>();
    const float* bias = ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr;
    float* py = y.data<float>();
    const int64_t rows = x.size() / inner;
    const float eps = op_.epsilon;
    cpu::parallel_for(rows, cpu::threads_for(x.size(), cpu::kGrainSimple, threads_), 1, [&](int64_t b, int64_t e) {
      cpu::simd().layernorm_rows(px + b * inner, scale, bias, py + b * inner, e - b, inner, eps,
                                 mean ? mean + b : nullptr, inv ? inv + b : nullptr);
    });
  }

 private:
  const LayerNormalization& op_;
  int threads_;
};

}  // namespace

std::unique_ptr<Kernel> make_cpu_layer_norm(const Node& node, const CompileOptions& options) {
  if (node.inputs[0]->type.elem != ElementType::kF32) return nullptr;
  return std::make_unique<LayerNormKernel>(static_cast<const LayerNormalization&>(*node.op), cpu::max_threads(options));
}

}  // namespace celer
