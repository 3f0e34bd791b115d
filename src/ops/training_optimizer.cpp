// TrainingOptimizer: one update step of an optimizer (domain ai.onnx.preview.training, version 1) for n tensors.
// Inputs: R (learning rate, scalar), T (iteration count, i64 scalar), then n tensors per group:
//   Adagrad:  X, G, H       -> X_new, H_new        (attrs decay_factor, epsilon, norm_coefficient)
//   Adam:     X, G, V, H    -> X_new, V_new, H_new (attrs alpha, beta, epsilon, norm_coefficient,
//   norm_coefficient_post) Momentum: X, G, V       -> X_new, V_new        (attrs alpha, beta, mode standard|nesterov,
//   norm_coefficient)
// with G_reg = norm_coefficient * X + G (see the ONNX operator spec for each rule).
#include <cmath>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

enum class Optimizer : uint8_t { kAdagrad, kAdam, kMomentum, kNesterov };

class TrainingOptimizer final : public OpBase<TrainingOptimizer, OpKind::kTrainingOptimizer> {
 public:
  Optimizer kind = Optimizer::kAdagrad;
  double alpha = 0.9, beta = 0.999, epsilon = 1e-6, decay_factor = 0, norm_coefficient = 0, norm_coefficient_post = 0;

  const char* type_name() const override {
    switch (kind) {
      case Optimizer::kAdagrad:
        return "Adagrad";
      case Optimizer::kAdam:
        return "Adam";
      default:
        return "Momentum";
    }
  }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "kind", kind, Optimizer::kNesterov);
    v.on("alpha", alpha);
    v.on("beta", beta);
    v.on("epsilon", epsilon);
    v.on("decay_factor", decay_factor);
    v.on("norm_coefficient", norm_coefficient);
    v.on("norm_coefficient_post", norm_coefficient_post);
  }
  // Input groups per tensor (X, G, state...) and which of them each output group updates.
  size_t groups() const { return kind == Optimizer::kAdam ? 4 : 3; }
  std::vector<size_t> output_groups() const {
    if (kind == Optimizer::kAdam) return {0, 2, 3};
    return {0, 2};
  }

  void infer(InferContext& ctx) const override {
    const size_t n_in = ctx.num_inputs();
    CELER_CHECK(n_in > 2 && (n_in - 2) % groups() == 0, kInvalidModel, type_name(), " takes R, T and ", groups(),
                " inputs per optimized tensor, got ", n_in, " inputs");
    const size_t n = (n_in - 2) / groups();
    CELER_CHECK(ctx.num_outputs() == n * output_groups().size(), kInvalidModel, type_name(), " of ", n, " tensors has ",
                n * output_groups().size(), " outputs, got ", ctx.num_outputs());
    CELER_CHECK(is_float(ctx.input_elem(0)), kInvalidModel, "input 'R' must be a float scalar");
    CELER_CHECK(ctx.input_elem(1) == ElementType::kI64, kInvalidModel, "input 'T' must be an i64 scalar");
    for (size_t i = 0; i < n; ++i) {
      const ValueType& x = ctx.input_type(2 + i);
      CELER_CHECK(is_float(x.elem), kInvalidModel, "optimized tensor ", i, " has element type ",
                  element_type_name(x.elem), " (a float type expected)");
      for (size_t g = 1; g < groups(); ++g) {
        const ValueType& t = ctx.input_type(2 + g * n + i);
        CELER_CHECK(t.elem == x.elem, kInvalidModel, "input ", 2 + g * n + i, " must have the type of input ", 2 + i);
        if (t.shape.is_static() && x.shape.is_static())
          CELER_CHECK(t.shape == x.shape, kShapeMismatch, "input ", 2 + g * n + i, " has shape ", t.shape.to_string(),
                      " but input ", 2 + i, " has shape ", x.shape.to_string());
      }
    }
    std::vector<size_t> og = output_groups();
    for (size_t k = 0; k < og.size(); ++k)
      for (size_t i = 0; i < n; ++i)
        if (ctx.has_output(k * n + i)) ctx.set_output(k * n + i, ctx.input_type(2 + og[k] * n + i));
  }

  void run(KernelContext& ctx) const override {
    const size_t n = (ctx.num_inputs() - 2) / groups();
    const double r = ctx.input(0).value_as_double(0);
    const int64_t t = ctx.input(1).value_as_int(0);
    for (size_t i = 0; i < n; ++i) {
      const Tensor& x = ctx.input(2 + i);
      const Tensor& g = ctx.input(2 + n + i);
      const Tensor& s1 = ctx.input(2 + 2 * n + i);
      const Tensor* s2 = kind == Optimizer::kAdam ? &ctx.input(2 + 3 * n + i) : nullptr;
      for (const Tensor* other : {&g, &s1, s2})
        CELER_CHECK(!other || other->dims() == x.dims(), kShapeMismatch, "the inputs of optimized tensor ", i,
                    " have different shapes ", dims_to_string(x.dims()), " and ", dims_to_string(other->dims()));
      Tensor* x_new = ctx.has_output(i) ? &ctx.output(i) : nullptr;
      Tensor* s1_new = ctx.has_output(n + i) ? &ctx.output(n + i) : nullptr;
      Tensor* s2_new = s2 && ctx.has_output(2 * n + i) ? &ctx.output(2 * n + i) : nullptr;
      dispatch_float(x.type(), [&]<typename T>() {
        for (int64_t e = 0; e < x.size(); ++e) {
          double xv = double(x.data<T>()[e]), gv = norm_coefficient * xv + double(g.data<T>()[e]);
          double a = double(s1.data<T>()[e]), xo = 0, ao = 0, bo = 0;
          switch (kind) {
            case Optimizer::kAdagrad: {
              double lr = r / (1.0 + double(t) * decay_factor);
              ao = a + gv * gv;
              xo = xv - lr * gv / (std::sqrt(ao) + epsilon);
              break;
            }
            case Optimizer::kAdam: {
              ao = alpha * a + (1.0 - alpha) * gv;
              bo = beta * double(s2->data<T>()[e]) + (1.0 - beta) * gv * gv;
              double lr =
                  t > 0 ? r * std::sqrt(1.0 - std::pow(beta, double(t))) / (1.0 - std::pow(alpha, double(t))) : r;
              xo = (1.0 - norm_coefficient_post) * (xv - lr * ao / (std::sqrt(bo) + epsilon));
              break;
            }
            case Optimizer::kMomentum:
            case Optimizer::kNesterov: {
              ao = alpha * a + (t > 0 ? beta : 1.0) * gv;
              xo = kind == Optimizer::kMomentum ? xv - r * ao : xv - r * (gv + alpha * ao);
              break;
            }
          }
          if (x_new) x_new->data<T>()[e] = T(xo);
          if (s1_new) s1_new->data<T>()[e] = T(ao);
          if (s2_new) s2_new->data<T>()[e] = T(bo);
        }
      });
    }
  }
};

