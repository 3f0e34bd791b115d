#include "quant/qdq_writer.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "quant/onnx_io.hpp"

namespace celer::quant {

namespace {

const Tensor& constant_of(const Graph& inferred, const std::string& name) {
  const Value* v = inferred.find_value(name);
  CELER_CHECK(v && v->is_constant(), kInternal, "quantizer: '", name, "' is not a constant");
  return *v->constant;
}

// Every name a node of `g` (or of its subgraphs) reads.
void collect_reads(const onnx::GraphProto& g, std::set<std::string>& out) {
  for (const auto& n : g.node()) {
    for (const auto& in : n.input()) out.insert(in);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) collect_reads(a.g(), out);
      for (const auto& sg : a.graphs()) collect_reads(sg, out);
    }
  }
  for (const auto& o : g.output()) out.insert(o.name());
}

}  // namespace

Tensor op_bias(const onnx::GraphProto& g, const QuantizedOp& q, const Graph& inferred) {
  const Tensor& b = q.bias_input >= 0 ? constant_of(inferred, g.node(q.node).input(q.bias_input))
                                      : constant_of(inferred, g.node(q.bias_add_node).input(q.bias_add_slot));
  return b.clone().reshaped({b.size()});
}

std::vector<float> bias_scales(const WeightQuant& wq, float x_scale, int64_t channels) {
  std::vector<float> s(static_cast<size_t>(channels));
  const size_t per = wq.scales.size();
  for (int64_t c = 0; c < channels; ++c) s[size_t(c)] = x_scale * wq.scales[size_t(c) % per];
  return s;
}

std::map<int, WeightQuant> quantize_weights(const onnx::GraphProto& g, const QdqPlan& plan, const Graph& inferred,
                                            const std::map<std::string, ActParams>& act,
                                            const std::map<int, Tensor>* biases) {
  std::map<int, WeightQuant> out;
  for (const auto& q : plan.ops) {
    if (q.weight_input < 0) continue;
    const auto& n = g.node(q.node);
    const Tensor& w = constant_of(inferred, n.input(q.weight_input));
    std::vector<float> min_scales;
    if (q.bias_input >= 0) {
      // Keep |b / (x_scale * w_scale)| below 2^30 so the int32 bias (and the accumulator) cannot overflow.
      Tensor b = biases && biases->count(q.node) ? biases->at(q.node) : op_bias(g, q, inferred);
      const float xs = act.at(n.input(q.act_inputs[0])).scale;
      const size_t per = size_t(w.dim(q.weight_axis));
      min_scales.assign(per, 0.0f);
      for (int64_t o = 0; o < b.size(); ++o) {
        const float need = std::fabs(b.data<float>()[o]) / (xs * 1073741824.0f);
        if (std::isfinite(need)) min_scales[size_t(o) % per] = std::max(min_scales[size_t(o) % per], need);
      }
    }
    out.emplace(q.node, quantize_weight(w, q.weight_axis, min_scales.empty() ? nullptr : &min_scales));
  }
  return out;
}

namespace {

class Writer {
 public:
  Writer(onnx::ModelProto& m, const QdqPlan& plan, const Graph& inferred, const std::map<std::string, ActParams>& act,
         const std::map<int, WeightQuant>& weights, const std::map<int, Tensor>* biases)
      : m_(m), g_(*m.mutable_graph()), plan_(plan), inferred_(inferred), act_(act), weights_(weights), biases_(biases) {
    collect_names(g_);
  }

