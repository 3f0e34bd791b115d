// Squeeze: a view without the given size-1 dims (input 'axes'; the attribute of opsets < 13 becomes that input at
// import). Without axes (or with none), every size-1 dim goes.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Squeeze final : public OpBase<Squeeze, OpKind::kSqueeze> {
 public:
  const char* type_name() const override { return "Squeeze"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    const ElementType elem = ctx.input_elem(0);
    // An empty 'axes' tensor is read like no axes (as other runtimes do).
    if (!ctx.has_input(1) || (ctx.input_value(1) && ctx.input_value(1)->size() == 0)) {
      // Without axes, a dim that may or may not be 1 at run time leaves the output rank unknown.
      if (!in.rank_known()) return ctx.set_output(0, elem, PartialShape());
      std::vector<Dim> out;
      for (const Dim& d : in.dims()) {
        if (!d.is_static()) return ctx.set_output(0, elem, PartialShape());
        if (d.value() != 1) out.push_back(d);
      }
      return ctx.set_output(0, elem, PartialShape(std::move(out)));
    }
    const Tensor* axes_t = ctx.input_value(1);
    if (!axes_t) {
      const PartialShape& as = ctx.input_shape(1);
      if (in.rank_known() && as.rank() == 1 && as[0].is_static() && as[0].value() <= in.rank())
        return ctx.set_output(0, elem, PartialShape::unknown_dims(in.rank() - as[0].value()));
      return ctx.set_output(0, elem, PartialShape());
    }
    CELER_CHECK(axes_t->rank() <= 1, kInvalidModel, "input 'axes' must be 1-D, got rank ", axes_t->rank());
    if (!in.rank_known()) {
      return ctx.set_output(0, elem, PartialShape());
    }
    std::vector<int64_t> axes = normalize_axes(axes_t->to_int_vector(), in.rank(), "input 'axes'");
    std::vector<bool> drop(size_t(in.rank()), false);
    for (int64_t a : axes) {
      const Dim& d = in[size_t(a)];
      CELER_CHECK(!d.is_static() || d.value() == 1, kShapeMismatch, "input 'axes' selects dim ", a, " of shape ",
                  in.to_string(), ", which is not 1");
      drop[size_t(a)] = true;
    }
    std::vector<Dim> out;
    for (size_t i = 0; i < drop.size(); ++i)
      if (!drop[i]) out.push_back(in[i]);
    ctx.set_output(0, elem, PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    ctx.set_output(0, ctx.input(0).reshaped(ctx.inferred_type(0)->shape.to_dims()));
  }
};

namespace {
void import_squeeze(OnnxNode& n) {
  if (n.opset() >= 13 || !n.has_attr("axes")) {
    if (n.opset() < 13 && n.num_inputs() > 1 && n.input(1)) n.fail("takes one input before opset 13");
    n.emit(std::make_unique<Squeeze>());
    return;
  }
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (n.opset() < 11)
    for (int64_t a : axes)
      if (a < 0) n.fail("attribute 'axes' has the negative axis ", a, ", allowed from opset 11");
  Value* axes_v = n.constant(Tensor::from_vector(axes, {int64_t(axes.size())}));
  n.emit(std::make_unique<Squeeze>(), {n.input(0), axes_v}, {n.output(0)});
}
}  // namespace

std::unique_ptr<Op> make_op_Squeeze() { return std::make_unique<Squeeze>(); }

void register_op_Squeeze(OpRegistry& r) { r.add_onnx("Squeeze", 1, kMaxOpset, import_squeeze); }

}  // namespace celer
