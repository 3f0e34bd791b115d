#include "celer/element_type.hpp"

#include <cmath>
#include <string>

namespace celer {

namespace {
struct TypeRow {
  ElementType type;
  std::string_view name;
  size_t size;
};
constexpr TypeRow kTypes[] = {
    {ElementType::kUndefined, "undefined", 0}, {ElementType::kF32, "f32", 4},  {ElementType::kF16, "f16", 2},
    {ElementType::kBF16, "bf16", 2},           {ElementType::kF64, "f64", 8},  {ElementType::kI8, "i8", 1},
    {ElementType::kU8, "u8", 1},               {ElementType::kI16, "i16", 2},  {ElementType::kU16, "u16", 2},
    {ElementType::kI32, "i32", 4},             {ElementType::kU32, "u32", 4},  {ElementType::kI64, "i64", 8},
    {ElementType::kU64, "u64", 8},             {ElementType::kBool, "bool", 1},
    {ElementType::kString, "string", sizeof(std::string)},
};
}  // namespace

size_t element_size(ElementType t) { return kTypes[size_t(t)].size; }
std::string_view element_type_name(ElementType t) {
  size_t i = size_t(t);
  return i < std::size(kTypes) ? kTypes[i].name : std::string_view("invalid");
}
ElementType element_type_from_name(std::string_view name) {
  for (const auto& row : kTypes)
    if (row.name == name) return row.type;
  return ElementType::kUndefined;
}
bool is_float(ElementType t) {
  return t == ElementType::kF32 || t == ElementType::kF16 || t == ElementType::kBF16 || t == ElementType::kF64;
}
bool is_integer(ElementType t) {
  switch (t) {
    case ElementType::kI8: case ElementType::kU8: case ElementType::kI16: case ElementType::kU16:
    case ElementType::kI32: case ElementType::kU32: case ElementType::kI64: case ElementType::kU64:
      return true;
    default:
      return false;
  }
}
bool is_signed(ElementType t) {
  switch (t) {
    case ElementType::kI8: case ElementType::kI16: case ElementType::kI32: case ElementType::kI64:
      return true;
    default:
      return is_float(t);
  }
}

uint16_t float16::from_float(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return uint16_t(sign | 0x7c00u | (mant ? 0x200u : 0u));  // inf / nan
  int32_t e = int32_t(exp) - 127 + 15;
  if (e >= 0x1f) return uint16_t(sign | 0x7c00u);                           // overflow -> inf
  if (e <= 0) {                                                              // subnormal or zero
    if (e < -10) return uint16_t(sign);
    mant |= 0x800000u;
    uint32_t shift = uint32_t(14 - e);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1u))) ++half;
    return uint16_t(sign | half);
  }
  uint32_t half = sign | (uint32_t(e) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent: correct
  return uint16_t(half);
}

float float16::to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      x = sign | (uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace celer
