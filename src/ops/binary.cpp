#include "ops/binary.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/cast.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

const char* binary_fn_name(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd:
      return "Add";
    case BinaryFn::kSub:
      return "Sub";
    case BinaryFn::kMul:
      return "Mul";
    case BinaryFn::kDiv:
      return "Div";
    case BinaryFn::kPow:
      return "Pow";
    case BinaryFn::kMod:
      return "Mod";
    case BinaryFn::kFmod:
      return "Fmod";
    case BinaryFn::kMax:
      return "Max";
    case BinaryFn::kMin:
      return "Min";
    case BinaryFn::kPRelu:
      return "PRelu";
    case BinaryFn::kBitShiftLeft:
      return "BitShiftLeft";
    case BinaryFn::kBitShiftRight:
      return "BitShiftRight";
    case BinaryFn::kAnd:
      return "And";
    case BinaryFn::kOr:
      return "Or";
    case BinaryFn::kXor:
      return "Xor";
    case BinaryFn::kEqual:
      return "Equal";
    case BinaryFn::kLess:
      return "Less";
    case BinaryFn::kLessOrEqual:
      return "LessOrEqual";
    case BinaryFn::kGreater:
      return "Greater";
    case BinaryFn::kGreaterOrEqual:
      return "GreaterOrEqual";
  }
  return "Binary";
}

bool binary_fn_outputs_bool(BinaryFn fn) { return fn >= BinaryFn::kAnd; }

