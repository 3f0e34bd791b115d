// The graph IR: values, nodes of canonical ops, graphs (with subgraphs owned by ops such as If, Loop and Scan).
//
// A Graph owns its Values and Nodes. Nodes point at their input and output Values; an omitted optional input or
// output is a nullptr. A subgraph may read values of enclosing graphs: those appear in the subgraph as `captures`
// (placeholder values with the same name) and on the owning node as implicit inputs after its explicit ones, so that
// topological order and liveness see them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "celer/shape.hpp"
#include "celer/tensor.hpp"

namespace celer {

class Op;
class Node;
class Graph;

enum class ValueKind : uint8_t { kTensor, kSequence };

// The static type of a value: a tensor, or a sequence of tensors; either may be optional.
struct ValueType {
  ValueKind kind = ValueKind::kTensor;
  bool optional = false;
  ElementType elem = ElementType::kUndefined;  // element type of the tensor, or of the sequence's tensors
  PartialShape shape;                           // of the tensor, or of every tensor in the sequence (may be unknown)

  static ValueType tensor(ElementType e, PartialShape s) { return {ValueKind::kTensor, false, e, std::move(s)}; }
  static ValueType sequence(ElementType e, PartialShape s = {}) { return {ValueKind::kSequence, false, e, std::move(s)}; }
  bool is_tensor() const { return kind == ValueKind::kTensor && !optional; }
  std::string to_string() const;
};

class Value {
 public:
  std::string name;
  ValueType type;
  Node* producer = nullptr;                 // nullptr for graph inputs, captures and constants
  std::shared_ptr<const Tensor> constant;   // set for initializers and folded constants

  bool is_constant() const { return constant != nullptr; }
};

class Node {
 public:
  std::string name;
  std::unique_ptr<Op> op;
  std::vector<Value*> inputs;   // explicit inputs, then implicit inputs (values captured by subgraphs)
  size_t num_explicit_inputs = 0;
  std::vector<Value*> outputs;

  const char* type_name() const;
  // "node 'name' (OpType)" for error messages.
  std::string describe() const;
};

class Graph {
 public:
  std::string name;
  Graph* parent = nullptr;                // enclosing graph of a subgraph
  std::vector<Value*> inputs;             // in order (excluding initializers)
  std::vector<Value*> outputs;
  std::vector<Value*> captures;           // subgraphs only: placeholders for values of enclosing graphs
  std::vector<std::unique_ptr<Node>> nodes;   // topological order once sort() ran

  Value* add_value(std::string name, ValueType type = {});
  Value* add_constant(std::string name, Tensor t);
  Node* add_node(std::string name, std::unique_ptr<Op> op, std::vector<Value*> inputs, std::vector<Value*> outputs);
  // Looks a value up by name in this graph only.
  Value* find_value(const std::string& name) const;
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }

  // Orders nodes topologically; throws kInvalidModel naming the nodes of a cycle.
  void sort();
  // Removes nodes whose outputs nobody reads (recursively) and values nothing refers to.
  void remove_dead();
  // Deep copy. `outer` maps values of enclosing graphs to their copies (for captures of subgraphs).
  std::unique_ptr<Graph> clone(const std::unordered_map<const Value*, Value*>* outer = nullptr,
                               Graph* new_parent = nullptr) const;
  // Subgraph nesting depth below this graph (0 when no node has a subgraph).
  int subgraph_depth() const;
  // Number of nodes including those of subgraphs.
  size_t total_nodes() const;

 private:
  std::vector<std::unique_ptr<Value>> values_;
  std::unordered_map<std::string, Value*> by_name_;
};

// Limits on what a model may contain (checked on import, reported when hit).
inline constexpr int kMaxSubgraphDepth = 64;
inline constexpr size_t kMaxNodes = 1'000'000;

}  // namespace celer
