// Det: determinants of square matrices [*, M, M] -> [*], by LU decomposition with partial pivoting (in double).
#include <cmath>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Det final : public OpBase<Det, OpKind::kDet> {
 public:
  const char* type_name() const override { return "Det"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    ElementType e = ctx.input_elem(0);
    CELER_CHECK(is_float(e), kInvalidModel, "input 'X' has element type ", element_type_name(e),
                ", a float type is required");
    const PartialShape& s = ctx.input_shape(0);
    if (!s.rank_known()) {
      ctx.set_output(0, e, PartialShape::unknown_rank());
      return;
    }
    CELER_CHECK(s.rank() >= 2, kShapeMismatch, "input 'X' of shape ", s.to_string(), " must have rank >= 2");
    const Dim& m = s[size_t(s.rank() - 2)];
    const Dim& k = s[size_t(s.rank() - 1)];
    CELER_CHECK(!(m.is_static() && k.is_static()) || m.value() == k.value(), kShapeMismatch, "input 'X' of shape ",
                s.to_string(), " is not a batch of square matrices");
    std::vector<Dim> out(s.dims().begin(), s.dims().end() - 2);
    ctx.set_output(0, e, PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const int64_t m = x.dim(x.rank() - 1);
    const int64_t batch = y.size();
    std::vector<double> a(static_cast<size_t>(m * m));
    dispatch_float(x.type(), [&]<typename T>() {
      const T* in = x.data<T>();
      T* out = y.data<T>();
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t i = 0; i < m * m; ++i) a[size_t(i)] = double(in[b * m * m + i]);
        double det = 1;
        for (int64_t c = 0; c < m && det != 0; ++c) {
          int64_t piv = c;
          for (int64_t r = c + 1; r < m; ++r)
            if (std::fabs(a[size_t(r * m + c)]) > std::fabs(a[size_t(piv * m + c)])) piv = r;
          if (a[size_t(piv * m + c)] == 0) {
            det = 0;
            break;
          }
          if (piv != c) {
            for (int64_t k = 0; k < m; ++k) std::swap(a[size_t(c * m + k)], a[size_t(piv * m + k)]);
            det = -det;
          }
          const double p = a[size_t(c * m + c)];
          det *= p;
          for (int64_t r = c + 1; r < m; ++r) {
            const double f = a[size_t(r * m + c)] / p;
            for (int64_t k = c; k < m; ++k) a[size_t(r * m + k)] -= f * a[size_t(c * m + k)];
          }
        }
        if constexpr (std::is_same_v<T, double>)
          out[b] = det;
        else
          out[b] = T(float(det));
      }
    });
  }
};

namespace {
void import_det(OnnxNode& n) { n.emit(std::make_unique<Det>()); }
}  // namespace

std::unique_ptr<Op> make_op_Det() { return std::make_unique<Det>(); }

void register_op_Det(OpRegistry& r) { r.add_onnx("Det", 11, kMaxOpset, import_det); }

}  // namespace celer
