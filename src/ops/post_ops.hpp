// Post-ops: elementwise work fused onto the output of Conv, ConvTranspose, MatMul and Gemm by graph passes (an
// activation, a residual Add, a scaling Mul), applied in order. They map one-to-one onto oneDNN post-ops; the reference
// kernels apply them with apply_post_ops(), so a fused node computes exactly what the unfused nodes did.
#pragma once

#include <string>
#include <vector>

#include "ops/op.hpp"
#include "ops/unary.hpp"

namespace celer {

struct PostOp {
  enum class Kind : uint8_t {
    kUnary,  // y = f(y) with a Unary function and its parameters
    kAdd,    // y = y + input  (the operand is explicit input `input` of the node, broadcast to y)
    kMul,    // y = y * input
  };
  Kind kind = Kind::kUnary;
  UnaryFn fn = UnaryFn::kRelu;
  float alpha = 0, beta = 0, gamma = 0;
  size_t input = 0;

  static PostOp unary(UnaryFn f, float a = 0, float b = 0, float g = 0) {
    PostOp p;
    p.fn = f;
    p.alpha = a;
    p.beta = b;
    p.gamma = g;
    return p;
  }
  static PostOp binary(Kind k, size_t input_index) {
    PostOp p;
    p.kind = k;
    p.input = input_index;
    return p;
  }
};
using PostOps = std::vector<PostOp>;

// "relu", "add(in3)", ... joined by '+', for node descriptions and profiles.
std::string post_ops_to_string(const PostOps& ops);
// Checks the operands of kAdd/kMul: present, of the output's element type, broadcastable onto `out` without growing it.
void check_post_ops(const PostOps& ops, const InferContext& ctx, ElementType out_type, const PartialShape& out);
// Applies the post-ops to `out` (float element types) in order.
void apply_post_ops(const PostOps& ops, const KernelContext& ctx, Tensor& out);

inline void visit_post_ops(AttrVisitor& v, PostOps& ops) {
  visit_list(v, "post_ops", ops, [&](PostOp& p) {
    visit_enum(v, "kind", p.kind, PostOp::Kind::kMul);
    visit_enum(v, "fn", p.fn, UnaryFn::kThresholdedRelu);
    v.on("alpha", p.alpha);
    v.on("beta", p.beta);
    v.on("gamma", p.gamma);
    v.on("input", p.input);
  });
}

}  // namespace celer
