// MeanVarianceNormalization: Y = (X - mean) / (sqrt(var) + 1e-9), with mean and var (population variance) taken over
// 'axes' (default [0, 2, 3]), as the ONNX function body defines it.
#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class MeanVarianceNormalization final : public OpBase<MeanVarianceNormalization, OpKind::kMeanVarianceNormalization> {
 public:
  std::vector<int64_t> axes = {0, 2, 3};

  const char* type_name() const override { return "MeanVarianceNormalization"; }
  void visit_attrs(AttrVisitor& v) override { v.on("axes", axes); }

  void infer(InferContext& ctx) const override {
    const ElementType e = ctx.input_elem(0);
    CELER_CHECK(is_float(e), kInvalidModel, "input X has element type ", element_type_name(e),
                "; MeanVarianceNormalization needs a float type");
    const PartialShape& xs = ctx.input_shape(0);
    if (xs.rank_known()) normalize_axes(axes, xs.rank());
    ctx.set_output(0, e, xs);
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const std::vector<int64_t> ax = normalize_axes(axes, x.rank());
    Dims reduced = x.dims();
    for (int64_t a : ax) reduced[size_t(a)] = 1;
    const int64_t nred = element_count(reduced);
    const int64_t count = nred > 0 ? x.size() / nred : 0;
    std::vector<double> mean(size_t(nred), 0.0), var(size_t(nred), 0.0);
    dispatch_float(x.type(), [&]<typename T>() {
      using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
      const T* px = x.data<T>();
      T* py = y.data<T>();
      for_each_broadcast(x.dims(), {reduced},
                         [&](int64_t i, const int64_t* off) { mean[size_t(off[0])] += double(px[i]); });
      for (double& m : mean) m /= double(count);
      for_each_broadcast(x.dims(), {reduced}, [&](int64_t i, const int64_t* off) {
        const double d = double(px[i]) - mean[size_t(off[0])];
        var[size_t(off[0])] += d * d;
      });
      for (double& v : var) v = std::sqrt(v / double(count)) + 1e-9;
      for_each_broadcast(x.dims(), {reduced}, [&](int64_t i, const int64_t* off) {
        py[i] = T(A((double(px[i]) - mean[size_t(off[0])]) / var[size_t(off[0])]));
      });
    });
  }
};

namespace {
void import_mvn(OnnxNode& n) {
  auto op = std::make_unique<MeanVarianceNormalization>();
  op->axes = n.attr_ints("axes", std::vector<int64_t>{0, 2, 3});
  if (n.opset() < 9) n.unsupported("MeanVarianceNormalization before opset 9 (experimental) is not supported");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_MeanVarianceNormalization() { return std::make_unique<MeanVarianceNormalization>(); }

void register_op_MeanVarianceNormalization(OpRegistry& r) {
  r.add_onnx("MeanVarianceNormalization", 9, kMaxOpset, import_mvn);
}

}  // namespace celer
