// ChunkArena: small buffers carved from shared huge-page chunks, each keeping its chunk alive.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "core/chunk_arena.hpp"

using namespace celer;

TEST(ChunkArena, BuffersAreAlignedDisjointAndOutliveTheArena) {
  std::vector<std::pair<std::shared_ptr<void>, void*>> bufs;
  std::weak_ptr<void> first_chunk;
  {
    ChunkArena arena;
    size_t total = 0;
    // Sizes that are not multiples of 64, enough of them to need a second chunk.
    for (size_t i = 0; total < ChunkArena::kChunkBytes + (1 << 20); ++i) {
      const size_t bytes = 1000 + 37 * i % 300000;
      void* data = nullptr;
      std::shared_ptr<void> owner = arena.allocate(bytes, &data);
      ASSERT_TRUE(owner) << bytes;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % 64, 0u);
      std::memset(data, int(i & 0xff), bytes);
      bufs.emplace_back(owner, data);
      total += bytes;
    }
    first_chunk = bufs.front().first;
  }
  // The arena is gone; every buffer still holds its bytes (no two overlapped).
  for (size_t i = 0; i < bufs.size(); ++i) {
    const size_t bytes = 1000 + 37 * i % 300000;
    const auto* p = static_cast<const unsigned char*>(bufs[i].second);
    EXPECT_EQ(p[0], i & 0xff);
    EXPECT_EQ(p[bytes - 1], i & 0xff);
  }
  EXPECT_FALSE(first_chunk.expired());
  bufs.clear();
  EXPECT_TRUE(first_chunk.expired());  // freed with its last buffer
}

TEST(ChunkArena, LargeOrEmptyRequestsGoElsewhere) {
  ChunkArena arena;
  void* data = nullptr;
  EXPECT_FALSE(arena.allocate(0, &data));
  EXPECT_FALSE(arena.allocate(ChunkArena::kMaxBytes, &data));
  // Tensors: small ones share a chunk (one owner between them), a large one is allocated alone.
  auto same_owner = [](const Tensor& a, const Tensor& b) {
    return !a.owner().owner_before(b.owner()) && !b.owner().owner_before(a.owner());
  };
  Tensor small = arena.tensor(ElementType::kF32, {16, 16});
  Tensor small2 = arena.tensor(ElementType::kF32, {3, 5});
  Tensor large = arena.tensor(ElementType::kF32, {1024, 1024});
  EXPECT_EQ(small.size(), 256);
  EXPECT_EQ(large.size(), 1024 * 1024);
  EXPECT_TRUE(same_owner(small, small2));
  EXPECT_FALSE(same_owner(small, large));
  EXPECT_EQ(static_cast<const char*>(small2.raw()) - static_cast<const char*>(small.raw()), 1024);
}

// Kernels are made on several threads, and each packs its weights into the one arena.
TEST(ChunkArena, ThreadsAllocateConcurrently) {
  ChunkArena arena;
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::vector<std::pair<std::shared_ptr<void>, unsigned char*>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        void* data = nullptr;
        std::shared_ptr<void> owner = arena.allocate(3000, &data);
        if (!owner) return;
        std::memset(data, t, 3000);
        got[size_t(t)].emplace_back(std::move(owner), static_cast<unsigned char*>(data));
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(got[size_t(t)].size(), size_t(kEach));
    for (const auto& [owner, p] : got[size_t(t)]) EXPECT_TRUE(p[0] == t && p[2999] == t);
  }
}
