// GatherND: each innermost row of `indices` (length k) addresses a slice of `data` of rank r - batch_dims - k. The
// first batch_dims dims of data and indices are shared batch dims. Output shape: indices.shape[:-1] +
// data.shape[batch_dims + k:].
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class GatherND final : public OpBase<GatherND, OpKind::kGatherND> {
 public:
  int64_t batch_dims = 0;

  const char* type_name() const override { return "GatherND"; }
  void visit_attrs(AttrVisitor& v) override { v.on("batch_dims", batch_dims); }

  void infer(InferContext& ctx) const override {
    check_index_type(ctx.input_elem(1), "input 'indices'");
    const PartialShape& data = ctx.input_shape(0);
    const PartialShape& idx = ctx.input_shape(1);
    const ElementType elem = ctx.input_elem(0);
    if (data.rank_known()) check_rank(data.rank(), "input 'data'");
    if (idx.rank_known()) check_rank(idx.rank(), "input 'indices'");
    if (!data.rank_known() || !idx.rank_known() || !idx.dims().back().is_static()) {
      ctx.set_output(0, elem, PartialShape::unknown_rank());
      return;
    }
    const int64_t r = data.rank(), q = idx.rank(), k = idx.dims().back().value();
    CELER_CHECK(k >= 1 && k <= r - batch_dims, kShapeMismatch, "the last dim of input 'indices' ", idx.to_string(),
                " must be in [1, ", r - batch_dims, "] for input 'data' ", data.to_string(), " and batch_dims ",
                batch_dims);
    for (int64_t b = 0; b < batch_dims; ++b) {
      const Dim& a = data[size_t(b)];
      const Dim& c = idx[size_t(b)];
      CELER_CHECK(!a.is_static() || !c.is_static() || a.value() == c.value(), kShapeMismatch, "batch dim ", b,
                  " differs between input 'data' ", data.to_string(), " and input 'indices' ", idx.to_string());
    }
    std::vector<Dim> out(idx.dims().begin(), idx.dims().begin() + ptrdiff_t(q - 1));
    out.insert(out.end(), data.dims().begin() + ptrdiff_t(batch_dims + k), data.dims().end());
    ctx.set_output(0, elem, PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const int64_t r = data.rank(), q = indices.rank(), k = indices.dim(q - 1);
    const size_t b = size_t(batch_dims);
    const int64_t batches = dims_range_product(data.dims(), 0, b);
    const int64_t batch_stride = dims_range_product(data.dims(), b, size_t(r));  // elements of data per batch
    const int64_t slice = dims_range_product(data.dims(), b + size_t(k), size_t(r));
    const int64_t tuples = dims_range_product(indices.dims(), b, size_t(q - 1));  // index tuples per batch
    const Dims dstrides = strides_of(data.dims());
    const std::vector<int64_t> idx = indices.to_int_vector();
    // Offsets in data of every tuple's slice, checked before anything is read.
    std::vector<int64_t> offsets(size_t(batches * tuples));
    for (int64_t bi = 0; bi < batches; ++bi)
      for (int64_t t = 0; t < tuples; ++t) {
        const int64_t row = bi * tuples + t;
        int64_t off = bi * batch_stride;
        for (int64_t j = 0; j < k; ++j) {
          const size_t d = b + size_t(j);
          off += resolve_index(idx[size_t(row * k + j)], data.dims()[d], "input 'indices'", row * k + j) * dstrides[d];
        }
        offsets[size_t(row)] = off;
      }
    Tensor& out = ctx.output(0);
    dispatch_all(data.type(), [&]<typename T>() {
      const T* src = data.data<T>();
      T* dst = out.data<T>();
      for (size_t row = 0; row < offsets.size(); ++row)
        for (int64_t i = 0; i < slice; ++i) dst[int64_t(row) * slice + i] = src[offsets[row] + i];
    });
  }

 private:
  void check_rank(int64_t rank, const char* what) const {
    CELER_CHECK(rank >= 1, kInvalidModel, what, " must have rank >= 1");
    CELER_CHECK(batch_dims < rank, kInvalidModel, "attribute 'batch_dims' = ", batch_dims,
                " must be less than the rank ", rank, " of ", what);
  }
};

namespace {
void import_gather_nd(OnnxNode& n) {
  auto op = std::make_unique<GatherND>();
  op->batch_dims = n.attr_int("batch_dims", 0);
  if (op->batch_dims < 0) n.fail("attribute 'batch_dims' = ", op->batch_dims, " must not be negative");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_GatherND() { return std::make_unique<GatherND>(); }

void register_op_GatherND(OpRegistry& r) { r.add_onnx("GatherND", 11, kMaxOpset, import_gather_nd); }

}  // namespace celer
