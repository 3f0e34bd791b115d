// ONNX TensorProto / type protos -> celer tensors and types.
#pragma once

#include <string>

#include "celer/tensor.hpp"
#include "ir/graph.hpp"
#include "onnx/payloads.hpp"

namespace onnx {
class TensorProto;
class TypeProto;
}  // namespace onnx

namespace celer {

// Maps an ONNX TensorProto.DataType to an ElementType; throws kUnsupported naming `what` for unknown types.
ElementType onnx_element_type(int data_type, const std::string& what);
int onnx_data_type_of(ElementType t);
// Reads a tensor. External data is resolved below `weights_dir` (refused when empty). `what` names the tensor.
Tensor read_onnx_tensor(const onnx::TensorProto& t, const std::string& weights_dir, const std::string& what);
// Same, but moves raw_data out of the proto instead of copying it (for the importer, which owns the parsed model).
Tensor take_onnx_tensor(onnx::TensorProto& t, const std::string& weights_dir, const std::string& what);
// Same, for a tensor whose raw_data was left out of parsing (onnx/payloads.hpp): read from `source` into the tensor,
// or, with `reads`, only allocated and the read queued there (read_payloads does them).
Tensor take_onnx_tensor(onnx::TensorProto& t, const PayloadSpan& payload, const PayloadSource& source,
                        const std::string& weights_dir, const std::string& what,
                        std::vector<PayloadRead>* reads = nullptr);
ValueType read_onnx_type(const onnx::TypeProto& t, const std::string& what);

}  // namespace celer
