// RNN: a simple recurrent layer, H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb) (f default Tanh), over directions forward,
// reverse or bidirectional, with optional sequence_lens, initial_h, clip and layout (see ops/recurrent.hpp).
#include "ops/recurrent.hpp"
#include "ops/registry.hpp"

namespace celer {

class RNN final : public OpBase<RNN, OpKind::kRNN> {
 public:
  rnn::Config config;

  const char* type_name() const override { return "RNN"; }
  void visit_attrs(AttrVisitor& v) override { rnn::visit_config(v, config); }
  void infer(InferContext& ctx) const override { rnn::infer_outputs(ctx, config, 1, 1); }
  double flops(const Node& node) const override { return rnn::flops(node, config, 1); }

  void run(KernelContext& ctx) const override {
    rnn::Inputs in = rnn::read_inputs(ctx, config, 1, false);
    const int64_t H = in.hidden, I = in.input;
    std::vector<double> pre(static_cast<size_t>(H)), y, yh, yc;
    rnn::run_sequence(in, config, false, y, yh, yc, [&](int64_t d, const double* x, double* h, double*) {
      const double* w = in.w.data() + d * H * I;
      const double* r = in.r.data() + d * H * H;
      const double* b = in.b.data() + d * 2 * H;
      for (int64_t j = 0; j < H; ++j) pre[size_t(j)] = b[j] + b[H + j];
      rnn::matvec_add(w, H, I, x, pre.data());
      rnn::matvec_add(r, H, H, h, pre.data());
      const rnn::Activation& f = config.activations[size_t(d)];
      for (int64_t j = 0; j < H; ++j) h[j] = f(rnn::clip_value(pre[size_t(j)], config.clip));
    });
    rnn::write_outputs(ctx, in, config, y, yh, yc);
  }
};

namespace {
void import_rnn(OnnxNode& n) {
  auto op = std::make_unique<RNN>();
  op->config = rnn::read_config(n, {"Tanh"});
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_RNN() { return std::make_unique<RNN>(); }

void register_op_RNN(OpRegistry& r) { r.add_onnx("RNN", 1, kMaxOpset, import_rnn); }

}  // namespace celer
