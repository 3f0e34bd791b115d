// MatMul: numpy matmul (1-D operands promoted and squeezed back, batch dims broadcast); and the small row-major
// matrix-product loop shared with Gemm and Einsum.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "celer/element_type.hpp"
#include "ops/op.hpp"
#include "ops/post_ops.hpp"

namespace celer {

class MatMul final : public OpBase<MatMul, OpKind::kMatMul> {
 public:
  PostOps post_ops;  // fused by graph passes; their operands are inputs 2, 3, ...

  const char* type_name() const override { return "MatMul"; }
  void visit_attrs(AttrVisitor& v) override { visit_post_ops(v, post_ops); }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  void run_unfused(KernelContext& ctx) const;  // without post-ops
  double flops(const Node& node) const override;
};

// Accumulator type of products of T: float for f16/bf16/f32, double for f64, uint64 (wrapping) for integers.
template <typename T>
using matmul_acc_t =
    std::conditional_t<std::is_same_v<T, double>, double, std::conditional_t<std::is_integral_v<T>, uint64_t, float>>;

// c[M, N] += a[M, K] * b[K, N] (row major with leading dims), i-k-j order: the inner loop runs contiguously over a
// row of b and c. Four rows of c share each row of b, which keeps b's traffic down for large matrices.
template <typename A>
void matmul_accumulate(int64_t M, int64_t N, int64_t K, const A* a, int64_t lda, const A* b, int64_t ldb, A* c,
                       int64_t ldc) {
  int64_t i = 0;
  for (; i + 4 <= M; i += 4) {
    A* c0 = c + i * ldc;
    A* c1 = c0 + ldc;
    A* c2 = c1 + ldc;
    A* c3 = c2 + ldc;
    const A* a0 = a + i * lda;
    for (int64_t k = 0; k < K; ++k) {
      const A v0 = a0[k], v1 = a0[lda + k], v2 = a0[2 * lda + k], v3 = a0[3 * lda + k];
      const A* br = b + k * ldb;
      for (int64_t j = 0; j < N; ++j) {
        const A bv = br[j];
        c0[j] += v0 * bv;
        c1[j] += v1 * bv;
        c2[j] += v2 * bv;
        c3[j] += v3 * bv;
      }
    }
  }
  for (; i < M; ++i) {
    A* cr = c + i * ldc;
    for (int64_t k = 0; k < K; ++k) {
      const A av = a[i * lda + k];
      const A* br = b + k * ldb;
      for (int64_t j = 0; j < N; ++j) cr[j] += av * br[j];
    }
  }
}

}  // namespace celer
