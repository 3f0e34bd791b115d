#include "quant/qdq_plan.hpp"

#include <functional>
#include <sstream>

#include "celer/error.hpp"
#include "quant/onnx_io.hpp"

namespace celer::quant {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

void IgnoredScope::add(const std::string& entries) {
  std::stringstream ss(entries);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    const size_t colon = item.find(':');
    CELER_CHECK(colon != std::string::npos && colon + 1 < item.size(), kInvalidArgument, "--ignored-scope '", item,
                "': expected name:NODE, type:OP or pattern:REGEX");
    const std::string kind = item.substr(0, colon), value = item.substr(colon + 1);
    if (kind == "name") {
      names_.insert(value);
    } else if (kind == "type") {
      types_.insert(value);
    } else if (kind == "pattern") {
      try {
        patterns_.emplace_back(value, std::regex(value, std::regex::ECMAScript));
      } catch (const std::regex_error& e) {
        CELER_THROW(kInvalidArgument, "--ignored-scope 'pattern:", value, "': not a valid regular expression (",
                    e.what(), ")");
      }
    } else {
      CELER_THROW(kInvalidArgument, "--ignored-scope '", item, "': unknown kind '", kind,
                  "' (expected name, type or pattern)");
    }
  }
}

std::string IgnoredScope::reason(const onnx::NodeProto& n) const {
  if (names_.count(n.name())) return "name:" + n.name();
  if (types_.count(n.op_type())) return "type:" + n.op_type();
  for (const auto& [text, re] : patterns_)
    if (std::regex_match(n.name(), re)) return "pattern:" + text;
  return "";
}

bool IgnoredScope::matches(const onnx::NodeProto& n) const { return !reason(n).empty(); }

std::vector<std::string> IgnoredScope::unmatched(const onnx::GraphProto& g) const {
  std::vector<std::string> out;
  auto any = [&](auto pred) {
    for (const auto& n : g.node())
      if (pred(n)) return true;
    return false;
  };
  for (const auto& s : names_)
    if (!any([&](const onnx::NodeProto& n) { return n.name() == s; })) out.push_back("name:" + s);
  for (const auto& s : types_)
    if (!any([&](const onnx::NodeProto& n) { return n.op_type() == s; })) out.push_back("type:" + s);
  for (const auto& [text, re] : patterns_)
    if (!any([&](const onnx::NodeProto& n) { return std::regex_match(n.name(), re); }))
      out.push_back("pattern:" + text);
  return out;
}

namespace {

bool is_default_domain(const onnx::NodeProto& n) { return n.domain().empty() || n.domain() == "ai.onnx"; }

class Planner {
 public:
  Planner(const onnx::GraphProto& g, const Graph& inferred, const IgnoredScope& scope)
      : g_(g), inferred_(inferred), scope_(scope) {
    for (int i = 0; i < g.node_size(); ++i)
      for (int s = 0; s < g.node(i).input_size(); ++s)
        if (!g.node(i).input(s).empty()) consumers_[g.node(i).input(s)].push_back({i, s});
  }

  QdqPlan run() {
    // 1. Compute ops.
    for (int i = 0; i < g_.node_size(); ++i) plan_compute(i);
    // 2. Residual Adds whose output reaches quantized ops.
    for (int i = 0; i < g_.node_size(); ++i) {
      const auto& n = g_.node(i);
      if (n.op_type() != "Add" || !is_default_domain(n) || n.input_size() != 2 || n.output_size() != 1) continue;
      if (ignored(n) || !is_activation(n.input(0)) || !is_activation(n.input(1))) continue;
      if (!reaches_quantized(n.output(0))) continue;
      add_reader(i, 0);
      add_reader(i, 1);
      ++plan_.residual_adds;
    }
    // 3. Pass-through ops: value-preserving ones extend Q/DQ to their inputs; the others share parameters when both
    // sides are quantized. Repeated to a fixed point (chains of pass-through ops).
    for (bool changed = true; changed;) {
      changed = false;
      for (int i = g_.node_size() - 1; i >= 0; --i) {
        const auto& n = g_.node(i);
        const int kind = pass_through_kind(n);
        if (kind == 0 || ignored(n) || n.output_size() != 1 || !quantized_.count(n.output(0))) continue;
        const std::vector<int> slots = data_slots(n);
        bool all = !slots.empty();
        for (int s : slots) all = all && is_activation(n.input(s)) && (kind == 2 || quantized_.count(n.input(s)));
        if (!all) continue;
        for (int s : slots) {
          if (!plan_.reroute.count({i, s})) {
            add_reader(i, s);
            changed = true;
          }
          unite(n.input(s), n.output(0));
        }
      }
    }
    for (const auto& t : plan_.tensors) plan_.group_of[t] = find(t);
    return std::move(plan_);
  }

