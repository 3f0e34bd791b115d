// Fused scaled dot-product attention (the Attention op) on f32: per batch matrix (batch x heads), a block of query rows
// at a time, scores = Q x Kt * scale (+ mask) into a small per-thread tile, row softmax in FP32 (simd.hpp), then the
// block's output rows = P x V. The tile stays in L1, so the scores never travel to memory.
//
// Two implementations of the two products, chosen at kernel creation from the ISA of simd.hpp:
// - AVX-512: a register-blocked micro-kernel (up to 8 rows x 32 columns of accumulators, B read as rows of 16 floats,
//   masked tails), used for both products since Kt [K, N] and V [N, D] are both row-major "B" operands;
// - otherwise: oneDNN's single-threaded SGEMM on the same blocks.
// Threads (OpenMP, at most CompileOptions::num_threads, fewer for small work): units of (batch matrix, up to 32 query
// rows), scheduled dynamically. Nothing is allocated per call but the calling thread's scratch, which grows once.
//
// Accuracy: the scale multiplies the scores (a division becomes a multiplication by the reciprocal, a scale of Q
// moves onto the scores), exp is simd.hpp's polynomial and sums accumulate in float: within ~1e-6 relative of the
// reference, which rounds like the decomposed graph and takes the softmax in double.
#include <dnnl.h>
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "devices/cpu/parallel.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/attention.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

constexpr size_t kMaxRank = 8;    // of the batch dims; deeper batches run the reference kernel
constexpr int64_t kRowBlock = 8;  // query rows per tile (the AVX-512 micro-kernel's rows)

// Where one batch matrix of each tensor starts (in elements), for flat batch index i of the broadcast batch dims.
enum Operand { kQ, kKt, kV, kMask, kY, kOperands };
struct BatchMap {
  size_t rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t strides[kOperands][kMaxRank] = {};  // 0 where the tensor broadcasts
  int64_t count = 1;

  void offsets(int64_t i, int64_t off[kOperands]) const {
    for (int t = 0; t < kOperands; ++t) off[t] = 0;
    for (size_t a = rank; a-- > 0;) {
      const int64_t c = i % dims[a];
      i /= dims[a];
      for (int t = 0; t < kOperands; ++t) off[t] += c * strides[t][a];
    }
  }
};

// The per-call geometry: Q [.., M, K], Kt [.., K, N], V [.., N, D], mask [.., MR, MC] with MR in {1, M}, MC in {1, N},
// output [.., M, D] (logical shapes); the row strides of Q, V and the output (Kt's is N, the mask's MC).
struct Geometry {
  int64_t M = 0, K = 0, N = 0, D = 0;
  int64_t mask_rows = 0, mask_cols = 0;  // 0: no mask
  int64_t ldq = 0, ldv = 0, ldy = 0;
  BatchMap batch;
};

// A tensor's logical dims and element strides: contiguous, or stored heads inner (axes -3 and -2 swapped).
struct Strided {
  Dims dims, strides;
};
Strided logical(const Dims& stored, bool heads_inner) {
  Strided s{stored, strides_of(stored)};
  if (heads_inner) {
    const size_t r = stored.size();
    std::swap(s.dims[r - 3], s.dims[r - 2]);
    std::swap(s.strides[r - 3], s.strides[r - 2]);
  }
  return s;
}

// The batch dims of `t` (all but its last two, right-aligned to the broadcast batch `out`) as element strides;
// false when `t` does not broadcast onto `out`.
bool batch_strides(const Strided& t, const Dims& out, int64_t* strides) {
  const size_t r = t.dims.size() >= 2 ? t.dims.size() - 2 : 0;
  if (r > out.size()) return false;
  for (size_t a = out.size(); a-- > 0;) {
    const size_t back = out.size() - a;  // 1 for the last batch dim
    const int64_t n = back <= r ? t.dims[r - back] : 1;
    if (n != 1 && n != out[a]) return false;
    strides[a] = n == 1 ? 0 : t.strides[r - back];
  }
  return true;
}

