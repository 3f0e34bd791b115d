// Gemm: Y = alpha * A' * B' + beta * C, with A' = transpose(A) if trans_a (same for B) and C (optional) broadcast to
// [M, N].
#pragma once

#include "ops/op.hpp"
#include "ops/post_ops.hpp"

namespace celer {

class Gemm final : public OpBase<Gemm, OpKind::kGemm> {
 public:
  float alpha = 1.0f;
  float beta = 1.0f;
  bool trans_a = false;
  bool trans_b = false;
  PostOps post_ops;  // fused by graph passes; their operands are inputs 3, 4, ...

  const char* type_name() const override { return "Gemm"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("alpha", alpha);
    v.on("beta", beta);
    v.on("trans_a", trans_a);
    v.on("trans_b", trans_b);
    visit_post_ops(v, post_ops);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  void run_unfused(KernelContext& ctx) const;  // without post-ops
  double flops(const Node& node) const override;
};

}  // namespace celer