namespace {
template <Optimizer K>
void import_optimizer(OnnxNode& n) {
  auto op = std::make_unique<TrainingOptimizer>();
  op->kind = K;
  op->norm_coefficient = n.attr_float("norm_coefficient", 0.0f);
  if (K == Optimizer::kAdagrad) {
    op->decay_factor = n.attr_float("decay_factor", 0.0f);
    op->epsilon = n.attr_float("epsilon", 1e-6f);
  } else if (K == Optimizer::kAdam) {
    op->alpha = n.attr_float("alpha", 0.9f);
    op->beta = n.attr_float("beta", 0.999f);
    op->epsilon = n.attr_float("epsilon", 1e-6f);
    op->norm_coefficient_post = n.attr_float("norm_coefficient_post", 0.0f);
  } else {
    op->alpha = n.attr_float("alpha");
    op->beta = n.attr_float("beta");
    op->norm_coefficient = n.attr_float("norm_coefficient");
    std::string mode = n.attr_string("mode");
    if (mode == "nesterov")
      op->kind = Optimizer::kNesterov;
    else if (mode != "standard")
      n.fail("attribute 'mode' = '", mode, "' must be 'standard' or 'nesterov'");
  }
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_TrainingOptimizer() { return std::make_unique<TrainingOptimizer>(); }

void register_op_TrainingOptimizer(OpRegistry& r) {
  const std::string domain = "ai.onnx.preview.training";
  r.add_onnx("Adagrad", 1, 1, import_optimizer<Optimizer::kAdagrad>, domain);
  r.add_onnx("Adam", 1, 1, import_optimizer<Optimizer::kAdam>, domain);
  r.add_onnx("Momentum", 1, 1, import_optimizer<Optimizer::kMomentum>, domain);
}

}  // namespace celer
