// The model cache (compile property cache_dir): compile_model stores the graph a device's passes produced in
// "<cache_dir>/<key>.celer" (io/compiled_model.hpp) and, on the next compile of the same model with the same settings,
// loads it instead of importing the model and running the passes. The key covers everything the compiled graph
// depends on, so a changed model, device, option, celer build or CPU gives another entry; an entry that fails to load
// (damaged, truncated, another format) is deleted and rebuilt, never trusted.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "io/compiled_model.hpp"
#include "io/hash.hpp"
#include "ir/graph.hpp"
#include "runtime/device.hpp"

namespace celer {

// The key: `model_hash` (hash_file / hash_bytes of the ONNX bytes, or hash_graph of a model built in memory), the
// device, the options that change the compiled graph (inference_precision, enable_fusion), celer's version, format and
// op schema, the CPU's instruction sets (our kernels' ISA and oneDNN's: layouts depend on them) and the environment
// variables that steer the CPU passes (CELER_CPU_LAYOUT, CELER_CPU_ISA, DNNL_MAX_CPU_ISA).
uint64_t cache_key(uint64_t model_hash, const std::string& device, const CompileOptions& options);
// hash_file(path), remembered in `dir` ("<id>.src") under the file's identity (device, inode, size, modification and
// change times): a warm start does not read a large model file again. Throws kIo when the file cannot be read.
uint64_t model_file_hash(const std::string& dir, const std::string& path);

// "<dir>/<16 hex digits>.celer"
std::string cache_entry_path(const std::string& dir, uint64_t key);

// The cached graph (and packed weights) for the key, or nothing on a miss. A damaged or stale entry is deleted and
// reported as a miss; `note` (when given) receives why an entry was rejected. Never throws.
std::optional<LoadedGraph> cache_lookup(const std::string& dir, uint64_t key, std::string* note = nullptr);
// Deletes the entry (e.g. when its packed weights no longer match what the kernels want).
void cache_remove(const std::string& dir, uint64_t key);

// Stores the graph under the key (creating `dir` when missing), with `meta` plus the key's own description. Never
// throws: false (the reason in *error) when the entry cannot be written, e.g. a read-only folder or a full disk;
// compiling then goes on without the cache.
bool cache_store(const std::string& dir, uint64_t key, const Graph& graph,
                 const std::map<std::string, std::string>& meta, std::string* error = nullptr,
                 const CompiledExtras* extras = nullptr);

}  // namespace celer
