// QLinearMatMul: quantized matmul, and the CPU device's canonical int8 matmul (fused by graph passes from
// DQ -> MatMul/Gemm -> Q, MatMulInteger, ...). acc = (a - a_zp) x (b - b_zp) + B in int32, v = acc * a_scale * b_scale
// in f32, v = post_ops(v) (as QLinearConv's: quantized Add/Mul operands carry their scale in PostOp::alpha and zero
// point in PostOp::beta), then y = saturate(round_half_even(v / y_scale) + y_zp), or y = v (f32) when `float_output`.
// a's parameters are per tensor or per row, b's per tensor or per column, y's per tensor. Inputs: a, a_scale,
// a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point (both absent when float_output), B (optional i32 [N],
// fused), then post-op operands (9, 10, ...).
#pragma once

#include "ops/op.hpp"
#include "ops/post_ops.hpp"

namespace celer {

class QLinearMatMul final : public OpBase<QLinearMatMul, OpKind::kQLinearMatMul> {
 public:
  PostOps post_ops;           // fused by graph passes; operands are inputs 9, 10, ...
  bool float_output = false;  // y = v (f32), inputs 6 and 7 absent

  const char* type_name() const override { return "QLinearMatMul"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_post_ops(v, post_ops);
    v.on("float_output", float_output);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;
};

}  // namespace celer
