// Attention (the fused scaled dot-product block) on f32: per batch matrix, scores = Q x Kt and out = P x V with
// oneDNN's sgemm, and the scaling, mask add and row Softmax in between with the vectorised primitives. Batch
// matrices are spread over threads (each sgemm then runs on one thread); a single matrix lets sgemm use them.
#include <dnnl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <vector>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/attention.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

class AttentionKernel final : public Kernel {
 public:
  AttentionKernel(const Attention& op, int threads) : op_(op), threads_(threads) {}
  const char* name() const override { return "cpu:attention"; }
  void run(KernelContext& ctx) const override {
    const Tensor& tq = ctx.input(0);
    const Tensor& tk = ctx.input(1);
    const Tensor& tv = ctx.input(2);
    const Tensor* tm = ctx.has_input(3) ? &ctx.input(3) : nullptr;
    for (const Tensor* t : {&tq, &tk, &tv, tm})
      if (t && t->type() != ElementType::kF32) return op_.run(ctx);
    if (tq.rank() < 2 || tk.rank() < 2 || tv.rank() < 2) return op_.run(ctx);
    const Dims &q = tq.dims(), &k = tk.dims(), &v = tv.dims();
    const int64_t M = q[q.size() - 2], K = q.back(), N = k.back(), D = v.back();
    if (k[k.size() - 2] != K || v[v.size() - 2] != N) return op_.run(ctx);  // the reference reports it
    const Dims bq(q.begin(), q.end() - 2), bk(k.begin(), k.end() - 2), bv(v.begin(), v.end() - 2);
    const Dims batch = broadcast_dims(broadcast_dims(bq, bk), bv);
    Dims score_dims = batch;
    score_dims.push_back(M);
    score_dims.push_back(N);
    Dims mask_dims;
    if (tm) {
      if (tm->rank() > int64_t(score_dims.size()) || broadcast_dims(score_dims, tm->dims()) != score_dims)
        return op_.run(ctx);
      mask_dims = Dims(score_dims.size() - tm->dims().size(), 1);
      mask_dims.insert(mask_dims.end(), tm->dims().begin(), tm->dims().end());
    }
    const Dims bm = tm ? Dims(mask_dims.begin(), mask_dims.end() - 2) : Dims(batch.size(), 1);
    const int64_t mask_rows = tm ? mask_dims[mask_dims.size() - 2] : 1, mask_cols = tm ? mask_dims.back() : 1;
    Tensor& ty = ctx.output(0);
    if (ty.size() == 0) return;
    if (M == 0 || N == 0 || K == 0) return op_.run(ctx);
    std::vector<std::array<int64_t, 4>> offsets;
    for_each_broadcast(batch, {bq, bk, bv, bm}, [&](int64_t, const int64_t* off) {
      offsets.push_back({off[0], off[1], off[2], off[3]});
    });
    const int64_t count = int64_t(offsets.size());
    const float* pq = tq.data<float>();
    const float* pk = tk.data<float>();
    const float* pv = tv.data<float>();
    const float* pm = tm ? tm->data<float>() : nullptr;
    float* py = ty.data<float>();
    const Attention::Scale mode = op_.scale_mode;
    const float s = op_.scale;
    const bool scale_q = mode == Attention::Scale::kMulQ || mode == Attention::Scale::kDivQ;
    const BinaryFn scale_fn =
        mode == Attention::Scale::kMulQ || mode == Attention::Scale::kMulScores ? BinaryFn::kMul : BinaryFn::kDiv;
    // Multiply-adds; a thread pays for itself from about a million.
    const double work = std::min(1e15, double(count) * double(M) * double(N) * double(K + D));
    const int threads = int(std::min<int64_t>(count, cpu::threads_for(int64_t(work), int64_t(1) << 20, threads_)));
    std::atomic<bool> failed{false};
    cpu::parallel_for(count, threads, 1, [&](int64_t b, int64_t e) {
      const cpu::SimdKernels& simd = cpu::simd();
      std::vector<float> scores(static_cast<size_t>(M * N)), qs(scale_q ? static_cast<size_t>(M * K) : 0);
      for (int64_t i = b; i < e; ++i) {
        const auto& off = offsets[size_t(i)];
        const float* qi = pq + off[0] * M * K;
        if (scale_q) {
          simd.binary(scale_fn, qi, 1, &s, 0, qs.data(), M * K);
          qi = qs.data();
        }
        float* sc = scores.data();
        if (dnnl_sgemm('N', 'N', M, N, K, 1.0f, qi, K, pk + off[1] * K * N, N, 0.0f, sc, N) != dnnl_success)
          failed = true;
        if (mode == Attention::Scale::kMulScores || mode == Attention::Scale::kDivScores)
          simd.binary(scale_fn, sc, 1, &s, 0, sc, M * N);
        if (pm) {
          const float* mb = pm + off[3] * mask_rows * mask_cols;
          for (int64_t r = 0; r < M; ++r)
            simd.binary(BinaryFn::kAdd, sc + r * N, 1, mb + (mask_rows == 1 ? 0 : r) * mask_cols,
                        mask_cols == 1 ? 0 : 1, sc + r * N, N);
        }
        simd.softmax_rows(SoftmaxMode::kSoftmax, sc, sc, M, N);
        if (dnnl_sgemm('N', 'N', M, D, N, 1.0f, sc, N, pv + off[2] * N * D, D, 0.0f, py + i * M * D, D) != dnnl_success)
          failed = true;
      }
    });
    CELER_CHECK(!failed, kRuntime, "oneDNN sgemm failed in Attention");
  }

 private:
  const Attention& op_;
  int threads_;
};

}  // namespace

std::unique_ptr<Kernel> make_cpu_attention(const Node& node, const CompileOptions& options) {
  if (node.inputs[0]->type.elem != ElementType::kF32) return nullptr;
  return std::make_unique<AttentionKernel>(static_cast<const Attention&>(*node.op), cpu::max_threads(options));
}

}  // namespace celer
