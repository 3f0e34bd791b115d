// InstanceNormalization: for every (n, c), Y = scale[c] * (X - mean) / sqrt(var + epsilon) + B[c], where mean and var
// (population variance) are taken over the spatial axes of that instance and channel.
#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class InstanceNormalization final : public OpBase<InstanceNormalization, OpKind::kInstanceNormalization> {
 public:
  float epsilon = 1e-5f;

  const char* type_name() const override { return "InstanceNormalization"; }
  void visit_attrs(AttrVisitor& v) override { v.on("epsilon", epsilon); }

  void infer(InferContext& ctx) const override {
    const ElementType e = ctx.input_elem(0);
    CELER_CHECK(is_float(e), kInvalidModel, "input X has element type ", element_type_name(e),
                "; InstanceNormalization needs a float type");
    const PartialShape& xs = ctx.input_shape(0);
    CELER_CHECK(!xs.rank_known() || xs.rank() >= 2, kShapeMismatch, "input X of shape ", xs.to_string(),
                " needs rank >= 2 (N, C, ...)");
    const Dim c = xs.rank_known() ? xs[1] : Dim();
    static const char* names[] = {"input", "scale", "B"};
    for (size_t i = 1; i < 3; ++i) {
      CELER_CHECK(ctx.has_input(i), kInvalidModel, "input '", names[i], "' is required");
      CELER_CHECK(ctx.input_elem(i) == e, kInvalidModel, "input '", names[i], "' has element type ",
                  element_type_name(ctx.input_elem(i)), " but the input has ", element_type_name(e));
      const PartialShape& s = ctx.input_shape(i);
      if (s.rank_known())
        CELER_CHECK(s.rank() == 1 && (!s[0].is_static() || !c.is_static() || s[0].value() == c.value()), kShapeMismatch,
                    "input '", names[i], "' of shape ", s.to_string(), " must be [C] for an input of shape ",
                    xs.to_string());
    }
    ctx.set_output(0, e, xs);
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& scale = ctx.input(1);
    const Tensor& bias = ctx.input(2);
    Tensor& y = ctx.output(0);
    const int64_t N = x.dim(0), C = x.dim(1);
    CELER_CHECK(scale.size() == C && bias.size() == C, kShapeMismatch, "scale of shape ", dims_to_string(scale.dims()),
                " and B of shape ", dims_to_string(bias.dims()), " must have ", C, " values");
    const int64_t inner = N * C > 0 ? x.size() / (N * C) : 0;
    dispatch_float(x.type(), [&]<typename T>() {
      using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
      const T* px = x.data<T>();
      T* py = y.data<T>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) {
          const T* p = px + (n * C + c) * inner;
          T* q = py + (n * C + c) * inner;
          double s = 0, ss = 0;
          for (int64_t i = 0; i < inner; ++i) s += double(p[i]);
          const double mean = inner > 0 ? s / double(inner) : 0.0;
          for (int64_t i = 0; i < inner; ++i) ss += (double(p[i]) - mean) * (double(p[i]) - mean);
          const double var = inner > 0 ? ss / double(inner) : 0.0;
          const double a = scale.value_as_double(c) / std::sqrt(var + double(epsilon));
          const double b = bias.value_as_double(c) - mean * a;
          for (int64_t i = 0; i < inner; ++i) q[i] = T(A(double(p[i]) * a + b));
        }
    });
  }
};

namespace {
void import_instance_normalization(OnnxNode& n) {
  auto op = std::make_unique<InstanceNormalization>();
  op->epsilon = n.attr_float("epsilon", 1e-5f);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_InstanceNormalization() { return std::make_unique<InstanceNormalization>(); }

void register_op_InstanceNormalization(OpRegistry& r) {
  r.add_onnx("InstanceNormalization", 1, kMaxOpset, import_instance_normalization);
}

}  // namespace celer
