#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "celer/tensor.hpp"
#include "core/weight_arena.hpp"

using namespace celer;

TEST(Tensor, AllocatesZeroed) {
  Tensor t(ElementType::kF32, {2, 3});
  EXPECT_EQ(t.size(), 6);
  EXPECT_EQ(t.byte_size(), 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<float>()[i], 0.f);
}

TEST(Tensor, RejectsOverflowAndNegativeDims) {
  EXPECT_THROW(Tensor(ElementType::kF32, {-1, 2}), Error);
  EXPECT_THROW(Tensor(ElementType::kF32, {int64_t(1) << 40, int64_t(1) << 40}), Error);
  EXPECT_THROW(Tensor(ElementType::kF32, {int64_t(1) << 40}), Error);  // over the size limit
}

TEST(Tensor, WrapsUserMemoryWithoutCopy) {
  float buf[4] = {1, 2, 3, 4};
  Tensor t = Tensor::wrap(ElementType::kF32, {4}, buf);
  EXPECT_EQ(t.data<float>(), buf);
  Tensor c = t.clone();
  EXPECT_NE(c.data<float>(), buf);
  EXPECT_EQ(c.data<float>()[3], 4.f);
}

TEST(Tensor, Float16RoundTrips) {
  for (float f : {0.f, 1.f, -2.5f, 65504.f, 6.1e-5f, 1e-7f}) {
    float back = float16(f);
    EXPECT_NEAR(back, f, std::abs(f) * 1e-3 + 1e-7) << f;
  }
  EXPECT_EQ(float(bfloat16(1.5f)), 1.5f);
}

TEST(Tensor, ZeroSizedIsValid) {
  Tensor t(ElementType::kI64, {0, 5});
  EXPECT_EQ(t.size(), 0);
  EXPECT_NE(t.raw(), nullptr);
}

// ---------------------------------------------------------------------------------------------------------------
// WeightArena (core/weight_arena.hpp)

TEST(WeightArena, PiecesAreAlignedAndDisjoint) {
  WeightArena arena(size_t(2) << 20);
  std::vector<std::pair<std::shared_ptr<void>, size_t>> pieces;
  // Small, odd, empty and half-block pieces; the last ones do not fit the first block.
  for (size_t bytes : {size_t(1), size_t(0), size_t(63), size_t(64), size_t(4097), size_t(700000), size_t(900000),
                       size_t(600000), size_t(1) << 20, (size_t(3) << 20) + 5})
    pieces.emplace_back(arena.allocate(bytes), bytes);
  for (size_t i = 0; i < pieces.size(); ++i) {
    auto* p = static_cast<unsigned char*>(pieces[i].first.get());
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << "piece " << i;
    std::memset(p, int(i + 1), pieces[i].second);
  }
  for (size_t i = 0; i < pieces.size(); ++i) {
    const auto* p = static_cast<const unsigned char*>(pieces[i].first.get());
    for (size_t j = 0; j < pieces[i].second; ++j)
      ASSERT_EQ(p[j], i + 1) << "piece " << i << " byte " << j << " was overwritten by another piece";
  }
}

TEST(WeightArena, PiecesOutliveTheArena) {
  std::shared_ptr<void> kept;
  {
    WeightArena arena;
    kept = arena.allocate(1000);
    std::shared_ptr<void> dropped = arena.allocate(1000);  // same block, released first
  }
  std::memset(kept.get(), 7, 1000);  // the block is still there (ASan/valgrind would flag a freed one)
  EXPECT_EQ(static_cast<unsigned char*>(kept.get())[999], 7);
}

TEST(WeightArena, ThreadsGetDisjointPieces) {
  WeightArena arena(size_t(2) << 20);
  std::vector<std::shared_ptr<void>> got[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        got[t].push_back(arena.allocate(size_t(100 + 37 * i)));
        std::memset(got[t].back().get(), t + 1, size_t(100 + 37 * i));
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 2; ++t)
    for (size_t i = 0; i < got[t].size(); ++i) {
      const auto* p = static_cast<const unsigned char*>(got[t][i].get());
      for (size_t j = 0; j < 100 + 37 * i; ++j) ASSERT_EQ(p[j], t + 1) << "thread " << t << " piece " << i;
    }
}
