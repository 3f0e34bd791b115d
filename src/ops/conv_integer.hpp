// ConvInteger: y = conv(x - x_zero_point, w - w_zero_point) with int32 accumulation. x and w are u8 or i8; x's zero
// point is per tensor, w's per tensor or per output channel. Same window attributes as Conv.
// The class is in this header for the CPU device's INT8 rules (passes/fuse_quantized.cpp).
#pragma once

#include "ops/quant_util.hpp"

namespace celer {

class ConvInteger final : public OpBase<ConvInteger, OpKind::kConvInteger> {
 public:
  WindowAttrs window;
  int64_t group = 1;

  const char* type_name() const override { return "ConvInteger"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_window(v, window);
    v.on("group", group);
  }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(quant::is_q8(ctx.input_elem(0)), kInvalidModel, "input 'x' has element type ",
                element_type_name(ctx.input_elem(0)), " (u8 or i8 expected)");
    CELER_CHECK(quant::is_q8(ctx.input_elem(1)), kInvalidModel, "input 'w' has element type ",
                element_type_name(ctx.input_elem(1)), " (u8 or i8 expected)");
    if (ctx.has_input(2))
      CELER_CHECK(ctx.input_elem(2) == ctx.input_elem(0), kInvalidModel, "input 'x_zero_point' must have x's type");
    if (ctx.has_input(3))
      CELER_CHECK(ctx.input_elem(3) == ctx.input_elem(1), kInvalidModel, "input 'w_zero_point' must have w's type");
    ctx.set_output(0, ElementType::kI32, quant::conv_shape(ctx.input_shape(0), ctx.input_shape(1), window, group));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    quant::ConvGeometry g = quant::conv_geometry(x.dims(), w.dims(), window, group);
    int32_t xz = 0;
    if (ctx.has_input(2)) {
      const Tensor& z = ctx.input(2);
      CELER_CHECK(z.size() == 1, kShapeMismatch, "input 'x_zero_point' has shape ", dims_to_string(z.dims()),
                  " but must hold one value (per-tensor)");
      xz = quant::int_values(z, "input 'x_zero_point'")[0];
    }
    std::vector<int32_t> wz{0};
    if (ctx.has_input(3)) {
      const Tensor& z = ctx.input(3);
      CELER_CHECK(z.size() == 1 || (z.rank() == 1 && z.dim(0) == g.out_channels), kShapeMismatch,
                  "input 'w_zero_point' has shape ", dims_to_string(z.dims()), " but must be a scalar or hold ",
                  g.out_channels, " values (one per output channel)");
      wz = quant::int_values(z, "input 'w_zero_point'");
    }
    Tensor& y = ctx.output(0, ElementType::kI32, g.out_dims);
    quant::dispatch_q8(x.type(), "input 'x'", [&]<typename X>() {
      quant::dispatch_q8(w.type(), "input 'w'", [&]<typename W>() {
        quant::conv_integer(g, x.data<X>(), w.data<W>(), xz, wz, y.data<int32_t>());
      });
    });
  }
};

}  // namespace celer