  void run() {
    const int64_t opset = default_opset(m_);
    CELER_CHECK(opset >= 13, kUnsupported, "the model imports opset ", opset,
                " of the default domain; the QDQ form needs opset 13 or newer (per-channel DequantizeLinear): "
                "convert the model to opset 13+ first");
    for (const auto& t : plan_.tensors) {
      CELER_CHECK(act_.count(t), kInternal, "quantizer: no parameters for '", t, "'");
      dq_of_[t] = unique(t + "_dequantized");
    }
    std::map<int, const QuantizedOp*> op_at, bias_add_at;
    for (const auto& q : plan_.ops) {
      op_at[q.node] = &q;
      if (q.bias_add_node >= 0 && biases_ && biases_->count(q.node)) bias_add_at[q.bias_add_node] = &q;
    }
    std::set<std::string> produced;
    for (const auto& n : g_.node())
      for (const auto& o : n.output()) produced.insert(o);

    std::vector<onnx::NodeProto> nodes;
    for (const auto& t : plan_.tensors)
      if (!produced.count(t)) emit_activation(t, nodes);  // graph inputs
    for (int i = 0; i < g_.node_size(); ++i) {
      onnx::NodeProto n = g_.node(i);
      for (int s = 0; s < n.input_size(); ++s)
        if (plan_.reroute.count({i, s})) n.set_input(s, dq_of_.at(n.input(s)));
      auto it = op_at.find(i);
      if (it != op_at.end()) emit_weights(*it->second, n, nodes);
      auto ba = bias_add_at.find(i);
      if (ba != bias_add_at.end()) {
        // A MatMul's bias in a following Add: the corrected values, same shape, f32.
        const QuantizedOp& q = *ba->second;
        const std::string old = n.input(q.bias_add_slot);
        const Tensor& orig = constant_of(inferred_, old);
        const std::string name = unique(old + "_corrected");
        add_initializer(name, biases_->at(q.node).clone().reshaped(orig.dims()));
        replaced_.insert(old);
        n.set_input(q.bias_add_slot, name);
      }
      nodes.push_back(n);
      for (const auto& o : g_.node(i).output())
        if (dq_of_.count(o)) emit_activation(o, nodes);
    }
    g_.clear_node();
    for (auto& n : nodes) *g_.add_node() = std::move(n);
    remove_unused();
  }

 private:
  // Every name in the graph and its subgraphs (new names must not shadow any of them).
  void collect_names(const onnx::GraphProto& g) {
    for (const auto& i : g.input()) names_.insert(i.name());
    for (const auto& i : g.initializer()) names_.insert(i.name());
    for (const auto& vi : g.value_info()) names_.insert(vi.name());
    for (const auto& n : g.node()) {
      names_.insert(n.name());
      for (const auto& o : n.output()) names_.insert(o);
      for (const auto& a : n.attribute()) {
        if (a.has_g()) collect_names(a.g());
        for (const auto& sg : a.graphs()) collect_names(sg);
      }
    }
  }

  std::string unique(const std::string& base) {
    std::string name = base;
    for (int k = 1; names_.count(name); ++k) name = base + "_" + std::to_string(k);
    names_.insert(name);
    return name;
  }

  void add_initializer(const std::string& name, const Tensor& t) { set_tensor(*g_.add_initializer(), name, t); }

  onnx::NodeProto& add_node(std::vector<onnx::NodeProto>& nodes, const std::string& op, const std::string& name,
                            std::vector<std::string> inputs, const std::string& output) {
    nodes.emplace_back();
    onnx::NodeProto& n = nodes.back();
    n.set_op_type(op);
    n.set_name(unique(name));
    for (auto& i : inputs) n.add_input(i);
    n.add_output(output);
    return n;
  }

  static void set_axis(onnx::NodeProto& n, int64_t axis) {
    auto* a = n.add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(axis);
  }

  void emit_activation(const std::string& t, std::vector<onnx::NodeProto>& nodes) {
    const ActParams& p = act_.at(t);
    const std::string scale = unique(t + "_scale"), zp = unique(t + "_zero_point"), q = unique(t + "_quantized");
    add_initializer(scale, Tensor::scalar<float>(p.scale));
    if (p.is_signed) {
      add_initializer(zp, Tensor::scalar<int8_t>(int8_t(p.zero_point)));
    } else {
      add_initializer(zp, Tensor::scalar<uint8_t>(uint8_t(p.zero_point)));
    }
    add_node(nodes, "QuantizeLinear", t + "_QuantizeLinear", {t, scale, zp}, q);
    add_node(nodes, "DequantizeLinear", t + "_DequantizeLinear", {q, scale, zp}, dq_of_.at(t));
  }

