// ScatterElements (and the deprecated Scatter): a copy of `data` where, for every element of `updates`, the element
// at the same position but with the `axis` coordinate taken from `indices` is replaced (or combined by `reduction`).
#include <algorithm>
#include <string>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

enum class ScatterReduction : uint8_t { kNone, kAdd, kMul, kMax, kMin };

class ScatterElements final : public OpBase<ScatterElements, OpKind::kScatterElements> {
 public:
  int64_t axis = 0;
  ScatterReduction reduction = ScatterReduction::kNone;

  const char* type_name() const override { return "ScatterElements"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("axis", axis);
    visit_enum(v, "reduction", reduction, ScatterReduction::kMin);
  }

  void infer(InferContext& ctx) const override {
    check_index_type(ctx.input_elem(1), "input 'indices'");
    CELER_CHECK(ctx.input_elem(2) == ctx.input_elem(0), kInvalidModel, "input 'updates' has element type ",
                element_type_name(ctx.input_elem(2)), ", input 'data' ", element_type_name(ctx.input_elem(0)));
    CELER_CHECK(reduction == ScatterReduction::kNone || ctx.input_elem(0) != ElementType::kString, kUnsupported,
                "attribute 'reduction' on string tensors");
    const PartialShape& data = ctx.input_shape(0);
    const PartialShape& idx = ctx.input_shape(1);
    const PartialShape& upd = ctx.input_shape(2);
    if (idx.rank_known() && upd.rank_known()) {
      CELER_CHECK(idx.rank() == upd.rank(), kShapeMismatch, "input 'indices' ", idx.to_string(),
                  " and input 'updates' ", upd.to_string(), " must have the same shape");
      for (size_t d = 0; d < idx.dims().size(); ++d) {
        const Dim& a = idx[d];
        const Dim& b = upd[d];
        CELER_CHECK(!a.is_static() || !b.is_static() || a.value() == b.value(), kShapeMismatch, "input 'indices' ",
                    idx.to_string(), " and input 'updates' ", upd.to_string(), " must have the same shape");
      }
    }
    check_elements_indices(data, idx, axis);
    ctx.set_output(0, ctx.input_elem(0), data);
  }

  void run(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    const int64_t rank = data.rank();
    const int64_t ax = normalize_axis(axis, rank);
    CELER_CHECK(indices.dims() == updates.dims(), kShapeMismatch, "input 'indices' ", dims_to_string(indices.dims()),
                " and input 'updates' ", dims_to_string(updates.dims()), " must have the same shape");
    CELER_CHECK(indices.rank() == rank, kShapeMismatch, "input 'indices' must have the rank of input 'data'");
    for (int64_t d = 0; d < rank; ++d)
      CELER_CHECK(d == ax || indices.dim(d) <= data.dim(d), kShapeMismatch, "input 'indices' ",
                  dims_to_string(indices.dims()), " is larger than input 'data' ", dims_to_string(data.dims()),
                  " along axis ", d);
    const std::vector<int64_t> idx = indices.to_int_vector();
    const Dims dstrides = strides_of(data.dims());
    const int64_t n = data.dim(ax);
    // Target offsets, all checked before anything is written.
    std::vector<int64_t> target(idx.size());
    Dims pos(size_t(rank), 0);
    int64_t base = 0;
    for (int64_t i = 0; i < indices.size(); ++i) {
      target[size_t(i)] = base + resolve_index(idx[size_t(i)], n, "input 'indices'", i) * dstrides[size_t(ax)];
      for (int64_t d = rank - 1; d >= 0; --d) {
        const size_t k = size_t(d);
        ++pos[k];
        if (d != ax) base += dstrides[k];
        if (pos[k] < indices.dim(d)) break;
        if (d != ax) base -= dstrides[k] * pos[k];
        pos[k] = 0;
      }
    }
    Tensor& out = ctx.output(0);
    dispatch_all(data.type(), [&]<typename T>() {
      const T* src = data.data<T>();
      const T* u = updates.data<T>();
      T* dst = out.data<T>();
      std::copy(src, src + data.size(), dst);
      for (size_t i = 0; i < target.size(); ++i) {
        T& d = dst[target[i]];
        if constexpr (std::is_same_v<T, std::string>) {
          d = u[i];
        } else {
          switch (reduction) {
            case ScatterReduction::kNone:
              d = u[i];
              break;
            case ScatterReduction::kAdd:
              d = wrapping_add(d, u[i]);
              break;
            case ScatterReduction::kMul:
              d = wrapping_mul(d, u[i]);
              break;
            case ScatterReduction::kMax:
              d = u[i] > d ? u[i] : d;
              break;
            case ScatterReduction::kMin:
              d = u[i] < d ? u[i] : d;
              break;
          }
        }
      }
    });
  }
};

namespace {
ScatterReduction parse_reduction(OnnxNode& n) {
  const std::string r = n.attr_string("reduction", std::string("none"));
  if (r == "none") return ScatterReduction::kNone;
  if (r == "add") return ScatterReduction::kAdd;
  if (r == "mul") return ScatterReduction::kMul;
  if (r == "max") return ScatterReduction::kMax;
  if (r == "min") return ScatterReduction::kMin;
  n.fail("attribute 'reduction' = '", r, "' must be one of none, add, mul, max, min");
}

void import_scatter_elements(OnnxNode& n) {
  auto op = std::make_unique<ScatterElements>();
  op->axis = n.attr_int("axis", 0);
  op->reduction = n.opset() >= 16 ? parse_reduction(n) : ScatterReduction::kNone;
  n.emit(std::move(op));
}

// Scatter (deprecated since opset 11) is ScatterElements without reduction; accepted in later opsets too.
void import_scatter(OnnxNode& n) {
  auto op = std::make_unique<ScatterElements>();
  op->axis = n.attr_int("axis", 0);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_ScatterElements() { return std::make_unique<ScatterElements>(); }

void register_op_ScatterElements(OpRegistry& r) {
  r.add_onnx("Scatter", 9, kMaxOpset, import_scatter);
  r.add_onnx("ScatterElements", 11, kMaxOpset, import_scatter_elements);
}

}  // namespace celer
