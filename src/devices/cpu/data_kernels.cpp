// Data movement kernels of the CPU device, for any non-string element type: Transpose (contiguous-run copies or
// blocked 2-D transposes once size-1 dims are dropped and axes that stay adjacent are merged), Expand and Tile
// (row copies), Slice (contiguous runs or strided rows), Where (broadcast runs); and Cast between f32 and f16/bf16
// with the vectorised conversions.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "devices/cpu/broadcast.hpp"
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/cast.hpp"
#include "ops/slice.hpp"
#include "ops/transpose.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

// A transpose with at most kMax merged axes: in dims `dim`, output axis k reads input axis perm[k].
struct TransposePlan {
  static constexpr size_t kMax = 16;
  size_t rank = 0;
  std::array<int64_t, kMax> dim{}, perm{};
};

bool plan_transpose(const Dims& dims, const std::vector<int64_t>& perm, TransposePlan& p) {
  // Drop size-1 axes, renumbering the rest.
  std::vector<int64_t> map(dims.size(), -1), kept_dims;
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != 1) {
      map[i] = int64_t(kept_dims.size());
      kept_dims.push_back(dims[i]);
    }
  std::vector<int64_t> pp;
  for (int64_t a : perm)
    if (map[size_t(a)] >= 0) pp.push_back(map[size_t(a)]);
  // Merge output axes k, k+1 that read adjacent input axes a, a+1.
  std::vector<std::vector<int64_t>> groups;  // input axes per merged axis, in output order
  for (int64_t a : pp) {
    if (!groups.empty() && groups.back().back() + 1 == a)
      groups.back().push_back(a);
    else
      groups.push_back({a});
  }
  if (groups.size() > TransposePlan::kMax) return false;
  // Number the merged axes by their first input axis.
  std::vector<size_t> order(groups.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return groups[x][0] < groups[y][0]; });
  p.rank = groups.size();
  for (size_t in_axis = 0; in_axis < order.size(); ++in_axis) {
    const auto& g = groups[order[in_axis]];
    int64_t d = 1;
    for (int64_t a : g) d *= kept_dims[size_t(a)];
    p.dim[in_axis] = d;
    p.perm[order[in_axis]] = int64_t(in_axis);
  }
  return true;
}

}  // namespace

