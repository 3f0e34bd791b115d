// QLinearConv: quantized convolution, and the CPU device's canonical int8 convolution (fused by graph passes from
// DQ -> Conv -> Q, ConvInteger, ...). acc = conv(x - x_zp, w - w_zp) + B in int32, v = acc * x_scale * w_scale[m] in
// f32, v = post_ops(v) (activations; Add/Mul operands that are f32, or u8/i8 ones dequantized with the operand's
// scale (PostOp::alpha) and zero point (PostOp::beta)), then y = saturate(round_half_even(v / y_scale) + y_zp), or
// y = v (f32) when `float_output`. Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point
// (both absent when float_output), B (optional i32 [M]), then post-op operands (9, 10, ...).
#pragma once

#include "ops/conv.hpp"
#include "ops/post_ops.hpp"

namespace celer {

class QLinearConv final : public OpBase<QLinearConv, OpKind::kQLinearConv> {
 public:
  WindowAttrs window;
  int64_t group = 1;
  PostOps post_ops;           // fused by graph passes; operands are inputs 9, 10, ...
  bool float_output = false;  // y = v (f32), inputs 6 and 7 absent

  const char* type_name() const override { return "QLinearConv"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_window(v, window);
    v.on("group", group);
    visit_post_ops(v, post_ops);
    v.on("float_output", float_output);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;
};

}  // namespace celer
