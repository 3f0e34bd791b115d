// Rewrites a float model into the QDQ form planned by plan_qdq (src/quant/qdq_plan.hpp describes the form).
#pragma once

#include <map>
#include <string>

#include "celer/tensor.hpp"
#include "ir/graph.hpp"
#include "onnx/onnx.pb.h"
#include "quant/qdq_plan.hpp"
#include "quant/quant_params.hpp"

namespace celer::quant {

// The weight quantization of each planned op that has a weight (key: node index), with channel scales raised where
// an int32 bias would otherwise overflow. `biases` (optional) replaces op biases (key: node index), e.g. after bias
// correction.
std::map<int, WeightQuant> quantize_weights(const onnx::GraphProto& g, const QdqPlan& plan, const Graph& inferred,
                                            const std::map<std::string, ActParams>& act,
                                            const std::map<int, Tensor>* biases = nullptr);

// The per-channel bias scales x_scale * w_scale[c] of a planned op (ConvTranspose with groups repeats w_scale).
std::vector<float> bias_scales(const WeightQuant& wq, float x_scale, int64_t channels);

// The constant bias of op `q` (f32, flattened to one value per channel).
Tensor op_bias(const onnx::GraphProto& g, const QuantizedOp& q, const Graph& inferred);

// Rewrites model.graph in place: Q/DQ pairs for the planned activations (parameters `act`, by tensor name), int8
// weights and int32 biases behind DequantizeLinear. Initializers and Constant nodes nothing reads any more are
// removed. The model must import opset >= 13 (per-channel DequantizeLinear).
void write_qdq(onnx::ModelProto& model, const QdqPlan& plan, const Graph& inferred,
               const std::map<std::string, ActParams>& act, const std::map<int, WeightQuant>& weights,
               const std::map<int, Tensor>* biases = nullptr);

}  // namespace celer::quant
