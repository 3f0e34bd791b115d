// The objects behind the public API's handles (include/celer/celer.hpp), shared by the files that implement it:
// api.cpp (Model, CompiledModel, Core) and infer_request.cpp (InferRequest, AsyncInferQueue).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

#include "celer/celer.hpp"
#include "io/compiled_model.hpp"
#include "onnx/importer.hpp"
#include "runtime/executor.hpp"
#include "runtime/hints.hpp"
#include "runtime/streams.hpp"

namespace celer {

namespace detail {

struct ModelImpl {
  ImportedModel imported;
  std::vector<PortInfo> inputs, outputs;
  // The ONNX file the graph is exactly the import of ("" when read from memory or reshaped): the model cache keys
  // such a model by the file's content hash, others by a hash of the graph.
  std::string source_file;
  // compile_model(path) on a cache hit: the cached compiled graph (imported.graph is its graph), and its model hash.
  std::optional<LoadedGraph> cached;
  uint64_t cached_hash = 0;

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

// One device's compiled graph: its executor and the streams the hint chose for it. A compiled model has one target,
// or one per device for MULTI.
struct Target {
  const Device* device = nullptr;
  std::shared_ptr<Graph> graph;
  std::unique_ptr<Executor> executor;
  CompileOptions options;  // as resolved: num_threads = the threads of one stream
  StreamPlan plan;
  bool from_cache = false;  // loaded from the model cache (no import, passes or packing)
};

struct CompiledModelImpl {
  std::string device;  // the name given to compile_model ("CPU", "AUTO", "MULTI:CPU,REF")
  std::vector<Target> targets;
  std::vector<PortInfo> inputs, outputs;
  double compile_ms = 0;
  Properties properties;  // every supported property's value in effect (get_property)
  // Last: its threads run the targets' executors, so it stops before they are destroyed.
  std::unique_ptr<StreamPool> streams;
};

// A request runs on the compiled model's streams: start() queues a job, a stream runs it on its target (execute()),
// completion wakes waiters and runs the callback. Status and results are guarded by `mu`.
struct InferRequestImpl : std::enable_shared_from_this<InferRequestImpl> {
  enum class Status { kIdle, kQueued, kRunning };

  std::shared_ptr<CompiledModelImpl> model;
  std::vector<std::unique_ptr<Executor::State>> states;  // per target, created on first use
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  bool profiling = false;
  int last_target = 0;

  mutable std::mutex mu;
  std::condition_variable done;
  Status status = Status::kIdle;
  int callbacks_running = 0;  // completion callbacks in progress (wait() returns after them)
  uint64_t job_id = 0;
  std::exception_ptr error;  // of the last completion
  std::function<void(std::exception_ptr)> callback;

  // Queues the request (kInvalidArgument when busy); `notify`: run the callback on completion.
  void start(bool notify);
  // Runs the request on `target` (on a stream thread) and completes it.
  void execute(int target, bool notify);
  // Inference itself; returns the error, if any, as a celer::Error.
  std::exception_ptr run_on(int target);
  void wait();
  const char* status_name() const;
  void check_idle(const char* what) const;  // caller holds no lock

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
