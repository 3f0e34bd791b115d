// CumSum: running sums along the axis given by the scalar input 'axis'. exclusive = 1 leaves the current element out
// (the first sum is 0); reverse = 1 sums from the end.
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class CumSum final : public OpBase<CumSum, OpKind::kCumSum> {
 public:
  bool exclusive = false;
  bool reverse = false;

  const char* type_name() const override { return "CumSum"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("exclusive", exclusive);
    v.on("reverse", reverse);
  }

  void infer(InferContext& ctx) const override {
    const ElementType e = ctx.input_elem(0);
    CELER_CHECK(e != ElementType::kString && e != ElementType::kBool, kInvalidModel, "element type ",
                element_type_name(e), " is not allowed for input 'x'");
    check_index_type(ctx.input_elem(1), "input 'axis'");
    const PartialShape& in = ctx.input_shape(0);
    if (const Tensor* a = ctx.input_value(1); a && in.rank_known()) {
      CELER_CHECK(in.rank() >= 1, kInvalidModel, "input 'x' must have rank >= 1");
      normalize_axis(scalar_int_input(*a, "input 'axis'"), in.rank(), "input 'axis'");
    }
    ctx.set_output(0, ctx.input_type(0));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    CELER_CHECK(x.rank() >= 1, kInvalidModel, "input 'x' must have rank >= 1");
    const size_t ax = size_t(normalize_axis(scalar_int_input(ctx.input(1), "input 'axis'"), x.rank(), "input 'axis'"));
    const int64_t outer = dims_range_product(x.dims(), 0, ax);
    const int64_t n = x.dim(int64_t(ax));
    const int64_t inner = dims_range_product(x.dims(), ax + 1, x.dims().size());
    Tensor& out = ctx.output(0);
    dispatch_numeric(x.type(), [&]<typename T>() {
      if constexpr (std::is_same_v<T, bool>) {
        CELER_THROW(kUnsupported, "bool inputs");
      } else {
        // Accumulate in float for the 16-bit float types, in T otherwise.
        using Acc = std::conditional_t<std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>, float, T>;
        const T* src = x.data<T>();
        T* dst = out.data<T>();
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            Acc sum = Acc(0);
            for (int64_t step = 0; step < n; ++step) {
              const int64_t j = reverse ? n - 1 - step : step;
              const int64_t off = (o * n + j) * inner + i;
              const Acc v = Acc(src[off]);
              if (!exclusive) sum = wrapping_add(sum, v);
              dst[off] = T(sum);
              if (exclusive) sum = wrapping_add(sum, v);
            }
          }
      }
    });
  }
};

namespace {
void import_cum_sum(OnnxNode& n) {
  auto op = std::make_unique<CumSum>();
  const int64_t exclusive = n.attr_int("exclusive", 0), reverse = n.attr_int("reverse", 0);
  if (exclusive != 0 && exclusive != 1) n.fail("attribute 'exclusive' = ", exclusive, " must be 0 or 1");
  if (reverse != 0 && reverse != 1) n.fail("attribute 'reverse' = ", reverse, " must be 0 or 1");
  op->exclusive = exclusive == 1;
  op->reverse = reverse == 1;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_CumSum() { return std::make_unique<CumSum>(); }

void register_op_CumSum(OpRegistry& r) { r.add_onnx("CumSum", 11, kMaxOpset, import_cum_sum); }

}  // namespace celer
