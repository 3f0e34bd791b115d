// Data movement kernels of the CPU device: Transpose of any non-string element type, reduced to contiguous-run
// copies or blocked 2-D transposes once size-1 dims are dropped and axes that stay adjacent are merged.
#include <algorithm>
#include <array>
#include <cstring>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/parallel.hpp"
#include "ops/transpose.hpp"

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
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = j0; j < j1; ++j) dst[i * istride_out + j] = src[j * jstride_in + i];
      }
    }
  });
}

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
    if (p.rank <= 1) {
      std::memcpy(out.raw(), in.raw(), in.byte_size());
      return;
    }
    switch (element_size(in.type())) {
      case 1:
        return transpose_typed(p, static_cast<const uint8_t*>(in.raw()), static_cast<uint8_t*>(out.raw()), threads_);
      case 2:
        return transpose_typed(p, static_cast<const uint16_t*>(in.raw()), static_cast<uint16_t*>(out.raw()), threads_);
      case 4:
        return transpose_typed(p, static_cast<const uint32_t*>(in.raw()), static_cast<uint32_t*>(out.raw()), threads_);
      case 8:
        return transpose_typed(p, static_cast<const uint64_t*>(in.raw()), static_cast<uint64_t*>(out.raw()), threads_);
      default:
        return op_.run(ctx);
    }
  }

 private:
  const Transpose& op_;
  int threads_;
};

}  // namespace

std::unique_ptr<Kernel> make_cpu_transpose(const Node& node, const CompileOptions& options) {
  const ElementType t = node.inputs[0]->type.elem;
  if (t == ElementType::kString || t == ElementType::kUndefined) return nullptr;
  return std::make_unique<TransposeKernel>(static_cast<const Transpose&>(*node.op), cpu::max_threads(options));
}

}  // namespace celer
