// Reshape: same data, new shape. A 0 copies the input dim (unless allowzero), a -1 is inferred.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Reshape final : public OpBase<Reshape, OpKind::kReshape> {
 public:
  bool allow_zero = false;

  const char* type_name() const override { return "Reshape"; }

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
    int infer_at = -1;
    for (size_t i = 0; i < req.size(); ++i) {
      int64_t d = req[i];
      if (d == -1) {
        CELER_CHECK(infer_at < 0, kInvalidModel, "the 'shape' input ", dims_to_string(req), " has more than one -1");
        infer_at = int(i);
      } else if (d == 0 && !allow_zero) {
        CELER_CHECK(in.rank_known() && i < in.dims().size(), kInvalidModel, "the 'shape' input ", dims_to_string(req),
                    " copies dim ", i, " of an input of shape ", in.to_string());
        out[i] = in[i];
      } else {
        CELER_CHECK(d >= 0, kInvalidModel, "the 'shape' input ", dims_to_string(req), " has a negative dim");
        out[i] = Dim(d);
      }
    }
    if (allow_zero && infer_at >= 0)
      for (int64_t d : req) CELER_CHECK(d != 0, kInvalidModel, "allowzero with both 0 and -1 in the shape");
    Dim total = in.rank_known() ? dims_product(in.dims()) : Dim();
    if (infer_at >= 0) {
      std::vector<Dim> known;
      for (size_t i = 0; i < out.size(); ++i)
        if (int(i) != infer_at) known.push_back(out[i]);
      Dim rest = dims_product(known);
      if (total.is_static() && rest.is_static()) {
        CELER_CHECK(rest.value() != 0 && total.value() % rest.value() == 0, kShapeMismatch, "cannot reshape ",
                    in.to_string(), " to ", dims_to_string(req));
        out[size_t(infer_at)] = Dim(total.value() / rest.value());
      }
    } else {
      Dim count = dims_product(out);
      if (total.is_static() && count.is_static())
        CELER_CHECK(total.value() == count.value(), kShapeMismatch, "cannot reshape ", in.to_string(), " (",
                    total.value(), " elements) to ", PartialShape(out).to_string(), " (", count.value(), " elements)");
    }
    ctx.set_output(0, ctx.input_elem(0), PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const ValueType* t = ctx.inferred_type(0);
    ctx.set_output(0, ctx.input(0).reshaped(t->shape.to_dims()));
  }
};

namespace {
void import_reshape(OnnxNode& n) {
  auto op = std::make_unique<Reshape>();
  if (n.opset() < 5) n.unsupported("Reshape-1 (shape as an attribute) is not supported");
  op->allow_zero = n.attr_int("allowzero", 0) != 0;
  n.emit(std::move(op));
}
}  // namespace

void register_op_Reshape(OpRegistry& r) { r.add_onnx("Reshape", 5, kMaxOpset, import_reshape); }

}  // namespace celer
