// Compress: keeps the slices along `axis` whose entry in the 1-D bool `condition` is true (the whole input flattened
// when there is no axis). The condition may be shorter than the axis: missing entries count as false. The output
// size along the axis depends on the data.
#include <optional>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Compress final : public OpBase<Compress, OpKind::kCompress> {
 public:
  std::optional<int64_t> axis;

  const char* type_name() const override { return "Compress"; }
  void visit_attrs(AttrVisitor& v) override { visit_optional(v, "axis", axis); }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(ctx.input_elem(1) == ElementType::kBool, kInvalidModel, "input 'condition' must be bool, got ",
                element_type_name(ctx.input_elem(1)));
    const PartialShape& in = ctx.input_shape(0);
    const PartialShape& cond = ctx.input_shape(1);
    if (cond.rank_known())
      CELER_CHECK(cond.rank() == 1, kShapeMismatch, "input 'condition' must be 1-D, got ", cond.to_string());
    // The kept count when the condition is known (and not longer than the axis).
    Dim kept;
    if (const Tensor* c = ctx.input_value(1)) {
      int64_t count = 0;
      for (int64_t i = 0; i < c->size(); ++i) count += c->data<bool>()[i] ? 1 : 0;
      kept = Dim(count);
    }
    if (!axis) {
      ctx.set_output(0, ctx.input_elem(0), PartialShape({kept}));
      return;
    }
    if (!in.rank_known()) {
      ctx.set_output(0, ctx.input_elem(0), PartialShape::unknown_rank());
      return;
    }
    CELER_CHECK(in.rank() >= 1, kInvalidModel, "attribute 'axis' is set but the input is a scalar");
    const size_t ax = size_t(normalize_axis(*axis, in.rank()));
    std::vector<Dim> out = in.dims();
    out[ax] = kept;
    ctx.set_output(0, ctx.input_elem(0), PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const Tensor& cond = ctx.input(1);
    const bool* c = cond.data<bool>();
    Dims dims = axis ? in.dims() : Dims{in.size()};
    const size_t ax = axis ? size_t(normalize_axis(*axis, in.rank())) : 0;
    const int64_t outer = dims_range_product(dims, 0, ax);
    const int64_t n = dims[ax];
    const int64_t inner = dims_range_product(dims, ax + 1, dims.size());
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < cond.size(); ++i) {
      if (!c[i]) continue;
      CELER_CHECK(i < n, kOutOfRange, "input 'condition' selects index ", i, " but the ",
                  axis ? "axis" : "flattened input", " has size ", n);
      keep.push_back(i);
    }
    dims[ax] = int64_t(keep.size());
    Tensor& out = ctx.output(0, in.type(), dims);
    const int64_t m = int64_t(keep.size());
    dispatch_all(in.type(), [&]<typename T>() {
      const T* src = in.data<T>();
      T* dst = out.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < m; ++j)
          for (int64_t i = 0; i < inner; ++i) dst[(o * m + j) * inner + i] = src[(o * n + keep[size_t(j)]) * inner + i];
    });
  }
};

namespace {
void import_compress(OnnxNode& n) {
  auto op = std::make_unique<Compress>();
  if (n.has_attr("axis")) op->axis = n.attr_int("axis");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Compress() { return std::make_unique<Compress>(); }

void register_op_Compress(OpRegistry& r) { r.add_onnx("Compress", 9, kMaxOpset, import_compress); }

}  // namespace celer
