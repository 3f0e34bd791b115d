// Clip (class shared with graph passes, which fuse constant bounds into post-ops).
#pragma once

#include <algorithm>
#include <limits>
#include <optional>

#include "core/dispatch.hpp"
#include "ops/op.hpp"
#include "ops/util.hpp"

namespace celer {

class Clip final : public OpBase<Clip, OpKind::kClip> {
 public:
  Clip() = default;  // for make_op
  Clip(std::optional<float> lo, std::optional<float> hi) : min_attr(lo), max_attr(hi) {}
  std::optional<float> min_attr;  // opset < 11 only
  std::optional<float> max_attr;

  const char* type_name() const override { return "Clip"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_optional(v, "min", min_attr);
    visit_optional(v, "max", max_attr);
  }

  void infer(InferContext& ctx) const override {
    ElementType t = ctx.input_elem(0);
    CELER_CHECK(t == ElementType::kUndefined || is_float(t) || is_integer(t), kInvalidModel,
                "Clip does not accept element type ", element_type_name(t));
    static const char* const kNames[] = {"", "min", "max"};
    for (size_t i = 1; i <= 2; ++i) {
      if (!ctx.has_input(i)) continue;
      ElementType b = ctx.input_elem(i);
      CELER_CHECK(t == ElementType::kUndefined || b == ElementType::kUndefined || b == t, kInvalidModel, "input '",
                  kNames[i], "' has element type ", element_type_name(b), ", expected ", element_type_name(t));
      const PartialShape& s = ctx.input_shape(i);
      bool one = !s.rank_known() || s.rank() == 0 || (s.rank() == 1 && !(s[0].is_static() && s[0].value() != 1));
      CELER_CHECK(one, kInvalidModel, "input '", kNames[i], "' must be a scalar, got shape ", s.to_string());
    }
    ctx.set_output(0, t, ctx.input_shape(0));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    dispatch_numeric(x.type(), [&]<typename T>() {
      if constexpr (std::is_same_v<T, bool>) {
        CELER_THROW(kInvalidArgument, "Clip of bool inputs");
      } else {
        using C =
            std::conditional_t<std::is_integral_v<T>, T, std::conditional_t<std::is_same_v<T, double>, double, float>>;
        C lo = std::numeric_limits<C>::lowest(), hi = std::numeric_limits<C>::max();
        auto bound = [&](size_t i, const std::optional<float>& attr, C& out) {
          if (ctx.has_input(i)) {
            const Tensor& b = ctx.input(i);
            CELER_CHECK(b.size() == 1, kInvalidArgument, "input ", i == 1 ? "'min'" : "'max'",
                        " must hold one value, got shape ", dims_to_string(b.dims()));
            out = C(b.data<T>()[0]);
          } else if (attr) {
            out = numeric_cast<C>(*attr);
          }
        };
        bound(1, min_attr, lo);
        bound(2, max_attr, hi);
        const T* px = x.data<T>();
        T* py = y.data<T>();
        for (int64_t i = 0; i < x.size(); ++i) py[i] = T(std::min(std::max(C(px[i]), lo), hi));
      }
    });
  }

  double flops(const Node& node) const override {
    const auto& s = node.outputs[0]->type.shape;
    return s.is_static() ? double(element_count(s.to_dims())) : 0.0;
  }
};

}  // namespace celer
