// Graph passes: small rewrite rules run to a fixed point by a pass manager, followed by the IR verifier and shape
// inference. A rule is a function anchored at one node: it matches a pattern around it (typed ops, predicates on
// attributes and constants, single-consumer checks), and when its cheap condition holds, rewrites through a Rewriter
// and returns true. Fused results are ordinary ops with attributes (post-ops on Conv/MatMul/Gemm, Attention, Eltwise,
// LayerNormalization) whose reference kernels compute what the replaced nodes did.
//
//   bool fuse_conv_relu(Rewriter& rw, Node& n) {
//     Conv* conv = op_as<Conv>(n);
//     Node* relu = rw.sole_reader(n.outputs[0]);
//     if (!conv || !is_unary(relu, UnaryFn::kRelu)) return false;
//     conv->post_ops.push_back(PostOp::unary(UnaryFn::kRelu));
//     rw.take_output(&n, relu);
//     return true;
//   }
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/graph.hpp"
#include "ops/binary.hpp"
#include "ops/op.hpp"
#include "ops/post_ops.hpp"
#include "ops/unary.hpp"

namespace celer::passes {

struct Use {
  Node* node;
  size_t index;  // input index (>= num_explicit_inputs: a value captured by a subgraph)
};

// What rules see and change. Nodes are erased lazily (skipped by matchers, dropped when the sweep ends); new nodes are
// appended and the graph is sorted again after each sweep.
class Rewriter {
 public:
  explicit Rewriter(Graph& g);
  Graph& graph() { return g_; }

  // Producer of `v` unless it was erased.
  Node* producer(const Value* v) const;
  // Readers of `v` (erased nodes excluded).
  const std::vector<Use>& uses(const Value* v) const;
  bool is_graph_output(const Value* v) const { return outputs_.count(v) != 0; }
  // The only node reading `v` (through one explicit input), when `v` is not a graph output; else nullptr.
  Node* sole_reader(const Value* v) const;
  // Whether nothing reads `v` and it is not a graph output.
  bool unused(const Value* v) const { return v == nullptr || (uses(v).empty() && !is_graph_output(v)); }

  // Every reader of `from` (and the graph outputs) now reads `to`. Refused (returns false, nothing changed) when a
  // subgraph captures `from` by name, or when `from` is a graph output and `to` is a graph input, output or constant.
  bool replace_uses(Value* from, Value* to);
  // `head` now produces `tail`'s output 0 (which keeps its name, so graph outputs stay); `tail` is erased and head's
  // old output 0 is left without producer. The caller checked that `tail` only read head's output besides operands it
  // moved onto `head`, and that tail's other outputs are unused.
  void take_output(Node* head, Node* tail);
  void erase(Node* n);
  bool erased(const Node* n) const { return erased_.count(n) != 0; }
  Node* add_node(const std::string& name, std::unique_ptr<Op> op, std::vector<Value*> inputs,
                 std::vector<Value*> outputs);
  Value* add_constant(const std::string& hint, Tensor t);
  Value* add_value(const std::string& hint, ValueType type);
  // Appends `v` as a new explicit input of `n` at index >= `first` (omitted inputs fill the gap); returns its index.
  size_t add_operand(Node* n, Value* v, size_t first);

  // Pass-manager hooks: re-index readers after a rewrite; drop erased nodes at the end of a sweep.
  void reindex();
  void commit();

 private:
  std::string unique_name(const std::string& hint);
  Graph& g_;
  std::unordered_map<const Value*, std::vector<Use>> uses_;
  // Per node (by position in g_.nodes, which only grows between commits): the inputs uses_ records for it, empty
  // once erased. reindex() compares them with the nodes' inputs and updates uses_ for the nodes that changed only: a
  // full rebuild after every rewrite made passes quadratic (a third of DenseNet-121's compile).
  std::vector<std::vector<Value*>> indexed_;
  std::unordered_set<const Value*> outputs_;
  std::unordered_set<const Node*> erased_;
  int counter_ = 0;
};

struct Rule {
  const char* name;
  bool (*apply)(Rewriter& rw, Node& node);
};

struct PassStats {
  size_t nodes_before = 0;
  size_t nodes_after = 0;
  int sweeps = 0;
  std::map<std::string, int> applied;  // rule name -> rewrites
};

// Runs the rules over every node until none applies (at most `max_sweeps` sweeps), removes dead nodes, verifies the
// graph and re-runs shape inference (which also folds what became constant).
PassStats run_rules(Graph& g, const std::vector<Rule>& rules, int max_sweeps = 50);

// Checks the IR's invariants; throws kInternal naming the broken one: every input defined before use (graph input,
// capture, constant or output of an earlier node), each value produced once with a matching producer pointer, graph
// outputs defined, and tensor values typed.
void verify_graph(const Graph& g);

// The rule sets. Cleanup: Identity/Dropout removal, common subexpressions, layout pairs, shape-subgraph folding.
// Fusion: BatchNormalization folding, decomposed patterns (GELU, SiLU, HardSwish, LayerNorm, attention), post-ops,
// elementwise chains.
const std::vector<Rule>& cleanup_rules();
const std::vector<Rule>& fusion_rules();
// The CPU device's pipeline: cleanup, then fusion when `fusion` is on.
PassStats run_cpu_pipeline(Graph& g, bool fusion);

// ---- Matching helpers

template <typename T>
T* op_as(const Node* n) {
  return n && n->op && n->op->kind() == T::kKind ? static_cast<T*>(n->op.get()) : nullptr;
}
template <typename T>
T* op_as(const Node& n) {
  return op_as<T>(&n);
}
// The Unary/Binary op of `n` when it computes `fn`.
Unary* unary_of(const Node* n, UnaryFn fn);
Binary* binary_of(const Node* n, BinaryFn fn);
// A constant with exactly one element, as float (any rank; check the output shape when a rank-growing broadcast
// matters).
std::optional<float> scalar_constant(const Value* v);
// The post-op an activation node (Unary, Clip with constant bounds) computes, if post-ops can express it.
std::optional<PostOp> activation_of(const Node* a);
bool is_f32(const Value* v);
// Both ranks known and every dim certainly equal.
bool same_shape(const PartialShape& a, const PartialShape& b);
// `operand` broadcasts onto `out` without growing it (ranks known).
bool broadcasts_onto(const PartialShape& operand, const PartialShape& out);
// Of the two explicit inputs of a binary node, the one that is not `v` (nullptr unless exactly one input is `v`).
Value* other_input(const Node* n, const Value* v);

// Rule lists per file (each file registers its rules here).
void add_cleanup_rules(std::vector<Rule>& rules);
void add_batch_norm_rules(std::vector<Rule>& rules);
void add_pad_rules(std::vector<Rule>& rules);
void add_activation_pattern_rules(std::vector<Rule>& rules);
void add_layer_norm_rules(std::vector<Rule>& rules);
void add_attention_rules(std::vector<Rule>& rules);
void add_post_op_rules(std::vector<Rule>& rules);
void add_eltwise_rules(std::vector<Rule>& rules);
void add_quantized_rules(std::vector<Rule>& rules);

}  // namespace celer::passes