// GCC 12 reports the intrinsics' internal undefined vectors as (maybe-)uninitialized inside target() functions.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// dst[i * ds + j] = src[j * ss + i] for i, j < 16, 4-byte elements: 16 loads, three rounds of shuffles, 16 stores.
__attribute__((target("avx512f"))) void cpu::transpose16x16_avx512(const uint32_t* src, int64_t ss, uint32_t* dst,
                                                                   int64_t ds) {
  __m512 r[16], t[16];
  for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(src + j * ss);
  for (int k = 0; k < 8; ++k) {  // within 128-bit lanes: pairs of rows interleaved
    t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 4; ++k) {  // lane L of r[4k + m]: rows 4k..4k+3 of column 4L + m
    r[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
    r[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
    r[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
    r[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
  for (int m = 0; m < 4; ++m) {  // gather lane L of r[m], r[4 + m], r[8 + m], r[12 + m] into column 4L + m
    const __m512 v0 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x88), v1 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xDD);
    const __m512 w0 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x88);
    const __m512 w1 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xDD);
    _mm512_storeu_ps(dst + m * ds, _mm512_shuffle_f32x4(v0, w0, 0x88));
    _mm512_storeu_ps(dst + (4 + m) * ds, _mm512_shuffle_f32x4(v1, w1, 0x88));
    _mm512_storeu_ps(dst + (8 + m) * ds, _mm512_shuffle_f32x4(v0, w0, 0xDD));
    _mm512_storeu_ps(dst + (12 + m) * ds, _mm512_shuffle_f32x4(v1, w1, 0xDD));
  }
}
#pragma GCC diagnostic pop

namespace {

template <typename S>
void transpose_typed(const TransposePlan& p, const S* in, S* out, int threads) {
  const size_t r = p.rank;
  std::array<int64_t, TransposePlan::kMax> in_stride{}, out_stride{}, out_dim{};
  int64_t s = 1;
  for (size_t a = r; a-- > 0;) in_stride[a] = s, s *= p.dim[a];
  s = 1;
  for (size_t k = r; k-- > 0;) {
    out_dim[k] = p.dim[size_t(p.perm[k])];
    out_stride[k] = s;
    s *= out_dim[k];
  }
  const int64_t total = s;
  // The output axes walked by the outer loop, with the input stride of each.
  std::array<int64_t, TransposePlan::kMax> odim{}, ostr_in{}, ostr_out{};
  size_t no = 0;
  // Output axis q reads the input's innermost axis; the output's innermost axis reads input axis a.
  size_t q = 0;
  for (size_t k = 0; k < r; ++k)
    if (size_t(p.perm[k]) == r - 1) q = k;
  const bool runs = q == r - 1;  // the innermost axis stays innermost: copy runs
  for (size_t k = 0; k < r; ++k) {
    if (k == r - 1 || (!runs && k == q)) continue;
    odim[no] = out_dim[k];
    ostr_in[no] = in_stride[size_t(p.perm[k])];
    ostr_out[no] = out_stride[k];
    ++no;
  }
  int64_t outer = 1;
  for (size_t k = 0; k < no; ++k) outer *= odim[k];
  const int64_t I = runs ? 1 : out_dim[q], J = out_dim[r - 1];
  const int64_t jstride_in = runs ? 1 : in_stride[size_t(p.perm[r - 1])], istride_out = runs ? 0 : out_stride[q];
  constexpr int64_t kB = 16;
  static const bool avx512 = cpu::simd().isa == cpu::Isa::kAvx512;
  const int64_t iblocks = (I + kB - 1) / kB;
  const int64_t units = outer * iblocks;
  cpu::parallel_for(units, cpu::threads_for(total, cpu::kGrainSimple, threads), 1, [&](int64_t ub, int64_t ue) {
    for (int64_t u = ub; u < ue; ++u) {
      int64_t rest = u / iblocks, oi = 0, oo = 0;
      for (size_t k = no; k-- > 0;) {
        const int64_t idx = rest % odim[k];
        rest /= odim[k];
        oi += idx * ostr_in[k];
        oo += idx * ostr_out[k];
      }
      if (runs) {
        std::memcpy(out + oo, in + oi, size_t(J) * sizeof(S));
        continue;
      }
      const int64_t i0 = (u % iblocks) * kB, i1 = std::min(I, i0 + kB);
      const S* src = in + oi;
      S* dst = out + oo;
      for (int64_t j0 = 0; j0 < J; j0 += kB) {
        const int64_t j1 = std::min(J, j0 + kB);
        if constexpr (sizeof(S) == 4) {
          if (avx512 && i1 - i0 == kB && j1 - j0 == kB) {
            cpu::transpose16x16_avx512(reinterpret_cast<const uint32_t*>(src + j0 * jstride_in + i0), jstride_in,
                                       reinterpret_cast<uint32_t*>(dst + i0 * istride_out + j0), istride_out);
            continue;
          }
        }
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = j0; j < j1; ++j) dst[i * istride_out + j] = src[j * jstride_in + i];
      }
    }
  });
}

}  // namespace

bool cpu::transpose_dense(const void* in, void* out, size_t elem_size, const Dims& dims,
                          const std::vector<int64_t>& perm, int threads) {
  TransposePlan p;
  if (!plan_transpose(dims, perm, p)) return false;
  int64_t bytes = int64_t(elem_size);
  for (int64_t d : dims) bytes *= d;
  if (p.rank <= 1) {
    std::memcpy(out, in, size_t(bytes));
    return true;
  }
  switch (elem_size) {
    case 1:
      transpose_typed(p, static_cast<const uint8_t*>(in), static_cast<uint8_t*>(out), threads);
      return true;
    case 2:
      transpose_typed(p, static_cast<const uint16_t*>(in), static_cast<uint16_t*>(out), threads);
      return true;
    case 4:
      transpose_typed(p, static_cast<const uint32_t*>(in), static_cast<uint32_t*>(out), threads);
      return true;
    case 8:
      transpose_typed(p, static_cast<const uint64_t*>(in), static_cast<uint64_t*>(out), threads);
      return true;
    default:
      return false;
  }
}

namespace {

class TransposeKernel final : public Kernel {
 public:
  TransposeKernel(const Transpose& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:transpose"; }
  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    if (in.type() == ElementType::kString) return op_.run(ctx);
    const std::vector<int64_t> perm = op_.perm_for(in.rank());
    TransposePlan p;
    if (!plan_transpose(in.dims(), perm, p)) return op_.run(ctx);
    Tensor& out = ctx.output(0);
    if (out.size() == 0) return;
    if (!cpu::transpose_dense(in.raw(), out.raw(), size_t(element_size(in.type())), in.dims(), perm, threads_))
      op_.run(ctx);
  }

