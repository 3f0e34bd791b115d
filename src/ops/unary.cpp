// Unary: one canonical op for the elementwise functions of one input (see unary.hpp). Floats compute in float (f16 and
// bf16 through float, f64 in double); integer inputs of the functions that allow them compute exactly or via double.
#include "ops/unary.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

// Which input element types a function accepts.
enum class Types : uint8_t {
  kFloat,          // f16, bf16, f32, f64
  kSignedOrFloat,  // floats and signed integers
  kNumeric,        // floats and all integers
  kBool,           // bool only
  kFloatToBool,    // float input, bool output
};

struct FnInfo {
  UnaryFn fn;
  const char* name;  // ONNX op type
  Types types;
  int since;  // first opset of the default domain with this op; 0: made by fusions only, no ONNX op
};

constexpr FnInfo kFns[] = {
    {UnaryFn::kAbs, "Abs", Types::kNumeric, 1},
    {UnaryFn::kAcos, "Acos", Types::kFloat, 7},
    {UnaryFn::kAcosh, "Acosh", Types::kFloat, 9},
    {UnaryFn::kAsin, "Asin", Types::kFloat, 7},
    {UnaryFn::kAsinh, "Asinh", Types::kFloat, 9},
    {UnaryFn::kAtan, "Atan", Types::kFloat, 7},
    {UnaryFn::kAtanh, "Atanh", Types::kFloat, 9},
    {UnaryFn::kCeil, "Ceil", Types::kFloat, 1},
    {UnaryFn::kCelu, "Celu", Types::kFloat, 12},
    {UnaryFn::kClip, "Clip", Types::kFloat, 0},
    {UnaryFn::kCos, "Cos", Types::kFloat, 7},
    {UnaryFn::kCosh, "Cosh", Types::kFloat, 9},
    {UnaryFn::kElu, "Elu", Types::kFloat, 1},
    {UnaryFn::kErf, "Erf", Types::kNumeric, 9},
    {UnaryFn::kExp, "Exp", Types::kFloat, 1},
    {UnaryFn::kFloor, "Floor", Types::kFloat, 1},
    {UnaryFn::kGelu, "Gelu", Types::kFloat, 0},
    {UnaryFn::kHardSigmoid, "HardSigmoid", Types::kFloat, 1},
    {UnaryFn::kHardSwish, "HardSwish", Types::kFloat, 14},
    {UnaryFn::kIsInf, "IsInf", Types::kFloatToBool, 10},
    {UnaryFn::kIsNaN, "IsNaN", Types::kFloatToBool, 9},
    {UnaryFn::kLeakyRelu, "LeakyRelu", Types::kFloat, 1},
    {UnaryFn::kLog, "Log", Types::kFloat, 1},
    {UnaryFn::kNeg, "Neg", Types::kSignedOrFloat, 1},
    {UnaryFn::kNot, "Not", Types::kBool, 1},
    {UnaryFn::kReciprocal, "Reciprocal", Types::kFloat, 1},
    {UnaryFn::kRelu, "Relu", Types::kSignedOrFloat, 1},
    {UnaryFn::kRound, "Round", Types::kFloat, 11},
    {UnaryFn::kSelu, "Selu", Types::kFloat, 1},
    {UnaryFn::kShrink, "Shrink", Types::kNumeric, 9},
    {UnaryFn::kSigmoid, "Sigmoid", Types::kFloat, 1},
    {UnaryFn::kSign, "Sign", Types::kNumeric, 9},
    {UnaryFn::kSilu, "Silu", Types::kFloat, 0},
    {UnaryFn::kSin, "Sin", Types::kFloat, 7},
    {UnaryFn::kSinh, "Sinh", Types::kFloat, 9},
    {UnaryFn::kSoftplus, "Softplus", Types::kFloat, 1},
    {UnaryFn::kSoftsign, "Softsign", Types::kFloat, 1},
    {UnaryFn::kSqrt, "Sqrt", Types::kFloat, 1},
    {UnaryFn::kTan, "Tan", Types::kFloat, 7},
    {UnaryFn::kTanh, "Tanh", Types::kFloat, 1},
    {UnaryFn::kThresholdedRelu, "ThresholdedRelu", Types::kFloat, 10},
};

const FnInfo& info_of(UnaryFn fn) {
  for (const FnInfo& i : kFns)
    if (i.fn == fn) return i;
  CELER_THROW(kInternal, "unknown unary function ", int(fn));
}

bool accepts(Types types, ElementType t) {
  switch (types) {
    case Types::kFloat:
    case Types::kFloatToBool:
      return is_float(t);
    case Types::kSignedOrFloat:
      return is_float(t) || (is_integer(t) && is_signed(t));
    case Types::kNumeric:
      return is_float(t) || is_integer(t);
    case Types::kBool:
      return t == ElementType::kBool;
  }
  return false;
}

