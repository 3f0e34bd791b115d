// DFT (opset 17): the discrete Fourier transform along one axis of a real ([..., 1]) or complex ([..., 2]) signal.
// Input 1 (dft_length, optional scalar) zero-pads or truncates the signal. onesided keeps the n/2 + 1 unique bins of a
// real signal's transform; inverse computes the inverse transform (divided by n). Output [..., bins, ..., 2].
#include "ops/dft.hpp"

#include <cmath>
#include <numbers>
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

void dft_1d(const std::complex<double>* in, int64_t n, int64_t out_len, bool inverse, std::complex<double>* out) {
  const double sign = inverse ? 1.0 : -1.0;
  for (int64_t k = 0; k < out_len; ++k) {
    std::complex<double> acc = 0;
    for (int64_t j = 0; j < n; ++j) {
      // (j * k) mod n keeps the angle small and exact for long signals.
      double angle = sign * 2.0 * std::numbers::pi * double((j * k) % n) / double(n);
      acc += in[j] * std::complex<double>(std::cos(angle), std::sin(angle));
    }
    out[k] = inverse ? acc / double(n) : acc;
  }
}

class DFT final : public OpBase<DFT, OpKind::kDFT> {
 public:
  int64_t axis = 1;
  bool inverse = false;
  bool onesided = false;

  const char* type_name() const override { return "DFT"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("axis", axis);
    v.on("inverse", inverse);
    v.on("onesided", onesided);
  }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(is_float(ctx.input_elem(0)), kInvalidModel, "input 'input' has element type ",
                element_type_name(ctx.input_elem(0)), " (a float type expected)");
    const PartialShape& in = ctx.input_shape(0);
    if (!in.rank_known()) {
      ctx.set_output(0, ctx.input_elem(0), PartialShape());
      return;
    }
    int64_t ax = signal_axis(in.rank());
    const Dim& last = in[size_t(in.rank() - 1)];
    CELER_CHECK(!last.is_static() || last.value() == 1 || last.value() == 2, kShapeMismatch, "input 'input' has shape ",
                in.to_string(), " but its last dim must be 1 (real) or 2 (complex)");
    CELER_CHECK(!(onesided && last.is_static() && last.value() == 2), kInvalidModel,
                "attribute 'onesided' = 1 needs a real input (last dim 1), got shape ", in.to_string());
    Dim n = in[size_t(ax)];
    if (ctx.has_input(1)) {
      const Tensor* len = ctx.input_value(1);
      n = len ? Dim(checked_length(*len)) : Dim();
    }
    std::vector<Dim> out = in.dims();
    out.back() = Dim(2);
    out[size_t(ax)] = onesided && n.is_static() ? Dim(n.value() / 2 + 1) : (onesided ? Dim() : n);
    ctx.set_output(0, ctx.input_elem(0), PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t rank = x.rank();
    const int64_t ax = signal_axis(rank);
    const int64_t comps = x.dim(rank - 1);
    CELER_CHECK(comps == 1 || comps == 2, kShapeMismatch, "input 'input' has shape ", dims_to_string(x.dims()),
                " but its last dim must be 1 (real) or 2 (complex)");
    const int64_t in_len = x.dim(ax);
    const int64_t n = ctx.has_input(1) ? checked_length(ctx.input(1)) : in_len;
    CELER_CHECK(n > 0, kInvalidArgument, "the DFT length must be positive, got ", n);
    const int64_t out_len = onesided ? n / 2 + 1 : n;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < ax; ++i) outer *= x.dim(i);
    for (int64_t i = ax + 1; i < rank - 1; ++i) inner *= x.dim(i);
    Dims out_dims = x.dims();
    out_dims[size_t(ax)] = out_len;
    out_dims.back() = 2;
    Tensor& y = ctx.output(0, x.type(), out_dims);
    dispatch_float(x.type(), [&]<typename T>() {
      const T* px = x.data<T>();
      T* py = y.data<T>();
      std::vector<std::complex<double>> sig(static_cast<size_t>(n)), res(static_cast<size_t>(out_len));
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            sig[size_t(j)] = 0;
            if (j >= in_len) continue;
            const T* e = px + ((o * in_len + j) * inner + i) * comps;
            sig[size_t(j)] = {double(e[0]), comps == 2 ? double(e[1]) : 0.0};
          }
          dft_1d(sig.data(), n, out_len, inverse, res.data());
          for (int64_t k = 0; k < out_len; ++k) {
            T* e = py + ((o * out_len + k) * inner + i) * 2;
            e[0] = T(res[size_t(k)].real());
            e[1] = T(res[size_t(k)].imag());
          }
        }
    });
  }

 private:
  // The signal axis: axis counts over the whole rank (negative from the back) and must not be the last (complex) dim.
  int64_t signal_axis(int64_t rank) const {
    CELER_CHECK(rank >= 2, kInvalidModel, "input 'input' must have rank >= 2 ([..., signal, 1 or 2]), got rank ", rank);
    int64_t a = normalize_axis(axis, rank);
    CELER_CHECK(a < rank - 1, kInvalidModel, "attribute 'axis' = ", axis,
                " selects the last dim, which holds the real and imaginary parts");
    return a;
  }
  static int64_t checked_length(const Tensor& t) {
    CELER_CHECK(t.size() == 1 && (t.type() == ElementType::kI32 || t.type() == ElementType::kI64), kInvalidArgument,
                "input 'dft_length' must be an integer scalar");
    int64_t v = t.value_as_int(0);
    CELER_CHECK(v > 0, kInvalidArgument, "input 'dft_length' = ", v, " must be positive");
    return v;
  }
};

namespace {
void import_dft(OnnxNode& n) {
  auto op = std::make_unique<DFT>();
  op->axis = n.attr_int("axis", 1);
  op->inverse = n.attr_int("inverse", 0) != 0;
  op->onesided = n.attr_int("onesided", 0) != 0;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_DFT() { return std::make_unique<DFT>(); }

void register_op_DFT(OpRegistry& r) { r.add_onnx("DFT", 17, kMaxOpset, import_dft); }

}  // namespace celer