 private:
  const Transpose& op_;
  int threads_;
};

// Which conversion a cast from `from` to `to` is (0: none of ours).
int cast_kind(ElementType from, ElementType to) {
  if (from == ElementType::kF32 && to == ElementType::kF16) return 1;
  if (from == ElementType::kF16 && to == ElementType::kF32) return 2;
  if (from == ElementType::kF32 && to == ElementType::kBF16) return 3;
  if (from == ElementType::kBF16 && to == ElementType::kF32) return 4;
  return 0;
}

class CastKernel final : public Kernel {
 public:
  CastKernel(const Cast& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:cast"; }
  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int kind = cast_kind(x.type(), op_.to);
    if (kind == 0) return op_.run(ctx);
    Tensor& y = ctx.output(0);
    if (y.type() != op_.to || y.size() != x.size()) return op_.run(ctx);
    const void* src = x.raw();
    void* dst = y.raw();
    const int64_t n = x.size();
    cpu::parallel_for(n, cpu::threads_for(n, cpu::kGrainSimple, threads_), 64, [&](int64_t b, int64_t e) {
      const cpu::SimdKernels& k = cpu::simd();
      const auto* f = static_cast<const float*>(src) + b;
      const auto* h = static_cast<const uint16_t*>(src) + b;
      auto* fo = static_cast<float*>(dst) + b;
      auto* ho = static_cast<uint16_t*>(dst) + b;
      switch (kind) {
        case 1:
          return k.f32_to_f16(f, ho, e - b);
        case 2:
          return k.f16_to_f32(h, fo, e - b);
        case 3:
          return k.f32_to_bf16(f, ho, e - b);
        default:
          return k.bf16_to_f32(h, fo, e - b);
      }
    });
  }

 private:
  const Cast& op_;
  int threads_;
};

// Calls f.template operator()<S>() with an unsigned type of the element's size; false for strings and other sizes.
template <typename F>
bool with_storage(ElementType t, F&& f) {
  if (t == ElementType::kString) return false;
  switch (element_size(t)) {
    case 1:
      f.template operator()<uint8_t>();
      return true;
    case 2:
      f.template operator()<uint16_t>();
      return true;
    case 4:
      f.template operator()<uint32_t>();
      return true;
    case 8:
      f.template operator()<uint64_t>();
      return true;
    default:
      return false;
  }
}

// The inferred static output shape, or null (the reference kernel then computes and checks it).
const ValueType* static_output(const KernelContext& ctx) {
  const ValueType* t = ctx.inferred_type(0);
  return t && t->is_tensor() && t->shape.is_static() ? t : nullptr;
}

// Expand: the input broadcast to the inferred output shape, as contiguous row copies or fills.
class ExpandKernel final : public Kernel {
 public:
  ExpandKernel(const Op& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:expand"; }
  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const ValueType* t = static_output(ctx);
    if (!t || t->elem != in.type()) return op_.run(ctx);
    const Dims out_dims = t->shape.to_dims();
    if (in.rank() > int64_t(out_dims.size())) return op_.run(ctx);
    for (int64_t i = 0; i < in.rank(); ++i) {
      const int64_t d = in.dim(in.rank() - 1 - i), o = out_dims[out_dims.size() - 1 - size_t(i)];
      if (d != 1 && d != o) return op_.run(ctx);
    }
    cpu::BroadcastPlan p;
    if (!cpu::plan_broadcast(out_dims, {&in.dims()}, p)) return op_.run(ctx);
    Tensor& out = ctx.output(0);
    if (out.dims() != out_dims) return op_.run(ctx);
    if (out.size() == 0) return;
    const bool ok = with_storage(in.type(), [&]<typename S>() {
      const S* src = static_cast<const S*>(in.raw());
      S* dst = static_cast<S*>(out.raw());
      cpu::for_each_run(p, cpu::threads_for(out.size(), cpu::kGrainSimple, threads_),
                        [&](const int64_t* off, int64_t o, int64_t s, int64_t e) {
                          if (p.step[0])
                            std::memcpy(dst + o + s, src + off[0] + s, size_t(e - s) * sizeof(S));
                          else
                            std::fill(dst + o + s, dst + o + e, src[off[0]]);
                        });
    });
    if (!ok) op_.run(ctx);
  }

