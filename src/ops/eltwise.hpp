// Eltwise: a chain of elementwise steps on input 0 (unary functions, and Add/Sub/Mul/Div/Max/Min with another input
// broadcast onto it) computed in one pass over memory. Made by a graph pass from chains of Unary and Binary nodes; it
// has no ONNX mapping. The output has input 0's shape and type; each step rounds to the element type like the separate
// nodes did.
// With `concat` = k >= 2, the chain's input is the concatenation of inputs 0..k-1 along axis 1 (a Concat whose only
// reader was the chain, e.g. DenseNet's Concat -> BatchNormalization -> Relu), and step operands are inputs k and up.
#pragma once

#include <vector>

#include "ops/binary.hpp"
#include "ops/op.hpp"
#include "ops/unary.hpp"

namespace celer {

struct EltwiseStep {
  bool unary = true;
  UnaryFn ufn = UnaryFn::kRelu;  // unary steps
  float alpha = 0, beta = 0, gamma = 0;
  BinaryFn bfn = BinaryFn::kAdd;  // binary steps: y = y op in[input], or in[input] op y when operand_first
  size_t input = 0;
  bool operand_first = false;
};

class Eltwise final : public OpBase<Eltwise, OpKind::kEltwise> {
 public:
  std::vector<EltwiseStep> steps;
  int64_t concat = 0;  // 0: input 0 is the chain's input; k >= 2: inputs 0..k-1 joined along axis 1 are

  // How many leading inputs form the chain's input.
  size_t chain_inputs() const { return concat >= 2 ? size_t(concat) : 1; }

  const char* type_name() const override { return "Eltwise"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("concat", concat);
    visit_list(v, "steps", steps, [&](EltwiseStep& s) {
      v.on("unary", s.unary);
      visit_enum(v, "ufn", s.ufn, UnaryFn::kThresholdedRelu);
      v.on("alpha", s.alpha);
      v.on("beta", s.beta);
      v.on("gamma", s.gamma);
      visit_enum(v, "bfn", s.bfn, BinaryFn::kGreaterOrEqual);
      v.on("input", s.input);
      v.on("operand_first", s.operand_first);
    });
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;
};

// Whether Eltwise computes this binary function (Add, Sub, Mul, Div, Max, Min).
bool eltwise_supports(BinaryFn fn);

}  // namespace celer
