// LSTM: long short-term memory with gates i (input), o (output), f (forget) and the cell candidate c, in that order
// in W, R and B; peepholes P in the order i, o, f:
//   i = f(X W_i^T + H R_i^T + P_i . C + Wb_i + Rb_i)      f_t = f(... _f with P_f . C), or 1 - i with input_forget
//   c~ = g(X W_c^T + H R_c^T + Wb_c + Rb_c)                C' = f_t . C + i . c~
//   o = f(X W_o^T + H R_o^T + P_o . C' + Wb_o + Rb_o)      H' = o . h(C')
// f default Sigmoid, g and h default Tanh. Directions, sequence_lens, initial states, clip and layout: see
// ops/recurrent.hpp. Outputs Y, Y_h, Y_c.
#include "ops/recurrent.hpp"
#include "ops/registry.hpp"

namespace celer {

class LSTM final : public OpBase<LSTM, OpKind::kLSTM> {
 public:
  rnn::Config config;
  bool input_forget = false;

  const char* type_name() const override { return "LSTM"; }
  void visit_attrs(AttrVisitor& v) override {
    rnn::visit_config(v, config);
    v.on("input_forget", input_forget);
  }
  void infer(InferContext& ctx) const override { rnn::infer_outputs(ctx, config, 4, 2); }
  double flops(const Node& node) const override { return rnn::flops(node, config, 4); }

  void run(KernelContext& ctx) const override {
    rnn::Inputs in = rnn::read_inputs(ctx, config, 4, true);
    const int64_t H = in.hidden, I = in.input;
    std::vector<double> pre(size_t(4 * H)), y, yh, yc;
    rnn::run_sequence(in, config, true, y, yh, yc, [&](int64_t d, const double* x, double* h, double* c) {
      const double* w = in.w.data() + d * 4 * H * I;
      const double* r = in.r.data() + d * 4 * H * H;
      const double* wb = in.b.data() + d * 8 * H;
      const double* rb = wb + 4 * H;
      const double* p = in.p.data() + d * 3 * H;
      const rnn::Activation& f = config.activations[size_t(3 * d)];
      const rnn::Activation& g = config.activations[size_t(3 * d + 1)];
      const rnn::Activation& ha = config.activations[size_t(3 * d + 2)];
      for (int64_t j = 0; j < 4 * H; ++j) pre[size_t(j)] = wb[j] + rb[j];
      rnn::matvec_add(w, 4 * H, I, x, pre.data());
      rnn::matvec_add(r, 4 * H, H, h, pre.data());
      const double clip = config.clip;
      for (int64_t j = 0; j < H; ++j) {
        const double c_prev = c[j];
        double ig = f(rnn::clip_value(pre[size_t(j)] + p[j] * c_prev, float(clip)));
        double fg =
            input_forget ? 1 - ig : f(rnn::clip_value(pre[size_t(2 * H + j)] + p[2 * H + j] * c_prev, float(clip)));
        double cand = g(rnn::clip_value(pre[size_t(3 * H + j)], float(clip)));
        double cn = fg * c_prev + ig * cand;
        double og = f(rnn::clip_value(pre[size_t(H + j)] + p[H + j] * cn, float(clip)));
        c[j] = cn;
        h[j] = og * ha(cn);
      }
    });
    rnn::write_outputs(ctx, in, config, y, yh, yc);
  }
};

namespace {
void import_lstm(OnnxNode& n) {
  auto op = std::make_unique<LSTM>();
  op->config = rnn::read_config(n, {"Sigmoid", "Tanh", "Tanh"});
  op->input_forget = n.attr_int("input_forget", 0) != 0;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_LSTM() { return std::make_unique<LSTM>(); }

void register_op_LSTM(OpRegistry& r) { r.add_onnx("LSTM", 1, kMaxOpset, import_lstm); }

}  // namespace celer
