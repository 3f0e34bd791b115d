// Calls a templated lambda with the C++ type of an element type:
//   dispatch_numeric(t, [&]<typename T>() { ... T ... });
// Kernels use these to write one template for many element types.
#pragma once

#include <string>

#include "celer/element_type.hpp"
#include "celer/error.hpp"

namespace celer {

template <typename F>
void dispatch_float(ElementType t, F&& f) {
  switch (t) {
    case ElementType::kF32: f.template operator()<float>(); return;
    case ElementType::kF64: f.template operator()<double>(); return;
    case ElementType::kF16: f.template operator()<float16>(); return;
    case ElementType::kBF16: f.template operator()<bfloat16>(); return;
    default: CELER_THROW(kUnsupported, "element type ", element_type_name(t), " where a float type is required");
  }
}

template <typename F>
void dispatch_integer(ElementType t, F&& f) {
  switch (t) {
    case ElementType::kI8: f.template operator()<int8_t>(); return;
    case ElementType::kU8: f.template operator()<uint8_t>(); return;
    case ElementType::kI16: f.template operator()<int16_t>(); return;
    case ElementType::kU16: f.template operator()<uint16_t>(); return;
    case ElementType::kI32: f.template operator()<int32_t>(); return;
    case ElementType::kU32: f.template operator()<uint32_t>(); return;
    case ElementType::kI64: f.template operator()<int64_t>(); return;
    case ElementType::kU64: f.template operator()<uint64_t>(); return;
    default: CELER_THROW(kUnsupported, "element type ", element_type_name(t), " where an integer type is required");
  }
}

// Every type but string (floats, integers, bool).
template <typename F>
void dispatch_numeric(ElementType t, F&& f) {
  if (is_float(t)) return dispatch_float(t, f);
  if (is_integer(t)) return dispatch_integer(t, f);
  if (t == ElementType::kBool) {
    f.template operator()<bool>();
    return;
  }
  CELER_THROW(kUnsupported, "element type ", element_type_name(t), " where a numeric type is required");
}

// Every type including string.
template <typename F>
void dispatch_all(ElementType t, F&& f) {
  if (t == ElementType::kString) {
    f.template operator()<std::string>();
    return;
  }
  dispatch_numeric(t, f);
}

}  // namespace celer
