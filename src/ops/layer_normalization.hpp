// LayerNormalization: normalises X over the axes [axis, rank): Y = (X - mean) * inv_std_dev * Scale + B, with
// inv_std_dev = 1 / sqrt(var + epsilon). Scale and B broadcast to X.shape[axis:]. Optional outputs Mean and InvStdDev
// have shape X.shape[:axis] followed by 1s, in the stash type (float by default). Visible to the CPU device's kernel.
#pragma once

#include "ops/op.hpp"

namespace celer {

class LayerNormalization final : public OpBase<LayerNormalization, OpKind::kLayerNormalization> {
 public:
  int64_t axis = -1;
  float epsilon = 1e-5f;
  ElementType stash = ElementType::kF32;

  const char* type_name() const override { return "LayerNormalization"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("axis", axis);
    v.on("epsilon", epsilon);
    visit_enum(v, "stash", stash, ElementType::kString);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
};

}  // namespace celer
