// Elementwise f32 kernels of the CPU device: Unary (activations and math), Binary (arithmetic with numpy
// broadcasting) and Clip, on the vectorised primitives of simd.hpp. Other element types and functions run the
// reference kernels.
#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <optional>

#include "devices/cpu/broadcast.hpp"
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/binary.hpp"
#include "ops/eltwise.hpp"
#include "ops/unary.hpp"

namespace celer {

namespace {

using cpu::BroadcastPlan;
using cpu::for_each_run;
using cpu::plan_broadcast;
using cpu::simd;

bool is_f32(const Value* v) { return v && v->type.elem == ElementType::kF32; }

bool transcendental(UnaryFn fn) {
  return fn == UnaryFn::kExp || fn == UnaryFn::kErf || fn == UnaryFn::kSigmoid || fn == UnaryFn::kTanh ||
         fn == UnaryFn::kGelu || fn == UnaryFn::kSilu;
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
    cpu::parallel_for(n, threads, 64,
                      [&](int64_t b, int64_t e) { simd().unary(op_.fn, op_.alpha, op_.beta, px + b, py + b, e - b); });
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

// Binary and Eltwise nodes of the layout pass's chains: the operand carrying the layout (full shape) is channels-last
// or channel-blocked, the others broadcast per channel and are read as plain. Broadcasting then runs on the dims in
// memory order: nhwc as [N, S, C], blocked as [N, C/b, S, b] (S: the spatial dims), a per-channel operand with S = 1
// (and its channel dims 1 when it does not vary along them).
Dims memory_order(const Dims& y, Dims d, Layout l) {
  d.insert(d.begin(), y.size() - d.size(), 1);
  int64_t spatial = 1;
  for (size_t i = 2; i < d.size(); ++i) spatial *= d[i];
  if (l == Layout::kChannelsLast) return {d[0], spatial, d[1]};
  const int64_t blk = layout_block(l);
  return {d[0], d[1] == 1 ? 1 : d[1] / blk, spatial, d[1] == 1 ? 1 : blk};
}

struct LayoutDims {
  std::vector<Dims> in;  // per operand
  Dims out, out_logical;
};

// `operands`: the node inputs the kernel broadcasts, in its operand order; `full` among them carries the layout.
std::optional<LayoutDims> layout_dims(const Node& node, const std::vector<size_t>& operands, size_t full) {
  const Layout l = onednn::value_layout(node.inputs[full]);
  const PartialShape& ys = node.outputs[0]->type.shape;
  if (l == Layout::kPlain) return std::nullopt;
  LayoutDims d;
  for (size_t i : operands)
    CELER_CHECK(ys.is_static() && node.inputs[i] &&
                    (i == full || node.inputs[i]->type.shape == ys || onednn::per_channel_operand(node.inputs[i], ys)),
                kInternal, node.describe(), ": a broadcast in layout ", layout_name(l), " that is not per channel");
  d.out_logical = ys.to_dims();
  d.out = memory_order(d.out_logical, d.out_logical, l);
  // The full operand is read like the output (for a fused Concat + Eltwise it is the joined inputs, gathered into
  // the output first).
  for (size_t i : operands)
    d.in.push_back(i == full ? d.out : memory_order(d.out_logical, node.inputs[i]->type.shape.to_dims(), l));
  return d;
}

class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(const Binary& op, int threads, std::optional<LayoutDims> layout)
      : op_(op), threads_(threads), layout_(std::move(layout)) {}
  const char* name() const override { return layout_ ? "cpu:binary_layout" : "cpu:binary"; }
  void run(KernelContext& ctx) const override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (layout_)
      CELER_CHECK(a.type() == ElementType::kF32 && b.type() == ElementType::kF32 &&
                      ctx.output(0).dims() == layout_->out_logical,
                  kInternal, "a channel-broadcast Binary in a layout chain got other types or shapes");
    if (a.type() != ElementType::kF32 || b.type() != ElementType::kF32) return op_.run(ctx);
    Tensor& out = ctx.output(0);
    if (out.size() == 0) return;
    BroadcastPlan p;
    // A same-shape Binary in a chain is elementwise in any layout (no layout_).
    const bool planned = layout_ ? plan_broadcast(layout_->out, {&layout_->in[0], &layout_->in[1]}, p)
                                 : plan_broadcast(out.dims(), {&a.dims(), &b.dims()}, p);
    CELER_CHECK(planned || !layout_, kInternal, "a channel-broadcast Binary in a layout chain");
    if (!planned) return op_.run(ctx);
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    float* po = out.data<float>();
    const BinaryFn fn = op_.fn;
    const int64_t sa = p.step[0], sb = p.step[1];
    for_each_run(p, cpu::threads_for(out.size(), cpu::kGrainSimple, threads_),
                 [&](const int64_t* off, int64_t o, int64_t s, int64_t e) {
                   simd().binary(fn, pa + off[0] + s * sa, sa, pb + off[1] + s * sb, sb, po + o + s, e - s);
                 });
  }

