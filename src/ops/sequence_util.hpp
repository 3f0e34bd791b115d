// Helpers shared by the sequence and control-flow ops (Scan, Loop, SequenceMap, SplitToSequence, ConcatFromSequence):
// slicing a tensor along an axis, stacking and concatenating tensors, merging the types of alternative values, and
// reading the run-time sequence of an input. Header-only; every element type works (strings are copied as objects).
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "celer/tensor.hpp"
#include "ir/graph.hpp"
#include "ops/op.hpp"
#include "runtime/value.hpp"

namespace celer::seq {

// Copies n elements from src[src_off] to dst[dst_off] (same element type).
inline void copy_elements(Tensor& dst, int64_t dst_off, const Tensor& src, int64_t src_off, int64_t n) {
  if (n <= 0) return;
  if (src.type() == ElementType::kString) {
    const std::string* s = src.data<std::string>() + src_off;
    std::string* d = dst.data<std::string>() + dst_off;
    for (int64_t i = 0; i < n; ++i) d[i] = s[i];
    return;
  }
  const size_t es = element_size(src.type());
  std::memcpy(static_cast<char*>(dst.raw()) + size_t(dst_off) * es,
              static_cast<const char*>(src.raw()) + size_t(src_off) * es, size_t(n) * es);
}

inline int64_t product(const Dims& d, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < d.size(); ++i) p *= d[i];
  return p;
}

// Elements [start, start + len) of `t` along `axis` (a copy; the axis keeps length len).
inline Tensor slice_axis(const Tensor& t, int64_t axis, int64_t start, int64_t len) {
  const Dims& d = t.dims();
  CELER_CHECK(axis >= 0 && axis < t.rank() && start >= 0 && len >= 0 && start + len <= d[size_t(axis)], kOutOfRange,
              "slice [", start, ", ", start + len, ") of axis ", axis, " is out of range for shape ",
              dims_to_string(d));
  Dims od = d;
  od[size_t(axis)] = len;
  Tensor out(t.type(), od);
  const int64_t outer = product(d, 0, size_t(axis)), inner = product(d, size_t(axis) + 1, d.size());
  const int64_t dim = d[size_t(axis)];
  for (int64_t o = 0; o < outer; ++o) copy_elements(out, o * len * inner, t, (o * dim + start) * inner, len * inner);
  return out;
}

// Element `index` of `t` along `axis`, with that axis removed.
inline Tensor take_axis(const Tensor& t, int64_t axis, int64_t index) {
  Tensor s = slice_axis(t, axis, index, 1);
  Dims d = s.dims();
  d.erase(d.begin() + axis);
  return s.reshaped(d);
}

// Concatenates tensors of the same type and rank along `axis` (other dims must agree).
inline Tensor concat(const std::vector<Tensor>& items, int64_t axis, const char* what) {
  CELER_CHECK(!items.empty(), kInvalidArgument, what, ": nothing to concatenate");
  const Tensor& first = items.front();
  CELER_CHECK(axis >= 0 && axis < first.rank(), kInvalidArgument, what, ": axis ", axis, " is out of range for rank ",
              first.rank());
  Dims od = first.dims();
  int64_t total = 0;
  for (size_t k = 0; k < items.size(); ++k) {
    const Tensor& t = items[k];
    CELER_CHECK(t.type() == first.type(), kInvalidArgument, what, ": item ", k, " has element type ",
                element_type_name(t.type()), ", item 0 has ", element_type_name(first.type()));
    bool same = t.rank() == first.rank();
    for (int64_t i = 0; same && i < t.rank(); ++i) same = i == axis || t.dim(i) == first.dim(i);
    CELER_CHECK(same, kShapeMismatch, what, ": item ", k, " has shape ", dims_to_string(t.dims()),
                ", which does not match item 0's ", dims_to_string(first.dims()), " outside axis ", axis);
    total += t.dim(axis);
  }
  od[size_t(axis)] = total;
  Tensor out(first.type(), od);
  const int64_t outer = product(od, 0, size_t(axis)), inner = product(od, size_t(axis) + 1, od.size());
  int64_t offset = 0;
  for (const Tensor& t : items) {
    const int64_t len = t.dim(axis);
    for (int64_t o = 0; o < outer; ++o)
      copy_elements(out, (o * total + offset) * inner, t, o * len * inner, len * inner);
    offset += len;
  }
  return out;
}

// Stacks tensors of identical type and shape along a new axis at `axis` (in [0, rank]).
inline Tensor stack(const std::vector<Tensor>& items, int64_t axis, const char* what) {
  CELER_CHECK(!items.empty(), kInvalidArgument, what, ": nothing to stack");
  std::vector<Tensor> expanded;
  expanded.reserve(items.size());
  for (size_t k = 0; k < items.size(); ++k) {
    CELER_CHECK(items[k].dims() == items[0].dims(), kShapeMismatch, what, ": item ", k, " has shape ",
                dims_to_string(items[k].dims()), ", item 0 has ", dims_to_string(items[0].dims()),
                " (stacked items must have the same shape)");
    Dims d = items[k].dims();
    d.insert(d.begin() + axis, 1);
    expanded.push_back(items[k].reshaped(d));
  }
  return concat(expanded, axis, what);
}

