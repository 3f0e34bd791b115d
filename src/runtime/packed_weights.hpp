// Packed weights kept with a cached compiled model.
//
// Kernels copy constant weights into the layout their implementation reads fastest (oneDNN's blocked layouts) when
// they are created; for a large model that costs more than the rest of a compile. With the model cache, the kernels
// of a cold compile record what they packed here (node name, a byte string identifying the layout, the bytes); the
// cache entry stores the records in place of the original weights, and on a warm start the kernels find their packed
// bytes here (views into the mapped cache file) instead of packing again.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "celer/tensor.hpp"

namespace celer {

class PackedWeights {
 public:
  enum class Mode { kRecord, kReplay };
  explicit PackedWeights(Mode mode) : mode_(mode) {}
  Mode mode() const { return mode_; }

  struct Entry {
    std::string node;    // node name
    std::string layout;  // identifies the packed layout (e.g. a oneDNN memory descriptor's bytes)
    Tensor bytes;        // u8 [size]
  };

  // Record mode: a kernel packed `bytes` (a view the kernel keeps alive at least until the entry is saved).
  void record(std::string node, std::string layout, Tensor bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.push_back({std::move(node), std::move(layout), std::move(bytes)});
  }
  // Replay mode: adds a loaded entry.
  void add(Entry e) { entries_.push_back(std::move(e)); }

  // Replay mode: whether some packed weights belong to the node (its weights are then not in the graph).
  bool has(const std::string& node) const {
    for (const Entry& e : entries_)
      if (e.node == node) return true;
    return false;
  }
  // Replay mode: the packed bytes of the node for that layout, or nullptr; counts the use.
  const Tensor* find(const std::string& node, const std::string& layout) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].node == node && entries_[i].layout == layout) {
        used_.resize(entries_.size(), false);
        used_[i] = true;
        return &entries_[i].bytes;
      }
    return nullptr;
  }
  // Replay mode: whether every entry was found by a kernel (else the cached graph and this build disagree).
  bool all_used() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (used_.size() < entries_.size()) return entries_.empty();
    for (bool u : used_)
      if (!u) return false;
    return true;
  }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  Mode mode_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  mutable std::vector<bool> used_;
};

}  // namespace celer
