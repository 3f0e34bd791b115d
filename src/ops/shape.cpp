// Shape: the input's dims as a 1-D int64 tensor, optionally the slice [start, end) of them (opset 15). When those dims
// are static at load time the output is a constant, so Reshape targets computed from Shape fold away.
#include <algorithm>
#include <optional>

#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class Shape final : public OpBase<Shape, OpKind::kShape> {
 public:
  int64_t start = 0;
  std::optional<int64_t> end;  // none: up to the rank

  const char* type_name() const override { return "Shape"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("start", start);
    visit_optional(v, "end", end);
  }

  // The range [first, last) of dims to report for an input of rank `rank` (negative values count from the back;
  // both are clamped to [0, rank]).
  std::pair<int64_t, int64_t> range(int64_t rank) const {
    auto clamp = [rank](int64_t v) {
      if (v < 0) v = v < -rank ? 0 : v + rank;
      return std::min(v, rank);
    };
    int64_t first = clamp(start);
    int64_t last = end ? clamp(*end) : rank;
    return {first, std::max(first, last)};
  }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    if (!in.rank_known()) {
      ctx.set_output(0, ElementType::kI64, PartialShape{Dim()});
      return;
    }
    auto [first, last] = range(in.rank());
    ctx.set_output(0, ElementType::kI64, PartialShape{Dim(last - first)});
    bool known = true;
    for (int64_t i = first; i < last; ++i) known = known && in[size_t(i)].is_static();
    if (!known) return;
    Tensor v(ElementType::kI64, {last - first});
    for (int64_t i = first; i < last; ++i) v.data<int64_t>()[i - first] = in[size_t(i)].value();
    ctx.set_output_value(0, std::move(v));
  }

  void run(KernelContext& ctx) const override {
    const Dims& dims = ctx.input(0).dims();
    auto [first, last] = range(int64_t(dims.size()));
    Tensor& out = ctx.output(0, ElementType::kI64, {last - first});
    for (int64_t i = first; i < last; ++i) out.data<int64_t>()[i - first] = dims[size_t(i)];
  }
};

namespace {
void import_shape(OnnxNode& n) {
  auto op = std::make_unique<Shape>();
  if (n.opset() >= 15) {
    op->start = n.attr_int("start", 0);
    if (n.has_attr("end")) op->end = n.attr_int("end");
  }
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Shape() { return std::make_unique<Shape>(); }

void register_op_Shape(OpRegistry& r) { r.add_onnx("Shape", 1, kMaxOpset, import_shape); }

}  // namespace celer
