// MatMulNBits (com.microsoft weight-only compression): the reference kernel against a direct float computation, the
// CPU kernel against the reference (bits 4 and 8, M = 1 and M > 1, K not a multiple of the block, zero points absent,
// packed or float, bias), and attribute/input errors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

struct Case {
  int64_t M, K, N, bits, block;
  int zp;  // 0: absent, 1: packed u8, 2: float
  bool bias;
};

struct Built {
  OnnxBuilder b;
  std::vector<float> a, w;  // w: the dequantized weights, [N, K]
  std::vector<float> bias;
};

// A one-node model with random codes, scales and zero points; `w` holds what the node should dequantize to.
void build(const Case& c, Built& out, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t kb = (c.K + c.block - 1) / c.block, blob = c.block * c.bits / 8, levels = int64_t(1) << c.bits;
  OnnxBuilder& b = out.b;
  auto* ms = b.model().add_opset_import();
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  b.input("A", onnx::TensorProto::FLOAT, {c.M, c.K});
  std::vector<uint8_t> codes(size_t(c.N * kb * blob), 0);
  std::vector<float> scales(size_t(c.N * kb)), zf(size_t(c.N * kb));
  const int64_t zrow = (kb * c.bits + 7) / 8;
  std::vector<uint8_t> zpacked(size_t(c.N * zrow), 0);
  out.w.assign(size_t(c.N * c.K), 0.0f);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t j = 0; j < kb; ++j) {
      const float s = 0.01f + 0.05f * std::fabs(u(rng));
      const int64_t zc = int64_t(rng() % uint32_t(levels));
      const float z = c.zp == 0 ? float(levels / 2) : c.zp == 1 ? float(zc) : float(zc) + 0.25f;
      scales[size_t(n * kb + j)] = s;
      zf[size_t(n * kb + j)] = z;
      const int64_t bit = j * c.bits;
      zpacked[size_t(n * zrow + bit / 8)] |= uint8_t(zc << (bit % 8));
      for (int64_t i = 0; i < c.block; ++i) {
        const int64_t k = j * c.block + i;
        const uint32_t code = rng() % uint32_t(levels);
        const int64_t cb = i * c.bits;
        codes[size_t((n * kb + j) * blob + cb / 8)] |= uint8_t(code << (cb % 8));
        if (k < c.K) out.w[size_t(n * c.K + k)] = (float(code) - z) * s;
      }
    }
  auto* tb = b.graph().add_initializer();
  tb->set_name("B");
  tb->set_data_type(onnx::TensorProto::UINT8);
  for (int64_t d : {c.N, kb, blob}) tb->add_dims(d);
  tb->set_raw_data(std::string(codes.begin(), codes.end()));
  b.initializer("scales", scales, {c.N * kb});
  std::vector<std::string> ins{"A", "B", "scales"};
  if (c.zp == 1) {
    auto* tz = b.graph().add_initializer();
    tz->set_name("zp");
    tz->set_data_type(onnx::TensorProto::UINT8);
    tz->add_dims(c.N * zrow);
    tz->set_raw_data(std::string(zpacked.begin(), zpacked.end()));
    ins.push_back("zp");
  } else if (c.zp == 2) {
    b.initializer("zp", zf, {c.N * kb});
    ins.push_back("zp");
  }
  if (c.bias) {
    while (ins.size() < 5) ins.push_back("");
    out.bias.resize(size_t(c.N));
    for (float& v : out.bias) v = u(rng);
    b.initializer("bias", out.bias, {c.N});
    ins.push_back("bias");
  }
  auto& node = b.node("MatMulNBits", ins, {"Y"});
  node.set_domain("com.microsoft");
  OnnxBuilder::attr(node, "K", c.K);
  OnnxBuilder::attr(node, "N", c.N);
  OnnxBuilder::attr(node, "bits", c.bits);
  OnnxBuilder::attr(node, "block_size", c.block);
  b.output("Y");
  out.a.resize(size_t(c.M * c.K));
  for (float& v : out.a) v = u(rng);
}

class MatMulNBitsTest : public ::testing::TestWithParam<Case> {};

TEST_P(MatMulNBitsTest, ReferenceAndCpuMatchFloatMath) {
  const Case c = GetParam();
  Built m;
  build(c, m, 7);
  const Tensor a = Tensor::wrap(ElementType::kF32, {c.M, c.K}, m.a.data());
  const std::vector<Tensor> ref = m.b.run("REF", {a});
  const std::vector<Tensor> cpu = m.b.run("CPU", {a});
  ASSERT_EQ(ref[0].dims(), Dims({c.M, c.N}));
  ASSERT_EQ(cpu[0].dims(), Dims({c.M, c.N}));
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t n = 0; n < c.N; ++n) {
      double want = m.bias.empty() ? 0.0 : m.bias[size_t(n)];
      double mag = std::fabs(want);
      for (int64_t k = 0; k < c.K; ++k) {
        want += double(m.a[size_t(i * c.K + k)]) * m.w[size_t(n * c.K + k)];
        mag += std::fabs(double(m.a[size_t(i * c.K + k)]) * m.w[size_t(n * c.K + k)]);
      }
      const double tol = 1e-5 * mag + 1e-6;
      ASSERT_NEAR(ref[0].data<float>()[i * c.N + n], want, tol) << "REF row " << i << " col " << n;
      ASSERT_NEAR(cpu[0].data<float>()[i * c.N + n], want, tol) << "CPU row " << i << " col " << n;
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatMulNBitsTest,
                         ::testing::Values(Case{1, 64, 40, 4, 32, 0, false}, Case{1, 200, 70, 4, 64, 1, true},
                                           Case{5, 200, 70, 4, 64, 1, true}, Case{3, 96, 33, 8, 32, 2, false},
                                           Case{1, 130, 17, 8, 16, 1, true}, Case{7, 100, 65, 2, 16, 1, true},
                                           Case{33, 256, 96, 4, 128, 2, true},
                                           // M = 1 with whole blocks multiplied in registers (4 and 8 bits), a
                                           // last partial block, and a 4-bit block size too small for that path.
                                           Case{1, 512, 37, 4, 128, 1, true}, Case{1, 256, 19, 8, 64, 2, false},
                                           Case{1, 300, 9, 4, 32, 1, false}, Case{1, 300, 11, 8, 16, 0, true},
                                           Case{1, 64, 5, 4, 16, 1, false}));

TEST(MatMulNBits, BadAttributesAndInputsNameThem) {
  for (const auto& [attr, value, needle] : std::vector<std::tuple<std::string, int64_t, std::string>>{
           {"bits", 3, "'bits' = 3"}, {"block_size", 24, "'block_size' = 24"}, {"K", 0, "'K' = 0"}}) {
    Built m;
    build(Case{1, 64, 8, 4, 32, 0, false}, m, 1);
    auto* node = m.b.graph().mutable_node(0);
    for (auto& at : *node->mutable_attribute())
      if (at.name() == attr) at.set_i(value);
    try {
      m.b.read();
      FAIL() << "no error for " << attr;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  // B whose shape does not fit N, k_blocks and blob.
  Built m;
  build(Case{1, 64, 8, 4, 32, 0, false}, m, 1);
  for (auto& at : *m.b.graph().mutable_node(0)->mutable_attribute())
    if (at.name() == "N") at.set_i(9);
  try {
    std::vector<float> a(64, 1.0f);
    m.b.run("CPU", {Tensor::wrap(ElementType::kF32, {1, 64}, a.data())});
    FAIL() << "no error for a B that does not fit N";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 'B'"), std::string::npos) << e.what();
  }
}

}  // namespace
