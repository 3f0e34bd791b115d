// Unsqueeze: a view with size-1 dims inserted at the given axes, which index the OUTPUT shape (input 'axes'; the
// attribute of opsets < 13 becomes that input at import).
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Unsqueeze final : public OpBase<Unsqueeze, OpKind::kUnsqueeze> {
 public:
  const char* type_name() const override { return "Unsqueeze"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    const ElementType elem = ctx.input_elem(0);
    const Tensor* axes_t = ctx.input_value(1);
    if (!axes_t) {
      const PartialShape& as = ctx.input_shape(1);
      if (in.rank_known() && as.rank() == 1 && as[0].is_static())
        return ctx.set_output(0, elem, PartialShape::unknown_dims(in.rank() + as[0].value()));
      return ctx.set_output(0, elem, PartialShape());
    }
    CELER_CHECK(axes_t->rank() <= 1, kInvalidModel, "input 'axes' must be 1-D, got rank ", axes_t->rank());
    if (!in.rank_known()) return ctx.set_output(0, elem, PartialShape());
    const int64_t out_rank = in.rank() + axes_t->size();
    std::vector<int64_t> axes = normalize_axes(axes_t->to_int_vector(), out_rank, "input 'axes'");
    std::vector<bool> inserted(size_t(out_rank), false);
    for (int64_t a : axes) inserted[size_t(a)] = true;
    std::vector<Dim> out;
    size_t next = 0;
    for (size_t i = 0; i < inserted.size(); ++i) out.push_back(inserted[i] ? Dim(1) : in[next++]);
    ctx.set_output(0, elem, PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    ctx.set_output(0, ctx.input(0).reshaped(ctx.inferred_type(0)->shape.to_dims()));
  }
};

namespace {
void import_unsqueeze(OnnxNode& n) {
  if (n.opset() >= 13) {
    if (!n.input(1)) n.fail("input 'axes' is required");
    n.emit(std::make_unique<Unsqueeze>());
    return;
  }
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (n.opset() < 11)
    for (int64_t a : axes)
      if (a < 0) n.fail("attribute 'axes' has the negative axis ", a, ", allowed from opset 11");
  Value* axes_v = n.constant(Tensor::from_vector(axes, {int64_t(axes.size())}));
  n.emit(std::make_unique<Unsqueeze>(), {n.input(0), axes_v}, {n.output(0)});
}
}  // namespace

std::unique_ptr<Op> make_op_Unsqueeze() { return std::make_unique<Unsqueeze>(); }

void register_op_Unsqueeze(OpRegistry& r) { r.add_onnx("Unsqueeze", 1, kMaxOpset, import_unsqueeze); }

}  // namespace celer
