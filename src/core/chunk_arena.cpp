#include "core/chunk_arena.hpp"

#include <sys/mman.h>

#include <cstdlib>

namespace celer {

std::shared_ptr<void> ChunkArena::allocate(size_t bytes, void** data) {
  if (bytes == 0 || bytes >= kMaxBytes) return nullptr;
  const size_t need = (bytes + 63) / 64 * 64;
  std::lock_guard<std::mutex> lock(mu_);
  if (!chunk_ || used_ + need > kChunkBytes) {
    void* p = std::aligned_alloc(kMaxBytes, kChunkBytes);
    if (!p) return nullptr;
    madvise(p, kChunkBytes, MADV_HUGEPAGE);  // advisory: errors ignored
    chunk_ = std::shared_ptr<void>(p, std::free);
    used_ = 0;
  }
  *data = static_cast<char*>(chunk_.get()) + used_;
  used_ += need;
  return std::shared_ptr<void>(chunk_, *data);  // shares the chunk's ownership
}

Tensor ChunkArena::tensor(ElementType type, Dims dims) {
  if (type != ElementType::kString && type != ElementType::kUndefined) {
    int64_t bytes = 0;
    if (!__builtin_mul_overflow(element_count(dims), int64_t(element_size(type)), &bytes) && bytes > 0) {
      void* data = nullptr;
      if (std::shared_ptr<void> owner = allocate(size_t(bytes), &data))
        return Tensor::view(type, std::move(dims), data, std::move(owner));
    }
  }
  return Tensor::uninitialized(type, std::move(dims));
}

}  // namespace celer
