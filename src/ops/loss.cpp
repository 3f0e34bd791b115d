// Loss: negative log-likelihood of class targets, optionally after a log-softmax over the class axis.
//   NegativeLogLikelihoodLoss(input [N, C, d...], target [N, d...], weight [C]?) -> loss
//   SoftmaxCrossEntropyLoss(scores [N, C, d...], labels [N, d...], weights [C]?) -> loss, log_prob [N, C, d...]?
// loss[n, d] = -weight[t] * logp[n, t, d] with t = target[n, d]; targets equal to ignore_index contribute 0 (and no
// weight). reduction: none (shape [N, d...]), sum, or mean (sum / sum of the weights used).
#include <cmath>
#include <limits>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

enum class LossReduction : uint8_t { kNone, kSum, kMean };

class Loss final : public OpBase<Loss, OpKind::kLoss> {
 public:
  bool softmax = false;  // SoftmaxCrossEntropyLoss: log-softmax the input first
  LossReduction reduction = LossReduction::kMean;
  bool has_ignore_index = false;
  int64_t ignore_index = 0;

  const char* type_name() const override { return softmax ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("softmax", softmax);
    visit_enum(v, "reduction", reduction, LossReduction::kMean);
    v.on("has_ignore_index", has_ignore_index);
    v.on("ignore_index", ignore_index);
  }

