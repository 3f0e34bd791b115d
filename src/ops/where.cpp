// Where: y = condition ? x : y, elementwise with numpy broadcasting over all three inputs (any element type).
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Where final : public OpBase<Where, OpKind::kWhere> {
 public:
  const char* type_name() const override { return "Where"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    ElementType c = ctx.input_elem(0), x = ctx.input_elem(1), y = ctx.input_elem(2);
    const ElementType none = ElementType::kUndefined;
    CELER_CHECK(c == none || c == ElementType::kBool, kInvalidModel, "input 'condition' must be bool, got ",
                element_type_name(c));
    CELER_CHECK(x == none || y == none || x == y, kInvalidModel, "inputs 'X' and 'Y' have different element types ",
                element_type_name(x), " and ", element_type_name(y));
    PartialShape s = broadcast_shapes(broadcast_shapes(ctx.input_shape(0), ctx.input_shape(1)), ctx.input_shape(2));
    ctx.set_output(0, x != none ? x : y, std::move(s));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& c = ctx.input(0);
    const Tensor& x = ctx.input(1);
    const Tensor& y = ctx.input(2);
    Tensor& out = ctx.output(0);
    const bool* pc = c.data<bool>();
    dispatch_all(x.type(), [&]<typename T>() {
      const T* px = x.data<T>();
      const T* py = y.data<T>();
      T* po = out.data<T>();
      for_each_broadcast(out.dims(), {c.dims(), x.dims(), y.dims()},
                         [&](int64_t i, const int64_t* off) { po[i] = pc[off[0]] ? px[off[1]] : py[off[2]]; });
    });
  }
};

namespace {
void import_where(OnnxNode& n) { n.emit(std::make_unique<Where>()); }
}  // namespace

std::unique_ptr<Op> make_op_Where() { return std::make_unique<Where>(); }

void register_op_Where(OpRegistry& r) { r.add_onnx("Where", 9, kMaxOpset, import_where); }

}  // namespace celer
