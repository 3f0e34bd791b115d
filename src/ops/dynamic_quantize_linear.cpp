// DynamicQuantizeLinear: quantizes a float tensor to u8 with a scale and zero point computed from its range (which
// always includes 0): scale = (max - min) / 255, zero_point = saturate(round(-min / scale)).
// Outputs: y (u8, x's shape), y_scale (f32 scalar), y_zero_point (u8 scalar).
#include <algorithm>

#include "onnx/onnx_node.hpp"
#include "ops/quant_util.hpp"
#include "ops/registry.hpp"

namespace celer {

class DynamicQuantizeLinear final : public OpBase<DynamicQuantizeLinear, OpKind::kDynamicQuantizeLinear> {
 public:
  const char* type_name() const override { return "DynamicQuantizeLinear"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    CELER_CHECK(is_float(ctx.input_elem(0)), kInvalidModel, "input 'x' has element type ",
                element_type_name(ctx.input_elem(0)), " (a float type expected)");
    ctx.set_output(0, ElementType::kU8, ctx.input_shape(0));
    if (ctx.has_output(1)) ctx.set_output(1, ElementType::kF32, PartialShape::of({}));
    if (ctx.has_output(2)) ctx.set_output(2, ElementType::kU8, PartialShape::of({}));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    std::vector<float> v = quant::float_values(x, "input 'x'");
    float lo = 0.0f, hi = 0.0f;
    for (float f : v) {
      CELER_CHECK(std::isfinite(f), kInvalidArgument, "input 'x' holds ", f, ": its range cannot be quantized");
      lo = std::min(lo, f);
      hi = std::max(hi, f);
    }
    float scale = (hi - lo) / 255.0f;
    uint8_t zero = scale == 0.0f ? 0 : quant::saturate_round<uint8_t>(0.0f - lo / scale, 0);
    Tensor& y = ctx.output(0);
    uint8_t* py = y.data<uint8_t>();
    for (size_t i = 0; i < v.size(); ++i)
      py[i] = scale == 0.0f ? zero : quant::saturate_round<uint8_t>(v[i] / scale, zero);
    if (ctx.has_output(1)) ctx.output(1).data<float>()[0] = scale;
    if (ctx.has_output(2)) ctx.output(2).data<uint8_t>()[0] = zero;
  }
};

namespace {
void import_dynamic_quantize_linear(OnnxNode& n) { n.emit(std::make_unique<DynamicQuantizeLinear>()); }
}  // namespace

std::unique_ptr<Op> make_op_DynamicQuantizeLinear() { return std::make_unique<DynamicQuantizeLinear>(); }

void register_op_DynamicQuantizeLinear(OpRegistry& r) {
  r.add_onnx("DynamicQuantizeLinear", 11, kMaxOpset, import_dynamic_quantize_linear);
}

}  // namespace celer
