// Shapes that may be partly unknown: each dim is a number, a named symbol ("batch") or unknown; the rank itself may be
// unknown. Used by the graph IR and by Model::inputs()/reshape().
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "celer/tensor.hpp"

namespace celer {

class Dim {
 public:
  Dim() = default;                                   // unknown
  Dim(int64_t v) : value_(v) {}                      // NOLINT: static dim
  static Dim symbol(std::string name) {
    Dim d;
    d.symbol_ = std::move(name);
    return d;
  }
  bool is_static() const { return value_ >= 0; }
  int64_t value() const { return value_; }           // -1 when not static
  const std::string& symbol_name() const { return symbol_; }  // "" when static or unknown
  bool operator==(const Dim& o) const { return value_ == o.value_ && symbol_ == o.symbol_; }
  // Two dims that are certainly equal (same static value, or same non-empty symbol).
  bool same_as(const Dim& o) const {
    return is_static() ? value_ == o.value_ : (!symbol_.empty() && symbol_ == o.symbol_);
  }
  std::string to_string() const;

 private:
  int64_t value_ = -1;
  std::string symbol_;
};

class PartialShape {
 public:
  PartialShape() = default;  // unknown rank
  PartialShape(std::vector<Dim> dims) : rank_known_(true), dims_(std::move(dims)) {}  // NOLINT
  PartialShape(std::initializer_list<Dim> dims) : rank_known_(true), dims_(dims) {}
  static PartialShape of(const Dims& dims) {
    PartialShape s;
    s.rank_known_ = true;
    for (int64_t d : dims) s.dims_.emplace_back(d);
    return s;
  }
  static PartialShape unknown_rank() { return {}; }
  static PartialShape unknown_dims(int64_t rank) { return PartialShape(std::vector<Dim>(size_t(rank))); }

  bool rank_known() const { return rank_known_; }
  int64_t rank() const { return rank_known_ ? int64_t(dims_.size()) : -1; }
  bool is_static() const;
  const std::vector<Dim>& dims() const { return dims_; }
  std::vector<Dim>& dims() { return dims_; }
  const Dim& operator[](size_t i) const { return dims_.at(i); }
  Dim& operator[](size_t i) { return dims_.at(i); }
  Dims to_dims() const;  // throws unless static
  bool operator==(const PartialShape& o) const { return rank_known_ == o.rank_known_ && dims_ == o.dims_; }
  // Whether concrete dims fit this shape (unknown and symbolic dims match anything).
  bool accepts(const Dims& dims) const;
  std::string to_string() const;

 private:
  bool rank_known_ = false;
  std::vector<Dim> dims_;
};

}  // namespace celer
