// STFT: short-time Fourier transform of signal [batch, length, 1 (real) or 2 (complex)].
// Inputs: signal, frame_step (scalar), window ([frame_length], optional), frame_length (scalar, optional).
// Frame f covers samples [f * step, f * step + frame_length), multiplied by the window; frames =
// (length - frame_length) / step + 1. Output [batch, frames, bins, 2], bins = frame_length / 2 + 1 when onesided.
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/dft.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class STFT final : public OpBase<STFT, OpKind::kSTFT> {
 public:
  bool onesided = true;

  const char* type_name() const override { return "STFT"; }
  void visit_attrs(AttrVisitor& v) override { v.on("onesided", onesided); }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(is_float(ctx.input_elem(0)), kInvalidModel, "input 'signal' has element type ",
                element_type_name(ctx.input_elem(0)), " (a float type expected)");
    CELER_CHECK(ctx.has_input(2) || ctx.has_input(3), kInvalidModel,
                "one of the inputs 'window' and 'frame_length' is required");
    if (ctx.has_input(2))
      CELER_CHECK(ctx.input_elem(2) == ctx.input_elem(0), kInvalidModel, "input 'window' must have the signal's type");
    const PartialShape& s = ctx.input_shape(0);
    Dim batch, frames, bins;
    if (s.rank_known()) {
      CELER_CHECK(s.rank() == 3, kShapeMismatch, "input 'signal' has shape ", s.to_string(),
                  " but must be [batch, length, 1 or 2]");
      const Dim& c = s[2];
      CELER_CHECK(!c.is_static() || c.value() == 1 || c.value() == 2, kShapeMismatch, "input 'signal' has shape ",
                  s.to_string(), " but its last dim must be 1 (real) or 2 (complex)");
      CELER_CHECK(!(onesided && c.is_static() && c.value() == 2), kInvalidModel,
                  "attribute 'onesided' = 1 needs a real signal (last dim 1)");
      batch = s[0];
    }
    int64_t len = -1;
    if (ctx.has_input(3)) {
      if (const Tensor* t = ctx.input_value(3)) len = scalar_of(*t, "frame_length");
    } else {
      const PartialShape& ws = ctx.input_shape(2);
      if (ws.rank_known() && ws.rank() == 1 && ws[0].is_static()) len = ws[0].value();
    }
    const Tensor* step_t = ctx.input_value(1);
    if (len >= 0) {
      CELER_CHECK(len > 0, kInvalidArgument, "the frame length must be positive");
      bins = onesided ? len / 2 + 1 : len;
      if (step_t && s.rank_known() && s[1].is_static())
        frames = frame_count(s[1].value(), len, scalar_of(*step_t, "frame_step"));
    }
    ctx.set_output(0, ctx.input_elem(0), PartialShape{batch, frames, bins, Dim(2)});
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    CELER_CHECK(x.rank() == 3 && (x.dim(2) == 1 || x.dim(2) == 2), kShapeMismatch, "input 'signal' has shape ",
                dims_to_string(x.dims()), " but must be [batch, length, 1 or 2]");
    const int64_t batch = x.dim(0), length = x.dim(1), comps = x.dim(2);
    const int64_t step = scalar_of(ctx.input(1), "frame_step");
    const Tensor* window = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    int64_t len = ctx.has_input(3) ? scalar_of(ctx.input(3), "frame_length") : window->size();
    CELER_CHECK(len > 0, kInvalidArgument, "the frame length must be positive");
    if (window)
      CELER_CHECK(window->rank() == 1 && window->dim(0) == len, kShapeMismatch, "input 'window' has shape ",
                  dims_to_string(window->dims()), " but the frame length is ", len);
    const int64_t frames = frame_count(length, len, step);
    const int64_t bins = onesided ? len / 2 + 1 : len;
    Tensor& y = ctx.output(0, x.type(), {batch, frames, bins, 2});
    dispatch_float(x.type(), [&]<typename T>() {
      const T* px = x.data<T>();
      const T* pw = window ? window->data<T>() : nullptr;
      T* py = y.data<T>();
      std::vector<std::complex<double>> frame(static_cast<size_t>(len)), res(static_cast<size_t>(bins));
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t f = 0; f < frames; ++f) {
          for (int64_t j = 0; j < len; ++j) {
            const T* e = px + (b * length + f * step + j) * comps;
            double w = pw ? double(pw[j]) : 1.0;
            frame[size_t(j)] = {double(e[0]) * w, comps == 2 ? double(e[1]) * w : 0.0};
          }
          dft_1d(frame.data(), len, bins, false, res.data());
          T* out = py + (b * frames + f) * bins * 2;
          for (int64_t k = 0; k < bins; ++k) {
            out[2 * k] = T(res[size_t(k)].real());
            out[2 * k + 1] = T(res[size_t(k)].imag());
          }
        }
    });
  }

 private:
  static int64_t scalar_of(const Tensor& t, const char* name) {
    CELER_CHECK(t.size() == 1 && (t.type() == ElementType::kI32 || t.type() == ElementType::kI64), kInvalidArgument,
                "input '", name, "' must be an integer scalar");
    return t.value_as_int(0);
  }
  static int64_t frame_count(int64_t length, int64_t len, int64_t step) {
    CELER_CHECK(step > 0, kInvalidArgument, "input 'frame_step' = ", step, " must be positive");
    CELER_CHECK(len <= length, kShapeMismatch, "the frame length ", len, " exceeds the signal length ", length);
    return (length - len) / step + 1;
  }
};

namespace {
void import_stft(OnnxNode& n) {
  auto op = std::make_unique<STFT>();
  op->onesided = n.attr_int("onesided", 1) != 0;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_STFT() { return std::make_unique<STFT>(); }

void register_op_STFT(OpRegistry& r) { r.add_onnx("STFT", 17, kMaxOpset, import_stft); }

}  // namespace celer
