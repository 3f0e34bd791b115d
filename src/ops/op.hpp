// The op interface. Every canonical op is one class derived from Op, in one file under src/ops/, holding:
//   - its typed attributes as named fields,
//   - infer(): shape and type inference, on static and symbolic dims, run at load time and again at run time,
//   - run(): the reference kernel (straightforward and obviously correct: the oracle in tests),
//   - a register function that maps ONNX op types and opset ranges onto it (see ops/registry.hpp),
// plus one line in ops/ops.def.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "celer/error.hpp"
#include "celer/tensor.hpp"
#include "ir/graph.hpp"
#include "ops/attrs.hpp"
#include "runtime/value.hpp"

namespace celer {

enum class OpKind : uint16_t {
#define CELER_OP(name) k##name,
#include "ops/ops.def"
#undef CELER_OP
  kCount
};

struct CloneContext {
  const std::unordered_map<const Value*, Value*>* values;  // originals to copies, for the graph being cloned
  Graph* graph;                                           // the copy that will own the node
};

class InferContext;
class KernelContext;

class Op {
 public:
  virtual ~Op() = default;
  virtual OpKind kind() const = 0;
  virtual const char* type_name() const = 0;
  virtual std::unique_ptr<Op> clone(const CloneContext& ctx) const = 0;
  // Visits every attribute field (ops/attrs.hpp) for saving, loading, hashing and printing; an op without attributes
  // has an empty body. Fields derived from the attributes (parsed forms, lookup tables) are not visited: the op
  // rebuilds them when v.loading().
  virtual void visit_attrs(AttrVisitor& v) = 0;
  // Sets the type of every present output from the inputs' types (and values, when known). Throws celer::Error for
  // inputs that break the op's rules; the caller adds the node's name to the message.
  virtual void infer(InferContext& ctx) const = 0;
  // The reference kernel.
  virtual void run(KernelContext& ctx) const = 0;
  // Subgraphs owned by this op (If, Loop, Scan, ...).
  virtual std::vector<Graph*> subgraphs() const { return {}; }
  // False for ops whose outputs are random: they are never constant-folded.
  virtual bool deterministic() const { return true; }
  // Multiply-adds x2 for one execution, given the node with inferred types (0 when negligible or unknown).
  virtual double flops(const Node& /*node*/) const { return 0; }
};

// A default-constructed op of the kind (attributes at their defaults), to be filled by visit_attrs when reading.
std::unique_ptr<Op> make_op(OpKind kind);
// The kind named by op_kind_name() (ops/registry.hpp); nullopt for an unknown name.
std::optional<OpKind> op_kind_from_name(std::string_view name);
// Declares make_op_<Name>() for every op of the list (defined in the op's file, next to register_op_<Name>).
#define CELER_OP(name) std::unique_ptr<Op> make_op_##name();
#include "ops/ops.def"
#undef CELER_OP

// CRTP base: kind(), type_name() and clone() for ops whose attributes are plain copyable fields.
template <typename Derived, OpKind K>
class OpBase : public Op {
 public:
  static constexpr OpKind kKind = K;
  OpKind kind() const override { return K; }
  std::unique_ptr<Op> clone(const CloneContext&) const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// Shape and type inference context. At load time some inputs have known values (constants); at run time all do.
class InferContext {
 public:
  InferContext(const Node& node, std::vector<const ValueType*> in_types, std::vector<const Tensor*> in_values)
      : node_(node), in_types_(std::move(in_types)), in_values_(std::move(in_values)) {
    out_types_.resize(node.outputs.size());
    out_values_.resize(node.outputs.size());
  }
  const Node& node() const { return node_; }
  size_t num_inputs() const { return node_.num_explicit_inputs; }
  bool has_input(size_t i) const { return i < num_inputs() && in_types_[i] != nullptr; }
  const ValueType& input_type(size_t i) const;
  ElementType input_elem(size_t i) const { return input_type(i).elem; }
  const PartialShape& input_shape(size_t i) const { return input_type(i).shape; }
  // The input's value when known now (a constant, or any input at run time); nullptr otherwise.
  const Tensor* input_value(size_t i) const { return i < in_values_.size() ? in_values_[i] : nullptr; }