 private:
  const Op& op_;
  int threads_;
};

// Tile: each output row (all axes but the last) is the matching input row repeated along the last axis.
class TileKernel final : public Kernel {
 public:
  TileKernel(const Op& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:tile"; }
  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const ValueType* t = static_output(ctx);
    if (!t || t->elem != in.type() || in.rank() == 0 || in.size() == 0) return op_.run(ctx);
    const Dims out_dims = t->shape.to_dims();
    if (int64_t(out_dims.size()) != in.rank()) return op_.run(ctx);
    for (size_t k = 0; k < out_dims.size(); ++k)
      if (out_dims[k] % in.dims()[k] != 0) return op_.run(ctx);
    Tensor& out = ctx.output(0);
    if (out.dims() != out_dims) return op_.run(ctx);
    if (out.size() == 0) return;
    const size_t r = out_dims.size();
    const int64_t row = in.dims()[r - 1], reps = out_dims[r - 1] / row, rows = out.size() / out_dims[r - 1];
    const Dims in_strides = strides_of(in.dims());
    const bool ok = with_storage(in.type(), [&]<typename S>() {
      const S* src = static_cast<const S*>(in.raw());
      S* dst = static_cast<S*>(out.raw());
      cpu::parallel_for(rows, cpu::threads_for(out.size(), cpu::kGrainSimple, threads_), 1, [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          int64_t rest = o, off = 0;
          for (size_t k = r - 1; k-- > 0;) {
            off += (rest % out_dims[k]) % in.dims()[k] * in_strides[k];
            rest /= out_dims[k];
          }
          S* d = dst + o * row * reps;
          for (int64_t j = 0; j < reps; ++j) std::memcpy(d + j * row, src + off, size_t(row) * sizeof(S));
        }
      });
    });
    if (!ok) op_.run(ctx);
  }

 private:
  const Op& op_;
  int threads_;
};

// Where: out = cond ? x : y with numpy broadcasting, run by run.
class WhereKernel final : public Kernel {
 public:
  WhereKernel(const Op& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:where"; }
  void run(KernelContext& ctx) const override {
    const Tensor& c = ctx.input(0);
    const Tensor& x = ctx.input(1);
    const Tensor& y = ctx.input(2);
    if (c.type() != ElementType::kBool || x.type() != y.type()) return op_.run(ctx);
    Tensor& out = ctx.output(0);
    if (out.type() != x.type()) return op_.run(ctx);
    for (const Tensor* t : {&c, &x, &y}) {
      if (t->rank() > out.rank()) return op_.run(ctx);
      for (int64_t i = 0; i < t->rank(); ++i) {
        const int64_t d = t->dim(t->rank() - 1 - i);
        if (d != 1 && d != out.dim(out.rank() - 1 - i)) return op_.run(ctx);
      }
    }
    if (out.size() == 0) return;
    cpu::BroadcastPlan p;
    if (!cpu::plan_broadcast(out.dims(), {&c.dims(), &x.dims(), &y.dims()}, p)) return op_.run(ctx);
    const bool ok = with_storage(x.type(), [&]<typename S>() {
      const bool* pc = c.data<bool>();
      const S* px = static_cast<const S*>(x.raw());
      const S* py = static_cast<const S*>(y.raw());
      S* po = static_cast<S*>(out.raw());
      const int64_t sc = p.step[0], sx = p.step[1], sy = p.step[2];
      cpu::for_each_run(p, cpu::threads_for(out.size(), cpu::kGrainSimple, threads_),
                        [&](const int64_t* off, int64_t o, int64_t s, int64_t e) {
                          const bool* cc = pc + off[0];
                          const S* xx = px + off[1];
                          const S* yy = py + off[2];
                          S* oo = po + o;
                          if (sc && sx && sy) {
                            for (int64_t i = s; i < e; ++i) oo[i] = cc[i] ? xx[i] : yy[i];
                          } else {
                            for (int64_t i = s; i < e; ++i) oo[i] = cc[i * sc] ? xx[i * sx] : yy[i * sy];
                          }
                        });
    });
    if (!ok) op_.run(ctx);
  }

 private:
  const Op& op_;
  int threads_;
};

// Slice: trailing whole axes (and the last sliced axis when its step is 1) form contiguous runs copied with memcpy;
// the other axes are walked by index, the outer ones in parallel.
template <typename S>
void slice_typed(const std::vector<AxisSlice>& plan, const Dims& in_dims, const S* in, S* out, int threads) {
  const size_t r = plan.size();
  const Dims stride = strides_of(in_dims);
  size_t j = r;  // axes [j, r) are whole
  int64_t run = 1;
  while (j > 0 && plan[j - 1].start == 0 && plan[j - 1].step == 1 && plan[j - 1].count == in_dims[j - 1])
    run *= in_dims[--j];
  if (j == 0) {
    std::memcpy(out, in, size_t(run) * sizeof(S));
    return;
  }
  // Axis j - 1 is walked by the row loop (or merged into the run when its step is 1).
  const AxisSlice& row = plan[j - 1];
  int64_t base = row.start * stride[j - 1], row_count = row.count, row_stride = row.step * stride[j - 1];
  if (row.step == 1) {
    run *= row.count;
    row_count = 1;
  }
  const size_t outer_axes = j - 1;
  int64_t outer = 1;
  for (size_t k = 0; k < outer_axes; ++k) outer *= plan[k].count;
  const int64_t total = outer * row_count * run;
  cpu::parallel_for(outer, cpu::threads_for(total, cpu::kGrainSimple, threads), 1, [&](int64_t ub, int64_t ue) {
    for (int64_t u = ub; u < ue; ++u) {
      int64_t rest = u, off = base;
      for (size_t k = outer_axes; k-- > 0;) {
        const int64_t idx = rest % plan[k].count;
        rest /= plan[k].count;
        off += (plan[k].start + idx * plan[k].step) * stride[k];
      }
      S* dst = out + u * row_count * run;
      if (run == 1) {
        for (int64_t i = 0; i < row_count; ++i) dst[i] = in[off + i * row_stride];
      } else {
        for (int64_t i = 0; i < row_count; ++i)
          std::memcpy(dst + i * run, in + off + i * row_stride, size_t(run) * sizeof(S));
      }
    }
  });
}

class SliceKernel final : public Kernel {
 public:
  SliceKernel(const Op& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:slice"; }
  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const size_t es = element_size(in.type());
    if (in.type() == ElementType::kString || (es != 1 && es != 2 && es != 4 && es != 8)) return op_.run(ctx);
    const std::vector<AxisSlice> plan =
        plan_slice(in.dims(), ctx.input(1), ctx.input(2), ctx.has_input(3) ? &ctx.input(3) : nullptr,
                   ctx.has_input(4) ? &ctx.input(4) : nullptr);
    Dims out_dims(plan.size());
    for (size_t k = 0; k < plan.size(); ++k) out_dims[k] = plan[k].count;
    Tensor& out = ctx.output(0, in.type(), out_dims);
    if (out.size() == 0) return;
    with_storage(in.type(), [&]<typename S>() {
      slice_typed(plan, in.dims(), static_cast<const S*>(in.raw()), static_cast<S*>(out.raw()), threads_);
    });
  }

