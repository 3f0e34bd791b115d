// The public API (include/celer/celer.hpp) over the importer, inference and the executor.
#include <chrono>

#include "celer/celer.hpp"
#include "ir/infer.hpp"
#include "onnx/importer.hpp"
#include "ops/conv.hpp"
#include "ops/gemm.hpp"
#include "ops/mat_mul.hpp"
#include "runtime/device.hpp"
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
    CELER_CHECK(p.shape.accepts(t.dims()), kInvalidArgument, "input '", p.name, "' expects shape ",
                p.shape.to_string(), ", got ", dims_to_string(t.dims()));
  }
};

}  // namespace detail

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

// ---- InferRequest
void InferRequest::set_tensor(const std::string& name, const Tensor& t) {
  size_t i = impl_->input_index(name);
  CELER_CHECK(i != SIZE_MAX, kInvalidArgument, "the model has no input named '", name, "' (inputs: ",
              impl_->input_names(), ")");
  set_input_tensor(i, t);
}

void InferRequest::set_input_tensor(size_t index, const Tensor& t) {
  CELER_CHECK(index < impl_->inputs.size(), kInvalidArgument, "input index ", index, " out of range: the model has ",
              impl_->inputs.size(), " inputs");
  impl_->check_input(index, t);
  impl_->inputs[index] = t;
}

const Tensor& InferRequest::get_tensor(const std::string& name) const {
  size_t i = impl_->input_index(name);
  if (i != SIZE_MAX) return impl_->inputs[i];
  size_t o = impl_->output_index(name);
  CELER_CHECK(o != SIZE_MAX, kInvalidArgument, "the model has no input or output named '", name, "'");
  return impl_->outputs[o];
}

const Tensor& InferRequest::get_input_tensor(size_t index) const {
  CELER_CHECK(index < impl_->inputs.size(), kInvalidArgument, "input index ", index, " out of range");
  return impl_->inputs[index];
}

const Tensor& InferRequest::get_output_tensor(size_t index) const {
  CELER_CHECK(index < impl_->outputs.size(), kInvalidArgument, "output index ", index, " out of range");
  return impl_->outputs[index];
}

void InferRequest::infer() {
  auto& m = *impl_->model;
  std::vector<RtValue> in;
  in.reserve(impl_->inputs.size());
  for (size_t i = 0; i < impl_->inputs.size(); ++i) {
    CELER_CHECK(!impl_->inputs[i].empty(), kInvalidArgument, "input '", m.inputs[i].name, "' was not set");
    in.emplace_back(impl_->inputs[i]);
  }
  std::vector<RtValue> out = m.executor->run(*impl_->state, std::move(in));
  for (size_t i = 0; i < out.size(); ++i) {
    CELER_CHECK(out[i].is_tensor(), kUnsupported, "output '", m.outputs[i].name,
                "' is not a tensor (sequences and optionals are not returned through this API)");
    impl_->outputs[i] = out[i].tensor;
  }
}

void InferRequest::enable_profiling() { impl_->model->executor->enable_profiling(*impl_->state); }

std::vector<NodeProfile> InferRequest::profile() const {
  const auto& st = *impl_->state;
  std::vector<NodeProfile> out;
  auto kernels = impl_->model->executor->kernels();
  for (size_t i = 0; i < kernels.size() && i < st.step_ns.size(); ++i) {
    const Node* n = kernels[i].first;
    NodeProfile p;
    p.name = n->name;
    p.op = n->type_name();
    p.kernel = kernels[i].second;
    if (const auto* c = dynamic_cast<const Conv*>(n->op.get())) p.details = post_ops_to_string(c->post_ops);
    else if (const auto* m = dynamic_cast<const MatMul*>(n->op.get())) p.details = post_ops_to_string(m->post_ops);
    else if (const auto* g = dynamic_cast<const Gemm*>(n->op.get())) p.details = post_ops_to_string(g->post_ops);
    p.total_ms = double(st.step_ns[i]) / 1e6;
    p.runs = st.step_runs[i];
    out.push_back(std::move(p));
  }
  return out;
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
