#include <gtest/gtest.h>

#include "celer/tensor.hpp"

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
