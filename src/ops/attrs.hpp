// Op attributes as data: every op lists its attribute fields once, in visit_attrs(AttrVisitor&), and the same
// function serves writing them (compiled-model files, hashing, printing) and reading them back into a
// default-constructed op (make_op). A visitor sees each field by name and by reference: a writer reads the reference,
// a reader (loading() == true) assigns it.
//
// Field types: bool, int64_t, uint64_t (size_t), float, double, std::string, vectors of int64_t / float / std::string,
// Tensor, and subgraphs (std::shared_ptr<Graph>). Enums, optionals, nested structs and lists of structs go through the
// helpers below, which reduce them to those types.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "celer/error.hpp"
#include "celer/tensor.hpp"

namespace celer {

class Graph;

class AttrVisitor {
 public:
  virtual ~AttrVisitor() = default;
  // True when the visitor assigns the fields (reading a file); the op then rebuilds any derived state it keeps.
  virtual bool loading() const = 0;

  virtual void on(const char* name, bool& v) = 0;
  virtual void on(const char* name, int64_t& v) = 0;
  virtual void on(const char* name, uint64_t& v) = 0;
  virtual void on(const char* name, float& v) = 0;
  virtual void on(const char* name, double& v) = 0;
  virtual void on(const char* name, std::string& v) = 0;
  virtual void on(const char* name, std::vector<int64_t>& v) = 0;
  virtual void on(const char* name, std::vector<float>& v) = 0;
  virtual void on(const char* name, std::vector<std::string>& v) = 0;
  virtual void on(const char* name, Tensor& v) = 0;
  // A subgraph owned by the op (If, Loop, Scan, SequenceMap). A reader creates it as a child of the graph being read.
  virtual void on(const char* name, std::shared_ptr<Graph>& g) = 0;
  // The element count of a list of structs (visit_list). A reader checks it against what the file can hold.
  virtual void on_count(const char* name, uint64_t& n) { on(name, n); }

  // Reports a value the op cannot take (an enum out of range, ...). Readers add the file and node.
  [[noreturn]] virtual void fail(const char* name, const std::string& what) {
    CELER_THROW(kParse, "attribute '", name, "': ", what);
  }
};

// An enum stored as int64_t; a reader rejects values past `last` (the enum's last enumerator).
template <typename E>
void visit_enum(AttrVisitor& v, const char* name, E& e, E last) {
  static_assert(std::is_enum_v<E>);
  int64_t x = static_cast<int64_t>(e);
  v.on(name, x);
  if (v.loading()) {
    if (x < 0 || x > static_cast<int64_t>(last))
      v.fail(name, detail::concat("value ", x, " is out of range (0..", static_cast<int64_t>(last), ")"));
    e = static_cast<E>(x);
  }
}

// An optional field: a presence flag, then the value when present.
template <typename T>
void visit_optional(AttrVisitor& v, const char* name, std::optional<T>& o) {
  bool has = o.has_value();
  v.on(name, has);
  if (!has) {
    if (v.loading()) o.reset();
    return;
  }
  T value = o ? *o : T{};
  v.on(name, value);
  if (v.loading()) o = value;
}

// A list of structs: the count, then `each(item)` for every element (which visits the item's fields).
template <typename T, typename F>
void visit_list(AttrVisitor& v, const char* name, std::vector<T>& items, F&& each) {
  uint64_t n = items.size();
  v.on_count(name, n);
  if (v.loading()) {
    items.clear();
    items.resize(static_cast<size_t>(n));
  }
  for (T& item : items) each(item);
}

}  // namespace celer
