// Range: the 1-D sequence start, start + delta, ... stopping before limit; count = max(ceil((limit - start) / delta),
// 0). Inputs are scalars of one numeric type (float, double, int16, int32, int64).
#include <cmath>
#include <cstdint>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class Range final : public OpBase<Range, OpKind::kRange> {
 public:
  const char* type_name() const override { return "Range"; }
  void visit_attrs(AttrVisitor&) override {}

  static int64_t count(const Tensor& start, const Tensor& limit, const Tensor& delta) {
    const char* names[] = {"start", "limit", "delta"};
    const Tensor* ts[] = {&start, &limit, &delta};
    for (int i = 0; i < 3; ++i)
      CELER_CHECK(ts[i]->size() == 1, kInvalidModel, "input '", names[i], "' must be a scalar, got shape ",
                  dims_to_string(ts[i]->dims()));
    if (is_float(start.type())) {
      const double s = start.value_as_double(0), l = limit.value_as_double(0), d = delta.value_as_double(0);
      CELER_CHECK(d != 0, kInvalidModel, "input 'delta' must not be zero");
      const double c = std::ceil((l - s) / d);
      CELER_CHECK(!std::isnan(c), kInvalidModel, "Range of start ", s, ", limit ", l, ", delta ", d, " is undefined");
      if (c <= 0) return 0;
      CELER_CHECK(c < 9.2e18, kLimitExceeded, "Range of start ", s, ", limit ", l, ", delta ", d,
                  " has too many elements");
      return int64_t(c);
    }
    const __int128 s = start.value_as_int(0), l = limit.value_as_int(0), d = delta.value_as_int(0);
    CELER_CHECK(d != 0, kInvalidModel, "input 'delta' must not be zero");
    const __int128 span = l - s;
    if ((d > 0 && span <= 0) || (d < 0 && span >= 0)) return 0;
    const __int128 c = d > 0 ? (span + d - 1) / d : (span + d + 1) / d;
    CELER_CHECK(c <= __int128(INT64_MAX), kLimitExceeded, "Range of start ", int64_t(s), ", limit ", int64_t(l),
                ", delta ", int64_t(d), " has too many elements");
    return int64_t(c);
  }

  void infer(InferContext& ctx) const override {
    const ElementType e = ctx.input_elem(0);
    CELER_CHECK(e == ElementType::kF32 || e == ElementType::kF64 || e == ElementType::kI16 || e == ElementType::kI32 ||
                    e == ElementType::kI64,
                kInvalidModel, "element type ", element_type_name(e), " is not allowed");
    for (size_t i = 1; i < 3; ++i)
      CELER_CHECK(ctx.input_elem(i) == e, kInvalidModel, "input ", i, " has element type ",
                  element_type_name(ctx.input_elem(i)), ", input 'start' has ", element_type_name(e));
    const Tensor *s = ctx.input_value(0), *l = ctx.input_value(1), *d = ctx.input_value(2);
    ctx.set_output(0, e, PartialShape{s && l && d ? Dim(count(*s, *l, *d)) : Dim()});
  }

  void run(KernelContext& ctx) const override {
    const Tensor &start = ctx.input(0), &limit = ctx.input(1), &delta = ctx.input(2);
    const int64_t n = count(start, limit, delta);
    Tensor& out = ctx.output(0, start.type(), {n});
    dispatch_numeric(start.type(), [&]<typename T>() {
      T* p = out.data<T>();
      if constexpr (std::is_floating_point_v<T>) {
        const T s = start.data<T>()[0], d = delta.data<T>()[0];
        for (int64_t i = 0; i < n; ++i) p[i] = T(s + T(i) * d);
      } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        const __int128 s = start.data<T>()[0], d = delta.data<T>()[0];
        for (int64_t i = 0; i < n; ++i) p[i] = T(s + __int128(i) * d);
      } else {
        CELER_THROW(kUnsupported, "element type ", element_type_name(start.type()));
      }
    });
  }
};

namespace {
void import_range(OnnxNode& n) { n.emit(std::make_unique<Range>()); }
}  // namespace

std::unique_ptr<Op> make_op_Range() { return std::make_unique<Range>(); }

void register_op_Range(OpRegistry& r) { r.add_onnx("Range", 11, kMaxOpset, import_range); }

}  // namespace celer