 private:
  // 2: value-preserving (MaxPool, Reshape, Flatten, Transpose, Concat); 1: shares parameters only (Relu,
  // GlobalAveragePool, AveragePool); 0: other ops.
  static int pass_through_kind(const onnx::NodeProto& n) {
    if (!is_default_domain(n)) return 0;
    const std::string& t = n.op_type();
    if (t == "MaxPool") return n.output_size() == 1 ? 2 : 0;
    if (t == "Reshape" || t == "Flatten" || t == "Transpose" || t == "Concat") return 2;
    if (t == "Relu" || t == "GlobalAveragePool" || t == "AveragePool") return 1;
    return 0;
  }
  static std::vector<int> data_slots(const onnx::NodeProto& n) {
    if (n.op_type() != "Concat") return {0};
    std::vector<int> s;
    for (int i = 0; i < n.input_size(); ++i) s.push_back(i);
    return s;
  }

  bool ignored(const onnx::NodeProto& n) const { return scope_.matches(n); }

  const Value* value(const std::string& name) const { return name.empty() ? nullptr : inferred_.find_value(name); }
  bool is_activation(const std::string& name) const {
    const Value* v = value(name);
    return v && !v->is_constant() && v->type.is_tensor() && v->type.elem == ElementType::kF32;
  }
  bool is_f32_constant(const std::string& name) const {
    const Value* v = value(name);
    return v && v->is_constant() && v->constant->type() == ElementType::kF32;
  }

  void add_reader(int node, int slot) {
    const std::string& t = g_.node(node).input(slot);
    plan_.reroute.insert({node, slot});
    if (quantized_.insert(t).second) {
      plan_.tensors.push_back(t);
      parent_[t] = t;
    }
  }

  std::string find(const std::string& t) {
    std::string r = t;
    while (parent_[r] != r) r = parent_[r];
    for (std::string c = t; parent_[c] != r;) {
      std::string next = parent_[c];
      parent_[c] = r;
      c = next;
    }
    return r;
  }
  void unite(const std::string& a, const std::string& b) {
    const std::string ra = find(a), rb = find(b);
    if (ra != rb) parent_[rb] = ra;
  }

  // Whether `t` is read by a quantized op's activation input, directly or through Relu / pass-through ops.
  bool reaches_quantized(const std::string& t) {
    auto it = reaches_.find(t);
    if (it != reaches_.end()) return it->second;
    reaches_[t] = false;  // guards against cycles in malformed graphs
    bool r = false;
    auto c = consumers_.find(t);
    if (c != consumers_.end()) {
      for (auto [node, slot] : c->second) {
        if (compute_reads_.count({node, slot})) r = true;
        const auto& n = g_.node(node);
        if (!r && pass_through_kind(n) != 0 && !ignored(n) && n.output_size() == 1) r = reaches_quantized(n.output(0));
        if (r) break;
      }
    }
    return reaches_[t] = r;
  }

  // MatMul -> Add(constant [N]) as the only reader of the MatMul's output: the Add's constant is the bias.
  void find_bias_add(const onnx::NodeProto& n, QuantizedOp& q) {
    auto c = consumers_.find(n.output(0));
    if (c == consumers_.end() || c->second.size() != 1) return;
    for (const auto& o : g_.output())
      if (o.name() == n.output(0)) return;
    const auto [add, slot] = c->second[0];
    const auto& a = g_.node(add);
    if (a.op_type() != "Add" || !is_default_domain(a) || a.input_size() != 2 || ignored(a)) return;
    const std::string& other = a.input(1 - slot);
    if (!is_f32_constant(other)) return;
    const Tensor& b = *value(other)->constant;
    const Tensor& w = *value(n.input(q.weight_input))->constant;
    if (b.rank() < 1 || b.size() != w.dim(w.rank() - 1) || b.dim(b.rank() - 1) != b.size()) return;
    q.bias_add_node = add;
    q.bias_add_slot = 1 - slot;
  }

