// QuantizeLinear: y = saturate(round_half_even(x / y_scale) + y_zero_point), per tensor or per axis (opset 13).
// The output type is the zero point's (u8 when omitted).
#pragma once

#include "ops/op.hpp"

namespace celer {

class QuantizeLinear final : public OpBase<QuantizeLinear, OpKind::kQuantizeLinear> {
 public:
  int64_t axis = 1;
  bool per_axis_allowed = true;  // false for opset 10

  const char* type_name() const override { return "QuantizeLinear"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("axis", axis);
    v.on("per_axis_allowed", per_axis_allowed);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
};

}  // namespace celer
