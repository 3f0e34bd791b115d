// Cast (and CastLike): converts the element type. Floats to integers truncate toward zero and clamp to the target's
// range (NaN gives 0); strings parse as numbers ("1e-5", "inf", "NaN", "true"), numbers print in the shortest form
// that reads back the same value (floats as numpy prints them: "0.5", "1.0", "1e+20").
#include "ops/cast.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "onnx/onnx_tensor.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

std::string trimmed(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Parses a whole string as a floating-point number (strtod's syntax: decimal, scientific, hex, inf, nan).
template <typename C>
bool parse_float(const std::string& s, C& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  if constexpr (std::is_same_v<C, float>) {
    out = std::strtof(s.c_str(), &end);
  } else {
    out = std::strtod(s.c_str(), &end);
  }
  return end == s.c_str() + s.size();
}

template <typename T>
T from_string(const std::string& raw) {
  const std::string s = trimmed(raw);
  if constexpr (std::is_same_v<T, bool>) {
    std::string l = s;
    std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (l == "true") return true;
    if (l == "false") return false;
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    T v{};
    const char* first = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
    auto [p, ec] = std::from_chars(first, s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
  }
  using C = std::conditional_t<std::is_same_v<T, double> || std::is_integral_v<T>, double, float>;
  C v{};
  CELER_CHECK(parse_float(s, v), kInvalidArgument, "cannot convert the string '", raw, "' to ",
              element_type_name(element_type_of<T>()));
  return numeric_cast<T>(v);
}

template <typename F>
std::string to_string_of(F v) {
  if constexpr (std::is_same_v<F, bool>) {
    return v ? "True" : "False";
  } else {
    char buf[64];
    std::to_chars_result r;
    if constexpr (std::is_same_v<F, float16> || std::is_same_v<F, bfloat16>) {
      r = std::to_chars(buf, buf + sizeof(buf), float(v));
    } else {
      r = std::to_chars(buf, buf + sizeof(buf), v);
    }
    std::string s(buf, r.ptr);
    if constexpr (!std::is_integral_v<F>) {
      // numpy marks integral floats with ".0" ("1.0"), but not exponents, inf or nan.
      if (s.find_first_of(".eni") == std::string::npos) s += ".0";
    }
    return s;
  }
}

template <typename T, typename F>
T convert_one(const F& v) {
  if constexpr (std::is_same_v<T, F>) {
    return v;
  } else if constexpr (std::is_same_v<F, std::string>) {
    return from_string<T>(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return to_string_of<F>(v);
  } else {
    return numeric_cast<T>(v);
  }
}

ElementType element_type_from_onnx_name(const OnnxNode& n, const std::string& name) {
  static const std::pair<const char*, ElementType> kNames[] = {
      {"FLOAT", ElementType::kF32},  {"FLOAT16", ElementType::kF16},   {"BFLOAT16", ElementType::kBF16},
      {"DOUBLE", ElementType::kF64}, {"INT8", ElementType::kI8},       {"UINT8", ElementType::kU8},
      {"INT16", ElementType::kI16},  {"UINT16", ElementType::kU16},    {"INT32", ElementType::kI32},
      {"UINT32", ElementType::kU32}, {"INT64", ElementType::kI64},     {"UINT64", ElementType::kU64},
      {"BOOL", ElementType::kBool},  {"STRING", ElementType::kString},
  };
  for (const auto& [s, t] : kNames)
    if (name == s) return t;
  n.fail("attribute 'to' = '", name, "' is not a known element type");
}

}  // namespace

Tensor cast_tensor(const Tensor& in, ElementType to) {
  Tensor out(to, in.dims());
  const int64_t n = in.size();
  dispatch_all(in.type(), [&]<typename F>() {
    const F* src = in.data<F>();
    dispatch_all(to, [&]<typename T>() {
      T* dst = out.data<T>();
      for (int64_t i = 0; i < n; ++i) dst[i] = convert_one<T, F>(src[i]);
    });
  });
  return out;
}

void Cast::infer(InferContext& ctx) const {
  ElementType target = to;
  if (like) {
    CELER_CHECK(ctx.has_input(1), kInvalidModel, "CastLike needs input 1 (target_type)");
    target = ctx.input_elem(1);
  }
  ctx.set_output(0, target, ctx.input_shape(0));
  // A CastLike of a small constant (e.g. Mean's divisor) folds once the target type is known.
  const Tensor* v = ctx.input_value(0);
  if (like && target != ElementType::kUndefined && v && v->size() <= 64)
    ctx.set_output_value(0, cast_tensor(*v, target));
}

void Cast::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  const ElementType target = like ? ctx.input(1).type() : to;
  if (x.type() == target) {
    ctx.set_output(0, x);
    return;
  }
  ctx.set_output(0, cast_tensor(x, target));
}

namespace {

void import_cast(OnnxNode& n) {
  ElementType t = n.opset() < 6 ? element_type_from_onnx_name(n, n.attr_string("to"))
                                : onnx_element_type(int(n.attr_int("to")), "attribute 'to'");
  n.emit(std::make_unique<Cast>(t));
}

void import_cast_like(OnnxNode& n) {
  Value* x = n.input(0);
  Value* like = n.input(1);
  if (!x || !like) n.fail("needs inputs 'input' and 'target_type'");
  if (like->type.elem != ElementType::kUndefined && like->type.kind == ValueKind::kTensor) {
    n.emit(std::make_unique<Cast>(like->type.elem), {x}, {n.output(0)});
  } else {
    n.emit(Cast::like_input1());
  }
}

}  // namespace

std::unique_ptr<Op> make_op_Cast() { return std::make_unique<Cast>(); }

void register_op_Cast(OpRegistry& r) {
  r.add_onnx("Cast", 1, kMaxOpset, import_cast);
  r.add_onnx("CastLike", 15, kMaxOpset, import_cast_like);
}

}  // namespace celer
