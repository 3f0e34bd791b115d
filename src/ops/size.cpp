// Size: the input's element count as an int64 scalar; a constant at load time when the input shape is static.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class Size final : public OpBase<Size, OpKind::kSize> {
 public:
  const char* type_name() const override { return "Size"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    ctx.set_output(0, ElementType::kI64, PartialShape(std::vector<Dim>{}));
    if (in.is_static()) ctx.set_output_value(0, Tensor::scalar<int64_t>(element_count(in.to_dims())));
  }

  void run(KernelContext& ctx) const override {
    ctx.output(0, ElementType::kI64, {}).data<int64_t>()[0] = ctx.input(0).size();
  }
};

namespace {
void import_size(OnnxNode& n) { n.emit(std::make_unique<Size>()); }
}  // namespace

std::unique_ptr<Op> make_op_Size() { return std::make_unique<Size>(); }

void register_op_Size(OpRegistry& r) { r.add_onnx("Size", 1, kMaxOpset, import_size); }

}  // namespace celer
