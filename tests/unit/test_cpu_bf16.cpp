// BF16 inference on the CPU device (inference_precision = bf16): the oneDNN MatMul, Gemm and Conv kernels run in bf16
// (their names say so) and agree with the f32 reference kernels within bf16 accuracy; the layout pass makes its chains
// carry bf16 (pooling included), keeps f32 around elementwise nodes, converts at the chains' ends, and graph outputs
// keep their f32 type. Skipped on CPUs without native bf16 (the option is ignored there).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "ir/infer.hpp"
#include "ops/conv.hpp"
#include "ops/conv_transpose.hpp"
#include "ops/gemm.hpp"
#include "ops/mat_mul.hpp"
#include "ops/pool.hpp"
#include "ops/reorder.hpp"
#include "ops/unary.hpp"
#include "runtime/executor.hpp"

using namespace celer;

namespace {

constexpr ElementType kF32 = ElementType::kF32;
constexpr ElementType kBF16 = ElementType::kBF16;

CompileOptions bf16_options() {
  CompileOptions o;
  o.inference_precision = kBF16;
  return o;
}

Tensor random_tensor(const Dims& dims, uint32_t seed) {
  Tensor t(kF32, dims);
  uint32_t s = seed * 2654435761u + 12345u;
  for (int64_t i = 0; i < t.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    t.data<float>()[i] = float(s >> 8) / float(1 << 24) * 2.0f - 1.0f;
  }
  return t;
}

// bf16 tolerance: |got - want| <= rtol * (|want| + rms(want)) (bf16 keeps 8 significant bits; sums of products of
// rounded values err relative to the typical magnitude, not to each element).
void expect_bf16_close(const Tensor& got, const Tensor& want, const std::string& what, double rtol = 1e-2) {
  ASSERT_EQ(got.type(), kF32) << what;
  ASSERT_EQ(got.dims(), want.dims()) << what;
  double ss = 0;
  for (int64_t i = 0; i < want.size(); ++i) ss += double(want.data<float>()[i]) * want.data<float>()[i];
  const double rms = want.size() ? std::sqrt(ss / double(want.size())) : 0;
  int bad = 0;
  for (int64_t i = 0; i < want.size() && bad < 5; ++i) {
    const double g = got.data<float>()[i], w = want.data<float>()[i];
    if (!(std::fabs(g - w) <= rtol * (std::fabs(w) + rms))) {
      ADD_FAILURE() << what << ": element " << i << " is " << g << ", the reference " << w << " (rms " << rms << ")";
      ++bad;
    }
  }
}

// A one-node graph: inputs are graph inputs or constants.
struct OneNode {
  std::shared_ptr<Graph> g = std::make_shared<Graph>();
  std::vector<Value*> ins;
  std::vector<Tensor> feeds;
  uint32_t seed = 1;

  void input(const Dims& dims, bool constant = false) {
    Tensor t = random_tensor(dims, seed++);
    if (constant) {
      ins.push_back(g->add_constant(std::string("c") + std::to_string(ins.size()), t));
      return;
    }
    Value* v = g->add_value("in" + std::to_string(ins.size()), ValueType::tensor(kF32, PartialShape::of(dims)));
    g->inputs.push_back(v);
    feeds.push_back(t);
    ins.push_back(v);
  }
  Node* finish(std::unique_ptr<Op> op) {
    Value* y = g->add_value("y");
    Node* n = g->add_node("node", std::move(op), ins, {y});
    g->outputs.push_back(y);
    infer_graph(*g, InferOptions{0});
    return n;
  }
  std::vector<RtValue> feed_values() const {
    std::vector<RtValue> in;
    for (const Tensor& t : feeds) in.emplace_back(t);
    return in;
  }
};

// Runs the node on REF (f32) and on CPU with bf16; the CPU kernel must be `want_kernel`.
void check_bf16(const OneNode& m, Node* n, const std::string& what, const std::string& want_kernel) {
  const Tensor want = Executor(m.g, *find_device("REF"), CompileOptions{}).run(m.feed_values())[0].tensor;
  auto kernel = cpu_device().create_kernel(*n, bf16_options());
  ASSERT_TRUE(kernel) << what;
  EXPECT_EQ(std::string(kernel->name()), want_kernel) << what;
  const Tensor got = Executor(m.g, cpu_device(), bf16_options()).run(m.feed_values())[0].tensor;
  expect_bf16_close(got, want, what);
}

class CpuBf16 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!onednn::bf16_native()) GTEST_SKIP() << "no native bf16 on this CPU";
  }
};

}  // namespace

