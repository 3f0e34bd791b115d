// QLinearMatMul (see q_linear_mat_mul.hpp): the ONNX op, extended with a fused i32 bias, post-ops and an f32 output
// for the CPU device's int8 rules (passes/fuse_quantized.cpp); this reference kernel defines what the fused forms
// compute.
#include "ops/q_linear_mat_mul.hpp"

#include "onnx/onnx_node.hpp"
#include "ops/quant_util.hpp"
#include "ops/registry.hpp"

namespace celer {

namespace {
const char* const kNames[] = {"a",       "a_scale",      "a_zero_point", "b",
                              "b_scale", "b_zero_point", "y_scale",      "y_zero_point"};
}  // namespace

void QLinearMatMul::infer(InferContext& ctx) const {
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
  PartialShape out = quant::matmul_shape(ctx.input_shape(0), ctx.input_shape(3));
  quant::check_quant_post_ops(post_ops, ctx, out);
  ctx.set_output(0, float_output ? ElementType::kF32 : ctx.input_elem(7), std::move(out));
}

void QLinearMatMul::run(KernelContext& ctx) const {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  quant::MatMulGeometry g = quant::matmul_geometry(a.dims(), b.dims());
  auto expand_int = [&](size_t i, bool of_a, const char* what) {
    const Tensor& t = ctx.input(i);
    return quant::expand_rows_or_cols(quant::int_values(t, what), t.dims(), g, of_a, what);
  };
  auto expand_scale = [&](size_t i, bool of_a, const char* what) {
    const Tensor& t = ctx.input(i);
    return quant::expand_rows_or_cols(quant::checked_scales(t, what), t.dims(), g, of_a, what);
  };
  std::vector<int32_t> za = expand_int(2, true, "input 'a_zero_point'");
  std::vector<int32_t> zb = expand_int(5, false, "input 'b_zero_point'");
  std::vector<float> sa = expand_scale(1, true, "input 'a_scale'");
  std::vector<float> sb = expand_scale(4, false, "input 'b_scale'");
  quant::Params py;
  if (!float_output)
    py = quant::read_params(ctx.input(6), &ctx.input(7), -1, "input 'y_scale'", "input 'y_zero_point'");
  std::vector<int32_t> bias;
  if (ctx.has_input(8)) {
    const Tensor& bt = ctx.input(8);
    CELER_CHECK(bt.rank() == 1 && bt.dim(0) == g.n, kShapeMismatch, "input 'B' has shape ", dims_to_string(bt.dims()),
                " but must be [", g.n, "]");
    bias = quant::int_values(bt, "input 'B'");
  }
  std::vector<int32_t> acc(size_t(element_count(g.out)));
  quant::dispatch_q8(a.type(), "input 'a'", [&]<typename A>() {
    quant::dispatch_q8(b.type(), "input 'b'",
                       [&]<typename B>() { quant::matmul_integer(g, a.data<A>(), b.data<B>(), za, zb, acc.data()); });
  });
  const int64_t M = g.m, N = g.n;
  // Visits every output element with acc + B (wrapped like an int32 accumulator) and the product of a's and b's scales.
  auto each = [&](auto&& f) {
    for (size_t mat = 0; mat < g.a_mat.size(); ++mat)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          const size_t i = (mat * size_t(M) + size_t(m)) * size_t(N) + size_t(n);
          const int64_t bv = bias.empty() ? 0 : bias[size_t(n)];
          const float s = sa[size_t(g.a_mat[mat] * M + m)] * sb[size_t(g.b_mat[mat] * N + n)];
          f(i, float(int32_t(uint32_t(acc[i]) + uint32_t(bv))), s);
        }
  };
  if (post_ops.empty() && !float_output) {
    // The ONNX op: one rounding of acc * (a_scale * b_scale / y_scale).
    Tensor& y = ctx.output(0, ctx.input(7).type(), g.out);
    quant::dispatch_q8(y.type(), "input 'y_zero_point'", [&]<typename Q>() {
      Q* out = y.data<Q>();
      each([&](size_t i, float v, float s) { out[i] = quant::saturate_round<Q>(v * (s / py.scale[0]), py.zero[0]); });
    });
    return;
  }
  Tensor tmp;
  Tensor& v = float_output ? ctx.output(0, ElementType::kF32, g.out) : (tmp = Tensor(ElementType::kF32, g.out));
  float* pv = v.data<float>();
  each([&](size_t i, float val, float s) { pv[i] = val * s; });
  quant::apply_quant_post_ops(post_ops, ctx, v);
  if (float_output) return;
  Tensor& y = ctx.output(0, ctx.input(7).type(), g.out);
  quant::dispatch_q8(y.type(), "input 'y_zero_point'", [&]<typename Q>() {
    Q* out = y.data<Q>();
    for (int64_t i = 0; i < v.size(); ++i) out[i] = quant::saturate_round<Q>(pv[i] / py.scale[0], py.zero[0]);
  });
}

double QLinearMatMul::flops(const Node& node) const {
  if (node.outputs.empty() || !node.outputs[0] || node.inputs.size() < 4 || !node.inputs[0]) return 0;
  const auto& ys = node.outputs[0]->type.shape;
  const auto& as = node.inputs[0]->type.shape;
  if (!ys.is_static() || !as.is_static() || as.rank() < 1) return 0;
  return 2.0 * double(element_count(ys.to_dims())) * double(as.to_dims().back());
}

namespace {
void import_q_linear_mat_mul(OnnxNode& n) { n.emit(std::make_unique<QLinearMatMul>()); }
}  // namespace

std::unique_ptr<Op> make_op_QLinearMatMul() { return std::make_unique<QLinearMatMul>(); }

void register_op_QLinearMatMul(OpRegistry& r) { r.add_onnx("QLinearMatMul", 10, kMaxOpset, import_q_linear_mat_mul); }

}  // namespace celer
