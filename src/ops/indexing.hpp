// Helpers shared by the indexing and selection ops (Gather*, Scatter*, ReverseSequence, ...): index inputs are
// checked before use, so a bad index is a kOutOfRange error and never a read or write out of bounds.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "celer/error.hpp"
#include "celer/shape.hpp"
#include "celer/tensor.hpp"
#include "ops/util.hpp"

namespace celer {

// Throws kInvalidModel unless `e` is int32 or int64 (the index types of ONNX).
// GatherElements / ScatterElements: `indices` has the rank of `data` and is no larger than it on every axis but `axis`.
inline void check_elements_indices(const PartialShape& data, const PartialShape& idx, int64_t axis) {
  if (!data.rank_known()) return;
  CELER_CHECK(data.rank() >= 1, kInvalidModel, "input 'data' must have rank >= 1");
  const int64_t ax = normalize_axis(axis, data.rank());
  if (!idx.rank_known()) return;
  CELER_CHECK(idx.rank() == data.rank(), kShapeMismatch, "input 'indices' ", idx.to_string(),
              " must have the rank of input 'data' ", data.to_string());
  for (int64_t d = 0; d < data.rank(); ++d) {
    const Dim& a = data[size_t(d)];
    const Dim& b = idx[size_t(d)];
    CELER_CHECK(d == ax || !a.is_static() || !b.is_static() || b.value() <= a.value(), kShapeMismatch,
                "input 'indices' ", idx.to_string(), " is larger than input 'data' ", data.to_string(), " along axis ",
                d);
  }
}

inline void check_index_type(ElementType e, const char* what) {
  CELER_CHECK(e == ElementType::kI32 || e == ElementType::kI64, kInvalidModel, what, " must be int32 or int64, got ",
              element_type_name(e));
}

// Maps an index in [-n, n) to [0, n); otherwise throws kOutOfRange naming the index, where it is, and the valid range.
inline int64_t resolve_index(int64_t v, int64_t n, const char* what, int64_t position) {
  CELER_CHECK(v >= -n && v < n, kOutOfRange, what, " has index ", v, " at position ", position,
              ", out of range for a dim of size ", n, " (valid range [", -n, ", ", n - 1, "])");
  return v < 0 ? v + n : v;
}

// The product of dims[begin, end).
inline int64_t dims_range_product(const Dims& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < dims.size(); ++i) p *= dims[i];
  return p;
}

// A float converted to int64 without undefined behaviour: NaN and values out of the int64 range give `fallback`.
inline int64_t float_to_index(double v, int64_t fallback) {
  if (!(v >= -9.2e18 && v <= 9.2e18)) return fallback;
  return int64_t(v);
}

// The scalar value of a scalar or one-element input (e.g. TopK's k, CumSum's axis), as int64.
inline int64_t scalar_int_input(const Tensor& t, const char* what) {
  CELER_CHECK(t.size() == 1 && t.rank() <= 1, kInvalidModel, what,
              " must be a scalar or a one-element 1-D tensor, got shape ", dims_to_string(t.dims()));
  if (is_float(t.type())) return float_to_index(t.value_as_double(0), -1);
  return t.value_as_int(0);
}

// Sums and products that wrap around for integers (no undefined behaviour on overflow); bool adds as 'or' and
// multiplies as 'and'; 16-bit floats go through float.
template <typename T>
T wrapping_add(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a || b;
  } else if constexpr (std::is_integral_v<T>) {
    using U = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
    return T(U(a) + U(b));
  } else {
    return T(a + b);
  }
}
template <typename T>
T wrapping_mul(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a && b;
  } else if constexpr (std::is_integral_v<T>) {
    using U = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
    return T(U(a) * U(b));
  } else {
    return T(a * b);
  }
}

}  // namespace celer
