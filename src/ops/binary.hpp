// Binary: elementwise ops on two inputs with numpy-style broadcasting (Add, Sub, Mul, Div, comparisons, logic, ...).
#pragma once

#include "ops/op.hpp"

namespace celer {

enum class BinaryFn : uint8_t { kAdd, kSub, kMul, kDiv };

const char* binary_fn_name(BinaryFn fn);

class Binary final : public OpBase<Binary, OpKind::kBinary> {
 public:
  explicit Binary(BinaryFn f) : fn(f) {}
  BinaryFn fn;

  const char* type_name() const override { return binary_fn_name(fn); }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;
};

}  // namespace celer
