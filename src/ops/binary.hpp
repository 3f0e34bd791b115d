// Binary: elementwise ops on two inputs with numpy-style broadcasting: arithmetic, Pow, Mod, Max/Min, PRelu, bit
// shifts, logic and comparisons. Sum/Max/Min/Mean with any number of inputs import as chains of these.
#pragma once

#include "ops/op.hpp"

namespace celer {

enum class BinaryFn : uint8_t {
  kAdd,
  kSub,
  kMul,
  kDiv,           // integers truncate toward zero; division by zero is a kRuntime error
  kPow,           // the exponent may have another element type than the base (the output's)
  kMod,           // integers only: the result has the divisor's sign (ONNX Mod with fmod=0)
  kFmod,          // the result has the dividend's sign (ONNX Mod with fmod=1, C fmod)
  kMax,           // NaN propagates
  kMin,           // NaN propagates
  kPRelu,         // x < 0 ? slope * x : x; the slope (input 1) broadcasts to x's shape
  kBitShiftLeft,  // unsigned integers; shifting by the bit width or more gives 0
  kBitShiftRight,
  kAnd,  // bool -> bool
  kOr,
  kXor,
  kEqual,  // comparisons: bool output
  kLess,
  kLessOrEqual,
  kGreater,
  kGreaterOrEqual,
};

const char* binary_fn_name(BinaryFn fn);
// Whether the output is bool (logic and comparisons).
bool binary_fn_outputs_bool(BinaryFn fn);

class Binary final : public OpBase<Binary, OpKind::kBinary> {
 public:
  Binary() : Binary(BinaryFn::kAdd) {}  // for make_op
  explicit Binary(BinaryFn f) : fn(f) {}
  BinaryFn fn;

  const char* type_name() const override { return binary_fn_name(fn); }
  void visit_attrs(AttrVisitor& v) override { visit_enum(v, "fn", fn, BinaryFn::kGreaterOrEqual); }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;
};

}  // namespace celer
