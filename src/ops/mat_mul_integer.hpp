// MatMulInteger: y = (A - a_zero_point) x (B - b_zero_point) with numpy matmul rules and int32 accumulation.
// A and B are u8 or i8; zero points are per tensor, per row of A ([M] or [..., M, 1]) or per column of B ([N] or
// [..., 1, N]).
// The class is in this header for the CPU device's INT8 rules (passes/fuse_quantized.cpp).
#pragma once

#include "ops/quant_util.hpp"

namespace celer {

class MatMulInteger final : public OpBase<MatMulInteger, OpKind::kMatMulInteger> {
 public:
  const char* type_name() const override { return "MatMulInteger"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    CELER_CHECK(quant::is_q8(ctx.input_elem(0)), kInvalidModel, "input 'A' has element type ",
                element_type_name(ctx.input_elem(0)), " (u8 or i8 expected)");
    CELER_CHECK(quant::is_q8(ctx.input_elem(1)), kInvalidModel, "input 'B' has element type ",
                element_type_name(ctx.input_elem(1)), " (u8 or i8 expected)");
    if (ctx.has_input(2))
      CELER_CHECK(ctx.input_elem(2) == ctx.input_elem(0), kInvalidModel, "input 'a_zero_point' must have A's type");
    if (ctx.has_input(3))
      CELER_CHECK(ctx.input_elem(3) == ctx.input_elem(1), kInvalidModel, "input 'b_zero_point' must have B's type");
    ctx.set_output(0, ElementType::kI32, quant::matmul_shape(ctx.input_shape(0), ctx.input_shape(1)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    quant::MatMulGeometry g = quant::matmul_geometry(a.dims(), b.dims());
    auto zeros = [&](size_t i, bool of_a, const char* what) {
      if (!ctx.has_input(i)) return quant::expand_rows_or_cols(std::vector<int32_t>{0}, Dims{}, g, of_a, what);
      const Tensor& z = ctx.input(i);
      return quant::expand_rows_or_cols(quant::int_values(z, what), z.dims(), g, of_a, what);
    };
    std::vector<int32_t> za = zeros(2, true, "input 'a_zero_point'");
    std::vector<int32_t> zb = zeros(3, false, "input 'b_zero_point'");
    Tensor& y = ctx.output(0, ElementType::kI32, g.out);
    quant::dispatch_q8(a.type(), "input 'A'", [&]<typename A>() {
      quant::dispatch_q8(b.type(), "input 'B'", [&]<typename B>() {
        quant::matmul_integer(g, a.data<A>(), b.data<B>(), za, zb, y.data<int32_t>());
      });
    });
  }

  double flops(const Node& node) const override {
    const auto& a = node.inputs[0]->type.shape;
    const auto& y = node.outputs[0]->type.shape;
    if (!a.is_static() || !y.is_static() || a.rank() < 1) return 0;
    return 2.0 * double(element_count(y.to_dims())) * double(a.to_dims().back());
  }
};

}  // namespace celer
