#include "ops/softmax.hpp"

#include <cmath>
#include <limits>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

const char* softmax_mode_name(SoftmaxMode m) {
  switch (m) {
    case SoftmaxMode::kSoftmax:
      return "Softmax";
    case SoftmaxMode::kLogSoftmax:
      return "LogSoftmax";
    case SoftmaxMode::kHardmax:
      return "Hardmax";
  }
  return "Softmax";
}

namespace {
// Opsets < 13: the axis where the input is split into rows; in [-rank, rank] (a negative axis counts from the end).
int64_t coerced_axis(int64_t axis, int64_t rank) {
  CELER_CHECK(axis >= -rank && axis <= rank, kInvalidModel, "attribute 'axis' = ", axis, " is out of range for rank ",
              rank, " (must be in [", -rank, ", ", rank, "])");
  return axis < 0 ? axis + rank : axis;
}
}  // namespace

void Softmax::infer(InferContext& ctx) const {
  ElementType e = ctx.input_elem(0);
  CELER_CHECK(is_float(e), kInvalidModel, "input 'input' has element type ", element_type_name(e),
              ", a float type is required");
  const PartialShape& s = ctx.input_shape(0);
  if (s.rank_known()) {
    if (coerce_2d)
      coerced_axis(axis, s.rank());
    else
      normalize_axis(axis, s.rank(), "attribute 'axis'");
  }
  ctx.set_output(0, e, s);
}

namespace {
template <typename T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, double>)
    return v;
  else
    return T(float(v));
}

// One row of `n` elements at `in`, `stride` apart; computed in double.
template <typename T>
void softmax_row(SoftmaxMode mode, const T* in, T* out, int64_t n, int64_t stride) {
  if (n == 0) return;
  double mx = double(in[0]);
  int64_t arg = 0;
  for (int64_t k = 1; k < n; ++k) {
    double v = double(in[k * stride]);
    if (v > mx) mx = v, arg = k;
  }
  if (mode == SoftmaxMode::kHardmax) {
    for (int64_t k = 0; k < n; ++k) out[k * stride] = from_double<T>(k == arg ? 1.0 : 0.0);
    return;
  }
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) sum += std::exp(double(in[k * stride]) - mx);
  double log_sum = std::log(sum);
  for (int64_t k = 0; k < n; ++k) {
    double v = double(in[k * stride]) - mx;
    out[k * stride] = from_double<T>(mode == SoftmaxMode::kSoftmax ? std::exp(v) / sum : v - log_sum);
  }
}
}  // namespace

void Softmax::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Dims& d = x.dims();
  int64_t rank = x.rank();
  int64_t outer = 1, n = 1, inner = 1;
  if (coerce_2d) {
    int64_t a = coerced_axis(axis, rank);
    for (int64_t i = 0; i < a; ++i) outer *= d[size_t(i)];
    for (int64_t i = a; i < rank; ++i) n *= d[size_t(i)];
  } else {
    int64_t a = normalize_axis(axis, rank, "attribute 'axis'");
    for (int64_t i = 0; i < a; ++i) outer *= d[size_t(i)];
    n = d[size_t(a)];
    for (int64_t i = a + 1; i < rank; ++i) inner *= d[size_t(i)];
  }
  dispatch_float(x.type(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i)
        softmax_row<T>(mode, in + o * n * inner + i, out + o * n * inner + i, n, inner);
  });
}

double Softmax::flops(const Node& node) const {
  const auto& s = node.outputs[0]->type.shape;
  return s.is_static() ? 4.0 * double(element_count(s.to_dims())) : 0.0;
}

namespace {
template <SoftmaxMode M>
void import_softmax(OnnxNode& n) {
  auto op = std::make_unique<Softmax>();
  op->mode = M;
  op->coerce_2d = n.opset() < 13;
  op->axis = n.attr_int("axis", op->coerce_2d ? 1 : -1);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Softmax() { return std::make_unique<Softmax>(); }

void register_op_Softmax(OpRegistry& r) {
  r.add_onnx("Softmax", 1, kMaxOpset, import_softmax<SoftmaxMode::kSoftmax>);
  r.add_onnx("LogSoftmax", 1, kMaxOpset, import_softmax<SoftmaxMode::kLogSoftmax>);
  r.add_onnx("Hardmax", 1, kMaxOpset, import_softmax<SoftmaxMode::kHardmax>);
}

}  // namespace celer