  void keep(const onnx::NodeProto& n, const std::string& reason) {
    plan_.kept.push_back({display_name(n), n.op_type(), reason});
  }

  void plan_compute(int i) {
    const auto& n = g_.node(i);
    const std::string& t = n.op_type();
    if (!is_default_domain(n) || (t != "Conv" && t != "ConvTranspose" && t != "Gemm" && t != "MatMul")) return;
    const std::string why = scope_.reason(n);
    if (!why.empty()) return keep(n, "ignored scope (" + why + ")");
    if (n.input_size() < 2 || n.output_size() != 1) return keep(n, "unexpected inputs or outputs");
    QuantizedOp q;
    q.node = i;
    const std::string &a = n.input(0), &b = n.input(1);
    if (!is_activation(a)) return keep(n, is_f32_constant(a) ? "first input is a constant" : "input is not f32");
    if (t == "MatMul" && is_activation(b)) {
      q.act_inputs = {0, 1};
      q.out_channel_axis = -1;
    } else {
      if (!is_f32_constant(b)) return keep(n, "weight is not an f32 constant");
      const Tensor& w = *value(b)->constant;
      q.act_inputs = {0};
      q.weight_input = 1;
      if (t == "Conv") {
        if (w.rank() < 3) return keep(n, "weight rank below 3");
        q.weight_axis = 0;
      } else if (t == "ConvTranspose") {
        if (w.rank() < 3) return keep(n, "weight rank below 3");
        q.weight_axis = 1;
      } else if (t == "Gemm") {
        if (w.rank() != 2) return keep(n, "weight is not 2-D");
        q.weight_axis = int_attr(n, "transB", 0) ? 0 : 1;
        q.out_channel_axis = -1;
      } else {
        if (w.rank() < 2) return keep(n, "weight is 1-D");
        q.weight_axis = w.rank() - 1;
        q.out_channel_axis = -1;
      }
      // The bias: int32 when it is a constant of one value per output channel.
      const int bias_slot = t == "Gemm" ? 2 : (t == "MatMul" ? -1 : 2);
      if (bias_slot > 0 && n.input_size() > bias_slot && is_f32_constant(n.input(bias_slot))) {
        const Tensor& bias = *value(n.input(bias_slot))->constant;
        int64_t channels = w.dim(q.weight_axis);
        if (t == "ConvTranspose") channels *= int_attr(n, "group", 1);
        const bool gemm_ok =
            t != "Gemm" || (float_attr(n, "alpha", 1.0f) == 1.0f && float_attr(n, "beta", 1.0f) == 1.0f &&
                            (bias.rank() == 1 || (bias.rank() == 2 && bias.dim(0) == 1)));
        if (gemm_ok && bias.size() == channels && (bias.rank() == 1 || t == "Gemm")) q.bias_input = bias_slot;
      }
    }
    if (t == "MatMul" && q.weight_input >= 0) find_bias_add(n, q);
    for (int s : q.act_inputs) compute_reads_.insert({i, s});
    for (int s : q.act_inputs) add_reader(i, s);
    plan_.ops.push_back(q);
  }

  const onnx::GraphProto& g_;
  const Graph& inferred_;
  const IgnoredScope& scope_;
  std::map<std::string, std::vector<std::pair<int, int>>> consumers_;
  std::set<std::pair<int, int>> compute_reads_;
  std::set<std::string> quantized_;
  std::map<std::string, std::string> parent_;
  std::map<std::string, bool> reaches_;
  QdqPlan plan_;
};

}  // namespace

std::string display_name(const onnx::NodeProto& n) {
  if (!n.name().empty()) return "'" + n.name() + "'";
  return "(unnamed, output '" + (n.output_size() ? n.output(0) : std::string()) + "')";
}

QdqPlan plan_qdq(const onnx::ModelProto& model, const Graph& inferred, const IgnoredScope& scope) {
  QdqPlan plan = Planner(model.graph(), inferred, scope).run();
  if (plan.ops.empty()) {
    std::string why;
    for (const auto& k : plan.kept) why += "\n  " + k.op_type + " " + k.name + ": " + k.reason;
    CELER_THROW(kInvalidArgument,
                "the model has no quantizable ops (Conv, ConvTranspose, Gemm or MatMul with an f32 "
                "weight)",
                why.empty() ? std::string(": it has none") : std::string(":") + why);
  }
  return plan;
}

}  // namespace celer::quant
