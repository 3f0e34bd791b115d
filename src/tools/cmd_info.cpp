// `celer info MODEL`: inputs, outputs, opsets, producer, op histogram, parameter count and a FLOP estimate.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>

#include "ir/graph.hpp"
#include "ops/op.hpp"
#include "tools/cli_common.hpp"

namespace celer::cli {

namespace {

struct InfoOptions {
  std::string model;
  std::vector<std::string> shapes;
};

struct OpStats {
  int64_t count = 0;
  double flops = 0;
};

struct GraphStats {
  std::map<std::string, OpStats> ops;
  int64_t nodes = 0;
  int64_t subgraphs = 0;
  std::set<const void*> seen_params;  // constant tensors counted once
  int64_t param_elements = 0;
  int64_t param_bytes = 0;
  double flops = 0;
  bool dynamic = false;
};

void count_constant(const Value* v, GraphStats& s) {
  if (!v || !v->constant) return;
  const Tensor& t = *v->constant;
  if (!s.seen_params.insert(t.raw()).second) return;
  s.param_elements += t.size();
  s.param_bytes += int64_t(t.byte_size());
}

bool has_static_shape(const Value* v) { return !v || v->type.kind != ValueKind::kTensor || v->type.shape.is_static(); }

void walk(const Graph& g, GraphStats& s) {
  for (const auto& node : g.nodes) {
    ++s.nodes;
    for (const Value* v : node->inputs) {
      count_constant(v, s);
      if (!has_static_shape(v)) s.dynamic = true;
    }
    for (const Value* v : node->outputs)
      if (!has_static_shape(v)) s.dynamic = true;
    OpStats& op = s.ops[node->type_name()];
    ++op.count;
    if (node->op) {
      double f = node->op->flops(*node);
      op.flops += f;
      s.flops += f;
      for (const Graph* sub : node->op->subgraphs()) {
        ++s.subgraphs;
        walk(*sub, s);
      }
    }
  }
  for (const Value* v : g.outputs) count_constant(v, s);
}

std::string with_unit(double v, const char* unit) {
  static const char* prefixes[] = {"", "K", "M", "G", "T", "P"};
  int i = 0;
  while (v >= 1000 && i < 5) {
    v /= 1000;
    ++i;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, i ? "%.2f %s%s" : "%.0f %s%s", v, prefixes[i], unit);
  return buf;
}

std::string ports_table(const std::vector<PortInfo>& ports) {
  size_t width = 0;
  for (const auto& p : ports) width = std::max(width, p.name.size());
  std::string out;
  for (const auto& p : ports) {
    std::string type = type_and_shape(p.type, p.shape);
    if (p.is_sequence) type = "seq(" + type + ")";
    out += "  " + p.name + std::string(width - p.name.size() + 2, ' ') + type + "\n";
  }
  return out.empty() ? "  (none)\n" : out;
}

int run_info(const InfoOptions& opts) {
  Core core;
  Model model = core.read_model(opts.model);
  const auto shapes = parse_shape_specs(opts.shapes);
  if (!shapes.empty()) {
    std::vector<std::string> names;
    std::map<std::string, PartialShape> reshape;
    for (const auto& [name, dims] : shapes) {
      names.push_back(name);
      reshape[name] = PartialShape::of(dims);
    }
    check_input_names(model, names, "--shape");
    model.reshape(reshape);
  }

  GraphStats s;
  walk(model.graph(), s);

  std::ostream& os = std::cout;
  os << "model:      " << opts.model << "\n";
  os << "producer:   " << (model.producer().empty() ? "(unknown)" : model.producer()) << "\n";
  os << "opsets:     ";
  bool first = true;
  for (const auto& [domain, version] : model.opsets()) {
    os << (first ? "" : ", ") << (domain.empty() ? "ai.onnx" : domain) << " " << version;
    first = false;
  }
  os << "\ninputs:\n" << ports_table(model.inputs());
  os << "outputs:\n" << ports_table(model.outputs());

  os << "nodes:      " << s.nodes;
  if (s.subgraphs) os << " (including those of " << s.subgraphs << (s.subgraphs == 1 ? " subgraph)" : " subgraphs)");
  os << "\nops:\n";
  std::vector<std::pair<std::string, OpStats>> ops(s.ops.begin(), s.ops.end());
  std::stable_sort(ops.begin(), ops.end(),
                   [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
  size_t width = 0;
  for (const auto& [name, st] : ops) width = std::max(width, name.size());
  for (const auto& [name, st] : ops) {
    os << "  " << name << std::string(width - name.size() + 2, ' ') << st.count;
    if (!s.dynamic && st.flops > 0) os << "  (" << with_unit(st.flops, "FLOP") << ")";
    os << "\n";
  }
  if (ops.empty()) os << "  (none)\n";
  os << "parameters: " << s.param_elements << " (" << with_unit(double(s.param_bytes), "B") << ")\n";
  os << "flops:      ";
  if (s.dynamic) {
    bool inputs_static = true;
    for (const auto& p : model.inputs()) inputs_static = inputs_static && p.shape.is_static();
    os << (inputs_static ? "n/a (data-dependent shapes)\n"
                         : "n/a (dynamic shapes; fix them with --shape NAME=[d0,d1,...])\n");
  } else {
    os << with_unit(s.flops, "FLOP") << " (" << static_cast<long long>(s.flops) << ")";
    if (s.subgraphs) os << ", subgraphs counted once";
    os << "\n";
  }
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand("info", "Show a model's inputs, outputs, ops, parameters and FLOPs");
  sub->add_option("model", opts->model, "ONNX model file")->required();
  add_shape_option(*sub, opts->shapes);
  return {sub, [opts] { return run_info(*opts); }};
}

}  // namespace celer::cli