// An empty stack: shape [0] + item shape (unknown item dims become 0), used when a loop ran zero times.
inline Tensor empty_stack(const ValueType& item, int64_t axis) {
  Dims d;
  if (item.shape.rank_known())
    for (const Dim& x : item.shape.dims()) d.push_back(x.is_static() ? x.value() : 0);
  d.insert(d.begin() + std::min<int64_t>(axis, int64_t(d.size())), 0);
  return Tensor(item.elem == ElementType::kUndefined ? ElementType::kF32 : item.elem, d);
}

// The type of a body output as seen outside the body: symbolic dims become unknown, since a symbol named inside a
// subgraph need not mean the same size outside it (nor in every iteration).
inline ValueType outer_view(const ValueType& t) {
  ValueType r = t;
  if (r.shape.rank_known())
    for (Dim& d : r.shape.dims())
      if (!d.is_static()) d = Dim();
  return r;
}

// A type that says nothing (inference did not know the value).
inline bool type_unknown(const ValueType& t) {
  return t.elem == ElementType::kUndefined && t.kind == ValueKind::kTensor;
}

// The dims two shapes certainly share; unknown where they differ (or the rank when ranks differ).
inline PartialShape merge_shapes(const PartialShape& a, const PartialShape& b) {
  if (!a.rank_known() || !b.rank_known() || a.rank() != b.rank()) return PartialShape();
  std::vector<Dim> dims(a.dims().size());
  for (size_t i = 0; i < dims.size(); ++i)
    if (a[i].same_as(b[i])) dims[i] = a[i];
  return PartialShape(std::move(dims));
}

// The type of a value that is one of two alternatives (If's branches, a Loop's initial and carried values): what they
// agree on, unknown where they differ.
inline ValueType merge_types(const ValueType& a, const ValueType& b) {
  if (type_unknown(a)) {
    ValueType r = b;
    r.optional = a.optional || b.optional;
    return r;
  }
  if (type_unknown(b)) {
    ValueType r = a;
    r.optional = a.optional || b.optional;
    return r;
  }
  ValueType r = a;
  r.optional = a.optional || b.optional;
  if (a.kind != b.kind) return ValueType{a.kind, r.optional, ElementType::kUndefined, PartialShape()};
  if (a.elem != b.elem)
    r.elem = a.elem == ElementType::kUndefined   ? b.elem
             : b.elem == ElementType::kUndefined ? a.elem
                                                 : ElementType::kUndefined;
  r.shape = merge_shapes(a.shape, b.shape);
  return r;
}

// The run-time type of a value (as the executor reports it to infer()).
inline ValueType type_of_value(const RtValue& v) {
  if (v.is_tensor()) return ValueType::tensor(v.tensor.type(), PartialShape::of(v.tensor.dims()));
  if (v.is_sequence()) return ValueType::sequence(v.sequence.empty() ? v.sequence_elem : v.sequence.front().type());
  ValueType t;
  t.optional = true;
  return t;
}

// Input i as a sequence; throws naming the input otherwise.
inline const RtValue& input_sequence(const KernelContext& ctx, size_t i, const char* what) {
  const RtValue& v = ctx.input_value(i);
  CELER_CHECK(v.is_sequence(), kInvalidArgument, what, " must be a sequence, got ",
              v.is_none() ? "an empty optional" : "a tensor");
  return v;
}

// Element type of a sequence value.
inline ElementType sequence_elem(const RtValue& v) {
  return v.sequence.empty() ? v.sequence_elem : v.sequence.front().type();
}

// Checks the input type is a sequence (at load time an unknown type is accepted).
inline void check_sequence_type(const InferContext& ctx, size_t i, const char* what) {
  const ValueType& t = ctx.input_type(i);
  CELER_CHECK(t.kind == ValueKind::kSequence || type_unknown(t), kInvalidModel, what, " must be a sequence, got ",
              t.to_string());
}

// A position input (scalar or one element) as int64.
inline int64_t position_value(const Tensor& t, const char* what) {
  CELER_CHECK(t.size() == 1 && t.rank() <= 1, kInvalidArgument, what, " must be a scalar, got shape ",
              dims_to_string(t.dims()));
  CELER_CHECK(t.type() == ElementType::kI32 || t.type() == ElementType::kI64, kInvalidArgument, what,
              " must be int32 or int64, got ", element_type_name(t.type()));
  return t.value_as_int(0);
}

}  // namespace celer::seq
