// Softmax: Softmax, LogSoftmax and Hardmax along one axis (or, before opset 13, over the input coerced to 2-D).
#pragma once

#include "ops/op.hpp"

namespace celer {

enum class SoftmaxMode : uint8_t { kSoftmax, kLogSoftmax, kHardmax };

const char* softmax_mode_name(SoftmaxMode m);

class Softmax final : public OpBase<Softmax, OpKind::kSoftmax> {
 public:
  SoftmaxMode mode = SoftmaxMode::kSoftmax;
  int64_t axis = -1;
  // Opsets < 13: the input is viewed as 2-D [prod(dims[:axis]), prod(dims[axis:])] and the op works along the rows.
  bool coerce_2d = false;

  const char* type_name() const override { return softmax_mode_name(mode); }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "mode", mode, SoftmaxMode::kHardmax);
    v.on("axis", axis);
    v.on("coerce_2d", coerce_2d);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;
};

}  // namespace celer
