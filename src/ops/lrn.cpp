// LRN: local response normalisation across channels:
//   Y[n, c, ...] = X[n, c, ...] / (bias + alpha / size * sum of X[n, j, ...]^2 for j in [c - (size-1)/2, c +
//   size/2])^beta
// (the window is clipped to the existing channels).
#include <algorithm>
#include <cmath>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class LRN final : public OpBase<LRN, OpKind::kLRN> {
 public:
  float alpha = 1e-4f;
  float beta = 0.75f;
  float bias = 1.0f;
  int64_t size = 1;

  const char* type_name() const override { return "LRN"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("alpha", alpha);
    v.on("beta", beta);
    v.on("bias", bias);
    v.on("size", size);
  }

  void infer(InferContext& ctx) const override {
    const ElementType e = ctx.input_elem(0);
    CELER_CHECK(is_float(e), kInvalidModel, "input X has element type ", element_type_name(e),
                "; LRN needs a float type");
    const PartialShape& xs = ctx.input_shape(0);
    CELER_CHECK(!xs.rank_known() || xs.rank() >= 2, kShapeMismatch, "input X of shape ", xs.to_string(),
                " needs rank >= 2 (N, C, ...)");
    ctx.set_output(0, e, xs);
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const int64_t N = x.dim(0), C = x.dim(1);
    const int64_t inner = N * C > 0 ? x.size() / (N * C) : 0;
    const int64_t before = (size - 1) / 2, after = size / 2;
    dispatch_float(x.type(), [&]<typename T>() {
      using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
      const T* px = x.data<T>();
      T* py = y.data<T>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) {
          const int64_t lo = std::max<int64_t>(0, c - before), hi = std::min<int64_t>(C - 1, c + after);
          for (int64_t i = 0; i < inner; ++i) {
            double sq = 0;
            for (int64_t j = lo; j <= hi; ++j) {
              const double v = double(px[(n * C + j) * inner + i]);
              sq += v * v;
            }
            const double v = double(px[(n * C + c) * inner + i]);
            py[(n * C + c) * inner + i] =
                T(A(v / std::pow(double(bias) + double(alpha) / double(size) * sq, double(beta))));
          }
        }
    });
  }
};

namespace {
void import_lrn(OnnxNode& n) {
  auto op = std::make_unique<LRN>();
  op->alpha = n.attr_float("alpha", 1e-4f);
  op->beta = n.attr_float("beta", 0.75f);
  op->bias = n.attr_float("bias", 1.0f);
  op->size = n.attr_int("size");
  if (op->size <= 0) n.fail("attribute 'size' = ", op->size, " must be positive");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_LRN() { return std::make_unique<LRN>(); }

void register_op_LRN(OpRegistry& r) { r.add_onnx("LRN", 1, kMaxOpset, import_lrn); }

}  // namespace celer