namespace {

// Whether `fn` accepts element type `t` (for Pow: the base).
bool accepts(BinaryFn fn, ElementType t) {
  const bool number = is_float(t) || is_integer(t);
  switch (fn) {
    case BinaryFn::kAnd:
    case BinaryFn::kOr:
    case BinaryFn::kXor:
      return t == ElementType::kBool;
    case BinaryFn::kEqual:
      return number || t == ElementType::kBool;
    case BinaryFn::kBitShiftLeft:
    case BinaryFn::kBitShiftRight:
      return is_integer(t) && !is_signed(t);
    case BinaryFn::kMod:
      return is_integer(t);
    case BinaryFn::kPow:
      return is_float(t) || t == ElementType::kI32 || t == ElementType::kI64;
    default:
      return number;
  }
}

// PRelu: the slope must broadcast to x (unidirectionally); the output has x's shape.
PartialShape prelu_shape(const PartialShape& x, const PartialShape& slope) {
  PartialShape s = broadcast_shapes(x, slope);
  if (!x.rank_known() || !slope.rank_known()) return s;
  CELER_CHECK(slope.rank() <= x.rank(), kShapeMismatch, "slope of shape ", slope.to_string(),
              " does not broadcast to x of shape ", x.to_string());
  const size_t off = size_t(x.rank() - slope.rank());
  for (size_t i = 0; i < size_t(slope.rank()); ++i) {
    const Dim& xd = x[off + i];
    const Dim& sd = slope[i];
    CELER_CHECK(!(xd.is_static() && sd.is_static() && sd.value() != 1 && sd.value() != xd.value()), kShapeMismatch,
                "slope of shape ", slope.to_string(), " does not broadcast to x of shape ", x.to_string());
  }
  return s;
}

template <typename T>
using ComputeOf = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename C>
C apply_float(BinaryFn fn, C x, C y) {
  switch (fn) {
    case BinaryFn::kAdd:
      return x + y;
    case BinaryFn::kSub:
      return x - y;
    case BinaryFn::kMul:
      return x * y;
    case BinaryFn::kDiv:
      return x / y;
    case BinaryFn::kPow:
      return std::pow(x, y);
    case BinaryFn::kFmod:
      return std::fmod(x, y);
    case BinaryFn::kMod: {
      C r = std::fmod(x, y);
      return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
    }
    case BinaryFn::kMax:
      return std::isnan(x) ? x : (std::isnan(y) ? y : std::max(x, y));
    case BinaryFn::kMin:
      return std::isnan(x) ? x : (std::isnan(y) ? y : std::min(x, y));
    case BinaryFn::kPRelu:
      return x < 0 ? y * x : x;
    default:
      break;
  }
  CELER_THROW(kInternal, binary_fn_name(fn), " on floats");
}

// Integer arithmetic wraps like two's complement (computed in uint64, then narrowed).
template <typename T>
T apply_int(BinaryFn fn, T x, T y) {
  using U = uint64_t;
  constexpr bool kSigned = std::is_signed_v<T>;
  constexpr U kBits = sizeof(T) * 8;
  switch (fn) {
    case BinaryFn::kAdd:
      return static_cast<T>(U(x) + U(y));
    case BinaryFn::kSub:
      return static_cast<T>(U(x) - U(y));
    case BinaryFn::kMul:
      return static_cast<T>(U(x) * U(y));
    case BinaryFn::kDiv:
      CELER_CHECK(y != 0, kRuntime, "integer division by zero");
      if constexpr (kSigned) {
        if (y == -1) return static_cast<T>(U(0) - U(x));
      }
      return static_cast<T>(x / y);
    case BinaryFn::kMod:
    case BinaryFn::kFmod: {
      CELER_CHECK(y != 0, kRuntime, "integer modulo by zero");
      if constexpr (kSigned) {
        if (y == -1) return T(0);
        T r = static_cast<T>(x % y);
        if (fn == BinaryFn::kMod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
        return r;
      } else {
        return static_cast<T>(x % y);
      }
    }
    case BinaryFn::kMax:
      return std::max(x, y);
    case BinaryFn::kMin:
      return std::min(x, y);
    case BinaryFn::kPRelu:
      return x < 0 ? static_cast<T>(U(y) * U(x)) : x;
    case BinaryFn::kBitShiftLeft:
    case BinaryFn::kBitShiftRight: {
      if constexpr (kSigned) {
        if (y < 0) return T(0);
      }
      if (U(y) >= kBits) return T(0);
      return fn == BinaryFn::kBitShiftLeft ? static_cast<T>(U(x) << U(y)) : static_cast<T>(x >> y);
    }
    case BinaryFn::kPow:
      break;  // handled by pow_one
    default:
      break;
  }
  CELER_THROW(kInternal, binary_fn_name(fn), " on integers");
}

template <typename T>
bool compare(BinaryFn fn, T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (fn) {
      case BinaryFn::kAnd:
        return a && b;
      case BinaryFn::kOr:
        return a || b;
      case BinaryFn::kXor:
        return a != b;
      case BinaryFn::kEqual:
        return a == b;
      default:
        break;
    }
    CELER_THROW(kInternal, binary_fn_name(fn), " on bool");
  } else {
    using C = std::conditional_t<std::is_integral_v<T>, T, ComputeOf<T>>;
    const C x = C(a), y = C(b);
    switch (fn) {
      case BinaryFn::kEqual:
        return x == y;
      case BinaryFn::kLess:
        return x < y;
      case BinaryFn::kLessOrEqual:
        return x <= y;
      case BinaryFn::kGreater:
        return x > y;
      case BinaryFn::kGreaterOrEqual:
        return x >= y;
      default:
        break;
    }
    CELER_THROW(kInternal, binary_fn_name(fn), " as a comparison");
  }
}

// Pow of a base of type T and an exponent of type E; the result has the base's type.
template <typename T, typename E>
T pow_one(T x, E y) {
  if constexpr (!std::is_integral_v<T>) {
    using C = std::conditional_t<std::is_same_v<T, double> || std::is_same_v<E, double>, double, float>;
    return T(std::pow(C(x), C(y)));
  } else if constexpr (std::is_integral_v<E>) {
    if constexpr (std::is_signed_v<E>) {
      if (y < 0) {
        CELER_CHECK(x != 0, kRuntime, "integer 0 raised to a negative power");
        if (x == 1) return T(1);
        if constexpr (std::is_signed_v<T>) {
          if (x == -1) return (y % 2 == 0) ? T(1) : T(-1);
        }
        return T(0);
      }
    }
    uint64_t result = 1, base = uint64_t(x), e = uint64_t(y);
    while (e) {
      if (e & 1) result *= base;
      base *= base;
      e >>= 1;
    }
    return static_cast<T>(result);
  } else {
    return numeric_cast<T>(std::pow(double(x), double(y)));
  }
}

}  // namespace

