// celer's own compiled-model file: a graph as a device's passes left it (fusions, layouts, folded constants), with the
// values' inferred types, so that loading it needs no ONNX import, no passes and no inference.
//
// One file: a 128-byte header (magic, format version, celer version, op-schema fingerprint, part offsets and
// checksums), a metadata part (a user key/value map, a table of every constant's type, shape and place in the data
// part, then the graph: values, nodes with their op kind and attributes through Op::visit_attrs, subgraphs
// recursively, captures, inputs and outputs), and a data part holding each constant's bytes 64-byte aligned (string
// tensors length-prefixed). Loading maps the file once; tensors are views into the mapping, which lives as long as
// any of them. The loader checks everything (checksums, bounds, counts, kinds, value indices, topological order) and
// reports any damage as celer::Error kParse naming the file: it never reads out of bounds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "ir/graph.hpp"
#include "runtime/packed_weights.hpp"

namespace celer {

inline constexpr uint32_t kCompiledModelFormat = 2;
inline constexpr const char* kCelerVersion = "0.1.0";

struct LoadedGraph {
  std::shared_ptr<Graph> graph;
  std::map<std::string, std::string> meta;
  std::vector<PackedWeights::Entry> packed;  // kernels' packed weights (views into the file)
};

// What a compile adds to its graph: weights its kernels packed, stored in place of constants they released.
struct CompiledExtras {
  std::unordered_set<const Value*> packed_values;  // top-level constants whose data only the packed entries hold
  std::vector<PackedWeights::Entry> packed;
};

struct CompiledModelLoadOptions {
  // Off only in tests that feed damaged files to the parser itself.
  bool verify_checksums = true;
};

// Writes the graph to `path` atomically: a temporary file in the same folder, fsync, rename (a concurrent reader sees
// the old file or the new one, never a partial one). Throws kIo naming the file.
void save_compiled_graph(const Graph& graph, const std::map<std::string, std::string>& meta, const std::string& path,
                         const CompiledExtras* extras = nullptr);
LoadedGraph load_compiled_graph(const std::string& path, const CompiledModelLoadOptions& options = {});

// The hash of what save_compiled_graph would write for the graph (structure, attributes and constant bytes), without
// writing it: identifies a model built in memory.
uint64_t hash_graph(const Graph& graph);

// A fingerprint of every op's attribute names and types (from visit_attrs on default ops): files written by a build
// whose ops differ are refused (and cache entries rebuilt).
uint64_t op_schema_fingerprint();

}  // namespace celer