// The function on a float value; C is float or double.
template <typename C>
C eval_float(const Unary& op, C x) {
  const C a = C(op.alpha), b = C(op.beta), g = C(op.gamma);
  switch (op.fn) {
    case UnaryFn::kAbs:
      return std::fabs(x);
    case UnaryFn::kAcos:
      return std::acos(x);
    case UnaryFn::kAcosh:
      return std::acosh(x);
    case UnaryFn::kAsin:
      return std::asin(x);
    case UnaryFn::kAsinh:
      return std::asinh(x);
    case UnaryFn::kAtan:
      return std::atan(x);
    case UnaryFn::kAtanh:
      return std::atanh(x);
    case UnaryFn::kCeil:
      return std::ceil(x);
    case UnaryFn::kCelu:
      return std::max(C(0), x) + std::min(C(0), a * std::expm1(x / a));
    case UnaryFn::kClip:
      return std::min(std::max(x, a), b);
    case UnaryFn::kCos:
      return std::cos(x);
    case UnaryFn::kCosh:
      return std::cosh(x);
    case UnaryFn::kElu:
      return x < 0 ? a * std::expm1(x) : x;
    case UnaryFn::kErf:
      return std::erf(x);
    case UnaryFn::kExp:
      return std::exp(x);
    case UnaryFn::kFloor:
      return std::floor(x);
    case UnaryFn::kGelu:
      if (op.alpha == 0) return C(0.5) * x * (C(1) + std::erf(x * C(0.70710678118654752440)));
      return C(0.5) * x * (C(1) + std::tanh(C(0.79788456080286535588) * (x + C(0.044715) * x * x * x)));
    case UnaryFn::kHardSigmoid:
      return std::clamp(a * x + b, C(0), C(1));
    case UnaryFn::kHardSwish:
      return x * std::clamp(a * x + b, C(0), C(1));
    case UnaryFn::kLeakyRelu:
      return x < 0 ? a * x : x;
    case UnaryFn::kLog:
      return std::log(x);
    case UnaryFn::kNeg:
      return -x;
    case UnaryFn::kReciprocal:
      return C(1) / x;
    case UnaryFn::kRelu:
      return x < 0 ? C(0) : x;
    case UnaryFn::kRound:
      return std::nearbyint(x);  // the default rounding mode: half to even
    case UnaryFn::kSelu:
      return x > 0 ? g * x : g * (a * std::exp(x) - a);
    case UnaryFn::kShrink:
      return x < -a ? x + b : (x > a ? x - b : C(0));
    case UnaryFn::kSigmoid: {
      if (x >= 0) return C(1) / (C(1) + std::exp(-x));
      C e = std::exp(x);
      return e / (C(1) + e);
    }
    case UnaryFn::kSign:
      return x > 0 ? C(1) : (x < 0 ? C(-1) : x);
    case UnaryFn::kSilu: {
      if (x >= 0) return x / (C(1) + std::exp(-x));
      C e = std::exp(x);
      return x * e / (C(1) + e);
    }
    case UnaryFn::kSin:
      return std::sin(x);
    case UnaryFn::kSinh:
      return std::sinh(x);
    case UnaryFn::kSoftplus:
      return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    case UnaryFn::kSoftsign:
      return x / (C(1) + std::fabs(x));
    case UnaryFn::kSqrt:
      return std::sqrt(x);
    case UnaryFn::kTan:
      return std::tan(x);
    case UnaryFn::kTanh:
      return std::tanh(x);
    case UnaryFn::kThresholdedRelu:
      return x > a ? x : C(0);
    case UnaryFn::kIsInf:
    case UnaryFn::kIsNaN:
    case UnaryFn::kNot:
      break;
  }
  CELER_THROW(kInternal, unary_fn_name(op.fn), " has no float form");
}

// The function on an integer value: exact (wrapping like two's complement) where it stays integral, else via double.
template <typename T>
T eval_int(const Unary& op, T x) {
  using U = std::make_unsigned_t<T>;
  switch (op.fn) {
    case UnaryFn::kAbs:
      if constexpr (std::is_signed_v<T>) return x < 0 ? static_cast<T>(U(0) - U(x)) : x;
      return x;
    case UnaryFn::kNeg:
      return static_cast<T>(U(0) - U(x));
    case UnaryFn::kSign:
      return x > 0 ? T(1) : (x < 0 ? T(-1) : T(0));
    case UnaryFn::kRelu:
      return x < 0 ? T(0) : x;
    default:
      return numeric_cast<T>(eval_float<double>(op, double(x)));
  }
}

}  // namespace