  void emit_weights(const QuantizedOp& q, onnx::NodeProto& n, std::vector<onnx::NodeProto>& nodes) {
    if (q.weight_input < 0) return;
    const WeightQuant& wq = weights_.at(q.node);
    const std::string w = n.input(q.weight_input);
    replaced_.insert(w);
    const std::string wq_name = unique(w + "_quantized"), ws = unique(w + "_scale"), wz = unique(w + "_zero_point"),
                      wdq = unique(w + "_dequantized");
    const int64_t channels = int64_t(wq.scales.size());
    add_initializer(wq_name, wq.q);
    add_initializer(ws, Tensor::from_vector<float>(wq.scales, {channels}));
    add_initializer(wz, Tensor(ElementType::kI8, {channels}));
    set_axis(add_node(nodes, "DequantizeLinear", w + "_DequantizeLinear", {wq_name, ws, wz}, wdq), wq.axis);
    n.set_input(q.weight_input, wdq);
    if (q.bias_input < 0) return;
    const std::string b = n.input(q.bias_input);
    replaced_.insert(b);
    const Tensor bias = biases_ && biases_->count(q.node) ? biases_->at(q.node) : op_bias(g_, q, inferred_);
    const float xs = act_.at(g_.node(q.node).input(q.act_inputs[0])).scale;
    const std::vector<float> scales = bias_scales(wq, xs, bias.size());
    const std::string bq = unique(b + "_quantized"), bs = unique(b + "_scale"), bz = unique(b + "_zero_point"),
                      bdq = unique(b + "_dequantized");
    add_initializer(bq, quantize_bias(bias, scales));
    add_initializer(bs, Tensor::from_vector<float>(scales, {bias.size()}));
    add_initializer(bz, Tensor(ElementType::kI32, {bias.size()}));
    set_axis(add_node(nodes, "DequantizeLinear", b + "_DequantizeLinear", {bq, bs, bz}, bdq), 0);
    n.set_input(q.bias_input, bdq);
  }

  // Drops the replaced weights and biases (initializers, or the Constant nodes making them) nobody reads any more.
  void remove_unused() {
    std::set<std::string> reads;
    collect_reads(g_, reads);
    auto dead = [&](const std::string& name) { return replaced_.count(name) && !reads.count(name); };
    auto* inits = g_.mutable_initializer();
    for (int i = inits->size() - 1; i >= 0; --i)
      if (dead(inits->Get(i).name())) inits->DeleteSubrange(i, 1);
    auto* inputs = g_.mutable_input();
    for (int i = inputs->size() - 1; i >= 0; --i)
      if (dead(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
    auto* nodes = g_.mutable_node();
    for (int i = nodes->size() - 1; i >= 0; --i) {
      const auto& n = nodes->Get(i);
      if (n.op_type() == "Constant" && n.output_size() == 1 && dead(n.output(0))) nodes->DeleteSubrange(i, 1);
    }
  }

  onnx::ModelProto& m_;
  onnx::GraphProto& g_;
  const QdqPlan& plan_;
  const Graph& inferred_;
  const std::map<std::string, ActParams>& act_;
  const std::map<int, WeightQuant>& weights_;
  const std::map<int, Tensor>* biases_;
  std::set<std::string> names_, replaced_;
  std::map<std::string, std::string> dq_of_;
};

}  // namespace

void write_qdq(onnx::ModelProto& model, const QdqPlan& plan, const Graph& inferred,
               const std::map<std::string, ActParams>& act, const std::map<int, WeightQuant>& weights,
               const std::map<int, Tensor>* biases) {
  Writer(model, plan, inferred, act, weights, biases).run();
}

}  // namespace celer::quant
