// Liveness-based memory planning: every intermediate tensor with a size known at compile time gets an offset in one
// arena; tensors whose lifetimes do not overlap share memory.
#pragma once

#include <cstdint>
#include <vector>

namespace celer {

struct BufferRequest {
  int64_t bytes = 0;
  int first = 0;  // first step that writes it
  int last = 0;   // last step that reads it (inclusive)
};

struct MemoryPlan {
  std::vector<int64_t> offsets;  // per request
  int64_t total_bytes = 0;       // arena size
};

// Greedy: larger buffers first, each at the lowest 64-byte aligned offset that does not overlap a placed buffer whose
// lifetime overlaps its own.
MemoryPlan plan_buffers(const std::vector<BufferRequest>& requests);

}  // namespace celer