  void infer(InferContext& ctx) const override {
    ElementType et = ctx.input_elem(0);
    CELER_CHECK(is_float(et), kInvalidModel, "input 0 has element type ", element_type_name(et),
                " (a float type expected)");
    ElementType tt = ctx.input_elem(1);
    CELER_CHECK(tt == ElementType::kI32 || tt == ElementType::kI64, kInvalidModel, "the target input has element type ",
                element_type_name(tt), " (i32 or i64 expected)");
    if (ctx.has_input(2))
      CELER_CHECK(ctx.input_elem(2) == et, kInvalidModel, "the weight input must have the input's element type");
    const PartialShape& in = ctx.input_shape(0);
    const PartialShape& tg = ctx.input_shape(1);
    PartialShape per_item = tg;
    if (in.rank_known()) {
      CELER_CHECK(in.rank() >= 2, kInvalidModel, "input 0 has shape ", in.to_string(), " but must be [N, C, d...]");
      std::vector<Dim> d = in.dims();
      d.erase(d.begin() + 1);
      if (tg.rank_known()) {
        CELER_CHECK(tg.rank() == in.rank() - 1, kShapeMismatch, "the target has shape ", tg.to_string(),
                    " but the input has shape ", in.to_string(), " (the target must be [N, d...])");
        for (size_t i = 0; i < d.size(); ++i) {
          const Dim &a = d[i], &b = tg[i];
          CELER_CHECK(!(a.is_static() && b.is_static() && a.value() != b.value()), kShapeMismatch,
                      "the target has shape ", tg.to_string(), " but the input has shape ", in.to_string());
          if (!a.is_static()) d[i] = b;
        }
      }
      per_item = PartialShape(std::move(d));
      if (ctx.has_input(2)) {
        const PartialShape& ws = ctx.input_shape(2);
        CELER_CHECK(!ws.rank_known() || (ws.rank() == 1 &&
                                         (!ws[0].is_static() || !in[1].is_static() || ws[0].value() == in[1].value())),
                    kShapeMismatch, "the weight input has shape ", ws.to_string(), " but must be [C] for input ",
                    in.to_string());
      }
    }
    ctx.set_output(0, et, reduction == LossReduction::kNone ? per_item : PartialShape::of({}));
    if (ctx.has_output(1)) {
      CELER_CHECK(softmax, kInvalidModel, "only SoftmaxCrossEntropyLoss has a second output");
      ctx.set_output(1, et, in);
    }
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& target = ctx.input(1);
    const Tensor* weight = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    const int64_t N = x.dim(0), C = x.dim(1);
    const int64_t D = N * C == 0 ? 0 : x.size() / (N * C);
    CELER_CHECK(target.size() == N * D, kShapeMismatch, "the target has shape ", dims_to_string(target.dims()),
                " but the input has shape ", dims_to_string(x.dims()));
    if (weight)
      CELER_CHECK(weight->rank() == 1 && weight->dim(0) == C, kShapeMismatch, "the weight input has shape ",
                  dims_to_string(weight->dims()), " but must be [", C, "]");
    dispatch_float(x.type(), [&]<typename T>() {
      const T* px = x.data<T>();
      // Log-probabilities [N, C, D] (the input itself for NegativeLogLikelihoodLoss).
      std::vector<double> lp(size_t(x.size()));
      for (int64_t i = 0; i < x.size(); ++i) lp[size_t(i)] = double(px[i]);
      if (softmax) {
        for (int64_t n = 0; n < N; ++n)
          for (int64_t d = 0; d < D; ++d) {
            double mx = -std::numeric_limits<double>::infinity(), sum = 0;
            for (int64_t c = 0; c < C; ++c) mx = std::max(mx, lp[size_t((n * C + c) * D + d)]);
            for (int64_t c = 0; c < C; ++c) sum += std::exp(lp[size_t((n * C + c) * D + d)] - mx);
            double lse = mx + std::log(sum);
            for (int64_t c = 0; c < C; ++c) lp[size_t((n * C + c) * D + d)] -= lse;
          }
        if (ctx.has_output(1)) {
          T* po = ctx.output(1).data<T>();
          for (int64_t i = 0; i < x.size(); ++i) po[i] = T(lp[size_t(i)]);
        }
      }
      std::vector<double> loss(size_t(N * D));
      double total = 0, weight_sum = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t d = 0; d < D; ++d) {
          int64_t i = n * D + d;
          int64_t t = target.value_as_int(i);
          if (has_ignore_index && t == ignore_index) continue;
          CELER_CHECK(t >= 0 && t < C, kOutOfRange, "target value ", t, " at index ", i, " is out of range [0, ", C,
                      ")");
          double w = weight ? weight->value_as_double(t) : 1.0;
          loss[size_t(i)] = -w * lp[size_t((n * C + t) * D + d)];
          total += loss[size_t(i)];
          weight_sum += w;
        }
      Tensor& out = ctx.output(0);
      T* po = out.data<T>();
      switch (reduction) {
        case LossReduction::kNone:
          for (size_t i = 0; i < loss.size(); ++i) po[i] = T(loss[i]);
          break;
        case LossReduction::kSum:
          po[0] = T(total);
          break;
        case LossReduction::kMean:
          po[0] = T(total / weight_sum);
          break;  // NaN when every target is ignored
      }
    });
  }
};

namespace {
template <bool kSoftmax>
void import_loss(OnnxNode& n) {
  auto op = std::make_unique<Loss>();
  op->softmax = kSoftmax;
  std::string r = n.attr_string("reduction", "mean");
  if (r == "none")
    op->reduction = LossReduction::kNone;
  else if (r == "sum")
    op->reduction = LossReduction::kSum;
  else if (r == "mean")
    op->reduction = LossReduction::kMean;
  else
    n.fail("attribute 'reduction' = '", r, "' must be 'none', 'sum' or 'mean'");
  op->has_ignore_index = n.has_attr("ignore_index");
  if (op->has_ignore_index) op->ignore_index = n.attr_int("ignore_index");
  if (!kSoftmax && n.num_outputs() > 1) n.fail("NegativeLogLikelihoodLoss has one output, got ", n.num_outputs());
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Loss() { return std::make_unique<Loss>(); }

void register_op_Loss(OpRegistry& r) {
  r.add_onnx("NegativeLogLikelihoodLoss", 12, kMaxOpset, import_loss<false>);
  r.add_onnx("SoftmaxCrossEntropyLoss", 12, kMaxOpset, import_loss<true>);
}

}  // namespace celer