bool make_geometry(const Attention& op, const Tensor& q, const Tensor& kt, const Tensor& v, const Tensor* mask,
                   const Tensor& y, Geometry* g) {
  if (q.rank() < (op.q_heads_inner ? 3 : 2) || kt.rank() < 2 || v.rank() < (op.v_heads_inner ? 3 : 2) ||
      y.rank() < (op.y_heads_inner ? 3 : 2))
    return false;
  const Strided sq = logical(q.dims(), op.q_heads_inner), sk = logical(kt.dims(), false),
                sv = logical(v.dims(), op.v_heads_inner), sy = logical(y.dims(), op.y_heads_inner);
  const Dims &dq = sq.dims, &dk = sk.dims, &dv = sv.dims;
  g->M = dq[dq.size() - 2];
  g->K = dq.back();
  g->N = dk.back();
  g->D = dv.back();
  if (dk[dk.size() - 2] != g->K || dv[dv.size() - 2] != g->N) return false;
  g->ldq = sq.strides[dq.size() - 2];
  g->ldv = sv.strides[dv.size() - 2];
  g->ldy = sy.strides[sy.dims.size() - 2];
  Dims batch;
  for (const Dims* d : {&dq, &dk, &dv}) {
    const Dims b(d->begin(), d->end() - 2);
    if (b.size() > batch.size()) batch.insert(batch.begin(), b.size() - batch.size(), 1);
    for (size_t i = 0; i < b.size(); ++i) {
      int64_t& o = batch[batch.size() - b.size() + i];
      if (o == 1)
        o = b[i];
      else if (b[i] != 1 && b[i] != o)
        return false;
    }
  }
  if (batch.size() > kMaxRank) return false;
  Dims want_y = batch;
  want_y.push_back(g->M);
  want_y.push_back(g->D);
  if (sy.dims != want_y) return false;
  BatchMap& m = g->batch;
  m.rank = batch.size();
  m.count = 1;
  for (size_t a = 0; a < batch.size(); ++a) {
    m.dims[a] = batch[a];
    m.count *= batch[a];
  }
  if (!batch_strides(sq, batch, m.strides[kQ]) || !batch_strides(sk, batch, m.strides[kKt]) ||
      !batch_strides(sv, batch, m.strides[kV]) || !batch_strides(sy, batch, m.strides[kY]))
    return false;
  g->mask_rows = g->mask_cols = 0;
  if (mask) {
    const Dims& dm = mask->dims();
    if (dm.size() > batch.size() + 2) return false;
    const int64_t mc = dm.empty() ? 1 : dm.back(), mr = dm.size() < 2 ? 1 : dm[dm.size() - 2];
    if ((mc != 1 && mc != g->N) || (mr != 1 && mr != g->M)) return false;
    g->mask_rows = mr;
    g->mask_cols = mc;
    if (!batch_strides(logical(dm, false), batch, m.strides[kMask])) return false;
  }
  return true;
}

// AVX-512 micro-kernel.

#pragma GCC push_options
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // a false positive inside GCC 12's avx512fintrin.h
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx2")

// The epilogue of a scores tile: c = acc * alpha (+ mask row), mask rows given per tile row (null: no mask).
struct Epilogue {
  float alpha = 1.0f;
  const float* mask[kRowBlock] = {};
  bool mask_vector = false;  // mask row has N columns (else one value broadcast over the row)
};

// C[MR, cols] = A[MR, kdim] x B[kdim, cols] (cols <= 16 * NV; row strides lda, ldb, ldc), then the epilogue with the
// tile's column `col0` for the mask.
template <int MR, int NV>
__attribute__((always_inline)) inline void tile(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t kdim,
                                                float* c, int64_t ldc, int64_t cols, const Epilogue* ep, int64_t col0) {
  const __mmask16 last = cols >= 16 * NV ? __mmask16(0xFFFF) : __mmask16((1u << (cols - 16 * (NV - 1))) - 1u);
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kdim; ++k) {
    const float* bk = b + k * ldb;
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      bv[j] = j == NV - 1 ? _mm512_maskz_loadu_ps(last, bk + 16 * j) : _mm512_loadu_ps(bk + 16 * j);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(a[i * lda + k]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      __m512 r = acc[i][j];
      const __mmask16 m = j == NV - 1 ? last : __mmask16(0xFFFF);
      if (ep) {
        r = _mm512_mul_ps(r, _mm512_set1_ps(ep->alpha));
        if (const float* mr = ep->mask[i])
          r = _mm512_add_ps(r, ep->mask_vector ? _mm512_maskz_loadu_ps(m, mr + col0 + 16 * j) : _mm512_set1_ps(*mr));
      }
      _mm512_mask_storeu_ps(c + i * ldc + 16 * j, m, r);
    }
  }
}

