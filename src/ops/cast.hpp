// Cast: converts the element type (all types, string included). Visible to other imports that need a conversion
// (e.g. Mean's divisor, CastLike).
#pragma once

#include "ops/op.hpp"

namespace celer {

class Cast final : public OpBase<Cast, OpKind::kCast> {
 public:
  Cast() : Cast(ElementType::kUndefined) {}  // for make_op
  explicit Cast(ElementType t, bool l = false) : to(t), like(l) {}
  // A CastLike whose target was unknown at import: converts input 0 to the element type of input 1.
  static std::unique_ptr<Cast> like_input1() { return std::make_unique<Cast>(ElementType::kUndefined, true); }
  ElementType to;  // the target (kUndefined when `like`)
  bool like;       // the target is input 1's element type

  const char* type_name() const override { return like ? "CastLike" : "Cast"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "to", to, ElementType::kString);
    v.on("like", like);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
};

// Converts every element of `in` to `to` (the rules of ONNX Cast); returns a new tensor of the same shape.
Tensor cast_tensor(const Tensor& in, ElementType to);

}  // namespace celer
