// Unary: elementwise functions of one input (math, rounding, activations, logic, NaN/Inf tests). One canonical op
// for all of them; fusions and fast kernels inspect `fn` and the float parameters.
#pragma once

#include "ops/op.hpp"

namespace celer {

// The functions, sorted by name. The meaning of alpha/beta/gamma per function:
//   Celu alpha; Elu alpha; HardSigmoid alpha, beta (y = clamp(alpha*x + beta, 0, 1)); HardSwish alpha=1/6, beta=0.5;
//   IsInf alpha = detect_positive, beta = detect_negative (0 or 1); LeakyRelu alpha; Selu alpha, gamma;
//   Shrink alpha = lambd, beta = bias; ThresholdedRelu alpha. Others use none.
// Functions with no ONNX op of their own (made by graph fusions): Clip alpha = min, beta = max (constant bounds);
//   Gelu alpha = 0 for the erf form, 1 for the tanh approximation; Silu (x * sigmoid(x)).
enum class UnaryFn : uint8_t {
  kAbs,
  kAcos,
  kAcosh,
  kAsin,
  kAsinh,
  kAtan,
  kAtanh,
  kCeil,
  kCelu,
  kClip,
  kCos,
  kCosh,
  kElu,
  kErf,
  kExp,
  kFloor,
  kGelu,
  kHardSigmoid,
  kHardSwish,
  kIsInf,
  kIsNaN,
  kLeakyRelu,
  kLog,
  kNeg,
  kNot,
  kReciprocal,
  kRelu,
  kRound,
  kSelu,
  kShrink,
  kSigmoid,
  kSign,
  kSilu,
  kSin,
  kSinh,
  kSoftplus,
  kSoftsign,
  kSqrt,
  kTan,
  kTanh,
  kThresholdedRelu,
};

// The ONNX op type name of a function ("Relu", "IsNaN", ...).
const char* unary_fn_name(UnaryFn fn);

class Unary;
// The function of `op` on one value, as the reference kernel computes it (for post-ops and fast-kernel tails).
float unary_eval(const Unary& op, float x);

class Unary final : public OpBase<Unary, OpKind::kUnary> {
 public:
  Unary() : Unary(UnaryFn::kRelu) {}  // for make_op
  explicit Unary(UnaryFn f, float a = 0, float b = 0, float g = 0) : fn(f), alpha(a), beta(b), gamma(g) {}
  UnaryFn fn;
  float alpha;
  float beta;
  float gamma;

  const char* type_name() const override { return unary_fn_name(fn); }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "fn", fn, UnaryFn::kThresholdedRelu);
    v.on("alpha", alpha);
    v.on("beta", beta);
    v.on("gamma", gamma);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;
};

}  // namespace celer