 private:
  const Op& op_;
  int threads_;
};

}  // namespace

std::unique_ptr<Kernel> make_cpu_expand(const Node& node, const CompileOptions& options) {
  if (node.inputs[0]->type.elem == ElementType::kString) return nullptr;
  return std::make_unique<ExpandKernel>(*node.op, cpu::max_threads(options));
}

std::unique_ptr<Kernel> make_cpu_tile(const Node& node, const CompileOptions& options) {
  if (node.inputs[0]->type.elem == ElementType::kString) return nullptr;
  return std::make_unique<TileKernel>(*node.op, cpu::max_threads(options));
}

std::unique_ptr<Kernel> make_cpu_where(const Node& node, const CompileOptions& options) {
  if (node.inputs[1]->type.elem == ElementType::kString) return nullptr;
  return std::make_unique<WhereKernel>(*node.op, cpu::max_threads(options));
}

std::unique_ptr<Kernel> make_cpu_cast(const Node& node, const CompileOptions& options) {
  const auto& op = static_cast<const Cast&>(*node.op);
  if (op.like || cast_kind(node.inputs[0]->type.elem, op.to) == 0) return nullptr;
  return std::make_unique<CastKernel>(op, cpu::max_threads(options));
}

std::unique_ptr<Kernel> make_cpu_transpose(const Node& node, const CompileOptions& options) {
  const ElementType t = node.inputs[0]->type.elem;
  if (t == ElementType::kString || t == ElementType::kUndefined) return nullptr;
  return std::make_unique<TransposeKernel>(static_cast<const Transpose&>(*node.op), cpu::max_threads(options));
}

std::unique_ptr<Kernel> make_cpu_slice(const Node& node, const CompileOptions& options) {
  const ElementType t = node.inputs[0]->type.elem;
  if (t == ElementType::kString || t == ElementType::kUndefined) return nullptr;
  return std::make_unique<SliceKernel>(*node.op, cpu::max_threads(options));
}

}  // namespace celer