  size_t num_outputs() const { return node_.outputs.size(); }
  bool has_output(size_t i) const { return i < num_outputs() && node_.outputs[i] != nullptr; }
  void set_output(size_t i, ValueType t);
  void set_output(size_t i, ElementType e, PartialShape s) { set_output(i, ValueType::tensor(e, std::move(s))); }
  // Records output i's value when inference can compute it (e.g. Shape of a static shape, or constant folding).
  void set_output_value(size_t i, Tensor value);
  const std::vector<ValueType>& output_types() const { return out_types_; }
  std::vector<Tensor>& output_values() { return out_values_; }

 private:
  const Node& node_;
  std::vector<const ValueType*> in_types_;
  std::vector<const Tensor*> in_values_;
  std::vector<ValueType> out_types_;
  std::vector<Tensor> out_values_;
};

// Runs a subgraph (for If, Loop, Scan, ...): explicit inputs in, outputs out; captures are bound by the executor.
using SubgraphRunner = std::function<std::vector<RtValue>(const Graph&, std::vector<RtValue>)>;

// What a kernel sees at run time.
class KernelContext {
 public:
  // `inputs` must outlive the context; `runner` may be null when the node has no subgraphs.
  KernelContext(const Node& node, const std::vector<const RtValue*>& inputs, std::vector<RtValue>* outputs,
                const std::vector<ValueType>* inferred, const SubgraphRunner* runner)
      : node_(node), inputs_(inputs), outputs_(outputs), inferred_(inferred), runner_(runner) {}
  const Node& node() const { return node_; }
  size_t num_inputs() const { return node_.num_explicit_inputs; }
  bool has_input(size_t i) const { return i < num_inputs() && inputs_[i] != nullptr && !inputs_[i]->is_none(); }
  const Tensor& input(size_t i) const;                 // throws unless a tensor is present
  const RtValue& input_value(size_t i) const;          // tensor, sequence or none
  size_t num_outputs() const { return node_.outputs.size(); }
  bool has_output(size_t i) const { return i < num_outputs() && node_.outputs[i] != nullptr; }
  // Allocates output i with the shape and type inference found (must be static at run time).
  Tensor& output(size_t i);
  // Allocates output i with an explicit type and shape (data-dependent shapes).
  Tensor& output(size_t i, ElementType type, Dims dims);
  // Output i as the kernel has set it so far (to post-process it after the main computation).
  Tensor& output_tensor(size_t i);
  // Sets output i to an existing tensor or value (e.g. a view sharing an input's memory).
  void set_output(size_t i, RtValue v);
  const ValueType* inferred_type(size_t i) const {
    return inferred_ && i < inferred_->size() ? &(*inferred_)[i] : nullptr;
  }
  std::vector<RtValue> run_subgraph(const Graph& g, std::vector<RtValue> inputs) const {
    CELER_CHECK(runner_ && *runner_, kInternal, "no subgraph runner here");
    return (*runner_)(g, std::move(inputs));
  }
  // Memory the executor planned for each output (nullptr where none) and its size: output() places a tensor of
  // exactly that size there instead of allocating.
  void set_planned(void* const* ptrs, const int64_t* bytes) {
    planned_ = ptrs;
    planned_bytes_ = bytes;
  }

 private:
  const Node& node_;
  const std::vector<const RtValue*>& inputs_;
  std::vector<RtValue>* outputs_;
  const std::vector<ValueType>* inferred_;
  const SubgraphRunner* runner_;
  void* const* planned_ = nullptr;
  const int64_t* planned_bytes_ = nullptr;
};

}  // namespace celer
