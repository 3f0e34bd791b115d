// The public API (include/celer/celer.hpp) over the importer, inference and the executor: Model, CompiledModel and
// Core (InferRequest is in infer_request.cpp).
#include <chrono>

#include "celer/celer.hpp"
#include "ir/infer.hpp"
#include "onnx/importer.hpp"
#include "runtime/api_impl.hpp"
#include "runtime/device.hpp"

namespace celer {

namespace {
const PortInfo& find_port(const std::vector<PortInfo>& ports, const std::string& name, const char* kind) {
  for (const auto& p : ports)
    if (p.name == name) return p;
  CELER_THROW(kInvalidArgument, "the model has no ", kind, " named '", name, "'");
}
}  // namespace

// ---- Model
const std::vector<PortInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<PortInfo>& Model::outputs() const { return impl_->outputs; }
const PortInfo& Model::input(const std::string& name) const { return find_port(impl_->inputs, name, "input"); }
const PortInfo& Model::output(const std::string& name) const { return find_port(impl_->outputs, name, "output"); }
const std::map<std::string, int64_t>& Model::opsets() const { return impl_->imported.opsets; }
const std::string& Model::source() const { return impl_->imported.source; }
const std::string& Model::producer() const { return impl_->imported.producer; }
const Graph& Model::graph() const { return *impl_->imported.graph; }
std::shared_ptr<Graph> Model::graph_ptr() const { return impl_->imported.graph; }

void Model::reshape(const std::map<std::string, PartialShape>& shapes) {
  std::shared_ptr<Graph> g = impl_->imported.original->clone();
  for (const auto& [name, shape] : shapes) {
    Value* found = nullptr;
    for (Value* v : g->inputs)
      if (v->name == name) found = v;
    CELER_CHECK(found, kInvalidArgument, "reshape: the model has no input named '", name, "'");
    const PartialShape& old = found->type.shape;
    if (old.rank_known() && shape.rank_known()) {
      CELER_CHECK(old.rank() == shape.rank(), kInvalidArgument, "reshape: input '", name, "' has rank ", old.rank(),
                  ", the new shape ", shape.to_string(), " has rank ", shape.rank());
    }
    found->type.shape = shape;
  }
  infer_graph(*g);
  // The new original keeps the new input shapes so later reshapes compose.
  std::shared_ptr<Graph> orig = impl_->imported.original->clone();
  for (Value* v : orig->inputs) {
    auto it = shapes.find(v->name);
    if (it != shapes.end()) v->type.shape = it->second;
  }
  auto impl = std::make_shared<detail::ModelImpl>(*impl_);
  impl->imported.graph = g;
  impl->imported.original = orig;
  impl->refresh_ports();
  impl_ = impl;
}

// ---- CompiledModel
const std::vector<PortInfo>& CompiledModel::inputs() const { return impl_->inputs; }
const std::vector<PortInfo>& CompiledModel::outputs() const { return impl_->outputs; }
const std::string& CompiledModel::device() const { return impl_->device; }
double CompiledModel::compile_ms() const { return impl_->compile_ms; }

InferRequest CompiledModel::create_infer_request() const {
  CELER_CHECK(impl_, kInvalidArgument, "create_infer_request on an empty CompiledModel");
  InferRequest r;
  r.impl_ = std::make_shared<detail::InferRequestImpl>();
  r.impl_->model = impl_;
  r.impl_->state = impl_->executor->make_state();
  r.impl_->inputs.resize(impl_->inputs.size());
  r.impl_->outputs.resize(impl_->outputs.size());
  return r;
}

// ---- Core
Core::Core() = default;

Model Core::read_model(const std::string& path) const {
  Model m;
  m.impl_ = std::make_shared<detail::ModelImpl>();
  m.impl_->imported = import_onnx_file(path);
  m.impl_->refresh_ports();
  return m;
}

Model Core::read_model_from_memory(const std::string& bytes, const std::string& weights_dir) const {
  Model m;
  m.impl_ = std::make_shared<detail::ModelImpl>();
  m.impl_->imported = import_onnx_bytes(bytes, weights_dir, "<memory>");
  m.impl_->refresh_ports();
  return m;
}

CompiledModel Core::compile_model(const Model& model, const std::string& device, const Properties& properties) const {
  CELER_CHECK(model.impl_, kInvalidArgument, "compile_model: the model is empty");
  auto t0 = std::chrono::steady_clock::now();
  const Device* dev = find_device(device);
  if (!dev) {
    std::string names;
    for (const auto& n : device_names()) names += (names.empty() ? "" : ", ") + n;
    CELER_THROW(kInvalidArgument, "unknown device '", device, "' (available: ", names, ")");
  }
  CompileOptions options = parse_compile_options(properties);
  std::shared_ptr<Graph> g = model.impl_->imported.graph->clone();
  for (const auto& n : g->nodes)
    CELER_CHECK(dev->supports(*n), kUnsupported, "device ", dev->name(), " does not support ", n->describe());
  dev->run_passes(*g, options);
  auto impl = std::make_shared<detail::CompiledModelImpl>();
  impl->device = dev->name();
  impl->graph = g;
  impl->executor = std::make_unique<Executor>(g, *dev, options);
  // Weights the kernels packed are not needed in this compiled graph any more (the Model keeps its own).
  for (const Value* v : impl->executor->released_constants()) const_cast<Value*>(v)->constant.reset();
  impl->inputs = model.impl_->inputs;
  impl->outputs = model.impl_->outputs;
  impl->compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CompiledModel cm;
  cm.impl_ = impl;
  return cm;
}

CompiledModel Core::compile_model(const std::string& path, const std::string& device,
                                  const Properties& properties) const {
  return compile_model(read_model(path), device, properties);
}

std::vector<std::string> Core::available_devices() const { return device_names(); }

}  // namespace celer
