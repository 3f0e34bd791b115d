// OneHot: a new axis of size `depth` where position indices[...] holds values[1] (on) and every other position
// values[0] (off). Negative indices count from the end (index + depth); indices outside [-depth, depth) give an
// all-off row.
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class OneHot final : public OpBase<OneHot, OpKind::kOneHot> {
 public:
  int64_t axis = -1;

  const char* type_name() const override { return "OneHot"; }
  void visit_attrs(AttrVisitor& v) override { v.on("axis", axis); }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(ctx.input_elem(0) != ElementType::kString && ctx.input_elem(0) != ElementType::kBool, kInvalidModel,
                "input 'indices' must be numeric, got ", element_type_name(ctx.input_elem(0)));
    CELER_CHECK(ctx.input_elem(1) != ElementType::kString && ctx.input_elem(1) != ElementType::kBool, kInvalidModel,
                "input 'depth' must be numeric, got ", element_type_name(ctx.input_elem(1)));
    const PartialShape& values = ctx.input_shape(2);
    if (values.rank_known()) {
      CELER_CHECK(values.rank() == 1 && (!values[0].is_static() || values[0].value() == 2), kShapeMismatch,
                  "input 'values' must have shape [2] (off, on), got ", values.to_string());
    }
    Dim depth;
    if (const Tensor* d = ctx.input_value(1)) depth = Dim(read_depth(*d));
    const PartialShape& in = ctx.input_shape(0);
    if (!in.rank_known()) {
      ctx.set_output(0, ctx.input_elem(2), PartialShape::unknown_rank());
      return;
    }
    const size_t ax = size_t(normalize_axis_inclusive(axis, in.rank()));
    std::vector<Dim> out = in.dims();
    out.insert(out.begin() + ptrdiff_t(ax), depth);
    ctx.set_output(0, ctx.input_elem(2), PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& indices = ctx.input(0);
    const int64_t depth = read_depth(ctx.input(1));
    const Tensor& values = ctx.input(2);
    CELER_CHECK(values.size() == 2, kShapeMismatch, "input 'values' must have 2 elements (off, on)");
    const size_t ax = size_t(normalize_axis_inclusive(axis, indices.rank()));
    const int64_t outer = dims_range_product(indices.dims(), 0, ax);
    const int64_t inner = dims_range_product(indices.dims(), ax, indices.dims().size());
    // Each index as a position in [0, depth), or -1 for an all-off row.
    std::vector<int64_t> pos(size_t(indices.size()));
    dispatch_numeric(indices.type(), [&]<typename T>() {
      const T* p = indices.data<T>();
      for (size_t i = 0; i < pos.size(); ++i) {
        int64_t v;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, uint64_t>) {
          v = int64_t(p[i]);
        } else {
          v = float_to_index(double(p[i]), depth);  // NaN and huge values land outside the range
        }
        if (v < 0) v += depth;
        pos[i] = v >= 0 && v < depth ? v : -1;
      }
    });
    Tensor& out = ctx.output(0);
    dispatch_all(values.type(), [&]<typename T>() {
      const T off = values.data<T>()[0], on = values.data<T>()[1];
      T* o = out.data<T>();
      for (int64_t a = 0; a < outer; ++a)
        for (int64_t d = 0; d < depth; ++d)
          for (int64_t b = 0; b < inner; ++b)
            o[(a * depth + d) * inner + b] = pos[size_t(a * inner + b)] == d ? on : off;
    });
  }

 private:
  static int64_t read_depth(const Tensor& t) {
    const int64_t d = scalar_int_input(t, "input 'depth'");
    CELER_CHECK(d >= 1, kInvalidArgument, "input 'depth' = ", d, " must be positive");
    return d;
  }
};

namespace {
void import_one_hot(OnnxNode& n) {
  auto op = std::make_unique<OneHot>();
  op->axis = n.attr_int("axis", -1);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_OneHot() { return std::make_unique<OneHot>(); }

void register_op_OneHot(OpRegistry& r) { r.add_onnx("OneHot", 9, kMaxOpset, import_one_hot); }

}  // namespace celer
