#include "ops/binary.hpp"

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

const char* binary_fn_name(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd: return "Add";
    case BinaryFn::kSub: return "Sub";
    case BinaryFn::kMul: return "Mul";
    case BinaryFn::kDiv: return "Div";
  }
  return "Binary";
}

void Binary::infer(InferContext& ctx) const {
  ElementType a = ctx.input_elem(0), b = ctx.input_elem(1);
  CELER_CHECK(a == b, kInvalidModel, "inputs have different element types ", element_type_name(a), " and ",
              element_type_name(b));
  CELER_CHECK(a != ElementType::kString && a != ElementType::kBool, kInvalidModel, "element type ",
              element_type_name(a), " is not allowed");
  ctx.set_output(0, a, broadcast_shapes(ctx.input_shape(0), ctx.input_shape(1)));
}

namespace {
template <typename T>
T apply(BinaryFn fn, T x, T y) {
  switch (fn) {
    case BinaryFn::kAdd: return T(x + y);
    case BinaryFn::kSub: return T(x - y);
    case BinaryFn::kMul: return T(x * y);
    case BinaryFn::kDiv:
      if constexpr (std::is_integral_v<T>) {
        CELER_CHECK(y != 0, kRuntime, "integer division by zero");
      }
      return T(x / y);
  }
  return T();
}
}  // namespace

void Binary::run(KernelContext& ctx) const {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& out = ctx.output(0);
  dispatch_numeric(a.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      CELER_THROW(kUnsupported, "bool inputs");
    } else {
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* po = out.data<T>();
      for_each_broadcast(out.dims(), {a.dims(), b.dims()},
                         [&](int64_t i, const int64_t* off) { po[i] = apply<T>(fn, pa[off[0]], pb[off[1]]); });
    }
  });
}

double Binary::flops(const Node& node) const {
  const auto& s = node.outputs[0]->type.shape;
  return s.is_static() ? double(element_count(s.to_dims())) : 0.0;
}

namespace {
template <BinaryFn F>
void import_binary(OnnxNode& n) {
  // Opsets before 7 had explicit 'broadcast'/'axis' attributes; the default broadcasting rules cover the models we
  // accept (opset 7 and newer), so they are refused rather than misread.
  if (n.has_attr("axis")) n.unsupported("the legacy 'axis' broadcasting attribute (opset < 7) is not supported");
  n.emit(std::make_unique<Binary>(F));
}
}  // namespace

void register_op_Binary(OpRegistry& r) {
  r.add_onnx("Add", 1, kMaxOpset, import_binary<BinaryFn::kAdd>);
  r.add_onnx("Sub", 1, kMaxOpset, import_binary<BinaryFn::kSub>);
  r.add_onnx("Mul", 1, kMaxOpset, import_binary<BinaryFn::kMul>);
  r.add_onnx("Div", 1, kMaxOpset, import_binary<BinaryFn::kDiv>);
}

}  // namespace celer
