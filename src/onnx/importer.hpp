// ONNX import: .onnx bytes -> graph IR. Opset versions are resolved here through the op registry and never reach the
// IR. Every failure is a celer::Error naming the file, node, tensor or attribute.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ir/graph.hpp"

namespace celer {

struct ImportedModel {
  std::shared_ptr<Graph> graph;           // inferred, with load-time constants folded
  std::shared_ptr<Graph> original;        // as imported, before inference: the base for reshape()
  std::map<std::string, int64_t> opsets;   // domain ("" = ai.onnx) -> version
  int64_t ir_version = 0;
  std::string producer;
  std::string source;                      // file path or "<memory>"
  bool external_data = false;              // some initializer's data came from another file
};

// Reads a model file. External data is read from the model's folder only.
ImportedModel import_onnx_file(const std::string& path);
// Parses model bytes. `weights_dir` is the folder external data may come from ("" refuses external data); `label`
// names the model in error messages.
ImportedModel import_onnx_bytes(std::string_view bytes, const std::string& weights_dir, const std::string& label);

// Limits checked while parsing (documented in ARCHITECTURE.md).
inline constexpr int kMaxProtoNesting = 4 * kMaxSubgraphDepth + 16;  // protobuf message nesting
inline constexpr int64_t kMaxModelFileBytes = (int64_t(2) << 30) - 1;  // protobuf's own limit

}  // namespace celer
