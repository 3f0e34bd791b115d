// The celer C++ API: read a model, compile it for a device, run inference requests.
//
//   celer::Core core;
//   celer::Model model = core.read_model("resnet50.onnx");
//   celer::CompiledModel compiled = core.compile_model(model, "CPU");
//   celer::InferRequest request = compiled.create_infer_request();
//   request.set_input_tensor(0, celer::Tensor::wrap(celer::ElementType::kF32, {1, 3, 224, 224}, pixels));
//   request.infer();
//   const celer::Tensor& logits = request.get_output_tensor(0);
//
// Throughput: compile with celer::hint::performance_mode(celer::PerformanceMode::kThroughput) and keep several
// requests in flight (start_async / wait, or an AsyncInferQueue); the compiled model runs them on its CPU streams.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "celer/element_type.hpp"
#include "celer/error.hpp"
#include "celer/properties.hpp"
#include "celer/shape.hpp"
#include "celer/tensor.hpp"

namespace celer {

class Graph;
namespace detail {
struct ModelImpl;
struct CompiledModelImpl;
struct InferRequestImpl;
struct AsyncInferQueueImpl;
struct CoreImpl;
}  // namespace detail

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
  std::string name;       // node name
  std::string op;         // op type (canonical)
  std::string kernel;     // implementation that ran ("ref" for the reference kernel)
  std::string precision;  // element type it computed in ("f32", "bf16", "i8", ...)
  std::string details;    // fused post-ops etc.
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
  // Runs inference synchronously (on one of the compiled model's streams). Inputs not set are an error naming them.
  void infer();
  // Asynchronous inference. start_async() queues the request and returns; the request must not be started again
  // (nor its tensors changed) until it completed. wait() blocks until it completed and rethrows its error as
  // celer::Error; wait_for() returns false if it has not completed within the timeout. The callback runs once per
  // completion, on a stream thread, with the error (nullptr on success); it may start the request again.
  // cancel() removes a queued request (its wait() then throws an error with code kCancelled); a running one completes.
  void start_async();
  void wait();
  bool wait_for(std::chrono::milliseconds timeout);
  void set_callback(std::function<void(std::exception_ptr)> callback);
  void cancel();
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
  // The device name the model was compiled for ("CPU", "AUTO:CPU,REF", "MULTI:CPU,REF").
  const std::string& device() const;
  double compile_ms() const;  // wall time compile_model() took
  // Any property in supported_properties: the values in effect, including those a hint chose.
  std::string get_property(const std::string& key) const;
  template <typename T, PropertyMutability M>
  T get_property(const Property<T, M>& key) const {
    return key.parse(get_property(std::string(key.name)));
  }

 private:
  friend class Core;
  std::shared_ptr<detail::CompiledModelImpl> impl_;
};

// A pool of infer requests fed from a job queue: start_async() takes an idle request (waiting for one if all are
// busy), sets the inputs and starts it; the callback runs on completion with the request, the job's user data and
// the error (nullptr on success). Thread-safe.
class AsyncInferQueue {
 public:
  // jobs = 0: the compiled model's optimal_number_of_infer_requests.
  explicit AsyncInferQueue(const CompiledModel& model, size_t jobs = 0);
  ~AsyncInferQueue();
  AsyncInferQueue(const AsyncInferQueue&) = delete;
  AsyncInferQueue& operator=(const AsyncInferQueue&) = delete;
  using Callback = std::function<void(InferRequest& request, void* user_data, std::exception_ptr error)>;
  void set_callback(Callback callback);
  // Inputs by index, as set_input_tensor.
  void start_async(const std::vector<Tensor>& inputs, void* user_data = nullptr);
  void wait_all();
  size_t size() const;
  bool is_ready() const;  // an idle request is available
  // Blocks until an idle request is available (the next start_async then starts at once when one thread feeds the
  // queue).
  void wait_ready();
  InferRequest& operator[](size_t i);

 private:
  std::unique_ptr<detail::AsyncInferQueueImpl> impl_;
};

class Core {
 public:
  Core();
  // Defaults for every later compile on `device` ("" for all devices); compile properties override them.
  void set_property(const std::string& device, const Properties& properties);
  void set_property(const Properties& properties) { set_property("", properties); }
  // A device's property as it would apply to a compile now ("supported_properties", "num_streams", ...).
  std::string get_property(const std::string& device, const std::string& key) const;
  template <typename T, PropertyMutability M>
  T get_property(const std::string& device, const Property<T, M>& key) const {
    return key.parse(get_property(device, std::string(key.name)));
  }
  Model read_model(const std::string& path) const;
  // `weights_dir` is where external data may be read from ("" refuses external data).
  Model read_model_from_memory(const std::string& bytes, const std::string& weights_dir = "") const;
  CompiledModel compile_model(const Model& model, const std::string& device = "CPU",
                              const Properties& properties = {}) const;
  // The same, giving the model up (compile_model(std::move(model)) or a temporary): when no other handle shares it,
  // it is compiled in place and its original weights are freed as the kernels pack their own copies, so peak memory
  // holds one copy of the weights instead of two.
  CompiledModel compile_model(Model&& model, const std::string& device = "CPU",
                              const Properties& properties = {}) const;
  CompiledModel compile_model(const std::string& path, const std::string& device = "CPU",
                              const Properties& properties = {}) const;
  std::vector<std::string> available_devices() const;

 private:
  CompiledModel compile(std::shared_ptr<detail::ModelImpl> model, bool consume, const std::string& device,
                        const Properties& properties) const;
  std::shared_ptr<detail::CoreImpl> impl_;
};

}  // namespace celer
