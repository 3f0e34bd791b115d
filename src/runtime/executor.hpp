// The executor runs a graph on a device: nodes in topological order, each through the device's kernel or the op's
// reference kernel.
//
// At compile time it creates one Kernel per node, records the output types inference found, and, for tensors whose
// size is known then, plans their memory in one arena (runtime/memory_plan.hpp). At run time a node whose output types
// were static at compile time runs directly; others re-run inference on the actual inputs first, so dynamic shapes
// work everywhere. The Executor is immutable after construction: run() may be called from several threads at once,
// each with its own State.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "ir/graph.hpp"
#include "runtime/device.hpp"
#include "runtime/value.hpp"

namespace celer {

class Executor {
 public:
  // Per-request mutable state: value slots, scratch vectors and the arena. Reused across runs; not shared between
  // threads.
  struct State {
    std::vector<RtValue> slots;
    std::vector<const RtValue*> in_ptrs;
    std::vector<RtValue> outs;
    std::vector<void*> planned;
    std::vector<ValueType> in_types;
    std::shared_ptr<void> arena_owner;
    char* arena = nullptr;
    int64_t arena_bytes = 0;
    // Per-node profile (enabled with enable_profiling()): total ns and runs per step, in execution order.
    bool profiling = false;
    std::vector<int64_t> step_ns;
    std::vector<int64_t> step_runs;

    bool in_arena(const void* p) const {
      return arena && p >= arena && static_cast<const char*>(p) < arena + arena_bytes;
    }
  };

  // With `release_graph_constants`, the caller owns the graph alone: constants the kernels packed are dropped from it
  // (Value::constant reset) as soon as their last reader is built, so that the original weights and their packed
  // copies never all live at once.
  Executor(std::shared_ptr<const Graph> graph, const Device& device, const CompileOptions& options,
           bool release_graph_constants = false);
  // Subgraph executor; the graph is kept alive by the owner of the parent.
  Executor(const Graph& graph, const Device& device, const CompileOptions& options);
  ~Executor();

  std::unique_ptr<State> make_state() const;
  // inputs: one per graph input; captures: one per graph capture (subgraphs only).
  std::vector<RtValue> run(State& state, std::vector<RtValue> inputs, const std::vector<RtValue>& captures = {}) const;
  std::vector<RtValue> run(std::vector<RtValue> inputs, const std::vector<RtValue>& captures = {}) const;

  const Graph& graph() const { return graph_; }
  // Bytes of the planned arena (one per State), and what the intermediates would take without planning.
  int64_t arena_bytes() const { return arena_bytes_; }
  int64_t unplanned_bytes() const { return unplanned_bytes_; }
  // Outputs the plan placed in the memory of an input they overwrite (Kernel::output_overwrites_input).
  int in_place_outputs() const { return in_place_outputs_; }
  // Constants no kernel reads any more (packed into kernels at creation), already dropped from the executor.
  const std::vector<const Value*>& released_constants() const { return released_; }
  // Starts collecting per-node times in `state` (adds a clock read around every node).
  void enable_profiling(State& state) const;
  // The kernel chosen for each node ("ref" when the reference kernel runs), in execution order.
  std::vector<std::pair<const Node*, const char*>> kernels() const;

 private:
  struct Step;
  void build(const Device& device, const CompileOptions& options);
  void plan(const CompileOptions& options);
  std::vector<RtValue> run_subgraph(const Graph& sub, const Node& owner, std::vector<RtValue> inputs,
                                    const std::vector<RtValue>& slots) const;

  std::shared_ptr<const Graph> keep_;
  const Graph& graph_;
  bool release_graph_constants_ = false;
  int num_threads_ = 0;
  std::unordered_map<const Value*, int> slot_of_;
  std::vector<RtValue> constants_;  // slot -> constant value (or none)
  std::vector<Step> steps_;
  std::vector<int> input_slots_, output_slots_, capture_slots_;
  int num_slots_ = 0;
  int64_t arena_bytes_ = 0, unplanned_bytes_ = 0;
  int in_place_outputs_ = 0;
  std::unordered_map<const Graph*, std::unique_ptr<Executor>> subgraphs_;
  std::vector<const Value*> released_;
};

}  // namespace celer
