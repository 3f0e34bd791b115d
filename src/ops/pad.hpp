// Pad: adds pads[k] elements before and pads[k + rank] after each axis k (negative values crop), filled with a
// constant, the edge value or the reflection of the input (see pad.cpp). The class is in a header so that graph passes
// can fold a zero Pad into the Conv or AveragePool that reads it.
#pragma once

#include <vector>

#include "ops/op.hpp"

namespace celer {

enum class PadMode : uint8_t { kConstant, kReflect, kEdge };

class Pad final : public OpBase<Pad, OpKind::kPad> {
 public:
  PadMode mode = PadMode::kConstant;
  float value = 0;  // the constant when input 'constant_value' is absent (opsets < 11 only set it)

  const char* type_name() const override { return "Pad"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "mode", mode, PadMode::kEdge);
    v.on("value", value);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;

  // The pads of input 'pads' for an input of `rank` (checked: 1-D, 2 * rank values).
  static std::vector<int64_t> read_pads(const Tensor& t, int64_t rank);

 private:
  static int64_t padded(int64_t dim, int64_t before, int64_t after, const std::vector<int64_t>& pads);
  // The input index read for output index `o` of an axis of size `dim` padded by `before` (-1: the constant).
  int64_t source(int64_t o, int64_t dim, int64_t before) const;
  // The fill value as a one-element tensor of the data's type.
  Tensor fill_value(const KernelContext& ctx, ElementType elem) const;
};

}  // namespace celer
