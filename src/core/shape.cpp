#include "celer/shape.hpp"

#include <sstream>

namespace celer {

std::string Dim::to_string() const {
  if (is_static()) return std::to_string(value_);
  return symbol_.empty() ? "?" : symbol_;
}

bool PartialShape::is_static() const {
  if (!rank_known_) return false;
  for (const auto& d : dims_)
    if (!d.is_static()) return false;
  return true;
}

Dims PartialShape::to_dims() const {
  CELER_CHECK(is_static(), kShapeMismatch, "shape ", to_string(), " is not static");
  Dims out;
  out.reserve(dims_.size());
  for (const auto& d : dims_) out.push_back(d.value());
  return out;
}

bool PartialShape::accepts(const Dims& dims) const {
  if (!rank_known_) return true;
  if (dims.size() != dims_.size()) return false;
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims_[i].is_static() && dims_[i].value() != dims[i]) return false;
  return true;
}

std::string PartialShape::to_string() const {
  if (!rank_known_) return "[...]";
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < dims_.size(); ++i) os << (i ? "," : "") << dims_[i].to_string();
  os << ']';
  return os.str();
}

}  // namespace celer
