// ScatterND: a copy of `data` where each innermost row of `indices` (length k) addresses a slice of rank r - k that
// is replaced by (or, with `reduction`, combined with) the matching slice of `updates`.
// updates.shape must be indices.shape[:-1] + data.shape[k:].
#include <algorithm>
#include <string>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

enum class ScatterNDReduction : uint8_t { kNone, kAdd, kMul, kMax, kMin };

class ScatterND final : public OpBase<ScatterND, OpKind::kScatterND> {
 public:
  ScatterNDReduction reduction = ScatterNDReduction::kNone;

  const char* type_name() const override { return "ScatterND"; }
  void visit_attrs(AttrVisitor& v) override { visit_enum(v, "reduction", reduction, ScatterNDReduction::kMin); }

  void infer(InferContext& ctx) const override {
    check_index_type(ctx.input_elem(1), "input 'indices'");
    CELER_CHECK(ctx.input_elem(2) == ctx.input_elem(0), kInvalidModel, "input 'updates' has element type ",
                element_type_name(ctx.input_elem(2)), ", input 'data' ", element_type_name(ctx.input_elem(0)));
    CELER_CHECK(reduction == ScatterNDReduction::kNone || ctx.input_elem(0) != ElementType::kString, kUnsupported,
                "attribute 'reduction' on string tensors");
    const PartialShape& data = ctx.input_shape(0);
    const PartialShape& idx = ctx.input_shape(1);
    const PartialShape& upd = ctx.input_shape(2);
    if (data.rank_known()) CELER_CHECK(data.rank() >= 1, kInvalidModel, "input 'data' must have rank >= 1");
    if (idx.rank_known()) CELER_CHECK(idx.rank() >= 1, kInvalidModel, "input 'indices' must have rank >= 1");
    if (data.rank_known() && idx.rank_known() && upd.rank_known() && idx.dims().back().is_static()) {
      const int64_t r = data.rank(), q = idx.rank(), k = idx.dims().back().value();
      CELER_CHECK(k <= r, kShapeMismatch, "the last dim of input 'indices' ", idx.to_string(),
                  " is larger than the rank of input 'data' ", data.to_string());
      std::vector<Dim> want(idx.dims().begin(), idx.dims().begin() + ptrdiff_t(q - 1));
      want.insert(want.end(), data.dims().begin() + ptrdiff_t(k), data.dims().end());
      bool ok = int64_t(want.size()) == upd.rank();
      for (size_t d = 0; ok && d < want.size(); ++d)
        ok = !want[d].is_static() || !upd[d].is_static() || want[d].value() == upd[d].value();
      CELER_CHECK(ok, kShapeMismatch, "input 'updates' ", upd.to_string(), " must have shape ",
                  PartialShape(want).to_string(), " for input 'data' ", data.to_string(), " and input 'indices' ",
                  idx.to_string());
    }
    ctx.set_output(0, ctx.input_elem(0), data);
  }

  void run(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    const int64_t r = data.rank(), q = indices.rank(), k = indices.dim(q - 1);
    const int64_t slice = dims_range_product(data.dims(), size_t(k), size_t(r));
    const int64_t rows = dims_range_product(indices.dims(), 0, size_t(q - 1));
    CELER_CHECK(updates.size() == rows * slice, kShapeMismatch, "input 'updates' ", dims_to_string(updates.dims()),
                " does not match input 'data' ", dims_to_string(data.dims()), " and input 'indices' ",
                dims_to_string(indices.dims()));
    const Dims dstrides = strides_of(data.dims());
    const std::vector<int64_t> idx = indices.to_int_vector();
    std::vector<int64_t> offsets(static_cast<size_t>(rows));
    for (int64_t row = 0; row < rows; ++row) {
      int64_t off = 0;
      for (int64_t j = 0; j < k; ++j)
        off +=
            resolve_index(idx[size_t(row * k + j)], data.dim(j), "input 'indices'", row * k + j) * dstrides[size_t(j)];
      offsets[size_t(row)] = off;
    }
    Tensor& out = ctx.output(0);
    dispatch_all(data.type(), [&]<typename T>() {
      const T* src = data.data<T>();
      const T* u = updates.data<T>();
      T* dst = out.data<T>();
      std::copy(src, src + data.size(), dst);
      for (int64_t row = 0; row < rows; ++row)
        for (int64_t i = 0; i < slice; ++i) {
          T& d = dst[offsets[size_t(row)] + i];
          const T& v = u[row * slice + i];
          if constexpr (std::is_same_v<T, std::string>) {
            d = v;
          } else {
            switch (reduction) {
              case ScatterNDReduction::kNone:
                d = v;
                break;
              case ScatterNDReduction::kAdd:
                d = wrapping_add(d, v);
                break;
              case ScatterNDReduction::kMul:
                d = wrapping_mul(d, v);
                break;
              case ScatterNDReduction::kMax:
                d = v > d ? v : d;
                break;
              case ScatterNDReduction::kMin:
                d = v < d ? v : d;
                break;
            }
          }
        }
    });
  }
};

namespace {
void import_scatter_nd(OnnxNode& n) {
  auto op = std::make_unique<ScatterND>();
  if (n.opset() >= 16) {
    const std::string r = n.attr_string("reduction", std::string("none"));
    if (r == "none")
      op->reduction = ScatterNDReduction::kNone;
    else if (r == "add")
      op->reduction = ScatterNDReduction::kAdd;
    else if (r == "mul")
      op->reduction = ScatterNDReduction::kMul;
    else if (r == "max")
      op->reduction = ScatterNDReduction::kMax;
    else if (r == "min")
      op->reduction = ScatterNDReduction::kMin;
    else
      n.fail("attribute 'reduction' = '", r, "' must be one of none, add, mul, max, min");
  }
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_ScatterND() { return std::make_unique<ScatterND>(); }

void register_op_ScatterND(OpRegistry& r) { r.add_onnx("ScatterND", 11, kMaxOpset, import_scatter_nd); }

}  // namespace celer
