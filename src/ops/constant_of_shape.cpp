// ConstantOfShape: a tensor of the dims given by the input, every element set to the one-element 'value' attribute
// (float 0 by default). Its output is never computed at inference time: the generic folding checks the size limit.
#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class ConstantOfShape final : public OpBase<ConstantOfShape, OpKind::kConstantOfShape> {
 public:
  ConstantOfShape() = default;  // for make_op
  explicit ConstantOfShape(Tensor v) : value(std::move(v)) {}
  Tensor value;  // one element; its type is the output's

  const char* type_name() const override { return "ConstantOfShape"; }
  void visit_attrs(AttrVisitor& v) override { v.on("value", value); }

  static Dims requested(const Tensor& shape) {
    CELER_CHECK(shape.rank() == 1, kInvalidModel, "input 'input' (the shape) must be 1-D, got rank ", shape.rank());
    Dims d = shape.to_int_vector();
    for (int64_t v : d)
      CELER_CHECK(v >= 0, kInvalidModel, "input 'input' = ", dims_to_string(d), " has a negative dim");
    return d;
  }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(ctx.input_elem(0) == ElementType::kI64, kInvalidModel, "input 'input' must be int64, got ",
                element_type_name(ctx.input_elem(0)));
    if (const Tensor* shape = ctx.input_value(0)) {
      return ctx.set_output(0, value.type(), PartialShape::of(requested(*shape)));
    }
    const PartialShape& ss = ctx.input_shape(0);
    ctx.set_output(0, value.type(),
                   ss.rank() == 1 && ss[0].is_static() ? PartialShape::unknown_dims(ss[0].value()) : PartialShape());
  }

  void run(KernelContext& ctx) const override {
    Tensor& out = ctx.output(0, value.type(), requested(ctx.input(0)));
    layout::dispatch_storage(value.type(), [&]<typename S>() {
      const S v = static_cast<const S*>(value.raw())[0];
      S* p = static_cast<S*>(out.raw());
      for (int64_t i = 0; i < out.size(); ++i) p[i] = v;
    });
  }
};

namespace {
void import_constant_of_shape(OnnxNode& n) {
  Tensor v;
  if (n.has_attr("value")) {
    v = n.attr_tensor("value");
    if (v.size() != 1) n.fail("attribute 'value' must hold exactly one element, got shape ", dims_to_string(v.dims()));
    if (v.type() == ElementType::kString) n.fail("attribute 'value' must not be a string tensor");
    v = v.reshaped({1});
  } else {
    v = Tensor(ElementType::kF32, {1});
  }
  n.emit(std::make_unique<ConstantOfShape>(std::move(v)));
}
}  // namespace

std::unique_ptr<Op> make_op_ConstantOfShape() { return std::make_unique<ConstantOfShape>(); }

void register_op_ConstantOfShape(OpRegistry& r) {
  r.add_onnx("ConstantOfShape", 9, kMaxOpset, import_constant_of_shape);
}

}  // namespace celer
