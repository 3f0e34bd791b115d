// GRU: gated recurrent unit with gates z (update), r (reset) and the candidate h, in that order in W, R and B:
//   z = f(X W_z^T + H R_z^T + Wb_z + Rb_z), r = f(... _r), H = (1 - z) . h~ + z . H with
//   h~ = g(X W_h^T + (r . H) R_h^T + Rb_h + Wb_h)             (linear_before_reset = 0)
//   h~ = g(X W_h^T + r . (H R_h^T + Rb_h) + Wb_h)             (linear_before_reset != 0)
// f default Sigmoid, g default Tanh. Directions, sequence_lens, initial_h, clip and layout: see ops/recurrent.hpp.
#include "ops/recurrent.hpp"
#include "ops/registry.hpp"

namespace celer {

class GRU final : public OpBase<GRU, OpKind::kGRU> {
 public:
  rnn::Config config;
  bool linear_before_reset = false;

  const char* type_name() const override { return "GRU"; }
  void visit_attrs(AttrVisitor& v) override {
    rnn::visit_config(v, config);
    v.on("linear_before_reset", linear_before_reset);
  }
  void infer(InferContext& ctx) const override { rnn::infer_outputs(ctx, config, 3, 1); }
  double flops(const Node& node) const override { return rnn::flops(node, config, 3); }

  void run(KernelContext& ctx) const override {
    rnn::Inputs in = rnn::read_inputs(ctx, config, 3, false);
    const int64_t H = in.hidden, I = in.input;
    std::vector<double> xw(size_t(3 * H)), hr(size_t(3 * H)), rh(static_cast<size_t>(H)), y, yh, yc;
    rnn::run_sequence(in, config, false, y, yh, yc, [&](int64_t d, const double* x, double* h, double*) {
      const double* w = in.w.data() + d * 3 * H * I;
      const double* r = in.r.data() + d * 3 * H * H;
      const double* wb = in.b.data() + d * 6 * H;
      const double* rb = wb + 3 * H;
      const rnn::Activation& f = config.activations[size_t(2 * d)];
      const rnn::Activation& g = config.activations[size_t(2 * d + 1)];
      std::fill(xw.begin(), xw.end(), 0.0);
      std::fill(hr.begin(), hr.end(), 0.0);
      rnn::matvec_add(w, 3 * H, I, x, xw.data());
      rnn::matvec_add(r, 2 * H, H, h, hr.data());  // z and r blocks
      std::vector<double> z(static_cast<size_t>(H)), rg(static_cast<size_t>(H));
      for (int64_t j = 0; j < H; ++j) {
        z[size_t(j)] = f(rnn::clip_value(xw[size_t(j)] + hr[size_t(j)] + wb[j] + rb[j], config.clip));
        rg[size_t(j)] = f(rnn::clip_value(xw[size_t(H + j)] + hr[size_t(H + j)] + wb[H + j] + rb[H + j], config.clip));
      }
      std::vector<double> cand(size_t(H), 0.0);
      if (linear_before_reset) {
        rnn::matvec_add(r + 2 * H * H, H, H, h, cand.data());
        for (int64_t j = 0; j < H; ++j) cand[size_t(j)] = rg[size_t(j)] * (cand[size_t(j)] + rb[2 * H + j]);
      } else {
        for (int64_t j = 0; j < H; ++j) rh[size_t(j)] = rg[size_t(j)] * h[j];
        rnn::matvec_add(r + 2 * H * H, H, H, rh.data(), cand.data());
        for (int64_t j = 0; j < H; ++j) cand[size_t(j)] += rb[2 * H + j];
      }
      for (int64_t j = 0; j < H; ++j) {
        double ht = g(rnn::clip_value(xw[size_t(2 * H + j)] + cand[size_t(j)] + wb[2 * H + j], config.clip));
        h[j] = (1 - z[size_t(j)]) * ht + z[size_t(j)] * h[j];
      }
    });
    rnn::write_outputs(ctx, in, config, y, yh, yc);
  }
};

namespace {
void import_gru(OnnxNode& n) {
  auto op = std::make_unique<GRU>();
  op->config = rnn::read_config(n, {"Sigmoid", "Tanh"});
  op->linear_before_reset = n.attr_int("linear_before_reset", 0) != 0;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_GRU() { return std::make_unique<GRU>(); }

void register_op_GRU(OpRegistry& r) { r.add_onnx("GRU", 1, kMaxOpset, import_gru); }

}  // namespace celer
