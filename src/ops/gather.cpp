// Gather: slices of `data` along `axis` at the positions `indices` gives (negative indices count from the end).
// Output shape: data.shape[:axis] + indices.shape + data.shape[axis+1:].
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Gather final : public OpBase<Gather, OpKind::kGather> {
 public:
  int64_t axis = 0;

  const char* type_name() const override { return "Gather"; }
  void visit_attrs(AttrVisitor& v) override { v.on("axis", axis); }

  void infer(InferContext& ctx) const override {
    check_index_type(ctx.input_elem(1), "input 'indices'");
    const PartialShape& data = ctx.input_shape(0);
    const PartialShape& idx = ctx.input_shape(1);
    if (!data.rank_known() || !idx.rank_known()) {
      if (data.rank_known()) {
        CELER_CHECK(data.rank() >= 1, kInvalidModel, "input 'data' must have rank >= 1");
        normalize_axis(axis, data.rank());
      }
      ctx.set_output(0, ctx.input_elem(0), PartialShape::unknown_rank());
      return;
    }
    CELER_CHECK(data.rank() >= 1, kInvalidModel, "input 'data' must have rank >= 1");
    const size_t ax = size_t(normalize_axis(axis, data.rank()));
    std::vector<Dim> out(data.dims().begin(), data.dims().begin() + ptrdiff_t(ax));
    out.insert(out.end(), idx.dims().begin(), idx.dims().end());
    out.insert(out.end(), data.dims().begin() + ptrdiff_t(ax) + 1, data.dims().end());
    ctx.set_output(0, ctx.input_elem(0), PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const size_t ax = size_t(normalize_axis(axis, data.rank()));
    const int64_t outer = dims_range_product(data.dims(), 0, ax);
    const int64_t n = data.dim(int64_t(ax));
    const int64_t inner = dims_range_product(data.dims(), ax + 1, data.dims().size());
    std::vector<int64_t> idx = indices.to_int_vector();
    for (size_t j = 0; j < idx.size(); ++j) idx[j] = resolve_index(idx[j], n, "input 'indices'", int64_t(j));
    const int64_t m = int64_t(idx.size());
    Tensor& out = ctx.output(0);
    dispatch_all(data.type(), [&]<typename T>() {
      const T* src = data.data<T>();
      T* dst = out.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < m; ++j) {
          const T* s = src + (o * n + idx[size_t(j)]) * inner;
          T* d = dst + (o * m + j) * inner;
          for (int64_t i = 0; i < inner; ++i) d[i] = s[i];
        }
    });
  }
};

namespace {
void import_gather(OnnxNode& n) {
  auto op = std::make_unique<Gather>();
  op->axis = n.attr_int("axis", 0);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Gather() { return std::make_unique<Gather>(); }

void register_op_Gather(OpRegistry& r) { r.add_onnx("Gather", 1, kMaxOpset, import_gather); }

}  // namespace celer
