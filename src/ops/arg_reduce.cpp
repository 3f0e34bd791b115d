// ArgReduce: ArgMax and ArgMin along one axis; int64 indices (the first or, with select_last_index, the last one).
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class ArgReduce final : public OpBase<ArgReduce, OpKind::kArgReduce> {
 public:
  bool is_max = true;
  int64_t axis = 0;
  bool keepdims = true;
  bool select_last_index = false;

  const char* type_name() const override { return is_max ? "ArgMax" : "ArgMin"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("is_max", is_max);
    v.on("axis", axis);
    v.on("keepdims", keepdims);
    v.on("select_last_index", select_last_index);
  }

  void infer(InferContext& ctx) const override {
    ElementType e = ctx.input_elem(0);
    CELER_CHECK(e != ElementType::kString && e != ElementType::kBool, kInvalidModel, "input 'data' has element type ",
                element_type_name(e), ", a numeric type is required");
    const PartialShape& s = ctx.input_shape(0);
    if (!s.rank_known()) {
      ctx.set_output(0, ElementType::kI64, PartialShape::unknown_rank());
      return;
    }
    int64_t a = normalize_axis(axis, s.rank());
    std::vector<Dim> out;
    for (int64_t i = 0; i < s.rank(); ++i) {
      if (i != a)
        out.push_back(s[size_t(i)]);
      else if (keepdims)
        out.emplace_back(1);
    }
    ctx.set_output(0, ElementType::kI64, PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    int64_t a = normalize_axis(axis, x.rank());
    int64_t outer = 1, n = x.dim(a), inner = 1;
    for (int64_t i = 0; i < a; ++i) outer *= x.dim(i);
    for (int64_t i = a + 1; i < x.rank(); ++i) inner *= x.dim(i);
    CELER_CHECK(n > 0 || outer * inner == 0, kInvalidArgument, "cannot take ", type_name(), " over axis ", a,
                " of size 0 (input shape ", dims_to_string(x.dims()), ")");
    int64_t* out = y.data<int64_t>();
    dispatch_numeric(x.type(), [&]<typename T>() {
      if constexpr (std::is_same_v<T, bool>) {
        CELER_THROW(kUnsupported, "bool inputs");
      } else {
        using C = std::conditional_t<std::is_integral_v<T>, T, double>;
        const T* in = x.data<T>();
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            const T* p = in + o * n * inner + i;
            int64_t best = 0;
            C bv = C(p[0]);
            for (int64_t k = 1; k < n; ++k) {
              C v = C(p[k * inner]);
              if constexpr (!std::is_integral_v<T>) {
                if (bv != bv) break;  // NaN wins (first NaN)
                if (v != v) {
                  best = k, bv = v;
                  break;
                }
              }
              bool better = is_max ? (select_last_index ? v >= bv : v > bv) : (select_last_index ? v <= bv : v < bv);
              if (better) best = k, bv = v;
            }
            out[o * inner + i] = best;
          }
      }
    });
  }
};

namespace {
template <bool kMax>
void import_arg_reduce(OnnxNode& n) {
  auto op = std::make_unique<ArgReduce>();
  op->is_max = kMax;
  op->axis = n.attr_int("axis", 0);
  op->keepdims = n.attr_int("keepdims", 1) != 0;
  op->select_last_index = n.attr_int("select_last_index", 0) != 0;
  if (op->select_last_index && n.opset() < 12) n.fail("attribute 'select_last_index' needs opset 12");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_ArgReduce() { return std::make_unique<ArgReduce>(); }

void register_op_ArgReduce(OpRegistry& r) {
  r.add_onnx("ArgMax", 1, kMaxOpset, import_arg_reduce<true>);
  r.add_onnx("ArgMin", 1, kMaxOpset, import_arg_reduce<false>);
}

}  // namespace celer