// C[rows, cols] = A x B over column tiles of 32 (MR = rows <= kRowBlock); 6 x 64 or 8 x 48 tiles measured no faster.
template <int MR>
void product_rows(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t kdim, float* c, int64_t ldc,
                  int64_t cols, const Epilogue* ep) {
  int64_t j = 0;
  for (; j + 16 < cols; j += 32)
    tile<MR, 2>(a, lda, b + j, ldb, kdim, c + j, ldc, std::min<int64_t>(32, cols - j), ep, j);
  if (j < cols) tile<MR, 1>(a, lda, b + j, ldb, kdim, c + j, ldc, cols - j, ep, j);
}

using ProductFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*, int64_t, int64_t,
                           const Epilogue*);
template <size_t... I>
constexpr std::array<ProductFn, sizeof...(I)> product_table(std::index_sequence<I...>) {
  return {&product_rows<int(I) + 1>...};
}
constexpr auto kProducts = product_table(std::make_index_sequence<kRowBlock>());

// C[rows, cols] = A[rows, kdim] x B[kdim, cols] (+ the epilogue when `ep` is not null), rows in [1, kRowBlock].
void product_avx512(int64_t rows, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t kdim, float* c,
                    int64_t ldc, int64_t cols, const Epilogue* ep) {
  kProducts[size_t(rows - 1)](a, lda, b, ldb, kdim, c, ldc, cols, ep);
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

// The kernel.

enum class Impl : uint8_t { kAvx512, kSgemm };

class AttentionKernel final : public Kernel {
 public:
  AttentionKernel(const Attention& op, Impl impl, int threads) : op_(op), impl_(impl), threads_(threads) {}
  const char* name() const override { return impl_ == Impl::kAvx512 ? "cpu:attention_avx512" : "cpu:attention_sgemm"; }

  void run(KernelContext& ctx) const override {
    const Tensor& q = ctx.input(0);
    const Tensor& kt = ctx.input(1);
    const Tensor& v = ctx.input(2);
    const Tensor* mask = ctx.has_input(3) ? &ctx.input(3) : nullptr;
    Geometry g;
    const bool f32 = q.type() == ElementType::kF32 && kt.type() == ElementType::kF32 && v.type() == ElementType::kF32 &&
                     (!mask || mask->type() == ElementType::kF32);
    // Anything unusual (other types, shapes that do not chain, empty products) takes the reference kernel, which
    // also reports the errors.
    if (!f32) return op_.run(ctx);
    Tensor& y = ctx.output(0);
    if (!make_geometry(op_, q, kt, v, mask, y, &g) || g.K == 0 || g.N == 0) return op_.run(ctx);
    if (y.size() == 0) return;

    // Work units: (batch matrix, block of up to 4 row tiles), taken by the threads dynamically (a thread the OS
    // preempts delays the others less), in order so that consecutive units of a thread share Kt and V.
    const int64_t row_tiles = (g.M + kRowBlock - 1) / kRowBlock;
    const double work = double(g.batch.count) * double(g.M) * double(g.N) * double(g.K + g.D);
    int nt = work < 2e5 ? 1 : int(std::min<double>(threads_, work / 1e5));
    nt = std::max(1, nt);
    int64_t chunks = 1;
    if (nt > 1)
      chunks = std::min(row_tiles, std::max((row_tiles + 3) / 4, (4 * nt + g.batch.count - 1) / g.batch.count));
    const int64_t units = g.batch.count * chunks;
    nt = int(std::min<int64_t>(nt, units));

    // Per-thread scores tile, from the calling thread's scratch (allocated before the parallel region).
    const int64_t ld = (g.N + 15) / 16 * 16 + 16;  // padded against cache-set aliasing
    const int64_t tile_rows = impl_ == Impl::kAvx512 ? kRowBlock : kRowBlock * 4;
    const size_t per_thread = size_t(tile_rows * ld);
    float* scratch =
        static_cast<float*>(onednn::scratch(onednn::Slot::kScratchpad, per_thread * size_t(nt) * sizeof(float)));

    float alpha = 1.0f;
    switch (op_.scale_mode) {
      case Attention::Scale::kNone:
        break;
      case Attention::Scale::kMulScores:
      case Attention::Scale::kMulQ:
        alpha = op_.scale;
        break;
      case Attention::Scale::kDivScores:
      case Attention::Scale::kDivQ:
        alpha = 1.0f / op_.scale;
        break;
    }
    const Args args{.q = q.data<float>(),
                    .kt = kt.data<float>(),
                    .v = v.data<float>(),
                    .mask = mask ? mask->data<float>() : nullptr,
                    .y = y.data<float>(),
                    .alpha = alpha,
                    .g = &g,
                    .chunks = chunks,
                    .row_tiles = row_tiles,
                    .ld = ld};
    onednn::ThreadScope scope(impl_ == Impl::kSgemm ? nt : 0);  // SGEMM stays single-threaded inside the units
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      float* sc = scratch + per_thread * size_t(omp_get_thread_num());
#pragma omp for schedule(dynamic, 1)
      for (int64_t u = 0; u < units; ++u) run_unit(args, u, sc, tile_rows);
    }
  }

 private:
  struct Args {
    const float* q;
    const float* kt;
    const float* v;
    const float* mask;
    float* y;
    float alpha;
    const Geometry* g;
    int64_t chunks;     // units per batch matrix
    int64_t row_tiles;  // of kRowBlock rows per batch matrix
    int64_t ld;         // of the scores tile
  };

  void run_unit(const Args& a, int64_t unit, float* sc, int64_t tile_rows) const {
    const Geometry& g = *a.g;
    const int64_t bi = unit / a.chunks, c = unit % a.chunks;
    int64_t off[kOperands];
    g.batch.offsets(bi, off);
    const float* q = a.q + off[kQ];
    const float* kt = a.kt + off[kKt];
    const float* v = a.v + off[kV];
    const float* mask = a.mask ? a.mask + off[kMask] : nullptr;
    float* y = a.y + off[kY];
    const int64_t r_begin = std::min(g.M, a.row_tiles * c / a.chunks * kRowBlock);
    const int64_t r_end = std::min(g.M, a.row_tiles * (c + 1) / a.chunks * kRowBlock);
    const cpu::SimdKernels& simd = cpu::simd();
    for (int64_t r = r_begin; r < r_end; r += tile_rows) {
      const int64_t rows = std::min(tile_rows, r_end - r);
      if (impl_ == Impl::kAvx512) {
        Epilogue ep;
        ep.alpha = a.alpha;
        ep.mask_vector = g.mask_cols > 1;
        for (int64_t i = 0; i < rows && mask; ++i) ep.mask[i] = mask + (g.mask_rows == 1 ? 0 : r + i) * g.mask_cols;
        product_avx512(rows, q + r * g.ldq, g.ldq, kt, g.N, g.K, sc, a.ld, g.N, &ep);
      } else {
        dnnl_sgemm('N', 'N', rows, g.N, g.K, a.alpha, q + r * g.ldq, g.ldq, kt, g.N, 0.0f, sc, a.ld);
        for (int64_t i = 0; i < rows && mask; ++i) {
          const float* mr = mask + (g.mask_rows == 1 ? 0 : r + i) * g.mask_cols;
          float* row = sc + i * a.ld;
          if (g.mask_cols == 1)
            for (int64_t j = 0; j < g.N; ++j) row[j] += mr[0];
          else
            for (int64_t j = 0; j < g.N; ++j) row[j] += mr[j];
        }
      }
      for (int64_t i = 0; i < rows; ++i) simd.softmax_rows(SoftmaxMode::kSoftmax, sc + i * a.ld, sc + i * a.ld, 1, g.N);
      if (impl_ == Impl::kAvx512)
        product_avx512(rows, sc, a.ld, v, g.ldv, g.N, y + r * g.ldy, g.ldy, g.D, nullptr);
      else
        dnnl_sgemm('N', 'N', rows, g.D, g.N, 1.0f, sc, a.ld, v, g.ldv, 0.0f, y + r * g.ldy, g.ldy);
    }
  }

  const Attention& op_;
  Impl impl_;
  int threads_;
};

}  // namespace

std::unique_ptr<Kernel> make_cpu_attention(const Node& node, const CompileOptions& options) {
  const auto& op = static_cast<const Attention&>(*node.op);
  for (size_t i = 0; i < node.inputs.size() && i < 4; ++i)
    if (node.inputs[i] && node.inputs[i]->type.elem != ElementType::kF32) return nullptr;
  if (node.inputs.size() < 3) return nullptr;
  const bool heads_inner[3] = {op.q_heads_inner, false, op.v_heads_inner};
  for (size_t i = 0; i < 3; ++i) {
    const PartialShape& s = node.inputs[i]->type.shape;
    if (s.rank_known() && (s.rank() < (heads_inner[i] ? 3 : 2) || size_t(s.rank()) > kMaxRank + 2)) return nullptr;
  }
  const Impl impl = cpu::simd().isa == cpu::Isa::kAvx512 ? Impl::kAvx512 : Impl::kSgemm;
  return std::make_unique<AttentionKernel>(op, impl, cpu::max_threads(options));
}

}  // namespace celer