 private:
  const Binary& op_;
  int threads_;
  std::optional<LayoutDims> layout_;
};

// The inputs of a fused Concat + Eltwise in memory order: each image of input i is `inner[i]` contiguous elements per
// row of the output, rows of `total` elements (channels-last: one row per pixel with C_i elements each; plain and
// channel-blocked: one row per image, input i's C_i * spatial elements one slab).
struct Joined {
  std::vector<const float*> data;
  std::vector<int64_t> inner, offset;  // per input; offset: its first column in an output row
  int64_t total = 0;

  // Copies the output's elements [begin, begin + len) from the inputs to `dst`.
  void gather(int64_t begin, int64_t len, float* dst) const {
    int64_t row = begin / total, col = begin % total;
    size_t i = 0;
    while (col >= offset[i] + inner[i]) ++i;
    while (len > 0) {
      const int64_t n = std::min(len, offset[i] + inner[i] - col);
      std::memcpy(dst, data[i] + row * inner[i] + (col - offset[i]), size_t(n) * sizeof(float));
      dst += n;
      len -= n;
      col += n;
      if (col == offset[i] + inner[i] && ++i == data.size()) {
        i = 0;
        col = 0;
        ++row;
      }
    }
  }
};

// A fused chain of elementwise steps (Eltwise), applied tile by tile so that a tile stays in the L1 cache across the
// steps; each step rounds to float like the separate nodes. A fused channel Concat gathers each tile from its inputs
// into the output first and runs the steps there.
class EltwiseKernel final : public Kernel {
 public:
  EltwiseKernel(const Eltwise& op, int threads, std::optional<LayoutDims> layout, Layout memory_layout)
      : op_(op), threads_(threads), layout_(std::move(layout)), memory_layout_(memory_layout) {}
  const char* name() const override {
    if (op_.concat >= 2) return layout_ ? "cpu:concat_eltwise_layout" : "cpu:concat_eltwise";
    return layout_ ? "cpu:eltwise_layout" : "cpu:eltwise";
  }
  void run(KernelContext& ctx) const override {
    const bool joins = op_.concat >= 2;
    const Tensor& x = ctx.input(0);
    CELER_CHECK(!layout_ || x.type() == ElementType::kF32, kInternal, "an Eltwise in a layout chain got another type");
    if (x.type() != ElementType::kF32) return op_.run(ctx);  // before the output is allocated (the output has x's type)
    Tensor& y = ctx.output(0);
    const Dims& xd = joins ? y.dims() : x.dims();
    if (layout_)
      CELER_CHECK(xd == layout_->out_logical, kInternal, "an Eltwise in a layout chain got another shape");
    Joined joined;
    if (joins && !join(ctx, joined)) return op_.run(ctx);
    // Operand 0 is the chain's input; then one operand per binary step.
    std::vector<const Dims*> dims = {&xd};
    std::vector<const float*> data;
    data.push_back(joins ? y.data<float>() : x.data<float>());
    for (const EltwiseStep& s : op_.steps) {
      if (s.unary) continue;
      const Tensor& t = ctx.input(s.input);
      if (t.type() != ElementType::kF32 || t.rank() > int64_t(xd.size())) return op_.run(ctx);  // the reference says
      for (int64_t i = 0; i < t.rank(); ++i) {
        const int64_t d = t.dim(t.rank() - 1 - i);
        if (d != 1 && d != xd[xd.size() - 1 - size_t(i)]) return op_.run(ctx);
      }
      dims.push_back(&t.dims());
      data.push_back(t.data<float>());
    }
    if (y.size() == 0) return;
    BroadcastPlan p;
    if (layout_) {
      dims.clear();
      for (const Dims& d : layout_->in) dims.push_back(&d);
    }
    const bool planned = plan_broadcast(layout_ ? layout_->out : y.dims(), dims, p);
    CELER_CHECK(planned || !layout_, kInternal, "an Eltwise in a layout chain");
    if (!planned) return op_.run(ctx);
    float* py = y.data<float>();
    constexpr int64_t kTile = 1024;
    for_each_run(p, cpu::threads_for(y.size(), cpu::kGrainTranscendental, threads_),
                 [&](const int64_t* off, int64_t o, int64_t s, int64_t e) {
                   const cpu::SimdKernels& k = simd();
                   for (int64_t t0 = s; t0 < e; t0 += kTile) {
                     const int64_t len = std::min(kTile, e - t0);
                     float* dst = py + o + t0;
                     if (joins) joined.gather(o + t0, len, dst);  // operand 0 is the output itself then
                     const float* src = data[0] + off[0] + t0 * p.step[0];
                     size_t operand = 1;
                     for (const EltwiseStep& st : op_.steps) {
                       if (st.unary) {
                         k.unary(st.ufn, st.alpha, st.beta, src, dst, len);
                       } else {
                         const int64_t sk = p.step[operand];
                         const float* q = data[operand] + off[operand] + t0 * sk;
                         ++operand;
                         if (st.operand_first)
                           k.binary(st.bfn, q, sk, src, 1, dst, len);
                         else
                           k.binary(st.bfn, src, 1, q, sk, dst, len);
                       }
                       src = dst;
                     }
                   }
                 });
  }

