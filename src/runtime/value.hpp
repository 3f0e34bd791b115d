// A value at run time: a tensor, a sequence of tensors, or an empty optional.
#pragma once

#include <vector>

#include "celer/tensor.hpp"

namespace celer {

struct RtValue {
  enum class Kind : uint8_t { kNone, kTensor, kSequence };
  Kind kind = Kind::kNone;
  Tensor tensor;
  std::vector<Tensor> sequence;
  ElementType sequence_elem = ElementType::kUndefined;  // element type of an (empty) sequence

  RtValue() = default;
  RtValue(Tensor t) : kind(Kind::kTensor), tensor(std::move(t)) {}  // NOLINT: a tensor is a value
  static RtValue make_sequence(std::vector<Tensor> items, ElementType elem) {
    RtValue v;
    v.kind = Kind::kSequence;
    v.sequence = std::move(items);
    v.sequence_elem = elem;
    return v;
  }
  bool is_tensor() const { return kind == Kind::kTensor; }
  bool is_sequence() const { return kind == Kind::kSequence; }
  bool is_none() const { return kind == Kind::kNone; }
};

}  // namespace celer
