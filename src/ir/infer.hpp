// Shape and type inference over a whole graph, with folding of what it can compute at load time.
#pragma once

#include "ir/graph.hpp"

namespace celer {

struct InferOptions {
  // Evaluate nodes whose inputs are all constant (with the reference kernels) and make their outputs constants,
  // when the outputs hold at most this many elements in total. 0 turns folding off.
  int64_t fold_max_elements = 1 << 20;
};

// Runs every node's infer() in topological order (subgraphs first), setting output value types. Errors name the node.
void infer_graph(Graph& g, const InferOptions& options = {});

// The type of a runtime tensor value.
ValueType type_of(const Tensor& t);

}  // namespace celer