 private:
  // The joined inputs in memory order; false when one is not f32 (the reference runs).
  bool join(KernelContext& ctx, Joined& j) const {
    const Tensor& y = ctx.output(0);
    const size_t k = op_.chain_inputs();
    const int64_t images = y.dim(0);
    int64_t elements = 0;
    for (size_t i = 0; i < k; ++i) {
      const Tensor& t = ctx.input(i);
      if (t.type() != ElementType::kF32) return false;
      CELER_CHECK(t.rank() == y.rank() && t.dim(0) == images, kInternal, "concat input ", i, " has shape ",
                  dims_to_string(t.dims()), " for an output of shape ", dims_to_string(y.dims()));
      j.data.push_back(t.data<float>());
      j.offset.push_back(j.total);
      // Channels-last: a row per pixel; otherwise a row per image.
      const int64_t inner = memory_layout_ == Layout::kChannelsLast ? t.dim(1) : (images ? t.size() / images : 0);
      j.inner.push_back(inner);
      j.total += inner;
      elements += t.size();
    }
    CELER_CHECK(elements == y.size(), kInternal, "the concat inputs have ", elements, " elements, the output ",
                y.size());
    return y.size() == 0 || j.total > 0;
  }

  const Eltwise& op_;
  int threads_;
  std::optional<LayoutDims> layout_;
  Layout memory_layout_;
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
  std::optional<LayoutDims> layout;
  const size_t full = onednn::layout_operand(node);
  if (node.inputs[1 - full]->type.shape != node.outputs[0]->type.shape) layout = layout_dims(node, {0, 1}, full);
  return std::make_unique<BinaryKernel>(op, cpu::max_threads(options), std::move(layout));
}

std::unique_ptr<Kernel> make_cpu_clip(const Node& node, const CompileOptions& options) {
  // Clip with bounds as inputs (opset 11+); the older attribute form and a Clip without bounds run the reference.
  if (node.num_explicit_inputs < 2 || !is_f32(node.inputs[0])) return nullptr;
  return std::make_unique<ClipKernel>(*node.op, cpu::max_threads(options));
}

std::unique_ptr<Kernel> make_cpu_eltwise(const Node& node, const CompileOptions& options) {
  const auto& op = static_cast<const Eltwise&>(*node.op);
  if (!is_f32(node.inputs[0]) || op.steps.empty()) return nullptr;
  for (const EltwiseStep& s : op.steps)
    if (s.unary ? !cpu::simd_supports(s.ufn) : !cpu::simd_supports(s.bfn)) return nullptr;
  std::vector<size_t> operands{0};
  for (const EltwiseStep& s : op.steps)
    if (!s.unary) operands.push_back(s.input);
  return std::make_unique<EltwiseKernel>(op, cpu::max_threads(options), layout_dims(node, operands, 0),
                                         onednn::value_layout(node.inputs[0]));
}

}  // namespace celer