float unary_eval(const Unary& op, float x) { return eval_float<float>(op, x); }

const char* unary_fn_name(UnaryFn fn) {
  for (const FnInfo& i : kFns)
    if (i.fn == fn) return i.name;
  return "Unary";
}

void Unary::infer(InferContext& ctx) const {
  const FnInfo& info = info_of(fn);
  ElementType t = ctx.input_elem(0);
  CELER_CHECK(t == ElementType::kUndefined || accepts(info.types, t), kInvalidModel, info.name,
              " does not accept input element type ", element_type_name(t));
  ElementType out = info.types == Types::kFloatToBool ? ElementType::kBool : t;
  ctx.set_output(0, out, ctx.input_shape(0));
}

void Unary::run(KernelContext& ctx) const {
  const FnInfo& info = info_of(fn);
  const Tensor& x = ctx.input(0);
  CELER_CHECK(accepts(info.types, x.type()), kInvalidArgument, info.name, " does not accept input element type ",
              element_type_name(x.type()));
  Tensor& y = ctx.output(0);
  const int64_t n = x.size();
  if (fn == UnaryFn::kNot) {
    const bool* px = x.data<bool>();
    bool* py = y.data<bool>();
    for (int64_t i = 0; i < n; ++i) py[i] = !px[i];
    return;
  }
  if (info.types == Types::kFloatToBool) {
    bool* py = y.data<bool>();
    const bool pos = alpha != 0, neg = beta != 0;
    dispatch_float(x.type(), [&]<typename T>() {
      const T* px = x.data<T>();
      for (int64_t i = 0; i < n; ++i) {
        double v = double(px[i]);
        py[i] = fn == UnaryFn::kIsNaN ? std::isnan(v) : (std::isinf(v) && (v > 0 ? pos : neg));
      }
    });
    return;
  }
  dispatch_numeric(x.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      CELER_THROW(kInvalidArgument, info.name, " does not accept bool inputs");
    } else {
      const T* px = x.data<T>();
      T* py = y.data<T>();
      if constexpr (std::is_integral_v<T>) {
        for (int64_t i = 0; i < n; ++i) py[i] = eval_int<T>(*this, px[i]);
      } else {
        using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
        for (int64_t i = 0; i < n; ++i) py[i] = T(eval_float<C>(*this, C(px[i])));
      }
    }
  });
}

double Unary::flops(const Node& node) const {
  const auto& s = node.outputs[0]->type.shape;
  return s.is_static() ? double(element_count(s.to_dims())) : 0.0;
}

namespace {

void import_unary(OnnxNode& n) {
  const FnInfo* info = nullptr;
  for (const FnInfo& i : kFns)
    if (n.op_type() == i.name && i.since > 0) info = &i;
  if (!info) n.fail("not a unary op type");
  float a = 0, b = 0, g = 0;
  switch (info->fn) {
    case UnaryFn::kCelu:
      a = n.attr_float("alpha", 1.0f);
      if (a == 0) n.fail("attribute 'alpha' must not be 0");
      break;
    case UnaryFn::kElu:
      a = n.attr_float("alpha", 1.0f);
      break;
    case UnaryFn::kHardSigmoid:
      a = n.attr_float("alpha", 0.2f);
      b = n.attr_float("beta", 0.5f);
      break;
    case UnaryFn::kHardSwish:
      a = 1.0f / 6.0f;
      b = 0.5f;
      break;
    case UnaryFn::kIsInf:
      a = n.attr_int("detect_positive", 1) != 0 ? 1.0f : 0.0f;
      b = n.attr_int("detect_negative", 1) != 0 ? 1.0f : 0.0f;
      break;
    case UnaryFn::kLeakyRelu:
      a = n.attr_float("alpha", 0.01f);
      break;
    case UnaryFn::kSelu:
      a = n.attr_float("alpha", 1.67326319217681884765625f);
      g = n.attr_float("gamma", 1.05070102214813232421875f);
      break;
    case UnaryFn::kShrink:
      a = n.attr_float("lambd", 0.5f);
      b = n.attr_float("bias", 0.0f);
      break;
    case UnaryFn::kThresholdedRelu:
      a = n.attr_float("alpha", 1.0f);
      break;
    default:
      break;
  }
  n.emit(std::make_unique<Unary>(info->fn, a, b, g));
}

}  // namespace

std::unique_ptr<Op> make_op_Unary() { return std::make_unique<Unary>(); }

void register_op_Unary(OpRegistry& r) {
  for (const FnInfo& i : kFns)
    if (i.since > 0) r.add_onnx(i.name, i.since, kMaxOpset, import_unary);
}

}  // namespace celer
