// What an op's ONNX import function sees: one ONNX node, its attributes (typed getters that name the attribute in
// their errors), its inputs and outputs as IR values, and ways to emit canonical nodes. Independent of protobuf so
// op files compile fast.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "ops/op.hpp"

namespace celer {

class OnnxNode {
 public:
  virtual ~OnnxNode() = default;
  virtual const std::string& name() const = 0;
  virtual const std::string& op_type() const = 0;
  virtual const std::string& domain() const = 0;
  virtual int opset() const = 0;  // the opset imported for the node's domain

  virtual size_t num_inputs() const = 0;     // as written in the model (trailing omitted ones included)
  virtual Value* input(size_t i) const = 0;  // nullptr when omitted or i >= num_inputs()
  virtual size_t num_outputs() const = 0;
  virtual Value* output(size_t i) const = 0; // nullptr when omitted

  virtual bool has_attr(const std::string& attr) const = 0;
  virtual int64_t attr_int(const std::string& attr, std::optional<int64_t> def = std::nullopt) const = 0;
  virtual float attr_float(const std::string& attr, std::optional<float> def = std::nullopt) const = 0;
  virtual std::string attr_string(const std::string& attr, std::optional<std::string> def = std::nullopt) const = 0;
  virtual std::vector<int64_t> attr_ints(const std::string& attr,
                                         std::optional<std::vector<int64_t>> def = std::nullopt) const = 0;
  virtual std::vector<float> attr_floats(const std::string& attr,
                                         std::optional<std::vector<float>> def = std::nullopt) const = 0;
  virtual std::vector<std::string> attr_strings(const std::string& attr,
                                                std::optional<std::vector<std::string>> def = std::nullopt) const = 0;
  virtual Tensor attr_tensor(const std::string& attr) const = 0;
  // Imports a graph attribute as a subgraph of the graph being built; values it reads from enclosing graphs become
  // its captures (and implicit inputs of the node that emit() creates).
  virtual std::shared_ptr<Graph> attr_graph(const std::string& attr) = 0;

  // Emits a node of the canonical op with the ONNX node's inputs and outputs.
  virtual Node* emit(std::unique_ptr<Op> op) = 0;
  // Emits a node with explicit inputs and outputs (for imports that expand into several canonical nodes).
  virtual Node* emit(std::unique_ptr<Op> op, std::vector<Value*> inputs, std::vector<Value*> outputs) = 0;
  // A new constant value, or a new intermediate value, named after the node.
  virtual Value* constant(Tensor t) = 0;
  virtual Value* temp(const std::string& suffix) = 0;

  // Throws kInvalidModel: "node 'name' (OpType): <message>".
  template <typename... Args>
  [[noreturn]] void fail(Args&&... args) const {
    CELER_THROW(kInvalidModel, "node '", name(), "' (", op_type(), "): ", std::forward<Args>(args)...);
  }
  // Throws kUnsupported naming the node.
  template <typename... Args>
  [[noreturn]] void unsupported(Args&&... args) const {
    CELER_THROW(kUnsupported, "node '", name(), "' (", op_type(), "): ", std::forward<Args>(args)...);
  }
};

}  // namespace celer
