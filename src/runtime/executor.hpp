// The executor runs a graph on a device: nodes in topological order, each through the device's kernel or the op's
// reference kernel, with shapes re-inferred from the actual inputs so that dynamic shapes work everywhere.
// Immutable after construction: run() may be called from several threads at once.
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
  Executor(std::shared_ptr<const Graph> graph, const Device& device, const CompileOptions& options);
  // Subgraph executor; the graph is kept alive by the owner of the parent.
  Executor(const Graph& graph, const Device& device, const CompileOptions& options);
  ~Executor();

  // inputs: one per graph input; captures: one per graph capture (subgraphs only).
  std::vector<RtValue> run(std::vector<RtValue> inputs, const std::vector<RtValue>& captures = {}) const;
  const Graph& graph() const { return graph_; }

 private:
  struct Step;
  void build(const Device& device, const CompileOptions& options);
  std::vector<RtValue> run_subgraph(const Graph& sub, const Node& owner, std::vector<RtValue> inputs,
                                    const std::vector<RtValue>& slots) const;

  std::shared_ptr<const Graph> keep_;
  const Graph& graph_;
  std::unordered_map<const Value*, int> slot_of_;
  std::vector<RtValue> constants_;  // slot -> constant value (or none)
  std::vector<Step> steps_;
  std::vector<int> input_slots_, output_slots_, capture_slots_;
  int num_slots_ = 0;
  std::unordered_map<const Graph*, std::unique_ptr<Executor>> subgraphs_;
};

}  // namespace celer
