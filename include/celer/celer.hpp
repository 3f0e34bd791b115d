// The celer C++ API: read a model, compile it for a device, run inference requests.
//
//   celer::Core core;
//   celer::Model model = core.read_model("resnet50.onnx");
//   celer::CompiledModel compiled = core.compile_model(model, "CPU");
//   celer::InferRequest request = compiled.create_infer_request();
//   request.set_input_tensor(0, celer::Tensor::wrap(celer::ElementType::kF32, {1, 3, 224, 224}, pixels));
//   request.infer();
//   const celer::Tensor& logits = request.get_output_tensor(0);
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "celer/element_type.hpp"
#include "celer/error.hpp"
#include "celer/shape.hpp"
#include "celer/tensor.hpp"

namespace celer {

class Graph;
namespace detail {
struct ModelImpl;
struct CompiledModelImpl;
struct InferRequestImpl;
}  // namespace detail

// Compile properties, as strings ("inference_num_threads" -> "2"). Unknown keys are an error.
using Properties = std::map<std::string, std::string>;

// A model input or output.
struct PortInfo {
  std::string name;
  ElementType type = ElementType::kUndefined;
  PartialShape shape;
  bool is_sequence = false;  // a sequence of tensors (rare; only tensors can be set through the API)
};

class Model {
 public:
  Model() = default;
  const std::vector<PortInfo>& inputs() const;
  const std::vector<PortInfo>& outputs() const;
  const PortInfo& input(const std::string& name) const;
  const PortInfo& output(const std::string& name) const;
  // Sets new shapes for some inputs (by name) and re-runs shape inference over the model.
  void reshape(const std::map<std::string, PartialShape>& shapes);
  // Opsets the model imports (domain "" is ai.onnx), its source and producer.
  const std::map<std::string, int64_t>& opsets() const;
  const std::string& source() const;
  const std::string& producer() const;
  // The graph IR (for tools and tests).
  const Graph& graph() const;
  std::shared_ptr<Graph> graph_ptr() const;

 private:
  friend class Core;
  friend class CompiledModel;
  std::shared_ptr<detail::ModelImpl> impl_;
};

// Time spent in one node over the profiled inferences (InferRequest::enable_profiling()).
struct NodeProfile {
  std::string name;     // node name
  std::string op;       // op type (canonical)
  std::string kernel;   // implementation that ran ("ref" for the reference kernel)
  std::string details;  // fused post-ops etc.
  double total_ms = 0;
  int64_t runs = 0;
};

class InferRequest {
 public:
  InferRequest() = default;
  void set_tensor(const std::string& name, const Tensor& t);
  void set_input_tensor(size_t index, const Tensor& t);
  // Inputs as tensors; outputs after infer(). Throws kInvalidArgument for an unknown name or index.
  const Tensor& get_tensor(const std::string& name) const;
  const Tensor& get_input_tensor(size_t index) const;
  const Tensor& get_output_tensor(size_t index) const;
  // Runs inference synchronously. Inputs not set are an error naming them.
  void infer();
  // Per-node counters: enable, run, then read (in execution order).
  void enable_profiling();
  std::vector<NodeProfile> profile() const;

 private:
  friend class CompiledModel;
  std::shared_ptr<detail::InferRequestImpl> impl_;
};

class CompiledModel {
 public:
  CompiledModel() = default;
  const std::vector<PortInfo>& inputs() const;
  const std::vector<PortInfo>& outputs() const;
  InferRequest create_infer_request() const;
  const std::string& device() const;
  double compile_ms() const;  // wall time compile_model() took

 private:
  friend class Core;
  std::shared_ptr<detail::CompiledModelImpl> impl_;
};

class Core {
 public:
  Core();
  Model read_model(const std::string& path) const;
  // `weights_dir` is where external data may be read from ("" refuses external data).
  Model read_model_from_memory(const std::string& bytes, const std::string& weights_dir = "") const;
  CompiledModel compile_model(const Model& model, const std::string& device = "CPU",
                              const Properties& properties = {}) const;
  CompiledModel compile_model(const std::string& path, const std::string& device = "CPU",
                              const Properties& properties = {}) const;
  std::vector<std::string> available_devices() const;
};

}  // namespace celer
