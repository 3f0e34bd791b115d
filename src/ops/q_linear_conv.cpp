// QLinearConv (see q_linear_conv.hpp): the ONNX op, extended with fused post-ops and an f32 output for the CPU
// device's int8 rules (passes/fuse_quantized.cpp); this reference kernel defines what the fused forms compute.
#include "ops/q_linear_conv.hpp"

#include "onnx/onnx_node.hpp"
#include "ops/quant_util.hpp"
#include "ops/registry.hpp"

namespace celer {

namespace {
const char* const kNames[] = {"x",       "x_scale",      "x_zero_point", "w",
                              "w_scale", "w_zero_point", "y_scale",      "y_zero_point"};
}  // namespace

void QLinearConv::infer(InferContext& ctx) const {
  for (size_t i = 0; i < 8; ++i)
    CELER_CHECK(ctx.has_input(i) || (float_output && i >= 6), kInvalidModel, "input '", kNames[i], "' is required");
  for (size_t i : {0, 2, 3, 5, 7})
    if (ctx.has_input(i))
      CELER_CHECK(quant::is_q8(ctx.input_elem(i)), kInvalidModel, "input '", kNames[i], "' has element type ",
                  element_type_name(ctx.input_elem(i)), " (u8 or i8 expected)");
  CELER_CHECK(ctx.input_elem(2) == ctx.input_elem(0) && ctx.input_elem(5) == ctx.input_elem(3), kInvalidModel,
              "a zero point must have the type of its input");
  if (ctx.has_input(8))
    CELER_CHECK(ctx.input_elem(8) == ElementType::kI32, kInvalidModel, "input 'B' has element type ",
                element_type_name(ctx.input_elem(8)), " (i32 expected)");
  for (size_t i : {1, 4, 6})
    if (ctx.has_input(i))
      if (const Tensor* s = ctx.input_value(i))
        quant::checked_scales(*s, quant::input_named(ctx, i, std::string("input '") + kNames[i] + "'"));
  PartialShape out = quant::conv_shape(ctx.input_shape(0), ctx.input_shape(3), window, group);
  quant::check_quant_post_ops(post_ops, ctx, out);
  ctx.set_output(0, float_output ? ElementType::kF32 : ctx.input_elem(7), std::move(out));
}

void QLinearConv::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(3);
  quant::ConvGeometry g = quant::conv_geometry(x.dims(), w.dims(), window, group);
  quant::Params px = quant::read_params(ctx.input(1), &ctx.input(2), -1, "input 'x_scale'", "input 'x_zero_point'");
  quant::Params pw =
      quant::read_params(ctx.input(4), &ctx.input(5), g.out_channels, "input 'w_scale'", "input 'w_zero_point'");
  quant::Params py;
  if (!float_output)
    py = quant::read_params(ctx.input(6), &ctx.input(7), -1, "input 'y_scale'", "input 'y_zero_point'");
  std::vector<int32_t> bias;
  if (ctx.has_input(8)) {
    const Tensor& b = ctx.input(8);
    CELER_CHECK(b.rank() == 1 && b.dim(0) == g.out_channels, kShapeMismatch, "input 'B' has shape ",
                dims_to_string(b.dims()), " but must be [", g.out_channels, "]");
    bias = quant::int_values(b, "input 'B'");
  }
  std::vector<int32_t> acc(size_t(element_count(g.out_dims)));
  quant::dispatch_q8(x.type(), "input 'x'", [&]<typename X>() {
    quant::dispatch_q8(w.type(), "input 'w'", [&]<typename W>() {
      quant::conv_integer(g, x.data<X>(), w.data<W>(), px.zero[0], pw.zero, acc.data());
    });
  });
  const int64_t spatial = element_count(g.out);
  auto value = [&](size_t i, int64_t m) {  // acc + B, wrapped like an int32 accumulator
    const int64_t b = bias.empty() ? 0 : bias[size_t(m)];
    return float(int32_t(uint32_t(acc[i]) + uint32_t(b)));
  };
  if (post_ops.empty() && !float_output) {
    // The ONNX op: one rounding of acc * (x_scale * w_scale / y_scale).
    Tensor& y = ctx.output(0, ctx.input(7).type(), g.out_dims);
    quant::dispatch_q8(y.type(), "input 'y_zero_point'", [&]<typename Q>() {
      Q* out = y.data<Q>();
      for (int64_t n = 0; n < g.batch; ++n)
        for (int64_t m = 0; m < g.out_channels; ++m) {
          const float mult = px.scale[0] * pw.scale_at(m) / py.scale[0];
          for (int64_t o = 0; o < spatial; ++o) {
            const size_t i = size_t((n * g.out_channels + m) * spatial + o);
            out[i] = quant::saturate_round<Q>(value(i, m) * mult, py.zero[0]);
          }
        }
    });
    return;
  }
  Tensor tmp;
  Tensor& v =
      float_output ? ctx.output(0, ElementType::kF32, g.out_dims) : (tmp = Tensor(ElementType::kF32, g.out_dims));
  float* pv = v.data<float>();
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t m = 0; m < g.out_channels; ++m) {
      const float mult = px.scale[0] * pw.scale_at(m);
      for (int64_t o = 0; o < spatial; ++o) {
        const size_t i = size_t((n * g.out_channels + m) * spatial + o);
        pv[i] = value(i, m) * mult;
      }
    }
  quant::apply_quant_post_ops(post_ops, ctx, v);
  if (float_output) return;
  Tensor& y = ctx.output(0, ctx.input(7).type(), g.out_dims);
  quant::dispatch_q8(y.type(), "input 'y_zero_point'", [&]<typename Q>() {
    Q* out = y.data<Q>();
    for (int64_t i = 0; i < v.size(); ++i) out[i] = quant::saturate_round<Q>(pv[i] / py.scale[0], py.zero[0]);
  });
}

double QLinearConv::flops(const Node& node) const {
  if (node.outputs.empty() || !node.outputs[0] || node.inputs.size() < 4 || !node.inputs[3]) return 0;
  const auto& ys = node.outputs[0]->type.shape;
  const auto& ws = node.inputs[3]->type.shape;
  if (!ys.is_static() || !ws.is_static()) return 0;
  Dims wd = ws.to_dims();
  double per_out = 1;
  for (size_t i = 1; i < wd.size(); ++i) per_out *= double(wd[i]);
  return 2.0 * double(element_count(ys.to_dims())) * per_out;
}

namespace {
void import_q_linear_conv(OnnxNode& n) {
  auto op = std::make_unique<QLinearConv>();
  op->window = read_window_attrs(n);
  op->group = n.attr_int("group", 1);
  if (op->group < 1) n.fail("attribute 'group' = ", op->group, " must be positive");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_QLinearConv() { return std::make_unique<QLinearConv>(); }

void register_op_QLinearConv(OpRegistry& r) { r.add_onnx("QLinearConv", 10, kMaxOpset, import_q_linear_conv); }

}  // namespace celer