TEST_F(CpuBf16, MatMulConstantWeights) {
  using K = PostOp::Kind;
  struct Case {
    const char* name;
    Dims a, b;
    PostOps ops;
    std::vector<Dims> operands;
  };
  const std::vector<Case> cases = {
      {"2d", {13, 67}, {67, 9}, {}, {}},
      {"batched", {2, 3, 5, 70}, {70, 33}, {}, {}},
      {"vector_a", {40}, {40, 5}, {}, {}},
      {"bias_gelu", {2, 6, 48}, {48, 24}, {PostOp::binary(K::kAdd, 2), PostOp::unary(UnaryFn::kGelu)}, {{24}}},
      {"residual", {2, 6, 32}, {32, 24}, {PostOp::binary(K::kAdd, 2)}, {{2, 6, 24}}},
  };
  for (const Case& c : cases) {
    OneNode m;
    m.input(c.a);
    m.input(c.b, true);
    for (const Dims& d : c.operands) m.input(d);
    auto op = std::make_unique<MatMul>();
    op->post_ops = c.ops;
    Node* n = m.finish(std::move(op));
    check_bf16(m, n, std::string("matmul ") + c.name, "onednn:matmul_bf16");
  }
}

// A run-time B stays f32 (activations times activations, e.g. attention scores).
TEST_F(CpuBf16, MatMulRuntimeWeightsStayF32) {
  OneNode m;
  m.input({3, 5, 7});
  m.input({3, 7, 4});
  Node* n = m.finish(std::make_unique<MatMul>());
  auto kernel = cpu_device().create_kernel(*n, bf16_options());
  ASSERT_TRUE(kernel);
  EXPECT_EQ(std::string(kernel->name()), "onednn:matmul");
}

TEST_F(CpuBf16, Gemm) {
  struct Case {
    const char* name;
    bool ta, tb;
    float alpha, beta;
    Dims c;
  };
  const std::vector<Case> cases = {
      {"fc_bias_row", false, true, 1, 1, {1, 37}},
      {"trans_a_alpha", true, false, 0.5f, 1, {37}},
      {"full_c_beta", false, false, 1, 2.0f, {9, 37}},
      {"no_c", false, true, 1, 1, {}},
  };
  const int64_t M = 9, K = 53, N = 37;
  for (const Case& c : cases) {
    OneNode m;
    m.input(c.ta ? Dims{K, M} : Dims{M, K});
    m.input(c.tb ? Dims{N, K} : Dims{K, N}, true);
    if (!c.c.empty()) m.input(c.c);
    auto op = std::make_unique<Gemm>();
    op->trans_a = c.ta;
    op->trans_b = c.tb;
    op->alpha = c.alpha;
    op->beta = c.beta;
    Node* n = m.finish(std::move(op));
    check_bf16(m, n, std::string("gemm ") + c.name, "onednn:gemm_bf16");
  }
}

// Single convolutions outside any chain: f32 in and out, bf16 inside the kernel.
TEST_F(CpuBf16, Conv) {
  using K = PostOp::Kind;
  struct Case {
    const char* name;
    Dims x, w;
    int64_t group;
    std::vector<int64_t> pads, strides;
    PostOps ops;
  };
  const std::vector<Case> cases = {
      {"stem_3ch", {1, 3, 19, 17}, {16, 3, 3, 3}, 1, {1, 1, 1, 1}, {2, 2}, {}},
      {"odd_channels", {2, 5, 9, 11}, {7, 5, 3, 3}, 1, {0, 1, 2, 0}, {}, {}},
      {"1x1_relu", {1, 32, 8, 8}, {48, 32, 1, 1}, 1, {}, {}, {PostOp::unary(UnaryFn::kRelu)}},
      {"depthwise", {1, 32, 10, 10}, {32, 1, 3, 3}, 32, {1, 1, 1, 1}, {}, {PostOp::unary(UnaryFn::kClip, 0, 6)}},
      {"residual", {1, 16, 6, 6}, {16, 16, 3, 3}, 1, {1, 1, 1, 1}, {}, {PostOp::binary(K::kAdd, 3)}},
      {"1d", {2, 8, 13}, {12, 8, 3}, 1, {1, 1}, {}, {}},
  };
  for (const Case& c : cases) {
    OneNode m;
    m.input(c.x);
    m.input(c.w, true);
    m.input({c.w[0]}, true);
    if (c.name == std::string("residual")) m.input({1, 16, 6, 6});
    auto op = std::make_unique<Conv>();
    op->group = c.group;
    op->window.pads = c.pads;
    op->window.strides = c.strides;
    op->post_ops = c.ops;
    Node* n = m.finish(std::move(op));
    check_bf16(m, n, std::string("conv ") + c.name, "onednn:conv_bf16");
  }
}

