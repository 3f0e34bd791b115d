// Helpers shared by the shape and layout ops (Transpose, Slice, Pad, Tile, Expand, Concat, Split, ...): element copies
// that work for every element type (strings included) without a kernel per type, and dim products that keep
// symbolic dims where they can.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "celer/shape.hpp"
#include "celer/tensor.hpp"

namespace celer::layout {

// Calls f.template operator()<S>() with a storage type of the element's size (uint8_t ... uint64_t), or std::string.
// Layout ops only move elements, so they need no more than that.
template <typename F>
void dispatch_storage(ElementType t, F&& f) {
  if (t == ElementType::kString) return f.template operator()<std::string>();
  switch (element_size(t)) {
    case 1:
      return f.template operator()<uint8_t>();
    case 2:
      return f.template operator()<uint16_t>();
    case 4:
      return f.template operator()<uint32_t>();
    case 8:
      return f.template operator()<uint64_t>();
    default:
      break;
  }
  CELER_THROW(kUnsupported, "element type ", element_type_name(t), " in a layout op");
}

namespace detail {
template <typename S>
void gather_rec(const S* in, S*& out, const std::vector<std::vector<int64_t>>& tables, size_t axis, int64_t base,
                const S& fill) {
  const bool last = axis + 1 == tables.size();
  for (int64_t src : tables[axis]) {
    int64_t off = (base < 0 || src < 0) ? -1 : base + src;
    if (last) {
      *out++ = off < 0 ? fill : in[off];
    } else {
      gather_rec(in, out, tables, axis + 1, off, fill);
    }
  }
}
}  // namespace detail

// A gather along independent axes: the output element at (i_0, ..., i_{r-1}) is the input element at offset
// tables[0][i_0] + ... + tables[r-1][i_{r-1}], or `fill` (a one-element tensor of the output's type; zero when null)
// when any of those entries is negative. tables[k] must have out.dim(k) entries and point inside `in`.
inline void gather_axes(const Tensor& in, Tensor& out, const std::vector<std::vector<int64_t>>& tables,
                        const Tensor* fill = nullptr) {
  CELER_CHECK(int64_t(tables.size()) == out.rank(), kInternal, "gather_axes: ", tables.size(), " tables for rank ",
              out.rank());
  if (out.size() == 0) return;
  dispatch_storage(out.type(), [&]<typename S>() {
    const S* src = static_cast<const S*>(in.raw());
    S* dst = static_cast<S*>(out.raw());
    S fill_value{};
    if (fill && fill->size() > 0) fill_value = static_cast<const S*>(fill->raw())[0];
    if (tables.empty()) {
      dst[0] = src[0];
      return;
    }
    detail::gather_rec(src, dst, tables, 0, 0, fill_value);
  });
}

// Copies `count` elements of `in` starting at element `src` to `out` starting at element `dst` (same element type).
inline void copy_elements(const Tensor& in, int64_t src, Tensor& out, int64_t dst, int64_t count) {
  if (count <= 0) return;
  if (in.type() == ElementType::kString) {
    const std::string* s = static_cast<const std::string*>(in.raw()) + src;
    std::string* d = static_cast<std::string*>(out.raw()) + dst;
    for (int64_t i = 0; i < count; ++i) d[i] = s[i];
    return;
  }
  const size_t es = element_size(in.type());
  std::memcpy(static_cast<char*>(out.raw()) + size_t(dst) * es, static_cast<const char*>(in.raw()) + size_t(src) * es,
              size_t(count) * es);
}

// a * b, throwing kLimitExceeded on overflow (dims computed from attribute or input values).
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  CELER_CHECK(!__builtin_mul_overflow(a, b, &r), kLimitExceeded, what, ": ", a, " * ", b, " overflows 64 bits");
  return r;
}
inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  CELER_CHECK(!__builtin_add_overflow(a, b, &r), kLimitExceeded, what, ": ", a, " + ", b, " overflows 64 bits");
  return r;
}

// Product of dims[begin, end): static when all are; the one non-static dim when all others are 1 (so Flatten of
// [N,C,1,1] keeps N); unknown otherwise. An empty range is 1.
inline Dim product_of(const std::vector<Dim>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  const Dim* lone = nullptr;
  int non_static = 0;
  for (size_t i = begin; i < end; ++i) {
    if (dims[i].is_static()) {
      p = checked_mul(p, dims[i].value(), "element count");
    } else {
      ++non_static;
      lone = &dims[i];
    }
  }
  if (non_static == 0) return Dim(p);
  if (p == 0) return Dim(0);
  if (non_static == 1 && p == 1) return *lone;
  return Dim();
}

// Merges two dims that must be equal (e.g. the non-axis dims of Concat inputs): static wins over symbolic, a known
// symbol over unknown. Returns false when both are static and differ.
inline bool merge_dim(Dim& into, const Dim& other) {
  if (into.is_static() && other.is_static()) return into.value() == other.value();
  if (other.is_static() || (!into.is_static() && into.symbol_name().empty())) into = other;
  return true;
}

}  // namespace celer::layout
