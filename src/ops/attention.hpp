// Attention: the scaled dot-product attention block softmax(scale(Q x Kt) + mask) x V as one op. Made by a graph pass
// from its decomposed form (MatMul, Mul or Div by a scalar, Add of a mask, Softmax, MatMul); it has no ONNX mapping.
// Inputs: Q [..., M, K], Kt [..., K, N] (K already transposed), V [..., N, D], optional mask broadcast onto the scores
// [..., M, N]; batch dims broadcast like MatMul. Output [..., M, D].
// Q, V and the output may be stored "heads inner": with their last batch axis and their row axis swapped (Q as
// [..., M, H, K] for the logical [..., H, M, K]), the layout multi-head attention's Reshape leaves before its
// Transpose(0, 2, 1, 3) (or (1, 0, 2) on rank 3); the pass folds those Transposes into the op that way.
#pragma once

#include "ops/op.hpp"

namespace celer {

class Attention final : public OpBase<Attention, OpKind::kAttention> {
 public:
  // Where the scale applies and how: the decomposed graphs scale either Q (before Q x Kt) or the scores, by a
  // multiplication or a division (kept as written so the fused op rounds like the pattern it replaces).
  enum class Scale : uint8_t { kNone, kMulScores, kDivScores, kMulQ, kDivQ };
  Scale scale_mode = Scale::kNone;
  float scale = 1.0f;
  bool q_heads_inner = false, v_heads_inner = false, y_heads_inner = false;  // needs rank >= 3

  const char* type_name() const override { return "Attention"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "scale_mode", scale_mode, Scale::kDivQ);
    v.on("scale", scale);
    v.on("q_heads_inner", q_heads_inner);
    v.on("v_heads_inner", v_heads_inner);
    v.on("y_heads_inner", y_heads_inner);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;
};

}  // namespace celer
