#include "ops/post_ops.hpp"

#include "core/dispatch.hpp"
#include "ops/util.hpp"

namespace celer {

std::string post_ops_to_string(const PostOps& ops) {
  std::string s;
  for (const PostOp& p : ops) {
    if (!s.empty()) s += "+";
    switch (p.kind) {
      case PostOp::Kind::kUnary: s += unary_fn_name(p.fn); break;
      case PostOp::Kind::kAdd: s += "Add(in" + std::to_string(p.input) + ")"; break;
      case PostOp::Kind::kMul: s += "Mul(in" + std::to_string(p.input) + ")"; break;
    }
  }
  return s;
}

void check_post_ops(const PostOps& ops, const InferContext& ctx, ElementType out_type, const PartialShape& out) {
  for (const PostOp& p : ops) {
    if (p.kind == PostOp::Kind::kUnary) continue;
    CELER_CHECK(ctx.has_input(p.input), kInvalidModel, "fused operand input ", p.input, " is missing");
    ElementType t = ctx.input_elem(p.input);
    CELER_CHECK(t == out_type || t == ElementType::kUndefined || out_type == ElementType::kUndefined, kInvalidModel,
                "fused operand input ", p.input, " has element type ", element_type_name(t), ", the output ",
                element_type_name(out_type));
    PartialShape b = broadcast_shapes(out, ctx.input_shape(p.input));
    CELER_CHECK(!b.rank_known() || !out.rank_known() || b.rank() == out.rank(), kShapeMismatch, "fused operand input ",
                p.input, " of shape ", ctx.input_shape(p.input).to_string(), " would grow the output ", out.to_string());
  }
}

void apply_post_ops(const PostOps& ops, const KernelContext& ctx, Tensor& out) {
  if (ops.empty() || out.size() == 0) return;
  dispatch_float(out.type(), [&]<typename T>() {
    T* y = out.data<T>();
    const int64_t n = out.size();
    for (const PostOp& p : ops) {
      if (p.kind == PostOp::Kind::kUnary) {
        Unary u(p.fn, p.alpha, p.beta, p.gamma);
        for (int64_t i = 0; i < n; ++i) y[i] = T(unary_eval(u, float(y[i])));
        continue;
      }
      const Tensor& other = ctx.input(p.input);
      CELER_CHECK(other.type() == out.type(), kInvalidArgument, "fused operand input ", p.input, " has element type ",
                  element_type_name(other.type()));
      CELER_CHECK(broadcast_dims(out.dims(), other.dims()) == out.dims(), kShapeMismatch, "fused operand input ",
                  p.input, " of shape ", dims_to_string(other.dims()), " does not broadcast to ",
                  dims_to_string(out.dims()));
      const T* o = other.data<T>();
      const bool add = p.kind == PostOp::Kind::kAdd;
      for_each_broadcast(out.dims(), {other.dims()}, [&](int64_t i, const int64_t* off) {
        y[i] = add ? T(float(y[i]) + float(o[off[0]])) : T(float(y[i]) * float(o[off[0]]));
      });
    }
  });
}

}  // namespace celer
