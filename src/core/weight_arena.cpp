#include "core/weight_arena.hpp"

#include <sys/mman.h>

#include <cstdlib>

#include "celer/error.hpp"

namespace celer {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kAlign = 64;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// `bytes` at a huge page boundary; the first `huge` bytes (whole 2 MiB pages) marked for transparent huge pages.
std::shared_ptr<char> new_block(size_t bytes, size_t huge) {
  // aligned_alloc wants a size that is a multiple of the alignment; the part past `bytes` is never touched.
  void* p = std::aligned_alloc(kHugePage, round_up(bytes, kHugePage));
  CELER_CHECK(p, kLimitExceeded, "out of memory allocating ", bytes, " bytes for model weights");
  if (huge > 0) madvise(p, huge, MADV_HUGEPAGE);  // advisory: errors ignored
  return std::shared_ptr<char>(static_cast<char*>(p), [](char* q) { std::free(q); });
}
}  // namespace

WeightArena::WeightArena(size_t block_bytes) : block_bytes_(round_up(block_bytes > 0 ? block_bytes : 1, kHugePage)) {}

std::shared_ptr<void> WeightArena::allocate(size_t bytes) {
  const size_t need = round_up(bytes > 0 ? bytes : 1, kAlign);
  if (need > block_bytes_ / 4) {
    // A large piece gets memory of its own: in a shared block, the huge page at its end would hold up to the piece's
    // size unused. Its whole 2 MiB pages are huge; the rest stays on 4 KiB pages (a huge page there would make up to
    // 2 MiB of padding resident: 25 MB over BERT-base's weights).
    return std::shared_ptr<void>(new_block(need, need / kHugePage * kHugePage));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (need > capacity_ - used_) {
    block_ = new_block(block_bytes_, block_bytes_);
    used_ = 0;
    capacity_ = block_bytes_;
  }
  std::shared_ptr<void> piece(block_, block_.get() + used_);
  used_ += need;
  return piece;
}

}  // namespace celer
