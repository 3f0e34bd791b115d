// Element types of tensors, and the 16-bit float types used to store f16 and bf16 data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace celer {

enum class ElementType : uint8_t {
  kUndefined,
  kF32,
  kF16,
  kBF16,
  kF64,
  kI8,
  kU8,
  kI16,
  kU16,
  kI32,
  kU32,
  kI64,
  kU64,
  kBool,
  kString,
};

// Bytes per element (sizeof(std::string) for kString, whose tensors hold std::string objects).
size_t element_size(ElementType t);
// Short name: "f32", "i64", "bool", "string", ...
std::string_view element_type_name(ElementType t);
// Parses a short name; returns kUndefined when unknown.
ElementType element_type_from_name(std::string_view name);
bool is_float(ElementType t);     // f16, bf16, f32, f64
bool is_integer(ElementType t);   // signed or unsigned integers (not bool)
bool is_signed(ElementType t);

// IEEE half precision, stored as bits. Arithmetic goes through float.
struct float16 {
  uint16_t bits = 0;
  float16() = default;
  float16(float f) : bits(from_float(f)) {}  // NOLINT: implicit like a builtin float type
  operator float() const { return to_float(bits); }
  static uint16_t from_float(float f);
  static float to_float(uint16_t h);
};

// bfloat16: the upper half of an IEEE float, rounded to nearest even.
struct bfloat16 {
  uint16_t bits = 0;
  bfloat16() = default;
  bfloat16(float f) : bits(from_float(f)) {}  // NOLINT
  operator float() const {
    uint32_t u = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static uint16_t from_float(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // keep NaN quiet
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
  }
};

// Maps a C++ type to its ElementType.
template <typename T>
constexpr ElementType element_type_of();
template <> constexpr ElementType element_type_of<float>() { return ElementType::kF32; }
template <> constexpr ElementType element_type_of<float16>() { return ElementType::kF16; }
template <> constexpr ElementType element_type_of<bfloat16>() { return ElementType::kBF16; }
template <> constexpr ElementType element_type_of<double>() { return ElementType::kF64; }
template <> constexpr ElementType element_type_of<int8_t>() { return ElementType::kI8; }
template <> constexpr ElementType element_type_of<uint8_t>() { return ElementType::kU8; }
template <> constexpr ElementType element_type_of<int16_t>() { return ElementType::kI16; }
template <> constexpr ElementType element_type_of<uint16_t>() { return ElementType::kU16; }
template <> constexpr ElementType element_type_of<int32_t>() { return ElementType::kI32; }
template <> constexpr ElementType element_type_of<uint32_t>() { return ElementType::kU32; }
template <> constexpr ElementType element_type_of<int64_t>() { return ElementType::kI64; }
template <> constexpr ElementType element_type_of<uint64_t>() { return ElementType::kU64; }
template <> constexpr ElementType element_type_of<bool>() { return ElementType::kBool; }
template <> constexpr ElementType element_type_of<std::string>() { return ElementType::kString; }

}  // namespace celer
