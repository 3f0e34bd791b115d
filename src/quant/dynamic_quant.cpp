// Dynamic quantization of MatMul/Gemm weights: see dynamic_quant.hpp.
#include "quant/dynamic_quant.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "celer/error.hpp"
#include "quant/onnx_io.hpp"
#include "quant/qdq_plan.hpp"

namespace celer::quant {

namespace {

onnx::NodeProto make_node(const std::string& op, const std::string& name, std::vector<std::string> in,
                          std::vector<std::string> out) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto& s : in) n.add_input(s);
  for (auto& s : out) n.add_output(s);
  return n;
}

}  // namespace

DynamicQuantReport quantize_dynamic(onnx::ModelProto& model, const DynamicQuantOptions& o) {
  const int64_t opset = default_opset(model);
  CELER_CHECK(opset >= 11, kUnsupported,
              "dynamic quantization needs opset 11 or newer of the default domain "
              "(DynamicQuantizeLinear); the model imports opset ",
              opset);
  IgnoredScope scope;
  for (const std::string& e : o.ignored_scope) scope.add(e);
  onnx::GraphProto& g = *model.mutable_graph();
  std::map<std::string, int> inits;
  for (int i = 0; i < g.initializer_size(); ++i) inits[g.initializer(i).name()] = i;
  std::map<std::string, int> readers;
  for (const auto& n : g.node())
    for (const auto& in : n.input()) ++readers[in];
  std::set<std::string> names;  // every value name, for unique new ones
  for (const auto& n : g.node())
    for (const auto& v : n.output()) names.insert(v);
  for (const auto& v : g.input()) names.insert(v.name());
  for (const auto& t : g.initializer()) names.insert(t.name());
  auto fresh = [&](const std::string& hint) {
    std::string s = hint;
    for (int i = 1; names.count(s); ++i) s = hint + "_" + std::to_string(i);
    names.insert(s);
    return s;
  };

  DynamicQuantReport report;
  std::map<std::string, std::array<std::string, 3>> quantized_act;  // activation -> (A_q, A_scale, A_zp)
  std::vector<onnx::NodeProto> out_nodes;
  std::vector<int> drop;
  for (int ni = 0; ni < g.node_size(); ++ni) {
    const onnx::NodeProto& n = g.node(ni);
    const bool mm = n.op_type() == "MatMul", gemm = n.op_type() == "Gemm";
    auto pass = [&] { out_nodes.push_back(n); };
    if (!(mm || gemm) || !n.domain().empty()) {
      pass();
      continue;
    }
    const std::string label = n.op_type() + " '" + n.name() + "'";
    auto keep = [&](const std::string& why) {
      report.kept.push_back(label + ": " + why);
      pass();
    };
    if (scope.matches(n)) {
      keep("ignored scope (" + scope.reason(n) + ")");
      continue;
    }
    if (n.input_size() < 2 || !inits.count(n.input(1)) || inits.count(n.input(0))) {
      keep("not an activation times constant weights");
      continue;
    }
    const onnx::TensorProto& wp = g.initializer(inits[n.input(1)]);
    if (wp.data_type() != onnx::TensorProto::FLOAT || wp.dims_size() != 2) {
      keep("weights are not a 2-D float tensor");
      continue;
    }
    bool transposed = false;
    std::string bias;
    if (gemm) {
      if (int_attr(n, "transA", 0) != 0 || float_attr(n, "alpha", 1.0f) != 1.0f) {
        keep("Gemm with transA or alpha != 1");
        continue;
      }
      transposed = int_attr(n, "transB", 0) != 0;
      if (n.input_size() > 2 && !n.input(2).empty()) {
        if (float_attr(n, "beta", 1.0f) != 1.0f) {
          keep("Gemm with beta != 1");
          continue;
        }
        bias = n.input(2);
      }
    }
    const int64_t K = transposed ? wp.dims(1) : wp.dims(0), N = transposed ? wp.dims(0) : wp.dims(1);
    if (K * N < o.min_elements) {
      keep("small weights (" + std::to_string(K * N) + " values)");
      continue;
    }
    const Tensor w = tensor_of(wp, "initializer '" + wp.name() + "'");
    // Symmetric int8 per output column, in [-127, 127].
    Tensor wq(ElementType::kI8, {K, N}), ws(ElementType::kF32, {N}), wz(ElementType::kI8, {N});
    const float* pw = w.data<float>();
    auto at = [&](int64_t k, int64_t j) { return transposed ? pw[j * K + k] : pw[k * N + j]; };
    for (int64_t j = 0; j < N; ++j) {
      float amax = 0;
      for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(at(k, j)));
      const float s = amax > 0 ? amax / 127.0f : 1.0f;
      CELER_CHECK(std::isfinite(s), kInvalidArgument, "initializer '", wp.name(), "' holds NaN or Inf");
      ws.data<float>()[j] = s;
      wz.data<int8_t>()[j] = 0;
      for (int64_t k = 0; k < K; ++k)
        wq.data<int8_t>()[k * N + j] = int8_t(std::clamp(int(std::lround(at(k, j) / s)), -127, 127));
    }
    const std::string base = n.name().empty() ? n.output(0) : n.name();
    auto add_init = [&](const std::string& hint, const Tensor& t) {
      const std::string name = fresh(hint);
      set_tensor(*g.add_initializer(), name, t);
      return name;
    };
    const std::string& a = n.input(0);
    auto it = quantized_act.find(a);
    if (it == quantized_act.end()) {
      const std::array<std::string, 3> q{fresh(a + "_quantized"), fresh(a + "_scale"), fresh(a + "_zero_point")};
      out_nodes.push_back(
          make_node("DynamicQuantizeLinear", fresh(a + "_DynamicQuantizeLinear"), {a}, {q[0], q[1], q[2]}));
      it = quantized_act.emplace(a, q).first;
    }
    const auto& [aq, as, az] = it->second;
    const std::string wq_name = add_init(base + "_W_quantized", wq), ws_name = add_init(base + "_W_scale", ws),
                      wz_name = add_init(base + "_W_zero_point", wz);
    const std::string acc = fresh(base + "_MatMulInteger_output"), accf = fresh(base + "_cast_output"),
                      scale = fresh(base + "_scale"), y = n.output(0);
    const std::string scaled = bias.empty() ? y : fresh(base + "_scaled");
    out_nodes.push_back(make_node("MatMulInteger", fresh(base + "_MatMulInteger"), {aq, wq_name, az, wz_name}, {acc}));
    onnx::NodeProto cast = make_node("Cast", fresh(base + "_cast"), {acc}, {accf});
    auto* to = cast.add_attribute();
    to->set_name("to");
    to->set_type(onnx::AttributeProto::INT);
    to->set_i(onnx::TensorProto::FLOAT);
    out_nodes.push_back(cast);
    out_nodes.push_back(make_node("Mul", fresh(base + "_scale_mul"), {as, ws_name}, {scale}));
    out_nodes.push_back(make_node("Mul", fresh(base + "_output_mul"), {accf, scale}, {scaled}));
    if (!bias.empty()) out_nodes.push_back(make_node("Add", fresh(base + "_bias_add"), {scaled, bias}, {y}));
    report.quantized.push_back(label + " [" + std::to_string(K) + ", " + std::to_string(N) + "]");
    if (--readers[n.input(1)] == 0) drop.push_back(inits[n.input(1)]);
  }
  CELER_CHECK(!report.quantized.empty(), kInvalidArgument,
              "dynamic quantization: no MatMul or Gemm with constant float weights of at least ", o.min_elements,
              " values");
  g.clear_node();
  for (auto& n : out_nodes) *g.add_node() = std::move(n);
  remove_initializers(g, std::move(drop));  // the float weights nobody reads any more
  return report;
}

}  // namespace celer::quant
