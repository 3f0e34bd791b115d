// TopK: the k largest (or smallest) elements along `axis` and their indices, sorted (largest first, or smallest first);
// equal values keep the lower index first. NaN counts as larger than every number. k is an attribute before opset
// 10 and an input from opset 10.
#include <algorithm>
#include <cmath>
#include <optional>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class TopK final : public OpBase<TopK, OpKind::kTopK> {
 public:
  int64_t axis = -1;
  bool largest = true;
  bool sorted = true;                  // unsorted output may be in any order; we always sort
  std::optional<int64_t> k_attribute;  // opsets 1-9

  const char* type_name() const override { return "TopK"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("axis", axis);
    v.on("largest", largest);
    v.on("sorted", sorted);
    visit_optional(v, "k", k_attribute);
  }

  void infer(InferContext& ctx) const override {
    const ElementType e = ctx.input_elem(0);
    CELER_CHECK(e != ElementType::kString && e != ElementType::kBool, kInvalidModel, "element type ",
                element_type_name(e), " is not allowed for input 'X'");
    std::optional<int64_t> k = k_attribute;
    if (!k) {
      CELER_CHECK(ctx.has_input(1), kInvalidModel, "input 'K' is required");
      CELER_CHECK(ctx.input_elem(1) == ElementType::kI64, kInvalidModel, "input 'K' must be int64, got ",
                  element_type_name(ctx.input_elem(1)));
      if (const Tensor* kt = ctx.input_value(1)) k = read_k(*kt);
    }
    const PartialShape& in = ctx.input_shape(0);
    PartialShape out = PartialShape::unknown_rank();
    if (in.rank_known()) {
      CELER_CHECK(in.rank() >= 1, kInvalidModel, "input 'X' must have rank >= 1");
      const size_t ax = size_t(normalize_axis(axis, in.rank()));
      out = in;
      out[ax] = k ? Dim(*k) : Dim();
      if (k && in[ax].is_static())
        CELER_CHECK(*k <= in[ax].value(), kOutOfRange, "k = ", *k, " is larger than the size ", in[ax].value(),
                    " of axis ", ax, " of input 'X' ", in.to_string());
    }
    ctx.set_output(0, e, out);
    if (ctx.has_output(1)) ctx.set_output(1, ElementType::kI64, out);
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t k = k_attribute ? *k_attribute : read_k(ctx.input(1));
    const size_t ax = size_t(normalize_axis(axis, x.rank()));
    const int64_t outer = dims_range_product(x.dims(), 0, ax);
    const int64_t n = x.dim(int64_t(ax));
    const int64_t inner = dims_range_product(x.dims(), ax + 1, x.dims().size());
    CELER_CHECK(k <= n, kOutOfRange, "k = ", k, " is larger than the size ", n, " of axis ", ax, " of input 'X'");
    Dims dims = x.dims();
    dims[ax] = k;
    Tensor& values = ctx.output(0, x.type(), dims);
    Tensor indices = ctx.has_output(1) ? ctx.output(1, ElementType::kI64, dims) : Tensor(ElementType::kI64, dims);
    int64_t* ip = indices.data<int64_t>();
    dispatch_numeric(x.type(), [&]<typename T>() {
      if constexpr (std::is_same_v<T, bool>) {
        CELER_THROW(kUnsupported, "bool inputs");
      } else {
        const T* xp = x.data<T>();
        T* vp = values.data<T>();
        std::vector<T> key(static_cast<size_t>(n));
        std::vector<int64_t> order(static_cast<size_t>(n));
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              order[size_t(j)] = j;
              key[size_t(j)] = xp[(o * n + j) * inner + i];
            }
            // Strict order: by value (NaN as the largest), then lower index first.
            auto before = [&](int64_t a, int64_t b) {
              const T& va = key[size_t(a)];
              const T& vb = key[size_t(b)];
              const bool na = is_nan(va), nb = is_nan(vb);
              if (na != nb) return largest ? na : nb;
              if (!na && va != vb) return largest ? vb < va : va < vb;
              return a < b;
            };
            std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
            for (int64_t j = 0; j < k; ++j) {
              const int64_t src = order[size_t(j)];
              vp[(o * k + j) * inner + i] = xp[(o * n + src) * inner + i];
              ip[(o * k + j) * inner + i] = src;
            }
          }
      }
    });
  }

 private:
  static int64_t read_k(const Tensor& t) {
    const int64_t k = scalar_int_input(t, "input 'K'");
    CELER_CHECK(k >= 0, kOutOfRange, "input 'K' = ", k, " must not be negative");
    return k;
  }
  template <typename T>
  static bool is_nan(const T& v) {
    if constexpr (std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>) {
      return std::isnan(float(v));
    } else if constexpr (std::is_floating_point_v<T>) {
      return std::isnan(v);
    } else {
      return false;
    }
  }
};

namespace {
void import_top_k(OnnxNode& n) {
  auto op = std::make_unique<TopK>();
  op->axis = n.attr_int("axis", -1);
  if (n.opset() < 10) {
    op->k_attribute = n.attr_int("k");
    if (*op->k_attribute < 0) n.fail("attribute 'k' = ", *op->k_attribute, " must not be negative");
  }
  if (n.opset() >= 11) {
    op->largest = n.attr_int("largest", 1) != 0;
    op->sorted = n.attr_int("sorted", 1) != 0;
  }
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_TopK() { return std::make_unique<TopK>(); }

void register_op_TopK(OpRegistry& r) { r.add_onnx("TopK", 1, kMaxOpset, import_top_k); }

}  // namespace celer
