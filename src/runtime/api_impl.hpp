// The objects behind the public API's handles (include/celer/celer.hpp), shared by the files that implement it:
// api.cpp (Model, CompiledModel, Core) and infer_request.cpp (InferRequest).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "celer/celer.hpp"
#include "onnx/importer.hpp"
#include "runtime/executor.hpp"

namespace celer {

namespace detail {

struct ModelImpl {
  ImportedModel imported;
  std::vector<PortInfo> inputs, outputs;

  void refresh_ports() {
    inputs.clear();
    outputs.clear();
    auto port = [](const Value* v) {
      return PortInfo{v->name, v->type.elem, v->type.shape, v->type.kind == ValueKind::kSequence};
    };
    for (const Value* v : imported.graph->inputs) inputs.push_back(port(v));
    for (const Value* v : imported.graph->outputs) outputs.push_back(port(v));
  }
};

struct CompiledModelImpl {
  std::string device;
  std::shared_ptr<Graph> graph;
  std::unique_ptr<Executor> executor;
  std::vector<PortInfo> inputs, outputs;
  double compile_ms = 0;
};

struct InferRequestImpl {
  std::shared_ptr<CompiledModelImpl> model;
  std::unique_ptr<Executor::State> state;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;

  size_t input_index(const std::string& name) const {
    for (size_t i = 0; i < model->inputs.size(); ++i)
      if (model->inputs[i].name == name) return i;
    return SIZE_MAX;
  }
  size_t output_index(const std::string& name) const {
    for (size_t i = 0; i < model->outputs.size(); ++i)
      if (model->outputs[i].name == name) return i;
    return SIZE_MAX;
  }
  std::string input_names() const {
    std::string s;
    for (const auto& p : model->inputs) s += (s.empty() ? "'" : ", '") + p.name + "'";
    return s.empty() ? "none" : s;
  }
  void check_input(size_t i, const Tensor& t) const {
    const PortInfo& p = model->inputs[i];
    CELER_CHECK(!t.empty(), kInvalidArgument, "input '", p.name, "': the tensor is empty (no type)");
    CELER_CHECK(p.type == ElementType::kUndefined || t.type() == p.type, kInvalidArgument, "input '", p.name,
                "' expects element type ", element_type_name(p.type), ", got ", element_type_name(t.type()));
    CELER_CHECK(p.shape.accepts(t.dims()), kInvalidArgument, "input '", p.name, "' expects shape ", p.shape.to_string(),
                ", got ", dims_to_string(t.dims()));
  }
};

}  // namespace detail

}  // namespace celer
