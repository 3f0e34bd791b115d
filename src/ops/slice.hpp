// Slice's per-axis plan, shared by the reference kernel (src/ops/slice.cpp) and the CPU device's copy kernel.
#pragma once

#include <cstdint>
#include <vector>

#include "celer/shape.hpp"
#include "celer/tensor.hpp"

namespace celer {

struct AxisSlice {
  int64_t axis = 0;
  int64_t start = 0;  // first index read (clamped)
  int64_t step = 1;
  int64_t count = 0;  // elements in the output
};

// The slice of every axis of an input of dims `in` (axes not listed are whole), from Slice's inputs 'starts', 'ends',
// 'axes' and 'steps' (optional ones null), validated and clamped as the spec says.
std::vector<AxisSlice> plan_slice(const Dims& in, const Tensor& starts, const Tensor& ends, const Tensor* axes,
                                  const Tensor* steps);

}  // namespace celer
