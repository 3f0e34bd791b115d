// QLinearConv: quantized convolution. acc = conv(x - x_zp, w - w_zp) + B in int32, then
// y = saturate(round_half_even(acc * x_scale * w_scale[m] / y_scale) + y_zp). w's scale and zero point are per tensor
// or per output channel; the others per tensor. Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
// y_zero_point, B (optional i32 [M]). The output has y_zero_point's type.
#include "onnx/onnx_node.hpp"
#include "ops/quant_util.hpp"
#include "ops/registry.hpp"

namespace celer {

class QLinearConv final : public OpBase<QLinearConv, OpKind::kQLinearConv> {
 public:
  WindowAttrs window;
  int64_t group = 1;

  const char* type_name() const override { return "QLinearConv"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_window(v, window);
    v.on("group", group);
  }

  void infer(InferContext& ctx) const override {
    static const char* names[] = {"x",       "x_scale",      "x_zero_point", "w",
                                  "w_scale", "w_zero_point", "y_scale",      "y_zero_point"};
    for (size_t i = 0; i < 8; ++i) CELER_CHECK(ctx.has_input(i), kInvalidModel, "input '", names[i], "' is required");
    for (size_t i : {0, 2, 3, 5, 7})
      CELER_CHECK(quant::is_q8(ctx.input_elem(i)), kInvalidModel, "input '", names[i], "' has element type ",
                  element_type_name(ctx.input_elem(i)), " (u8 or i8 expected)");
    CELER_CHECK(ctx.input_elem(2) == ctx.input_elem(0) && ctx.input_elem(5) == ctx.input_elem(3), kInvalidModel,
                "a zero point must have the type of its input");
    if (ctx.has_input(8))
      CELER_CHECK(ctx.input_elem(8) == ElementType::kI32, kInvalidModel, "input 'B' has element type ",
                  element_type_name(ctx.input_elem(8)), " (i32 expected)");
    for (size_t i : {1, 4, 6})
      if (const Tensor* s = ctx.input_value(i)) quant::checked_scales(*s, std::string("input '") + names[i] + "'");
    ctx.set_output(0, ctx.input_elem(7), quant::conv_shape(ctx.input_shape(0), ctx.input_shape(3), window, group));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(3);
    quant::ConvGeometry g = quant::conv_geometry(x.dims(), w.dims(), window, group);
    quant::Params px = quant::read_params(ctx.input(1), &ctx.input(2), -1, "input 'x_scale'", "input 'x_zero_point'");
    quant::Params pw =
        quant::read_params(ctx.input(4), &ctx.input(5), g.out_channels, "input 'w_scale'", "input 'w_zero_point'");
    quant::Params py = quant::read_params(ctx.input(6), &ctx.input(7), -1, "input 'y_scale'", "input 'y_zero_point'");
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
    Tensor& y = ctx.output(0, ctx.input(7).type(), g.out_dims);
    const int64_t spatial = element_count(g.out);
    quant::dispatch_q8(y.type(), "input 'y_zero_point'", [&]<typename Q>() {
      Q* out = y.data<Q>();
      for (int64_t n = 0; n < g.batch; ++n)
        for (int64_t m = 0; m < g.out_channels; ++m) {
          float mult = px.scale[0] * pw.scale_at(m) / py.scale[0];
          int64_t b = bias.empty() ? 0 : bias[size_t(m)];
          for (int64_t o = 0; o < spatial; ++o) {
            size_t i = size_t((n * g.out_channels + m) * spatial + o);
            out[i] = quant::saturate_round<Q>(float(int32_t(acc[i] + b)) * mult, py.zero[0]);
          }
        }
    });
  }
};

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