void Binary::infer(InferContext& ctx) const {
  ElementType a = ctx.input_elem(0), b = ctx.input_elem(1);
  const char* name = binary_fn_name(fn);
  const ElementType none = ElementType::kUndefined;
  if (fn == BinaryFn::kMod && a != none)
    CELER_CHECK(is_integer(a), kInvalidModel, "Mod with attribute 'fmod' = 0 needs integer inputs, got ",
                element_type_name(a), " (set 'fmod' to 1 for floating-point inputs)");
  CELER_CHECK(a == none || accepts(fn, a), kInvalidModel, name, " does not accept element type ", element_type_name(a));
  if (fn == BinaryFn::kPow) {
    CELER_CHECK(b == none || is_float(b) || is_integer(b), kInvalidModel, "Pow does not accept exponent type ",
                element_type_name(b));
  } else {
    CELER_CHECK(a == none || b == none || a == b, kInvalidModel, "inputs have different element types ",
                element_type_name(a), " and ", element_type_name(b));
  }
  ElementType out = binary_fn_outputs_bool(fn) ? ElementType::kBool : (a != none ? a : b);
  if (fn == BinaryFn::kPow) out = a;
  PartialShape shape = fn == BinaryFn::kPRelu ? prelu_shape(ctx.input_shape(0), ctx.input_shape(1))
                                              : broadcast_shapes(ctx.input_shape(0), ctx.input_shape(1));
  ctx.set_output(0, out, std::move(shape));
}

void Binary::run(KernelContext& ctx) const {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& out = ctx.output(0);
  const std::vector<Dims> in_dims{a.dims(), b.dims()};
  if (fn == BinaryFn::kPow) {
    dispatch_numeric(a.type(), [&]<typename T>() {
      if constexpr (std::is_same_v<T, bool>) {
        CELER_THROW(kInvalidArgument, "Pow of a bool base");
      } else {
        dispatch_numeric(b.type(), [&]<typename E>() {
          if constexpr (std::is_same_v<E, bool>) {
            CELER_THROW(kInvalidArgument, "Pow with a bool exponent");
          } else {
            const T* pa = a.data<T>();
            const E* pb = b.data<E>();
            T* po = out.data<T>();
            for_each_broadcast(out.dims(), in_dims,
                               [&](int64_t i, const int64_t* off) { po[i] = pow_one<T, E>(pa[off[0]], pb[off[1]]); });
          }
        });
      }
    });
    return;
  }
  CELER_CHECK(a.type() == b.type(), kInvalidArgument, "inputs have different element types ",
              element_type_name(a.type()), " and ", element_type_name(b.type()));
  dispatch_numeric(a.type(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    if (binary_fn_outputs_bool(fn)) {
      bool* po = out.data<bool>();
      for_each_broadcast(out.dims(), in_dims,
                         [&](int64_t i, const int64_t* off) { po[i] = compare<T>(fn, pa[off[0]], pb[off[1]]); });
    } else if constexpr (std::is_same_v<T, bool>) {
      CELER_THROW(kInvalidArgument, binary_fn_name(fn), " of bool inputs");
    } else if constexpr (std::is_integral_v<T>) {
      T* po = out.data<T>();
      for_each_broadcast(out.dims(), in_dims,
                         [&](int64_t i, const int64_t* off) { po[i] = apply_int<T>(fn, pa[off[0]], pb[off[1]]); });
    } else {
      using C = ComputeOf<T>;
      T* po = out.data<T>();
      for_each_broadcast(out.dims(), in_dims, [&](int64_t i, const int64_t* off) {
        po[i] = T(apply_float<C>(fn, C(pa[off[0]]), C(pb[off[1]])));
      });
    }
  });
}

double Binary::flops(const Node& node) const {
  const auto& s = node.outputs[0]->type.shape;
  return s.is_static() ? double(element_count(s.to_dims())) : 0.0;
}

