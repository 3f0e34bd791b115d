#include "celer/tensor.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

#include "core/dispatch.hpp"

namespace celer {

int64_t element_count(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    CELER_CHECK(d >= 0, kInvalidArgument, "negative dimension ", d, " in shape ", dims_to_string(dims));
    if (d == 0) return 0;
  }
  for (int64_t d : dims) {
    CELER_CHECK(!__builtin_mul_overflow(n, d, &n), kLimitExceeded, "element count of shape ", dims_to_string(dims),
                " overflows 64 bits");
  }
  return n;
}

std::string dims_to_string(const Dims& dims) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < dims.size(); ++i) os << (i ? "," : "") << dims[i];
  os << ']';
  return os.str();
}

Tensor::Tensor(ElementType type, Dims dims) : type_(type), dims_(std::move(dims)) { allocate(true); }

Tensor Tensor::uninitialized(ElementType type, Dims dims) {
  Tensor t;
  t.type_ = type;
  t.dims_ = std::move(dims);
  t.allocate(false);
  return t;
}

void Tensor::allocate(bool zero) {
  CELER_CHECK(type_ != ElementType::kUndefined, kInvalidArgument, "cannot create a tensor of undefined element type");
  size_ = element_count(dims_);
  int64_t bytes = 0;
  CELER_CHECK(!__builtin_mul_overflow(size_, int64_t(element_size(type_)), &bytes) && bytes <= kMaxTensorBytes,
              kLimitExceeded, "tensor of shape ", dims_to_string(dims_), " and type ", element_type_name(type_),
              " exceeds the tensor size limit of ", kMaxTensorBytes, " bytes");
  if (type_ == ElementType::kString) {
    auto* strings = new std::string[size_t(size_ > 0 ? size_ : 1)];
    owner_ = std::shared_ptr<void>(strings, [](void* p) { delete[] static_cast<std::string*>(p); });
    data_ = strings;
    return;
  }
  // 64-byte alignment for vector kernels; at least one allocation so data() is never null. Large tensors (weights,
  // big activations) are 2 MiB aligned and their whole 2 MiB pages marked for transparent huge pages: far fewer page
  // faults on first touch. The tail past the last whole huge page keeps small pages: a huge page there would make up
  // to 2 MiB of padding resident (100 MB over BERT-base's 768x768 weights).
  constexpr size_t kHuge = size_t(2) << 20;
  size_t align = size_t(bytes) >= kHuge ? kHuge : 64;
  size_t alloc = (size_t(bytes) + align - 1) / align * align;
  if (alloc == 0) alloc = 64;
  void* p = std::aligned_alloc(align, alloc);
  if (p && align == kHuge) madvise(p, size_t(bytes) / kHuge * kHuge, MADV_HUGEPAGE);
  if (!p)
    CELER_THROW(kLimitExceeded, "out of memory allocating ", bytes, " bytes for a tensor of shape ",
                dims_to_string(dims_));
  if (zero) std::memset(p, 0, align == kHuge ? size_t(bytes) : alloc);
  owner_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  data_ = p;
}

Tensor Tensor::view(ElementType type, Dims dims, void* data, std::shared_ptr<void> owner) {
  Tensor t = wrap(type, std::move(dims), data);
  t.owner_ = std::move(owner);
  return t;
}

Tensor Tensor::wrap(ElementType type, Dims dims, void* data) {
  Tensor t;
  t.type_ = type;
  t.dims_ = std::move(dims);
  t.size_ = element_count(t.dims_);
  t.data_ = data;
  return t;
}

Tensor Tensor::clone() const {
  if (empty()) return {};
  Tensor t(type_, dims_);
  if (type_ == ElementType::kString) {
    for (int64_t i = 0; i < size_; ++i) t.data<std::string>()[i] = data<std::string>()[i];
  } else if (size_ > 0) {
    std::memcpy(t.data_, data_, byte_size());
  }
  return t;
}

Tensor Tensor::reshaped(Dims dims) const {
  CELER_CHECK(element_count(dims) == size_, kShapeMismatch, "cannot reshape a tensor of shape ", dims_to_string(dims_),
              " to ", dims_to_string(dims));
  Tensor t = *this;
  t.dims_ = std::move(dims);
  return t;
}

void Tensor::check_type(ElementType want) const {
  CELER_CHECK(want == type_, kInternal, "tensor of type ", element_type_name(type_), " accessed as ",
              element_type_name(want));
}

double Tensor::value_as_double(int64_t i) const {
  CELER_CHECK(i >= 0 && i < size_, kOutOfRange, "element ", i, " of a tensor with ", size_, " elements");
  double v = 0;
  dispatch_numeric(type_, [&]<typename T>() { v = double(static_cast<const T*>(data_)[i]); });
  return v;
}

int64_t Tensor::value_as_int(int64_t i) const {
  CELER_CHECK(i >= 0 && i < size_, kOutOfRange, "element ", i, " of a tensor with ", size_, " elements");
  int64_t v = 0;
  dispatch_numeric(type_, [&]<typename T>() {
    if constexpr (std::is_integral_v<T>)
      v = int64_t(static_cast<const T*>(data_)[i]);
    else {
      // Saturating, NaN -> 0: a float-to-int conversion out of range is undefined behaviour in C++.
      double d = double(static_cast<const T*>(data_)[i]);
      v = d != d ? 0 : d >= 9.2233720368547758e18 ? INT64_MAX : d <= -9.2233720368547758e18 ? INT64_MIN : int64_t(d);
    }
  });
  return v;
}

std::vector<int64_t> Tensor::to_int_vector() const {
  std::vector<int64_t> out(static_cast<size_t>(size_));
  for (int64_t i = 0; i < size_; ++i) out[size_t(i)] = value_as_int(i);
  return out;
}

}  // namespace celer
