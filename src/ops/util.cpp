#include "ops/util.hpp"

#include <algorithm>

namespace celer {

int64_t normalize_axis(int64_t axis, int64_t rank, const char* what) {
  CELER_CHECK(axis >= -rank && axis < rank, kInvalidModel, what, " = ", axis, " is out of range for rank ", rank,
              " (must be in [", -rank, ", ", rank - 1, "])");
  return axis < 0 ? axis + rank : axis;
}

int64_t normalize_axis_inclusive(int64_t axis, int64_t rank, const char* what) {
  CELER_CHECK(axis >= -rank - 1 && axis <= rank, kInvalidModel, what, " = ", axis, " is out of range for rank ", rank,
              " (must be in [", -rank - 1, ", ", rank, "])");
  return axis < 0 ? axis + rank + 1 : axis;
}

std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const char* what) {
  std::vector<int64_t> out;
  out.reserve(axes.size());
  for (int64_t a : axes) {
    int64_t n = normalize_axis(a, rank, what);
    CELER_CHECK(std::find(out.begin(), out.end(), n) == out.end(), kInvalidModel, what, " repeats axis ", a);
    out.push_back(n);
  }
  return out;
}

Dim broadcast_dim(const Dim& a, const Dim& b) {
  if (a.is_static() && a.value() == 1) return b;
  if (b.is_static() && b.value() == 1) return a;
  if (a.is_static() && b.is_static()) {
    CELER_CHECK(a.value() == b.value(), kShapeMismatch, "dims ", a.value(), " and ", b.value(), " do not broadcast");
    return a;
  }
  if (a.is_static()) return a;  // b is 1 or equal to a at run time
  if (b.is_static()) return b;
  if (a.same_as(b)) return a;
  return Dim();
}

PartialShape broadcast_shapes(const PartialShape& a, const PartialShape& b) {
  if (!a.rank_known() || !b.rank_known()) return PartialShape::unknown_rank();
  size_t rank = std::max(a.dims().size(), b.dims().size());
  std::vector<Dim> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    size_t ia = i + a.dims().size(), ib = i + b.dims().size();
    const Dim one(1);
    const Dim& da = ia >= rank ? a.dims()[ia - rank] : one;
    const Dim& db = ib >= rank ? b.dims()[ib - rank] : one;
    try {
      out[i] = broadcast_dim(da, db);
    } catch (const Error&) {
      CELER_THROW(kShapeMismatch, "shapes ", a.to_string(), " and ", b.to_string(), " do not broadcast");
    }
  }
  return PartialShape(std::move(out));
}

Dims broadcast_dims(const Dims& a, const Dims& b) { return broadcast_shapes(PartialShape::of(a), PartialShape::of(b)).to_dims(); }

Dims strides_of(const Dims& dims) {
  Dims s(dims.size());
  int64_t acc = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

Dims broadcast_strides(const Dims& in, const Dims& out) {
  Dims s(out.size(), 0);
  Dims own = strides_of(in);
  size_t shift = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[i + shift] = in[i] == 1 ? 0 : own[i];
  return s;
}

Dim dims_product(const std::vector<Dim>& dims) {
  int64_t p = 1;
  for (const auto& d : dims) {
    if (!d.is_static()) return Dim();
    p *= d.value();
  }
  return Dim(p);
}

}  // namespace celer