TEST_F(CpuBf16, ConvTranspose) {
  OneNode m;
  m.input({1, 16, 5, 6});
  m.input({16, 8, 3, 3}, true);
  auto op = std::make_unique<ConvTranspose>();
  op->window.strides = {2, 2};
  Node* n = m.finish(std::move(op));
  check_bf16(m, n, "deconv", "onednn:deconv_bf16");
}

// f32 <-> bf16 Reorders: the oneDNN kernel matches the reference one (both round to nearest even).
TEST_F(CpuBf16, ReorderConverts) {
  for (Layout to : {Layout::kChannelsLast, Layout::kBlocked16}) {
    OneNode m;
    m.input({2, 32, 3, 5});
    Node* n = m.finish(std::make_unique<Reorder>(Layout::kPlain, to, kBF16));
    ASSERT_EQ(n->outputs[0]->type.elem, kBF16);
    const Tensor want = Executor(m.g, *find_device("REF"), CompileOptions{}).run(m.feed_values())[0].tensor;
    ASSERT_EQ(want.type(), kBF16);
    auto kernel = cpu_device().create_kernel(*n, CompileOptions{});
    ASSERT_TRUE(kernel);
    EXPECT_EQ(std::string(kernel->name()), "onednn:reorder_convert");
    const Tensor got = Executor(m.g, cpu_device(), CompileOptions{}).run(m.feed_values())[0].tensor;
    ASSERT_EQ(got.type(), kBF16);
    ASSERT_EQ(got.byte_size(), want.byte_size());
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), size_t(got.byte_size())), 0) << layout_name(to);
    // And back to plain f32: the input rounded to bf16.
    const float x = m.feeds[0].data<float>()[0];
    EXPECT_FLOAT_EQ(float(bfloat16(x)), float(got.data<bfloat16>()[0])) << layout_name(to);
  }
}

// A chain conv -> relu -> conv(+residual) -> maxpool -> depthwise conv -> global average pool: values between oneDNN
// nodes are bf16, those the elementwise Relu reads or writes stay f32, the graph outputs are f32 and match REF.
TEST_F(CpuBf16, LayoutPassChainsCarryBf16) {
  auto g = std::make_shared<Graph>();
  Value* x = g->add_value("x", ValueType::tensor(kF32, PartialShape::of({1, 16, 12, 12})));
  g->inputs.push_back(x);
  auto conv = [&](const std::string& name, Value* in, Dims w, int64_t group, std::vector<int64_t> pads,
                  std::vector<Value*> extra = {}, PostOps post = {}) {
    auto op = std::make_unique<Conv>();
    op->group = group;
    op->window.pads = std::move(pads);
    op->post_ops = std::move(post);
    std::vector<Value*> ins{in, g->add_constant(name + "_w", random_tensor(w, uint32_t(w[0] + w[1] * 7))),
                            g->add_constant(name + "_b", random_tensor({w[0]}, uint32_t(w[0] * 3)))};
    ins.insert(ins.end(), extra.begin(), extra.end());
    Value* y = g->add_value(name + "_y");
    g->add_node(name, std::move(op), ins, {y});
    return y;
  };
  Value* c1 = conv("c1", x, {32, 16, 3, 3}, 1, {1, 1, 1, 1});
  Value* r1 = g->add_value("r1");
  g->add_node("relu1", std::make_unique<Unary>(UnaryFn::kRelu), {c1}, {r1});
  Value* c2 = conv("c2", r1, {32, 32, 1, 1}, 1, {}, {r1},
                   {PostOp::binary(PostOp::Kind::kAdd, 3), PostOp::unary(UnaryFn::kRelu)});
  auto mp = std::make_unique<Pool>();
  mp->fn = PoolFn::kMax;
  mp->window.kernel_shape = {3, 3};
  mp->window.strides = {2, 2};
  mp->window.pads = {1, 1, 1, 1};
  Value* p = g->add_value("pool");
  g->add_node("maxpool", std::move(mp), {c2}, {p});
  Value* dw = conv("dw", p, {32, 1, 3, 3}, 32, {1, 1, 1, 1});
  auto gap = std::make_unique<Pool>();
  gap->fn = PoolFn::kAverage;
  gap->global = true;
  Value* out = g->add_value("gap");
  g->add_node("gap", std::move(gap), {dw}, {out});
  g->outputs = {out};
  infer_graph(*g, InferOptions{0});

  const Tensor xt = random_tensor({1, 16, 12, 12}, 77);
  const Tensor want = Executor(g, *find_device("REF"), CompileOptions{}).run({RtValue(xt)})[0].tensor;
  std::shared_ptr<Graph> cg(g->clone());
  run_layout_pass(*cg, bf16_options());
  int convert_in = 0, convert_out = 0, bf16_values = 0;
  for (const auto& n : cg->nodes) {
    for (const Value* v : n->outputs) bf16_values += v->type.elem == kBF16;
    if (n->op->kind() == OpKind::kReorder) {
      const auto& r = static_cast<const Reorder&>(*n->op);
      convert_in += r.elem == kBF16;
      convert_out += r.elem == kF32 && n->inputs[0]->type.elem == kBF16;
    }
    if (n->op->kind() == OpKind::kUnary) {  // the elementwise Relu keeps f32 on both sides
      EXPECT_EQ(n->inputs[0]->type.elem, kF32);
      EXPECT_EQ(n->outputs[0]->type.elem, kF32);
    }
    auto k = cpu_device().create_kernel(*n, bf16_options());
    const std::string name = k ? k->name() : "ref";
    if (n->op->kind() == OpKind::kConv) {
      EXPECT_EQ(name, "onednn:conv_bf16") << n->name;
    }
    if (n->op->kind() == OpKind::kPool) {
      EXPECT_EQ(name, "onednn:pool_bf16") << n->name;
    }
  }
  EXPECT_EQ(convert_in, 1);   // x into the chain
  EXPECT_EQ(convert_out, 1);  // the GAP output out of it
  EXPECT_GE(bf16_values, 4);  // c2, pool, dw, gap inside the chain
  EXPECT_EQ(cg->outputs[0]->type.elem, kF32);
  const Tensor got = Executor(cg, cpu_device(), bf16_options()).run({RtValue(xt)})[0].tensor;
  expect_bf16_close(got, want, "bf16 chain", 3e-2);
  // With f32 precision the same pass leaves every value f32.
  std::shared_ptr<Graph> fg(g->clone());
  run_layout_pass(*fg, CompileOptions{});
  for (const auto& n : fg->nodes)
    for (const Value* v : n->outputs) EXPECT_EQ(v->type.elem, kF32) << v->name;
}

