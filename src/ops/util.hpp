// Helpers shared by op files: axes, broadcasting, strides, attribute checks.
#pragma once

#include <cstdint>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "celer/shape.hpp"
#include "celer/tensor.hpp"
#include "ir/graph.hpp"

namespace celer {

// Normalises a possibly negative axis into [0, rank); throws naming `what` (e.g. "attribute 'axis'").
int64_t normalize_axis(int64_t axis, int64_t rank, const char* what = "attribute 'axis'");
// For ops that allow axis == rank (e.g. Unsqueeze output rank, Flatten): range [-rank-1, rank].
int64_t normalize_axis_inclusive(int64_t axis, int64_t rank, const char* what = "attribute 'axis'");
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const char* what = "attribute 'axes'");

// Numpy-style multidirectional broadcasting of two shapes. Throws kShapeMismatch naming both.
PartialShape broadcast_shapes(const PartialShape& a, const PartialShape& b);
Dims broadcast_dims(const Dims& a, const Dims& b);
// Broadcasting a dim pair (static, symbolic or unknown).
Dim broadcast_dim(const Dim& a, const Dim& b);

// Row-major strides in elements.
Dims strides_of(const Dims& dims);
// Strides of `in` viewed with the rank of `out` under broadcasting (0 where a dim is broadcast).
Dims broadcast_strides(const Dims& in, const Dims& out);

// Visits every element of `out` with the matching offsets of inputs broadcast to it:
//   for_each_broadcast(out, {a.dims(), b.dims()}, [&](int64_t i, const int64_t* off) { ... });
template <typename F>
void for_each_broadcast(const Dims& out, const std::vector<Dims>& inputs, F&& f) {
  const size_t rank = out.size();
  const size_t n_in = inputs.size();
  std::vector<Dims> strides;
  strides.reserve(n_in);
  for (const auto& d : inputs) strides.push_back(broadcast_strides(d, out));
  int64_t total = element_count(out);
  std::vector<int64_t> idx(rank, 0), off(n_in, 0);
  for (int64_t i = 0; i < total; ++i) {
    f(i, off.data());
    for (size_t ax = rank; ax-- > 0;) {
      ++idx[ax];
      for (size_t k = 0; k < n_in; ++k) off[k] += strides[k][ax];
      if (idx[ax] < out[ax]) break;
      for (size_t k = 0; k < n_in; ++k) off[k] -= strides[k][ax] * out[ax];
      idx[ax] = 0;
    }
  }
}

// A dim from an int64 (negative -> unknown).
inline Dim dim_of(int64_t v) { return v >= 0 ? Dim(v) : Dim(); }
// Product of dims if all static, else unknown.
Dim dims_product(const std::vector<Dim>& dims);

// Converts one element between the C++ types of element types (not string) without undefined behaviour: a float to
// an integer truncates toward zero and clamps to the integer's range (NaN gives 0); integer to integer wraps like a
// two's complement cast; anything to bool is `v != 0`; f16/bf16 go through float.
template <typename To, typename From>
To numeric_cast(From v) {
  constexpr bool kFromHalf = std::is_same_v<From, float16> || std::is_same_v<From, bfloat16>;
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (kFromHalf) {
    return numeric_cast<To>(float(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_integral_v<To>) {
    if constexpr (std::is_integral_v<From>) {
      return static_cast<To>(v);
    } else {
      double d = std::trunc(double(v));
      if (std::isnan(d)) return To(0);
      if (d <= double(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
      if (d >= double(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
      return static_cast<To>(d);
    }
  } else if constexpr (std::is_same_v<To, float16> || std::is_same_v<To, bfloat16>) {
    return To(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace celer
