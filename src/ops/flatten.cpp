// Flatten: a view of the input as a matrix [d_0 * ... * d_{axis-1}, d_axis * ... * d_{n-1}].
#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class Flatten final : public OpBase<Flatten, OpKind::kFlatten> {
 public:
  int64_t axis = 1;

  const char* type_name() const override { return "Flatten"; }
  void visit_attrs(AttrVisitor& v) override { v.on("axis", axis); }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    if (!in.rank_known()) {
      ctx.set_output(0, ctx.input_elem(0), PartialShape{Dim(), Dim()});
      return;
    }
    const int64_t rank = in.rank();
    CELER_CHECK(axis >= -rank && axis <= rank, kInvalidModel, "attribute 'axis' = ", axis, " is out of range for rank ",
                rank, " (must be in [", -rank, ", ", rank, "])");
    const size_t a = size_t(axis < 0 ? axis + rank : axis);
    ctx.set_output(
        0, ctx.input_elem(0),
        PartialShape{layout::product_of(in.dims(), 0, a), layout::product_of(in.dims(), a, in.dims().size())});
  }

  void run(KernelContext& ctx) const override {
    ctx.set_output(0, ctx.input(0).reshaped(ctx.inferred_type(0)->shape.to_dims()));
  }
};

namespace {
void import_flatten(OnnxNode& n) {
  auto op = std::make_unique<Flatten>();
  op->axis = n.attr_int("axis", 1);
  if (n.opset() < 11 && op->axis < 0) n.fail("attribute 'axis' = ", op->axis, " must not be negative before opset 11");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Flatten() { return std::make_unique<Flatten>(); }

void register_op_Flatten(OpRegistry& r) { r.add_onnx("Flatten", 1, kMaxOpset, import_flatten); }

}  // namespace celer
