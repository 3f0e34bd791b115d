// celer::Tensor: an n-dimensional array with an element type and a static shape. Owns its memory (shared between
// copies of the Tensor object, like a smart pointer) or wraps memory the user owns, without a copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "celer/element_type.hpp"
#include "celer/error.hpp"

namespace celer {

using Dims = std::vector<int64_t>;

// Number of elements of a shape; throws kLimitExceeded on overflow or a negative dim.
int64_t element_count(const Dims& dims);
std::string dims_to_string(const Dims& dims);

// The largest tensor celer allocates (bytes). Larger requests fail with kLimitExceeded before allocating.
inline constexpr int64_t kMaxTensorBytes = int64_t(16) << 30;

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-initialised memory (string tensors hold empty strings).
  Tensor(ElementType type, Dims dims);
  // Allocates without zeroing (the caller writes every element before reading). String tensors are still constructed.
  static Tensor uninitialized(ElementType type, Dims dims);
  // A tensor over memory kept alive by `owner` (shared with every copy of the Tensor).
  static Tensor view(ElementType type, Dims dims, void* data, std::shared_ptr<void> owner);
  // Wraps user memory; the caller keeps it alive while the Tensor (or a copy of it) is used.
  static Tensor wrap(ElementType type, Dims dims, void* data);
  // A deep copy.
  Tensor clone() const;

  template <typename T>
  static Tensor scalar(T v) {
    Tensor t(element_type_of<T>(), {});
    t.data<T>()[0] = v;
    return t;
  }
  template <typename T>
  static Tensor from_vector(const std::vector<T>& v, Dims dims) {
    Tensor t(element_type_of<T>(), std::move(dims));
    CELER_CHECK(int64_t(v.size()) == t.size(), kInvalidArgument, "Tensor::from_vector: ", v.size(),
                " values for shape ", dims_to_string(t.dims()));
    for (size_t i = 0; i < v.size(); ++i) t.data<T>()[i] = v[i];
    return t;
  }

  bool empty() const { return type_ == ElementType::kUndefined; }  // a default-constructed tensor
  ElementType type() const { return type_; }
  const Dims& dims() const { return dims_; }
  int64_t rank() const { return int64_t(dims_.size()); }
  int64_t dim(int64_t i) const { return dims_.at(size_t(i)); }
  int64_t size() const { return size_; }          // element count
  size_t byte_size() const { return size_t(size_) * element_size(type_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() {
    check_type(element_type_of<T>());
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    check_type(element_type_of<T>());
    return static_cast<const T*>(data_);
  }
  // What keeps the data alive (null for wrapped memory).
  const std::shared_ptr<void>& owner() const { return owner_; }
  // Reinterprets the same memory with another shape of the same element count.
  Tensor reshaped(Dims dims) const;
  // Element i converted to double / int64 (for small index and shape tensors).
  double value_as_double(int64_t i) const;
  int64_t value_as_int(int64_t i) const;
  // All values as int64 (for shape-like inputs).
  std::vector<int64_t> to_int_vector() const;

 private:
  void check_type(ElementType want) const;
  void allocate(bool zero);

  ElementType type_ = ElementType::kUndefined;
  Dims dims_;
  int64_t size_ = 0;
  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
};

}  // namespace celer
