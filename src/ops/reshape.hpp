// Reshape: same data, new shape. A 0 copies the input dim (unless allowzero), a -1 is inferred. Reshape-1 (the shape
// as an attribute) becomes a constant 'shape' input at import. Graph passes make Reshapes too (e.g. from Transposes
// that only move size-1 axes), hence this header.
#pragma once

#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/util.hpp"

namespace celer {

class Reshape final : public OpBase<Reshape, OpKind::kReshape> {
 public:
  bool allow_zero = false;

  const char* type_name() const override { return "Reshape"; }
  void visit_attrs(AttrVisitor& v) override { v.on("allow_zero", allow_zero); }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    const Tensor* shape_t = ctx.input_value(1);
    if (!shape_t) {
      const PartialShape& ss = ctx.input_shape(1);
      ctx.set_output(0, ctx.input_elem(0),
                     ss.rank_known() && ss.rank() == 1 && ss[0].is_static() ? PartialShape::unknown_dims(ss[0].value())
                                                                            : PartialShape());
      return;
    }
    CELER_CHECK(shape_t->rank() == 1, kInvalidModel, "the 'shape' input must be 1-D, got rank ", shape_t->rank());
    std::vector<int64_t> req = shape_t->to_int_vector();
    std::vector<Dim> out(req.size());
    std::vector<bool> copied(in.rank_known() ? in.dims().size() : 0, false);
    int infer_at = -1;
    int64_t rest = 1;  // product of the requested static dims
    bool rest_known = true;
    for (size_t i = 0; i < req.size(); ++i) {
      int64_t d = req[i];
      if (d == -1) {
        CELER_CHECK(infer_at < 0, kInvalidModel, "the 'shape' input ", dims_to_string(req), " has more than one -1");
        infer_at = int(i);
      } else if (d == 0 && !allow_zero) {
        if (!in.rank_known()) {
          rest_known = false;
          continue;
        }
        CELER_CHECK(i < in.dims().size(), kInvalidModel, "the 'shape' input ", dims_to_string(req), " copies dim ", i,
                    " of an input of shape ", in.to_string());
        out[i] = in[i];
        copied[i] = true;
      } else {
        CELER_CHECK(d >= 0, kInvalidModel, "the 'shape' input ", dims_to_string(req), " has a negative dim");
        out[i] = Dim(d);
        rest = layout::checked_mul(rest, d, "the 'shape' input");
      }
    }
    if (allow_zero && infer_at >= 0)
      for (int64_t d : req) CELER_CHECK(d != 0, kInvalidModel, "allowzero with both 0 and -1 in the shape");
    if (!in.rank_known()) {
      ctx.set_output(0, ctx.input_elem(0), PartialShape(std::move(out)));
      return;
    }
    // The input dims not copied by a 0: their product is what the requested static dims (and the -1) must hold.
    std::vector<Dim> remaining;
    for (size_t i = 0; i < in.dims().size(); ++i)
      if (!copied[i]) remaining.push_back(in[i]);
    Dim total = layout::product_of(remaining, 0, remaining.size());
    if (infer_at >= 0 && rest_known) {
      if (total.is_static()) {
        CELER_CHECK(rest != 0 && total.value() % rest == 0, kShapeMismatch, "cannot reshape ", in.to_string(), " to ",
                    dims_to_string(req));
        out[size_t(infer_at)] = Dim(total.value() / rest);
      } else {
        // One symbolic dim whose static companions equal the requested static dims: the -1 is that dim
        // ([N,3,4] -> [-1,12] gives [N,12]).
        int64_t static_part = 1;
        std::vector<const Dim*> symbolic;
        for (const Dim& d : remaining) {
          if (d.is_static()) {
            static_part = layout::checked_mul(static_part, d.value(), "element count");
          } else {
            symbolic.push_back(&d);
          }
        }
        if (symbolic.size() == 1 && static_part == rest) out[size_t(infer_at)] = *symbolic[0];
      }
    } else if (total.is_static() && rest_known) {
      CELER_CHECK(total.value() == rest, kShapeMismatch, "cannot reshape ", in.to_string(), " (", total.value(),
                  " elements outside copied dims) to ", dims_to_string(req), " (", rest, " elements)");
    }
    ctx.set_output(0, ctx.input_elem(0), PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const ValueType* t = ctx.inferred_type(0);
    ctx.set_output(0, ctx.input(0).reshaped(t->shape.to_dims()));
  }
};

}  // namespace celer