// Final Silu / Sigmoid / Tanh post-ops run after the primitive through celer's SIMD functions (a bf16-specific path
// for Silu and Sigmoid on bf16 outputs); channels-last with 24 channels leaves a partial vector at the end.
TEST_F(CpuBf16, OwnUnaryPostOps) {
  setenv("CELER_CPU_LAYOUT", "nhwc", 1);
  auto g = std::make_shared<Graph>();
  Value* x = g->add_value("x", ValueType::tensor(kF32, PartialShape::of({1, 24, 7, 7})));
  g->inputs.push_back(x);
  Value* v = x;
  int i = 0;
  for (UnaryFn fn : {UnaryFn::kSilu, UnaryFn::kSigmoid, UnaryFn::kSilu, UnaryFn::kTanh}) {
    auto op = std::make_unique<Conv>();
    op->window.pads = {1, 1, 1, 1};
    op->post_ops = {PostOp::unary(fn)};
    const std::string name = std::string("c") + std::to_string(i++);
    Tensor w = random_tensor({24, 24, 3, 3}, uint32_t(i * 11));
    for (int64_t k = 0; k < w.size(); ++k) w.data<float>()[k] *= 0.1f;
    Value* y = g->add_value(name + "_y");
    g->add_node(name, std::move(op),
                {v, g->add_constant(name + "_w", w), g->add_constant(name + "_b", random_tensor({24}, uint32_t(i)))},
                {y});
    v = y;
  }
  g->outputs = {v};
  infer_graph(*g, InferOptions{0});
  Tensor xt = random_tensor({1, 24, 7, 7}, 9);
  for (int64_t k = 0; k < 5; ++k) xt.data<float>()[k] = 200.0f * float(k - 2);  // saturating sigmoid / exp
  const Tensor want = Executor(g, *find_device("REF"), CompileOptions{}).run({RtValue(xt)})[0].tensor;
  for (const CompileOptions& o : {bf16_options(), CompileOptions{}}) {
    std::shared_ptr<Graph> cg(g->clone());
    run_layout_pass(*cg, o);
    const Tensor got = Executor(cg, cpu_device(), o).run({RtValue(xt)})[0].tensor;
    if (o.inference_precision == kBF16)
      expect_bf16_close(got, want, "bf16", 3e-2);
    else
      expect_bf16_close(got, want, "f32", 1e-5);
  }
  unsetenv("CELER_CPU_LAYOUT");
}
