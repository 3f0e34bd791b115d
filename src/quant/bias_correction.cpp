#include "quant/bias_correction.hpp"

#include <cmath>
#include <set>

#include "quant/onnx_io.hpp"
#include "quant/qdq_writer.hpp"

namespace celer::quant {

namespace {

const char kShadow[] = "__celer_shadow";

// Per-channel sums of `t` along `axis` (negative: from the end) into `sums`.
void channel_sums(const Tensor& t, int64_t axis, std::vector<double>& sums, int64_t& per_channel) {
  if (axis < 0) axis += t.rank();
  CELER_CHECK(axis >= 0 && axis < t.rank() && t.dim(axis) == int64_t(sums.size()), kInternal,
              "bias correction: output shape ", dims_to_string(t.dims()), " has no ", sums.size(), " channels");
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= t.dim(i);
  for (int64_t i = axis + 1; i < t.rank(); ++i) inner *= t.dim(i);
  const int64_t c = t.dim(axis);
  const float* p = t.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < c; ++k) {
      double s = 0;
      const float* row = p + (o * c + k) * inner;
      for (int64_t i = 0; i < inner; ++i) s += double(row[i]);
      sums[size_t(k)] += s;
    }
  per_channel += outer * inner;
}

}  // namespace

BiasCorrection correct_biases(const onnx::ModelProto& model, const QdqPlan& plan, const Graph& inferred,
                              const std::map<std::string, ActParams>& act, const std::map<int, WeightQuant>& weights,
                              const CalibrationSet& set, const std::string& device, const ProgressFn& progress) {
  BiasCorrection out;
  onnx::ModelProto shadow = model;
  onnx::GraphProto& g = *shadow.mutable_graph();
  const onnx::GraphProto& src = model.graph();
  struct Pair {
    int node;
    std::string fp32, quant;
    int64_t axis;
    Tensor bias;
    std::vector<double> diff;
    int64_t count = 0;
  };
  std::vector<Pair> pairs;
  std::set<std::string> fake_quantized;
  std::vector<std::string> outputs;
  for (const auto& q : plan.ops) {
    if (!q.has_bias() || !weights.count(q.node)) continue;
    const onnx::NodeProto& n = src.node(q.node);
    onnx::NodeProto copy = n;
    copy.set_name(n.name() + kShadow);
    for (int s : q.act_inputs) {
      const std::string& x = n.input(s);
      const std::string fq = x + "__celer_fq";
      if (fake_quantized.insert(x).second) {
        const ActParams& p = act.at(x);
        set_tensor(*g.add_initializer(), fq + "_scale", Tensor::scalar<float>(p.scale));
        if (p.is_signed) {
          set_tensor(*g.add_initializer(), fq + "_zp", Tensor::scalar<int8_t>(int8_t(p.zero_point)));
        } else {
          set_tensor(*g.add_initializer(), fq + "_zp", Tensor::scalar<uint8_t>(uint8_t(p.zero_point)));
        }
        auto* qn = g.add_node();
        qn->set_op_type("QuantizeLinear");
        qn->set_name(fq + "_q");
        for (const auto& i : {x, fq + "_scale", fq + "_zp"}) qn->add_input(i);
        qn->add_output(fq + "_q");
        auto* dq = g.add_node();
        dq->set_op_type("DequantizeLinear");
        dq->set_name(fq + "_dq");
        for (const auto& i : {fq + "_q", fq + "_scale", fq + "_zp"}) dq->add_input(i);
        dq->add_output(fq);
      }
      copy.set_input(s, fq);
    }
    const std::string w = n.input(q.weight_input) + kShadow + std::to_string(q.node);
    set_tensor(*g.add_initializer(), w, weights.at(q.node).dequantized());
    copy.set_input(q.weight_input, w);
    copy.set_output(0, n.output(0) + kShadow);
    *g.add_node() = copy;
    Pair p{q.node, n.output(0), n.output(0) + kShadow, q.out_channel_axis, op_bias(src, q, inferred), {}, 0};
    p.diff.assign(size_t(p.bias.size()), 0.0);
    outputs.push_back(p.fp32);
    outputs.push_back(p.quant);
    pairs.push_back(std::move(p));
  }
  if (pairs.empty()) return out;
  run_samples(with_outputs(shadow, outputs), set, device, "bias correction", progress,
              [&](size_t, const std::map<std::string, const Tensor*>& outs) {
                for (auto& p : pairs) {
                  const Tensor* a = outs.at(p.fp32);
                  const Tensor* b = outs.at(p.quant);
                  std::vector<double> sa(p.diff.size(), 0.0), sb(p.diff.size(), 0.0);
                  int64_t na = 0, nb = 0;
                  channel_sums(*a, p.axis, sa, na);
                  channel_sums(*b, p.axis, sb, nb);
                  for (size_t c = 0; c < sa.size(); ++c) p.diff[c] += sa[c] - sb[c];
                  p.count += na;
                }
              });
  for (auto& p : pairs) {
    Tensor b = p.bias.clone();
    float* d = b.data<float>();
    for (int64_t c = 0; c < b.size(); ++c) {
      const double shift = p.count ? p.diff[size_t(c)] / double(p.count) : 0.0;
      if (!std::isfinite(shift)) continue;
      d[c] = float(double(d[c]) + shift);
      out.max_shift = std::max(out.max_shift, std::fabs(shift));
    }
    out.biases.emplace(p.node, std::move(b));
  }
  return out;
}

}  // namespace celer::quant
