// ONNX protobuf helpers for the quantizer: reading a model with every initializer inline, tensors to and from
// TensorProto, writing a file atomically, and checking where the output may go.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "celer/tensor.hpp"
#include "onnx/onnx.pb.h"

namespace celer::quant {

// Parses a model file (same limits as the importer). Initializers with external data are read (confined to the
// model's folder, as the importer does) and stored inline, so the written model does not depend on the source's
// data files; a model whose initializers add up to more than the 2 GiB protobuf limit is refused.
onnx::ModelProto load_model_inline(const std::string& path);
// The same for model bytes; external data is read from `weights_dir` ("" refuses it).
onnx::ModelProto parse_model_inline(std::string_view bytes, const std::string& weights_dir, const std::string& label);
// A whole file (up to the 2 GiB protobuf limit).
std::string read_file(const std::string& path);

// The tensor of an inline TensorProto (f32, int, ... as the importer reads them).
Tensor tensor_of(const onnx::TensorProto& t, const std::string& what);
// Fills `t` with a tensor (raw_data, little-endian); replaces what was there.
void set_tensor(onnx::TensorProto& t, const std::string& name, const Tensor& value);

// An INT / FLOAT attribute of a node, or `def` when the node does not have it.
int64_t int_attr(const onnx::NodeProto& n, const std::string& name, int64_t def);
float float_attr(const onnx::NodeProto& n, const std::string& name, float def);

// Removes the initializers at `indices` (any order, repeats allowed) and their graph-input entries (models of old
// opsets list initializers as graph inputs too).
void remove_initializers(onnx::GraphProto& g, std::vector<int> indices);

// The opset of the default domain (0 when not imported).
int64_t default_opset(const onnx::ModelProto& m);

// Serialises; kLimitExceeded over the 2 GiB protobuf limit.
std::string serialize_model(const onnx::ModelProto& m);

// Where the output goes. `output` relative to `output_dir` when one is given, and then it must stay inside it (no
// '..' leaving it, no absolute path outside, no symlinked folder pointing out). The output must not be the input
// (same file, also through links), its folder must exist, and an existing output must be a regular file. Returns the
// path to write.
std::string resolve_output_path(const std::string& output, const std::string& output_dir, const std::string& input);

// Writes `bytes` to a temporary file in the destination's folder, flushes it and renames it over `path`; on any
// failure the temporary file is removed and nothing is left at `path` that was not there before.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace celer::quant