namespace {

void emit_binary(OnnxNode& n, BinaryFn fn) {
  // Opsets before 7 had explicit 'broadcast'/'axis' attributes; the default broadcasting rules cover the models we
  // accept (opset 7 and newer), so they are refused rather than misread.
  if (n.has_attr("axis")) n.unsupported("the legacy 'axis' broadcasting attribute (opset < 7) is not supported");
  n.emit(std::make_unique<Binary>(fn));
}

template <BinaryFn F>
void import_binary(OnnxNode& n) {
  emit_binary(n, F);
}

void import_mod(OnnxNode& n) {
  int64_t fmod = n.attr_int("fmod", 0);
  if (fmod != 0 && fmod != 1) n.fail("attribute 'fmod' = ", fmod, " must be 0 or 1");
  Value* x = n.input(0);
  if (fmod == 0 && x && is_float(x->type.elem))
    n.fail("attribute 'fmod' must be 1 for floating-point inputs (", element_type_name(x->type.elem), ")");
  n.emit(std::make_unique<Binary>(fmod ? BinaryFn::kFmod : BinaryFn::kMod));
}

void import_bitshift(OnnxNode& n) {
  std::string dir = n.attr_string("direction");
  if (dir == "LEFT") return emit_binary(n, BinaryFn::kBitShiftLeft);
  if (dir == "RIGHT") return emit_binary(n, BinaryFn::kBitShiftRight);
  n.fail("attribute 'direction' = '", dir, "' must be LEFT or RIGHT");
}

// Sum, Max, Min, Mean of any number of inputs: a chain of Binary nodes (Mean then divides by the count).
void import_variadic(OnnxNode& n) {
  const std::string& t = n.op_type();
  const bool mean = t == "Mean";
  const BinaryFn fn = t == "Max" ? BinaryFn::kMax : (t == "Min" ? BinaryFn::kMin : BinaryFn::kAdd);
  std::vector<Value*> ins;
  for (size_t i = 0; i < n.num_inputs(); ++i) {
    if (!n.input(i)) n.fail("input ", i, " is omitted; every input must be given");
    ins.push_back(n.input(i));
  }
  if (ins.empty()) n.fail("needs at least one input");
  if (ins.size() == 1) {  // the output is the input
    const OnnxMapping* m = OpRegistry::get().find_onnx("", "Identity", n.opset());
    CELER_CHECK(m && m->fn, kInternal, "no Identity import");
    m->fn(n);
    return;
  }
  Value* acc = ins[0];
  for (size_t i = 1; i < ins.size(); ++i) {
    const bool last = i + 1 == ins.size() && !mean;
    Value* out = last ? n.output(0) : n.temp(std::string(binary_fn_name(fn)) + "_" + std::to_string(i));
    n.emit(std::make_unique<Binary>(fn), {acc, ins[i]}, {out});
    acc = out;
  }
  if (!mean) return;
  const ElementType et = ins[0]->type.elem;
  const double count = double(ins.size());
  Value* divisor;
  if (is_float(et) || is_integer(et)) {
    Tensor c(et, {});
    dispatch_numeric(et, [&]<typename T>() { c.data<T>()[0] = numeric_cast<T>(count); });
    divisor = n.constant(std::move(c));
  } else {  // the type is known only after inference: a Cast to the inputs' type (folded at load time)
    divisor = n.temp("count");
    n.emit(Cast::like_input1(), {n.constant(Tensor::scalar<double>(count)), ins[0]}, {divisor});
  }
  n.emit(std::make_unique<Binary>(BinaryFn::kDiv), {acc, divisor}, {n.output(0)});
}

}  // namespace

std::unique_ptr<Op> make_op_Binary() { return std::make_unique<Binary>(); }

void register_op_Binary(OpRegistry& r) {
  r.add_onnx("Add", 1, kMaxOpset, import_binary<BinaryFn::kAdd>);
  r.add_onnx("Sub", 1, kMaxOpset, import_binary<BinaryFn::kSub>);
  r.add_onnx("Mul", 1, kMaxOpset, import_binary<BinaryFn::kMul>);
  r.add_onnx("Div", 1, kMaxOpset, import_binary<BinaryFn::kDiv>);
  r.add_onnx("Pow", 1, kMaxOpset, import_binary<BinaryFn::kPow>);
  r.add_onnx("Mod", 10, kMaxOpset, import_mod);
  r.add_onnx("PRelu", 1, kMaxOpset, import_binary<BinaryFn::kPRelu>);
  r.add_onnx("BitShift", 11, kMaxOpset, import_bitshift);
  r.add_onnx("And", 1, kMaxOpset, import_binary<BinaryFn::kAnd>);
  r.add_onnx("Or", 1, kMaxOpset, import_binary<BinaryFn::kOr>);
  r.add_onnx("Xor", 1, kMaxOpset, import_binary<BinaryFn::kXor>);
  r.add_onnx("Equal", 1, kMaxOpset, import_binary<BinaryFn::kEqual>);
  r.add_onnx("Less", 1, kMaxOpset, import_binary<BinaryFn::kLess>);
  r.add_onnx("LessOrEqual", 12, kMaxOpset, import_binary<BinaryFn::kLessOrEqual>);
  r.add_onnx("Greater", 1, kMaxOpset, import_binary<BinaryFn::kGreater>);
  r.add_onnx("GreaterOrEqual", 12, kMaxOpset, import_binary<BinaryFn::kGreaterOrEqual>);
  r.add_onnx("Sum", 1, kMaxOpset, import_variadic);
  r.add_onnx("Max", 1, kMaxOpset, import_variadic);
  r.add_onnx("Min", 1, kMaxOpset, import_variadic);
  r.add_onnx("Mean", 1, kMaxOpset, import_variadic);
}

}  // namespace celer
