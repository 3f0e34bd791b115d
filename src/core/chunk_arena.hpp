// ChunkArena: small long-lived buffers (weights as read from a model, packed weights) carved out of 2 MiB-aligned
// chunks marked for transparent huge pages. A buffer under 2 MiB of its own gets 4 KiB pages, one page fault each on
// first touch, and on a virtual machine a fault costs about 2 us: reading mobilenet_v3_small's 10 MB of small weights
// paid ~5 ms of faults. Buffers of 2 MiB or more get huge pages of their own (Tensor) and do not belong here.
// Each buffer's owner keeps its chunk alive; a chunk is freed with its last buffer (and once the arena moved on), so
// an arena suits buffers that go at about the same time.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>

#include "celer/tensor.hpp"

namespace celer {

class ChunkArena {
 public:
  static constexpr size_t kChunkBytes = size_t(8) << 20;
  static constexpr size_t kMaxBytes = size_t(2) << 20;  // larger requests are refused (nullptr)

  // A 64-byte aligned, uninitialised buffer of `bytes` (1 <= bytes < kMaxBytes) in *data; the returned owner shares
  // its chunk. nullptr when the request is too large or memory runs out (the caller allocates elsewhere).
  std::shared_ptr<void> allocate(size_t bytes, void** data);

  // An uninitialised tensor in the arena when it is small enough, else one of its own (Tensor::uninitialized).
  Tensor tensor(ElementType type, Dims dims);

 private:
  std::mutex mu_;
  std::shared_ptr<void> chunk_;
  size_t used_ = 0;
};

}  // namespace celer
