// Window: a 1-D window function of `size` values (HannWindow, HammingWindow, BlackmanWindow):
//   w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N),  N = size (periodic) or size - 1 (symmetric).
// The output type is attribute output_datatype (default float).
#include <cmath>
#include <numbers>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "onnx/onnx_tensor.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

enum class WindowFn : uint8_t { kHann, kHamming, kBlackman };

class Window final : public OpBase<Window, OpKind::kWindow> {
 public:
  WindowFn fn = WindowFn::kHann;
  bool periodic = true;
  ElementType output_type = ElementType::kF32;

  const char* type_name() const override {
    switch (fn) {
      case WindowFn::kHann:
        return "HannWindow";
      case WindowFn::kHamming:
        return "HammingWindow";
      case WindowFn::kBlackman:
        return "BlackmanWindow";
    }
    return "Window";
  }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "fn", fn, WindowFn::kBlackman);
    v.on("periodic", periodic);
    visit_enum(v, "output_type", output_type, ElementType::kString);
  }

  void infer(InferContext& ctx) const override {
    ElementType st = ctx.input_elem(0);
    CELER_CHECK(st == ElementType::kI32 || st == ElementType::kI64, kInvalidModel, "input 'size' has element type ",
                element_type_name(st), " (i32 or i64 expected)");
    const PartialShape& ss = ctx.input_shape(0);
    CELER_CHECK(!ss.is_static() || element_count(ss.to_dims()) == 1, kInvalidModel, "input 'size' has shape ",
                ss.to_string(), " but must be a scalar");
    const Tensor* s = ctx.input_value(0);
    ctx.set_output(0, output_type, PartialShape{s ? Dim(checked_size(*s)) : Dim()});
  }

  void run(KernelContext& ctx) const override {
    int64_t size = checked_size(ctx.input(0));
    double a0 = 0.5, a1 = 0.5, a2 = 0.0;
    if (fn == WindowFn::kHamming) {
      a0 = 25.0 / 46.0;
      a1 = 1.0 - a0;
    } else if (fn == WindowFn::kBlackman) {
      a0 = 0.42;
      a1 = 0.5;
      a2 = 0.08;
    }
    const int64_t denom = periodic ? size : size - 1;
    Tensor& y = ctx.output(0, output_type, {size});
    dispatch_numeric(output_type, [&]<typename T>() {
      T* py = y.data<T>();
      for (int64_t n = 0; n < size; ++n) {
        double v = 1.0;  // a one-value symmetric window
        if (denom > 0) {
          double t = 2.0 * std::numbers::pi * double(n) / double(denom);
          v = a0 - a1 * std::cos(t) + a2 * std::cos(2.0 * t);
        }
        py[n] = T(v);
      }
    });
  }

 private:
  static int64_t checked_size(const Tensor& s) {
    CELER_CHECK(s.size() == 1, kInvalidArgument, "input 'size' must hold one value, got shape ",
                dims_to_string(s.dims()));
    int64_t v = s.value_as_int(0);
    CELER_CHECK(v >= 0, kInvalidArgument, "input 'size' = ", v, " must not be negative");
    return v;
  }
};

namespace {
template <WindowFn F>
void import_window(OnnxNode& n) {
  auto op = std::make_unique<Window>();
  op->fn = F;
  op->periodic = n.attr_int("periodic", 1) != 0;
  op->output_type = onnx_element_type(int(n.attr_int("output_datatype", 1)), "attribute 'output_datatype'");
  if (op->output_type == ElementType::kString || op->output_type == ElementType::kBool)
    n.fail("attribute 'output_datatype' must be a numeric type");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Window() { return std::make_unique<Window>(); }

void register_op_Window(OpRegistry& r) {
  r.add_onnx("HannWindow", 17, kMaxOpset, import_window<WindowFn::kHann>);
  r.add_onnx("HammingWindow", 17, kMaxOpset, import_window<WindowFn::kHamming>);
  r.add_onnx("BlackmanWindow", 17, kMaxOpset, import_window<WindowFn::kBlackman>);
}

}  // namespace celer
