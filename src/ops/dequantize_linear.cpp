// DequantizeLinear: y = (x - x_zero_point) * x_scale, per tensor or per axis (opset 13). x is u8, i8 or i32 (an i32
// input has no zero point, or a zero one); the output has the scale's float type.
#include "ops/dequantize_linear.hpp"

#include "onnx/onnx_node.hpp"
#include "ops/quant_util.hpp"
#include "ops/registry.hpp"

namespace celer {

void DequantizeLinear::infer(InferContext& ctx) const {
  ElementType xt = ctx.input_elem(0);
  CELER_CHECK(quant::is_q8(xt) || xt == ElementType::kI32, kInvalidModel, "input 'x' has element type ",
              element_type_name(xt), " (u8, i8 or i32 expected)");
  if (ctx.has_input(2)) {
    CELER_CHECK(ctx.input_elem(2) == xt, kInvalidModel, "input 'x_zero_point' has element type ",
                element_type_name(ctx.input_elem(2)), " but input 'x' has ", element_type_name(xt));
    if (const Tensor* z = ctx.input_value(2)) check_i32_zero(*z);
  }
  quant::infer_params(ctx, 0, 1, 2, axis, per_axis_allowed, "input 'x_scale'", "input 'x_zero_point'");
  ctx.set_output(0, ctx.input_elem(1), ctx.input_shape(0));
}

void DequantizeLinear::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zero = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (zero) check_i32_zero(*zero);
  bool per_axis = scale.size() != 1;
  int64_t ax = per_axis ? normalize_axis(axis, x.rank()) : 0;
  quant::Params p = quant::read_params(scale, zero, per_axis_allowed && per_axis ? x.dim(ax) : -1, "input 'x_scale'",
                                       "input 'x_zero_point'");
  quant::AxisIndexer at(x.dims(), ax, per_axis);
  Tensor& y = ctx.output(0);
  dispatch_float(y.type(), [&]<typename T>() {
    T* py = y.data<T>();
    auto dequantize = [&](auto xs) {
      for (int64_t i = 0; i < x.size(); ++i) {
        int64_t c = at.channel(i);
        py[i] = T(float(int64_t(xs[i]) - p.zero_at(c)) * p.scale_at(c));
      }
    };
    switch (x.type()) {
      case ElementType::kU8:
        dequantize(x.data<uint8_t>());
        break;
      case ElementType::kI8:
        dequantize(x.data<int8_t>());
        break;
      default:
        dequantize(x.data<int32_t>());
        break;
    }
  });
}

void DequantizeLinear::check_i32_zero(const Tensor& z) {
  if (z.type() != ElementType::kI32) return;
  for (int64_t i = 0; i < z.size(); ++i)
    CELER_CHECK(z.data<int32_t>()[i] == 0, kInvalidModel, "input 'x_zero_point' has the value ", z.data<int32_t>()[i],
                " but the zero point of an i32 input must be 0");
}

namespace {
void import_dequantize_linear(OnnxNode& n) {
  auto op = std::make_unique<DequantizeLinear>();
  op->per_axis_allowed = n.opset() >= 13;
  op->axis = n.attr_int("axis", 1);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_DequantizeLinear() { return std::make_unique<DequantizeLinear>(); }

void register_op_DequantizeLinear(OpRegistry& r) {
  r.add_onnx("DequantizeLinear", 10, kMaxOpset, import_dequantize_linear);
}

}  // namespace celer
