// Expand: broadcasts the input against the dims of input 'shape' (numpy rules, in both directions: a 1 in 'shape'
// keeps the input's dim).
#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Expand final : public OpBase<Expand, OpKind::kExpand> {
 public:
  const char* type_name() const override { return "Expand"; }
  void visit_attrs(AttrVisitor&) override {}

  static Dims requested(const Tensor& shape) {
    CELER_CHECK(shape.rank() == 1, kInvalidModel, "input 'shape' must be 1-D, got rank ", shape.rank());
    Dims d = shape.to_int_vector();
    for (int64_t v : d)
      CELER_CHECK(v >= 0, kInvalidModel, "input 'shape' = ", dims_to_string(d), " has a negative dim");
    return d;
  }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    const ElementType elem = ctx.input_elem(0);
    if (const Tensor* shape = ctx.input_value(1)) {
      return ctx.set_output(0, elem, broadcast_shapes(in, PartialShape::of(requested(*shape))));
    }
    const PartialShape& ss = ctx.input_shape(1);
    if (ss.rank() == 1 && ss[0].is_static()) {
      return ctx.set_output(0, elem, broadcast_shapes(in, PartialShape::unknown_dims(ss[0].value())));
    }
    ctx.set_output(0, elem, PartialShape());
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Dims out_dims = broadcast_dims(in.dims(), requested(ctx.input(1)));
    Tensor& out = ctx.output(0, in.type(), out_dims);
    if (out.size() == 0) return;
    Dims strides = broadcast_strides(in.dims(), out_dims);
    std::vector<std::vector<int64_t>> tables(out_dims.size());
    for (size_t k = 0; k < out_dims.size(); ++k)
      for (int64_t o = 0; o < out_dims[k]; ++o) tables[k].push_back(o * strides[k]);
    layout::gather_axes(in, out, tables);
  }
};

namespace {
void import_expand(OnnxNode& n) { n.emit(std::make_unique<Expand>()); }
}  // namespace

std::unique_ptr<Op> make_op_Expand() { return std::make_unique<Expand>(); }

void register_op_Expand(OpRegistry& r) { r.add_onnx("Expand", 8, kMaxOpset, import_expand); }

}  // namespace celer
