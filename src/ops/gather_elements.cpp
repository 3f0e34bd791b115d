// GatherElements: out[i][j][k] = data[indices[i][j][k]][j][k] for axis 0 (likewise for other axes). The output has the
// shape of `indices`, whose rank equals data's; along the other axes indices may not be larger than data.
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class GatherElements final : public OpBase<GatherElements, OpKind::kGatherElements> {
 public:
  int64_t axis = 0;

  const char* type_name() const override { return "GatherElements"; }
  void visit_attrs(AttrVisitor& v) override { v.on("axis", axis); }

  void infer(InferContext& ctx) const override {
    check_index_type(ctx.input_elem(1), "input 'indices'");
    const PartialShape& data = ctx.input_shape(0);
    const PartialShape& idx = ctx.input_shape(1);
    check_elements_indices(data, idx, axis);
    ctx.set_output(0, ctx.input_elem(0), idx);
  }

  void run(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const int64_t rank = data.rank();
    const int64_t ax = normalize_axis(axis, rank);
    CELER_CHECK(indices.rank() == rank, kShapeMismatch, "input 'indices' must have the rank of input 'data'");
    for (int64_t d = 0; d < rank; ++d)
      CELER_CHECK(d == ax || indices.dim(d) <= data.dim(d), kShapeMismatch, "input 'indices' ",
                  dims_to_string(indices.dims()), " is larger than input 'data' ", dims_to_string(data.dims()),
                  " along axis ", d);
    const std::vector<int64_t> idx = indices.to_int_vector();
    const Dims dstrides = strides_of(data.dims());
    const int64_t n = data.dim(ax);
    Tensor& out = ctx.output(0);
    dispatch_all(data.type(), [&]<typename T>() {
      const T* src = data.data<T>();
      T* dst = out.data<T>();
      Dims pos(size_t(rank), 0);
      int64_t base = 0;  // offset in data of pos with the axis coordinate set to 0
      for (int64_t i = 0; i < out.size(); ++i) {
        const int64_t v = resolve_index(idx[size_t(i)], n, "input 'indices'", i);
        dst[i] = src[base + v * dstrides[size_t(ax)]];
        for (int64_t d = rank - 1; d >= 0; --d) {
          const size_t k = size_t(d);
          ++pos[k];
          if (d != ax) base += dstrides[k];
          if (pos[k] < indices.dim(d)) break;
          if (d != ax) base -= dstrides[k] * pos[k];
          pos[k] = 0;
        }
      }
    });
  }
};

namespace {
void import_gather_elements(OnnxNode& n) {
  auto op = std::make_unique<GatherElements>();
  op->axis = n.attr_int("axis", 0);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_GatherElements() { return std::make_unique<GatherElements>(); }

void register_op_GatherElements(OpRegistry& r) { r.add_onnx("GatherElements", 11, kMaxOpset, import_gather_elements); }

}  // namespace celer
