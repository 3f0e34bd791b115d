// Unique: the distinct elements of the input (flattened), or the distinct slices along `axis`, either sorted
// (ascending, lexicographically for slices) or in order of first occurrence. Four outputs: Y (the unique values),
// indices (first occurrence of each in the input), inverse_indices (for each input element or slice, its position
// in Y) and counts. Y's size depends on the data.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {
// -1, 0 or 1; floats are ordered totally, with every NaN equal to each other and after all numbers.
template <typename T>
int compare_elements(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, float16> || std::is_same_v<T, bfloat16> || std::is_floating_point_v<T>) {
    double x, y;
    if constexpr (std::is_floating_point_v<T>) {
      x = double(a);
      y = double(b);
    } else {
      x = double(float(a));
      y = double(float(b));
    }
    const bool nx = std::isnan(x), ny = std::isnan(y);
    if (nx || ny) return nx == ny ? 0 : (nx ? 1 : -1);
    return x < y ? -1 : (y < x ? 1 : 0);
  } else {
    return a < b ? -1 : (b < a ? 1 : 0);
  }
}
}  // namespace

class Unique final : public OpBase<Unique, OpKind::kUnique> {
 public:
  std::optional<int64_t> axis;
  bool sorted = true;

  const char* type_name() const override { return "Unique"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_optional(v, "axis", axis);
    v.on("sorted", sorted);
  }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    const ElementType e = ctx.input_elem(0);
    Dim along;  // the number of input elements or slices
    if (!axis) {
      if (in.rank_known()) along = dims_product(in.dims());
      ctx.set_output(0, e, PartialShape({Dim()}));
    } else if (in.rank_known()) {
      CELER_CHECK(in.rank() >= 1, kInvalidModel, "attribute 'axis' is set but the input is a scalar");
      const size_t ax = size_t(normalize_axis(*axis, in.rank()));
      along = in[ax];
      std::vector<Dim> y = in.dims();
      y[ax] = Dim();
      ctx.set_output(0, e, PartialShape(std::move(y)));
    } else {
      ctx.set_output(0, e, PartialShape::unknown_rank());
    }
    if (ctx.has_output(1)) ctx.set_output(1, ElementType::kI64, PartialShape({Dim()}));
    if (ctx.has_output(2)) ctx.set_output(2, ElementType::kI64, PartialShape({along}));
    if (ctx.has_output(3)) ctx.set_output(3, ElementType::kI64, PartialShape({Dim()}));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const Dims dims = axis ? in.dims() : Dims{in.size()};
    const size_t ax = axis ? size_t(normalize_axis(*axis, in.rank())) : 0;
    const int64_t outer = dims_range_product(dims, 0, ax);
    const int64_t n = dims[ax];
    const int64_t inner = dims_range_product(dims, ax + 1, dims.size());
    dispatch_all(in.type(), [&]<typename T>() {
      const T* x = in.data<T>();
      auto compare_slices = [&](int64_t s, int64_t t) {
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            const int c = compare_elements<T>(x[(o * n + s) * inner + i], x[(o * n + t) * inner + i]);
            if (c != 0) return c;
          }
        return 0;
      };
      // Slices in sorted order; equal slices stay in input order, so each run starts with its first occurrence.
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t s = 0; s < n; ++s) order[size_t(s)] = s;
      std::stable_sort(order.begin(), order.end(), [&](int64_t s, int64_t t) { return compare_slices(s, t) < 0; });
      struct Group {
        int64_t first;  // first occurrence in the input
        int64_t count;
      };
      std::vector<Group> groups;
      std::vector<int64_t> group_of(static_cast<size_t>(n));  // input slice -> group (in sorted order)
      for (size_t i = 0; i < order.size(); ++i) {
        if (i == 0 || compare_slices(order[i - 1], order[i]) != 0) groups.push_back({order[i], 0});
        ++groups.back().count;
        group_of[size_t(order[i])] = int64_t(groups.size()) - 1;
      }
      // Position of each group in Y.
      std::vector<int64_t> rank_of(groups.size());
      std::vector<size_t> y_order(groups.size());  // Y position -> group
      for (size_t g = 0; g < groups.size(); ++g) y_order[g] = g;
      if (!sorted)
        std::sort(y_order.begin(), y_order.end(),
                  [&](size_t a, size_t b) { return groups[a].first < groups[b].first; });
      for (size_t p = 0; p < y_order.size(); ++p) rank_of[y_order[p]] = int64_t(p);
      const int64_t u = int64_t(groups.size());

      Dims ydims = dims;
      ydims[ax] = u;
      Tensor& y = ctx.output(0, in.type(), ydims);
      T* yp = y.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t p = 0; p < u; ++p) {
          const int64_t s = groups[y_order[size_t(p)]].first;
          for (int64_t i = 0; i < inner; ++i) yp[(o * u + p) * inner + i] = x[(o * n + s) * inner + i];
        }
      if (ctx.has_output(1)) {
        int64_t* p = ctx.output(1, ElementType::kI64, {u}).data<int64_t>();
        for (int64_t j = 0; j < u; ++j) p[j] = groups[y_order[size_t(j)]].first;
      }
      if (ctx.has_output(2)) {
        int64_t* p = ctx.output(2, ElementType::kI64, {n}).data<int64_t>();
        for (int64_t s = 0; s < n; ++s) p[s] = rank_of[size_t(group_of[size_t(s)])];
      }
      if (ctx.has_output(3)) {
        int64_t* p = ctx.output(3, ElementType::kI64, {u}).data<int64_t>();
        for (int64_t j = 0; j < u; ++j) p[j] = groups[y_order[size_t(j)]].count;
      }
    });
  }
};

namespace {
void import_unique(OnnxNode& n) {
  auto op = std::make_unique<Unique>();
  if (n.has_attr("axis")) op->axis = n.attr_int("axis");
  op->sorted = n.attr_int("sorted", 1) != 0;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Unique() { return std::make_unique<Unique>(); }

void register_op_Unique(OpRegistry& r) { r.add_onnx("Unique", 11, kMaxOpset, import_unique); }

}  // namespace celer
