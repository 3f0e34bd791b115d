// QLinearMatMul: quantized matmul. acc = (a - a_zp) x (b - b_zp) in int32, then
// y = saturate(round_half_even(acc * a_scale * b_scale / y_scale) + y_zp). a's parameters are per tensor or per row,
// b's per tensor or per column, y's per tensor. Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
// y_zero_point; the output has y_zero_point's type.
#include "onnx/onnx_node.hpp"
#include "ops/quant_util.hpp"
#include "ops/registry.hpp"

namespace celer {

class QLinearMatMul final : public OpBase<QLinearMatMul, OpKind::kQLinearMatMul> {
 public:
  const char* type_name() const override { return "QLinearMatMul"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    static const char* names[] = {"a",       "a_scale",      "a_zero_point", "b",
                                  "b_scale", "b_zero_point", "y_scale",      "y_zero_point"};
    for (size_t i = 0; i < 8; ++i) CELER_CHECK(ctx.has_input(i), kInvalidModel, "input '", names[i], "' is required");
    for (size_t i : {0, 2, 3, 5, 7})
      CELER_CHECK(quant::is_q8(ctx.input_elem(i)), kInvalidModel, "input '", names[i], "' has element type ",
                  element_type_name(ctx.input_elem(i)), " (u8 or i8 expected)");
    CELER_CHECK(ctx.input_elem(2) == ctx.input_elem(0) && ctx.input_elem(5) == ctx.input_elem(3), kInvalidModel,
                "a zero point must have the type of its input");
    for (size_t i : {1, 4, 6})
      if (const Tensor* s = ctx.input_value(i)) quant::checked_scales(*s, std::string("input '") + names[i] + "'");
    ctx.set_output(0, ctx.input_elem(7), quant::matmul_shape(ctx.input_shape(0), ctx.input_shape(3)));
  }

  void run(KernelContext& ctx) const override {
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
    quant::Params py = quant::read_params(ctx.input(6), &ctx.input(7), -1, "input 'y_scale'", "input 'y_zero_point'");
    std::vector<int32_t> acc(size_t(element_count(g.out)));
    quant::dispatch_q8(a.type(), "input 'a'", [&]<typename A>() {
      quant::dispatch_q8(b.type(), "input 'b'",
                         [&]<typename B>() { quant::matmul_integer(g, a.data<A>(), b.data<B>(), za, zb, acc.data()); });
    });
    Tensor& y = ctx.output(0, ctx.input(7).type(), g.out);
    quant::dispatch_q8(y.type(), "input 'y_zero_point'", [&]<typename Q>() {
      Q* out = y.data<Q>();
      const int64_t M = g.m, N = g.n;
      for (size_t mat = 0; mat < g.a_mat.size(); ++mat)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            size_t i = (mat * size_t(M) + size_t(m)) * size_t(N) + size_t(n);
            float mult = sa[size_t(g.a_mat[mat] * M + m)] * sb[size_t(g.b_mat[mat] * N + n)] / py.scale[0];
            out[i] = quant::saturate_round<Q>(float(acc[i]) * mult, py.zero[0]);
          }
    });
  }
};

namespace {
void import_q_linear_mat_mul(OnnxNode& n) { n.emit(std::make_unique<QLinearMatMul>()); }
}  // namespace

std::unique_ptr<Op> make_op_QLinearMatMul() { return std::make_unique<QLinearMatMul>(); }

void register_op_QLinearMatMul(OpRegistry& r) { r.add_onnx("QLinearMatMul", 10, kMaxOpset, import_q_linear_mat_mul); }

}  // namespace celer
