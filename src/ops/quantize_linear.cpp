// QuantizeLinear: y = saturate(round_half_even(x / y_scale) + y_zero_point), per tensor or per axis (opset 13).
// The output type is the zero point's (u8 when omitted).
#include "ops/quantize_linear.hpp"

#include "onnx/onnx_node.hpp"
#include "ops/quant_util.hpp"
#include "ops/registry.hpp"

namespace celer {

void QuantizeLinear::infer(InferContext& ctx) const {
  ElementType xt = ctx.input_elem(0);
  CELER_CHECK(is_float(xt) || xt == ElementType::kI32, kInvalidModel, "input 'x' has element type ",
              element_type_name(xt), " (a float type or i32 expected)");
  ElementType yt = ElementType::kU8;
  if (ctx.has_input(2)) {
    yt = ctx.input_elem(2);
    CELER_CHECK(quant::is_q8(yt), kInvalidModel, "input 'y_zero_point' has element type ", element_type_name(yt),
                " (u8 or i8 expected)");
  }
  quant::infer_params(ctx, 0, 1, 2, axis, per_axis_allowed, "input 'y_scale'", "input 'y_zero_point'");
  ctx.set_output(0, yt, ctx.input_shape(0));
}

void QuantizeLinear::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zero = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  bool per_axis = scale.size() != 1;
  int64_t ax = per_axis ? normalize_axis(axis, x.rank()) : 0;
  quant::Params p = quant::read_params(scale, zero, per_axis_allowed && per_axis ? x.dim(ax) : -1, "input 'y_scale'",
                                       "input 'y_zero_point'");
  quant::AxisIndexer at(x.dims(), ax, per_axis);
  Tensor& y = ctx.output(0);
  quant::dispatch_q8(y.type(), "output 'y'", [&]<typename Q>() {
    Q* py = y.data<Q>();
    auto quantize = [&](auto xs) {
      for (int64_t i = 0; i < x.size(); ++i) {
        int64_t c = at.channel(i);
        py[i] = quant::saturate_round<Q>(float(xs[i]) / p.scale_at(c), p.zero_at(c));
      }
    };
    if (x.type() == ElementType::kI32) {
      quantize(x.data<int32_t>());
    } else {
      dispatch_float(x.type(), [&]<typename T>() { quantize(x.data<T>()); });
    }
  });
}

namespace {
void import_quantize_linear(OnnxNode& n) {
  auto op = std::make_unique<QuantizeLinear>();
  op->per_axis_allowed = n.opset() >= 13;
  op->axis = n.attr_int("axis", 1);
  if (n.has_attr("saturate")) n.unsupported("attribute 'saturate' (float8 outputs) is not supported");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_QuantizeLinear() { return std::make_unique<QuantizeLinear>(); }

void register_op_QuantizeLinear(OpRegistry& r) { r.add_onnx("QuantizeLinear", 10, kMaxOpset, import_quantize_linear); }

}  // namespace celer
