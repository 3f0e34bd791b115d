// Which nodes of a float model get quantized, and which activations get a QuantizeLinear -> DequantizeLinear pair.
//
// The QDQ form (the contract shared with the CPU device's INT8 rules; the same form ONNX Runtime's quantizer emits):
// - Conv, ConvTranspose, Gemm and MatMul with an f32 constant weight ("compute ops") are quantized: the weight becomes
//   an int8 initializer behind a per-channel DequantizeLinear (symmetric, [-127, 127]; axis 0 for Conv [O,I,..],
//   axis 1 for ConvTranspose [I,O/g,..], the last axis for MatMul [..,K,N], Gemm: 0 with transB=1 else 1); a constant
//   bias of Conv/ConvTranspose (and of Gemm with alpha = beta = 1) becomes int32 with scale x_scale * w_scale[c].
//   MatMul of two activations is quantized too (both inputs as activations).
// - Every non-constant f32 input of a quantized op gets one Q/DQ pair per tensor, shared by all quantized readers.
// - A residual Add (two activation inputs) whose output reaches quantized ops (directly or through Relu and the
//   pass-through ops below) gets Q/DQ on both inputs.
// - Value-preserving ops (MaxPool, Reshape, Flatten, Transpose, Concat) whose output gets Q/DQ get Q/DQ on their data
//   inputs too, with the same parameters; Relu, GlobalAveragePool and AveragePool share parameters when both their
//   input and output are quantized. Shared parameters come from the union of the members' ranges.
// - Model outputs stay float; nodes in the ignored scope stay float and get no Q/DQ on their inputs.
// Only the main graph is quantized (subgraphs of If/Loop/Scan stay float).
#pragma once

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "onnx/onnx.pb.h"

namespace celer::quant {

// --ignored-scope entries: "name:NODE", "type:OP", "pattern:REGEX" (an ECMAScript regex matching the whole node
// name). Entries are split at commas, so names and patterns cannot contain one.
class IgnoredScope {
 public:
  // Each entry may hold several comma-separated items; throws kInvalidArgument for a malformed one.
  void add(const std::string& entries);
  bool matches(const onnx::NodeProto& node) const;
  bool empty() const { return names_.empty() && types_.empty() && patterns_.empty(); }
  // Why `node` is ignored ("name:conv1", ...), or "".
  std::string reason(const onnx::NodeProto& node) const;
  // Entries that matched no node of `graph` (probably typos).
  std::vector<std::string> unmatched(const onnx::GraphProto& graph) const;

 private:
  std::set<std::string> names_, types_;
  std::vector<std::pair<std::string, std::regex>> patterns_;
};

struct QuantizedOp {
  int node = -1;                // index into graph.node
  std::vector<int> act_inputs;  // input slots holding activations
  int weight_input = -1;        // slot of the constant weight (-1: none)
  int64_t weight_axis = 0;      // per-channel axis of the weight
  int bias_input = -1;          // slot of a constant f32 bias stored as int32 (-1: none)
  // MatMul only: an Add right after it with a constant of one value per output channel (its bias, which stays f32
  // and is only moved by bias correction): the Add's node index and the slot of the constant, or -1.
  int bias_add_node = -1;
  int bias_add_slot = -1;
  bool has_bias() const { return bias_input >= 0 || bias_add_node >= 0; }
  int64_t out_channel_axis = 1;  // channel axis of the output (bias correction): 1 for Conv, last for Gemm/MatMul
};

struct KeptOp {
  std::string name, op_type, reason;  // name: display_name()
};

struct QdqPlan {
  std::vector<QuantizedOp> ops;                 // compute ops, in graph order
  std::vector<KeptOp> kept;                     // compute ops left in FP32, with the reason
  std::vector<std::string> tensors;             // activations with a Q/DQ pair, in first-use order
  std::map<std::string, std::string> group_of;  // tensor -> representative of its shared-parameter group
  std::set<std::pair<int, int>> reroute;        // (node, input slot) reading the DQ output instead of the tensor
  int residual_adds = 0;
};

// "'name'", or "(unnamed, output 'y')" for a node without a name.
std::string display_name(const onnx::NodeProto& node);

// Plans the quantization of `model`'s main graph; `inferred` is celer's graph of the same model (element types,
// constants). Throws kInvalidArgument when nothing can be quantized (naming why for each candidate).
QdqPlan plan_qdq(const onnx::ModelProto& model, const Graph& inferred, const IgnoredScope& scope);

}  // namespace celer::quant
