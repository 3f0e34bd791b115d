// Memory for the many small constant buffers of a model: its weights as read from the file, and as kernels pack them.
//
// Each small buffer in its own allocation sits on 4 KiB pages, and every page costs a fault on first touch. On this
// kind of machine that costs about 0.6 ms per MB written (memcg charge and zeroing per page), several times the copy
// itself: a small CNN spent more time faulting in its weights twice (read, then packed) than creating its kernels.
// An arena hands out pieces of large blocks marked for transparent huge pages instead: one fault per 2 MiB.
//
// A piece is a shared_ptr that shares ownership of its block, so a block is freed once the arena and every piece in
// it have let go. Pieces therefore live as long as their longest-lived neighbour: use one arena per model (or per
// compile), whose buffers share a lifetime.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>

namespace celer {

class WeightArena {
 public:
  // Blocks of `block_bytes` (rounded up to whole 2 MiB pages); pieces over a quarter of that get memory of their own.
  explicit WeightArena(size_t block_bytes = size_t(8) << 20);
  // `bytes` of uninitialised memory, 64-byte aligned. Thread-safe. Throws kLimitExceeded when out of memory.
  std::shared_ptr<void> allocate(size_t bytes);

 private:
  std::mutex mu_;
  size_t block_bytes_;
  std::shared_ptr<char> block_;  // the block pieces come from now
  size_t used_ = 0, capacity_ = 0;
};

}  // namespace celer
