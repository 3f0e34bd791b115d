// DequantizeLinear: y = (x - x_zero_point) * x_scale, per tensor or per axis (opset 13). x is u8, i8 or i32 (an i32
// input has no zero point, or a zero one); the output has the scale's float type.
#pragma once

#include "ops/op.hpp"

namespace celer {

class DequantizeLinear final : public OpBase<DequantizeLinear, OpKind::kDequantizeLinear> {
 public:
  int64_t axis = 1;
  bool per_axis_allowed = true;  // false for opset 10

  const char* type_name() const override { return "DequantizeLinear"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("axis", axis);
    v.on("per_axis_allowed", per_axis_allowed);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;

 private:
  static void check_i32_zero(const Tensor& z);
};

}  // namespace celer
