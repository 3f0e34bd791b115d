// Concat: joins tensors of the same rank along one axis; all other dims must match. Empty inputs are allowed. The class
// is in a header so that graph passes and kernels can read the axis (e.g. a channel Concat fused into the Eltwise chain
// that reads it).
#pragma once

#include "ops/op.hpp"

namespace celer {

class Concat final : public OpBase<Concat, OpKind::kConcat> {
 public:
  int64_t axis = 0;

  const char* type_name() const override { return "Concat"; }
  void visit_attrs(AttrVisitor& v) override { v.on("axis", axis); }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
};

}  // namespace celer
