// The oneDNN-backed CPU kernels (Conv, ConvTranspose, MatMul, Gemm, Pool) against the reference kernels on odd
// shapes: each kernel is created for a one-node graph and run directly into an output buffer with guard bytes around
// it (which must stay untouched; the buffer starts as NaN so unwritten elements show). Post-ops of every kind, the
// dynamic-shape path (primitives created per input shape through the cache) and the layout pass are covered too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/gemv.hpp"
#include "devices/cpu/simd.hpp"
#include "ir/infer.hpp"
#include "onnx_builder.hpp"
#include "ops/binary.hpp"
#include "ops/conv.hpp"
#include "ops/conv_transpose.hpp"
#include "ops/gemm.hpp"
#include "ops/mat_mul.hpp"
#include "ops/pool.hpp"
#include "ops/reorder.hpp"
#include "ops/unary.hpp"
#include "cpu_test_util.hpp"
#include "runtime/executor.hpp"

using namespace celer;

namespace {

using test::threads_options;

constexpr ElementType kF32 = ElementType::kF32;

Tensor random_tensor(const Dims& dims, uint32_t seed) { return test::random_f32(dims, seed); }

// A one-node graph under construction: inputs are graph inputs (run-time values) or constants.
struct OneNode {
  std::shared_ptr<Graph> g = std::make_shared<Graph>();
  std::vector<Value*> ins;
  std::vector<Tensor> feeds;  // values of the graph inputs, in order
  uint32_t seed = 1;

  Value* input(const Dims& dims, bool constant = false, PartialShape declared = {}) {
    Tensor t = random_tensor(dims, seed++);
    if (constant) return add(g->add_constant("c" + std::to_string(ins.size()), t));
    Value* v = g->add_value("in" + std::to_string(ins.size()),
                            ValueType::tensor(kF32, declared.rank_known() ? declared : PartialShape::of(dims)));
    g->inputs.push_back(v);
    feeds.push_back(t);
    return add(v);
  }
  void omit() { ins.push_back(nullptr); }
  Value* add(Value* v) {
    ins.push_back(v);
    return v;
  }
  Node* finish(std::unique_ptr<Op> op) {
    Value* y = g->add_value("y");
    Node* n = g->add_node("node", std::move(op), ins, {y});
    g->outputs.push_back(y);
    infer_graph(*g, InferOptions{0});
    return n;
  }
};

std::vector<RtValue> run_on(const OneNode& m, const char* device) {
  Executor ex(std::shared_ptr<const Graph>(m.g), *find_device(device), CompileOptions{});
  std::vector<RtValue> in;
  for (const Tensor& t : m.feeds) in.emplace_back(t);
  return ex.run(in);
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dims(), want.dims()) << what;
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  int bad = 0;
  for (int64_t i = 0; i < want.size() && bad < 5; ++i)
    if (!(std::fabs(g[i] - w[i]) <= 1e-4f * (1.0f + std::fabs(w[i])))) {
      ADD_FAILURE() << what << ": element " << i << " is " << g[i] << ", the reference " << w[i];
      ++bad;
    }
}

// Creates the CPU kernel of the node (it must be a oneDNN one), runs it into a guarded buffer and compares with REF.
void check_kernel(const OneNode& m, Node* n, const std::string& what, const char* want_kernel = "onednn") {
  const Tensor want = run_on(m, "REF")[0].tensor;
  auto kernel = cpu_device().create_kernel(*n, CompileOptions{});
  ASSERT_TRUE(kernel) << what << ": no CPU kernel";
  ASSERT_EQ(std::string(kernel->name()).rfind(want_kernel, 0), 0u) << what << ": kernel " << kernel->name();

  std::vector<RtValue> values(n->num_explicit_inputs);
  std::vector<const RtValue*> ptrs(n->num_explicit_inputs, nullptr);
  size_t feed = 0;
  for (size_t i = 0; i < n->num_explicit_inputs; ++i) {
    const Value* v = n->inputs[i];
    if (!v) continue;
    values[i] = v->constant ? RtValue(*v->constant) : RtValue(m.feeds[feed++]);
    ptrs[i] = &values[i];
  }
  const int64_t bytes = want.size() * 4;
  constexpr size_t kGuard = 256;
  std::vector<unsigned char> buf(size_t(bytes) + 2 * kGuard + 64, 0xA5);
  // 64-byte aligned output start, with guard bytes on both sides.
  unsigned char* base = buf.data() + kGuard;
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 0; i < want.size(); ++i) std::memcpy(base + i * 4, &nan, 4);
  void* planned[1] = {base};
  int64_t planned_bytes[1] = {bytes};
  std::vector<RtValue> outs(1);
  std::vector<ValueType> inferred{n->outputs[0]->type};
  KernelContext ctx(*n, ptrs, &outs, &inferred, nullptr);
  ctx.set_planned(planned, planned_bytes);
  kernel->run(ctx);
  ASSERT_TRUE(outs[0].is_tensor()) << what;
  EXPECT_EQ(outs[0].tensor.raw(), static_cast<void*>(base)) << what << ": output not in the planned buffer";
  expect_close(outs[0].tensor, want, what);
  for (unsigned char* p = buf.data(); p < base; ++p) ASSERT_EQ(*p, 0xA5) << what << ": guard before the output";
  for (unsigned char* p = base + bytes; p < buf.data() + buf.size(); ++p)
    ASSERT_EQ(*p, 0xA5) << what << ": guard after the output";
}

// ---------------------------------------------------------------------------------------------------------------
// Conv

struct ConvCase {
  const char* name;
  Dims x, w;
  int64_t group = 1;
  std::vector<int64_t> strides = {}, dilations = {}, pads = {};
  AutoPad auto_pad = AutoPad::kNotSet;
  bool bias = true;
};

std::unique_ptr<Conv> conv_op(const ConvCase& c) {
  auto op = std::make_unique<Conv>();
  op->group = c.group;
  op->window.strides = c.strides;
  op->window.dilations = c.dilations;
  op->window.pads = c.pads;
  op->window.auto_pad = c.auto_pad;
  return op;
}

const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      {"1x1", {1, 32, 7, 9}, {48, 32, 1, 1}},
      {"1x1_stride2_no_bias", {2, 16, 9, 9}, {24, 16, 1, 1}, 1, {2, 2}, {}, {}, AutoPad::kNotSet, false},
      {"7x7_stem", {1, 3, 23, 29}, {16, 3, 7, 7}, 1, {2, 2}, {}, {3, 3, 3, 3}},
      {"depthwise", {2, 24, 11, 13}, {24, 1, 3, 3}, 24, {}, {}, {1, 1, 1, 1}},
      {"depthwise_stride2", {1, 32, 14, 14}, {32, 1, 3, 3}, 32, {2, 2}, {}, {1, 1, 1, 1}},
      {"grouped_asym_pads", {1, 12, 10, 11}, {18, 4, 3, 3}, 3, {2, 2}, {}, {0, 1, 2, 1}},
      {"dilated", {1, 8, 17, 15}, {10, 8, 3, 3}, 1, {}, {2, 2}, {2, 2, 2, 2}},
      {"dilated_strided", {1, 5, 19, 16}, {6, 5, 3, 2}, 1, {2, 3}, {3, 2}, {1, 0, 2, 1}},
      {"asym_pads", {1, 16, 8, 9}, {16, 16, 3, 3}, 1, {}, {}, {2, 0, 1, 3}},
      {"same_upper_stride2", {1, 16, 15, 15}, {16, 16, 3, 3}, 1, {2, 2}, {}, {}, AutoPad::kSameUpper},
      {"same_lower", {1, 6, 8, 7}, {5, 6, 4, 4}, 1, {}, {}, {}, AutoPad::kSameLower},
      {"valid", {1, 6, 9, 7}, {5, 6, 3, 2}, 1, {}, {}, {}, AutoPad::kValid},
      {"conv1d", {2, 5, 31}, {7, 5, 4}, 1, {3}, {}, {1, 2}},
      {"conv3d", {1, 4, 6, 7, 8}, {6, 4, 3, 3, 3}, 1, {}, {}, {1, 1, 1, 1, 1, 1}},
      {"conv3d_grouped", {1, 6, 5, 6, 7}, {4, 3, 2, 3, 2}, 2, {1, 2, 1}, {}, {0, 1, 1, 1, 0, 0}},
  };
  return cases;
}

TEST(CpuOnednnConv, MatchesReference) {
  for (const ConvCase& c : conv_cases()) {
    for (bool const_w : {true, false}) {
      OneNode m;
      m.input(c.x);
      m.input(c.w, const_w);
      if (c.bias) m.input({c.w[0]}, const_w);
      Node* n = m.finish(conv_op(c));
      check_kernel(m, n, std::string(c.name) + (const_w ? " (constant W)" : " (run-time W)"));
    }
  }
}

// Every post-op kind, on a grouped strided conv; operands of Add/Mul are extra inputs.
TEST(CpuOnednnConv, PostOps) {
  struct PostCase {
    const char* name;
    PostOps ops;
    std::vector<Dims> operands;
  };
  using K = PostOp::Kind;
  const std::vector<PostCase> cases = {
      {"relu", {PostOp::unary(UnaryFn::kRelu)}, {}},
      {"leaky_relu", {PostOp::unary(UnaryFn::kLeakyRelu, 0.1f)}, {}},
      {"clip", {PostOp::unary(UnaryFn::kClip, 0.0f, 6.0f)}, {}},
      {"clip_inf", {PostOp::unary(UnaryFn::kClip, -0.25f, std::numeric_limits<float>::infinity())}, {}},
      {"sigmoid", {PostOp::unary(UnaryFn::kSigmoid)}, {}},
      {"tanh", {PostOp::unary(UnaryFn::kTanh)}, {}},
      {"hard_sigmoid", {PostOp::unary(UnaryFn::kHardSigmoid, 0.2f, 0.5f)}, {}},
      {"hard_swish", {PostOp::unary(UnaryFn::kHardSwish, 1.0f / 6.0f, 0.5f)}, {}},
      {"hard_swish_odd", {PostOp::unary(UnaryFn::kHardSwish, 0.25f, 0.5f)}, {}},
      {"gelu_erf", {PostOp::unary(UnaryFn::kGelu, 0.0f)}, {}},
      {"gelu_tanh", {PostOp::unary(UnaryFn::kGelu, 1.0f)}, {}},
      {"silu", {PostOp::unary(UnaryFn::kSilu)}, {}},
      {"elu", {PostOp::unary(UnaryFn::kElu, 0.7f)}, {}},
      {"softsign_then_relu", {PostOp::unary(UnaryFn::kSoftsign), PostOp::unary(UnaryFn::kRelu)}, {}},
      {"add_residual_relu", {PostOp::binary(K::kAdd, 3), PostOp::unary(UnaryFn::kRelu)}, {{2, 18, 5, 6}}},
      {"mul_per_channel", {PostOp::binary(K::kMul, 3)}, {{1, 18, 1, 1}}},
      {"add_channel_spatial", {PostOp::binary(K::kAdd, 3)}, {{18, 1, 1}}},
      {"add_row", {PostOp::binary(K::kAdd, 3)}, {{6}}},
      {"relu_add_mul",
       {PostOp::unary(UnaryFn::kRelu), PostOp::binary(K::kAdd, 3), PostOp::binary(K::kMul, 4)},
       {{2, 18, 5, 6}, {1, 18, 1, 1}}},
  };
  for (const PostCase& pc : cases) {
    OneNode m;
    m.input({2, 12, 10, 11});
    m.input({18, 4, 3, 3}, true);
    m.input({18}, true);
    for (const Dims& d : pc.operands) m.input(d);
    ConvCase c{"", {}, {}, 3, {2, 2}, {}, {1, 1, 1, 1}};
    auto op = conv_op(c);
    op->post_ops = pc.ops;
    Node* n = m.finish(std::move(op));
    check_kernel(m, n, std::string("post-op ") + pc.name);
  }
}

// A convolution of one pixel in and out (squeeze-excitation) with constant weights and unary post-ops runs as a
// matrix-vector product over the packed weights; anything else about it keeps the oneDNN primitive.
TEST(CpuOnednnConv, OnePixelIsGemv) {
  struct GemvCase {
    const char* name;
    Dims x, w;
    bool gemv;
    bool const_w = true, bias = true;
    PostOps post = {};
    std::vector<int64_t> strides = {}, pads = {};
  };
  using K = PostOp::Kind;
  const std::vector<GemvCase> cases = {
      {"squeeze", {1, 72, 1, 1}, {20, 72, 1, 1}, true, true, true, {PostOp::unary(UnaryFn::kSilu)}},
      {"excite", {1, 20, 1, 1}, {72, 20, 1, 1}, true, true, false, {PostOp::unary(UnaryFn::kSigmoid)}},
      {"conv1d_two_post_ops", {1, 33, 1}, {65, 33, 1}, true, true, true,
       {PostOp::unary(UnaryFn::kHardSigmoid, 0.2f, 0.5f), PostOp::unary(UnaryFn::kRelu)}},
      {"reads_padding", {1, 8, 1, 1}, {16, 8, 1, 1}, false, true, true, {}, {2, 2}, {1, 1, 0, 0}},
      {"run_time_weights", {1, 24, 1, 1}, {16, 24, 1, 1}, false, false},
      {"binary_post_op", {1, 24, 1, 1}, {16, 24, 1, 1}, false, true, true, {PostOp::binary(K::kMul, 3)}},
      {"batch_2", {2, 24, 1, 1}, {16, 24, 1, 1}, false},
  };
  for (const GemvCase& c : cases) {
    OneNode m;
    m.input(c.x);
    m.input(c.w, c.const_w);
    if (c.bias) m.input({c.w[0]}, c.const_w);
    else m.omit();
    if (!c.post.empty() && c.post[0].kind == K::kMul) m.input({1, c.w[0], 1, 1});
    ConvCase cc{"", {}, {}, 1, c.strides, {}, c.pads};
    auto op = conv_op(cc);
    op->post_ops = c.post;
    Node* n = m.finish(std::move(op));
    check_kernel(m, n, c.name, c.gemv && cpu::gemv_available() ? "cpu:gemv" : "onednn");
  }
}

// A symbolic batch: the primitive is created per input shape at run time (through the cache), results stay right.
TEST(CpuOnednnConv, DynamicShapes) {
  OneNode m;
  std::vector<Dim> xs{Dim(), Dim(8), Dim(), Dim()};
  m.input({1, 8, 9, 9}, false, PartialShape(xs));
  m.input({16, 8, 3, 3}, true);
  m.input({16}, true);
  ConvCase c{"", {}, {}, 1, {2, 2}, {}, {1, 1, 1, 1}};
  auto op = conv_op(c);
  op->post_ops = {PostOp::unary(UnaryFn::kRelu)};
  m.finish(std::move(op));
  Executor ref(std::shared_ptr<const Graph>(m.g), *find_device("REF"), CompileOptions{});
  Executor cpu(std::shared_ptr<const Graph>(m.g), *find_device("CPU"), CompileOptions{});
  for (const Dims& d : std::vector<Dims>{{1, 8, 9, 9}, {3, 8, 12, 7}, {1, 8, 9, 9}, {2, 8, 5, 5}}) {
    Tensor x = random_tensor(d, uint32_t(d[0] * 100 + d[2]));
    expect_close(cpu.run({RtValue(x)})[0].tensor, ref.run({RtValue(x)})[0].tensor, "dims " + dims_to_string(d));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ConvTranspose

TEST(CpuOnednnConvTranspose, MatchesReference) {
  struct Case {
    const char* name;
    Dims x, w;
    int64_t group = 1;
    std::vector<int64_t> strides = {}, dilations = {}, pads = {}, output_padding = {}, output_shape = {};
    AutoPad auto_pad = AutoPad::kNotSet;
  };
  const std::vector<Case> cases = {
      {"stride2_pad1_outpad1", {1, 8, 5, 6}, {8, 4, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}, {1, 1}},
      {"grouped", {1, 8, 5, 6}, {8, 3, 3, 3}, 2, {2, 2}, {}, {0, 0, 0, 0}},
      {"dilated_asym", {2, 3, 4, 5}, {3, 5, 3, 2}, 1, {1, 2}, {2, 1}, {1, 0, 0, 1}},
      {"output_shape", {1, 4, 3, 3}, {4, 2, 3, 3}, 1, {3, 2}, {}, {}, {}, {10, 8}},
      {"same_upper", {1, 4, 5, 5}, {4, 4, 3, 3}, 1, {2, 2}, {}, {}, {}, {}, AutoPad::kSameUpper},
      {"deconv1d", {2, 6, 7}, {6, 5, 4}, 1, {3}, {}, {1, 2}, {2}},
      {"deconv3d", {1, 4, 3, 4, 3}, {4, 2, 2, 3, 2}, 2, {2, 1, 2}, {}, {0, 1, 0, 0, 1, 1}},
      {"depthwise", {1, 16, 6, 6}, {16, 1, 4, 4}, 16, {2, 2}, {}, {1, 1, 1, 1}},
  };
  for (const Case& c : cases) {
    for (bool const_w : {true, false}) {
      OneNode m;
      m.input(c.x);
      m.input(c.w, const_w);
      m.input({c.w[1] * c.group}, const_w);
      auto op = std::make_unique<ConvTranspose>();
      op->group = c.group;
      op->window.strides = c.strides;
      op->window.dilations = c.dilations;
      op->window.pads = c.pads;
      op->window.auto_pad = c.auto_pad;
      op->output_padding = c.output_padding;
      op->output_shape = c.output_shape;
      Node* n = m.finish(std::move(op));
      check_kernel(m, n, std::string(c.name) + (const_w ? " (constant W)" : " (run-time W)"));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// MatMul and Gemm

TEST(CpuOnednnMatMul, MatchesReference) {
  struct Case {
    const char* name;
    Dims a, b;
    bool const_b;
    PostOps ops;
    std::vector<Dims> operands;
  };
  using K = PostOp::Kind;
  const std::vector<Case> cases = {
      {"2d", {13, 17}, {17, 9}, true, {}, {}},
      {"batched_const_b", {2, 3, 5, 7}, {7, 9}, true, {}, {}},
      {"broadcast_batch", {4, 1, 6, 8}, {3, 8, 5}, false, {}, {}},
      {"broadcast_both", {2, 1, 3, 4}, {1, 5, 4, 6}, false, {}, {}},
      {"batched_b", {3, 5, 7}, {3, 7, 2}, true, {}, {}},
      {"vector_a", {7}, {7, 5}, true, {}, {}},
      {"vector_b", {4, 5, 7}, {7}, false, {}, {}},
      {"post_bias_gelu",
       {2, 6, 16},
       {16, 24},
       true,
       {PostOp::binary(K::kAdd, 2), PostOp::unary(UnaryFn::kGelu)},
       {{24}}},
      {"post_residual", {2, 6, 16}, {16, 24}, true, {PostOp::binary(K::kAdd, 2)}, {{2, 6, 24}}},
      {"post_vector_a_add", {16}, {16, 8}, true, {PostOp::binary(K::kAdd, 2), PostOp::unary(UnaryFn::kTanh)}, {{8}}},
      {"row_residual_scale",
       {1, 1, 70},
       {70, 130},
       true,
       {PostOp::binary(K::kAdd, 2), PostOp::unary(UnaryFn::kRelu), PostOp::binary(K::kMul, 3)},
       {{1, 1, 130}, {}}},
  };
  for (const Case& c : cases) {
    OneNode m;
    m.input(c.a);
    m.input(c.b, c.const_b);
    for (const Dims& d : c.operands) m.input(d);
    auto op = std::make_unique<MatMul>();
    op->post_ops = c.ops;
    Node* n = m.finish(std::move(op));
    // One row of A against a constant B takes the gemv path (AVX-512 only).
    const bool gemv = c.const_b && element_count(c.a) == c.a.back() && cpu::gemv_available();
    check_kernel(m, n, std::string("matmul ") + c.name, gemv ? "cpu:gemv" : "onednn");
  }
}

TEST(CpuOnednnGemm, MatchesReference) {
  struct Case {
    const char* name;
    bool ta, tb;
    float alpha, beta;
    Dims c;  // empty: no C; {-1}: scalar C
    bool const_b;
    PostOps ops;
  };
  const std::vector<Case> cases = {
      {"plain_bias_row", false, false, 1, 1, {11}, true, {}},
      {"trans_b_fc", false, true, 1, 1, {1, 11}, true, {PostOp::unary(UnaryFn::kRelu)}},
      {"trans_a", true, false, 1, 1, {}, false, {}},
      {"trans_both_alpha_beta", true, true, 0.5f, 2.0f, {7, 11}, true, {}},
      {"column_c", false, false, 1.5f, -1.0f, {7, 1}, false, {PostOp::unary(UnaryFn::kSigmoid)}},
      {"scalar_c", false, true, 1, 0.25f, {-1}, true, {}},
      {"beta_zero", false, false, 2, 0, {7, 11}, true, {}},
  };
  const int64_t M = 7, K = 13, N = 11;
  for (const Case& c : cases) {
    OneNode m;
    m.input(c.ta ? Dims{K, M} : Dims{M, K});
    m.input(c.tb ? Dims{N, K} : Dims{K, N}, c.const_b);
    if (c.c == Dims{-1})
      m.input({});
    else if (!c.c.empty())
      m.input(c.c);
    auto op = std::make_unique<Gemm>();
    op->trans_a = c.ta;
    op->trans_b = c.tb;
    op->alpha = c.alpha;
    op->beta = c.beta;
    op->post_ops = c.ops;
    Node* n = m.finish(std::move(op));
    check_kernel(m, n, std::string("gemm ") + c.name);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Pool

TEST(CpuOnednnPool, MatchesReference) {
  struct Case {
    const char* name;
    PoolFn fn;
    bool global;
    Dims x;
    std::vector<int64_t> k, strides, dilations, pads;
    bool ceil = false, include_pad = false;
    AutoPad auto_pad = AutoPad::kNotSet;
  };
  const std::vector<Case> cases = {
      {"max_3x3_s2_p1", PoolFn::kMax, false, {1, 16, 15, 17}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}},
      {"max_ceil", PoolFn::kMax, false, {2, 5, 10, 11}, {3, 2}, {2, 2}, {}, {}, true},
      {"max_dilated", PoolFn::kMax, false, {1, 3, 12, 11}, {2, 3}, {1, 2}, {2, 2}, {1, 0, 0, 1}},
      {"avg_exclude_pad", PoolFn::kAverage, false, {1, 7, 9, 9}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}},
      {"avg_include_pad", PoolFn::kAverage, false, {1, 7, 9, 9}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, false, true},
      {"avg_ceil_exclude", PoolFn::kAverage, false, {1, 4, 10, 10}, {3, 3}, {2, 2}, {}, {}, true},
      {"avg_same_upper",
       PoolFn::kAverage,
       false,
       {1, 4, 7, 8},
       {3, 2},
       {2, 2},
       {},
       {},
       false,
       false,
       AutoPad::kSameUpper},
      {"max_1d", PoolFn::kMax, false, {2, 3, 17}, {4}, {3}, {}, {1, 2}},
      {"avg_3d", PoolFn::kAverage, false, {1, 2, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {}, {0, 1, 0, 1, 0, 1}},
      {"global_avg", PoolFn::kAverage, true, {2, 32, 7, 7}, {}, {}, {}, {}},
      {"global_max", PoolFn::kMax, true, {1, 9, 5, 3}, {}, {}, {}, {}},
      {"global_avg_3d", PoolFn::kAverage, true, {1, 4, 3, 4, 5}, {}, {}, {}, {}},
  };
  for (const Case& c : cases) {
    OneNode m;
    m.input(c.x);
    auto op = std::make_unique<Pool>();
    op->fn = c.fn;
    op->global = c.global;
    op->window.kernel_shape = c.k;
    op->window.strides = c.strides;
    op->window.dilations = c.dilations;
    op->window.pads = c.pads;
    op->window.auto_pad = c.auto_pad;
    op->ceil_mode = c.ceil;
    op->count_include_pad = c.include_pad;
    Node* n = m.finish(std::move(op));
    check_kernel(m, n, std::string("pool ") + c.name);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Layout pass: a residual block with pooling keeps its activations blocked; results match REF, intermediate graph
// outputs come back plain.

namespace {

std::shared_ptr<Graph> residual_block(const PostOps& conv2_post) {
  auto g = std::make_shared<Graph>();
  auto act = [&](const std::string& name) { return g->add_value(name); };
  Value* x = g->add_value("x", ValueType::tensor(kF32, PartialShape::of({1, 16, 12, 12})));
  g->inputs.push_back(x);
  auto conv = [&](const std::string& name, Value* in, Dims w, int64_t group, std::vector<int64_t> pads,
                  std::vector<Value*> extra = {}, PostOps post = {}) {
    auto op = std::make_unique<Conv>();
    op->group = group;
    op->window.pads = std::move(pads);
    op->post_ops = std::move(post);
    Value* wv = g->add_constant(name + "_w", random_tensor(w, uint32_t(w[0] + w[1] * 7)));
    Value* bv = g->add_constant(name + "_b", random_tensor({w[0]}, uint32_t(w[0] * 3)));
    std::vector<Value*> ins{in, wv, bv};
    ins.insert(ins.end(), extra.begin(), extra.end());
    Value* y = act(name + "_y");
    g->add_node(name, std::move(op), ins, {y});
    return y;
  };
  Value* c1 = conv("c1", x, {32, 16, 3, 3}, 1, {1, 1, 1, 1});
  Value* r1 = act("r1");
  g->add_node("relu1", std::make_unique<Unary>(UnaryFn::kRelu), {c1}, {r1});
  Value* c2 = conv("c2", r1, {32, 32, 1, 1}, 1, {}, {r1}, conv2_post);
  Value* s = c2;
  if (conv2_post.empty()) {
    s = act("sum");
    g->add_node("add", std::make_unique<Binary>(BinaryFn::kAdd), {c2, r1}, {s});
  }
  auto mp = std::make_unique<Pool>();
  mp->fn = PoolFn::kMax;
  mp->window.kernel_shape = {3, 3};
  mp->window.strides = {2, 2};
  mp->window.pads = {1, 1, 1, 1};
  Value* p = act("pool");
  g->add_node("maxpool", std::move(mp), {s}, {p});
  Value* dw = conv("dw", p, {32, 1, 3, 3}, 32, {1, 1, 1, 1});
  auto gap = std::make_unique<Pool>();
  gap->fn = PoolFn::kAverage;
  gap->global = true;
  Value* out = act("gap");
  g->add_node("gap", std::move(gap), {dw}, {out});
  g->outputs = {out, r1};
  infer_graph(*g, InferOptions{0});
  return g;
}

}  // namespace

TEST(CpuOnednnLayout, ResidualChainStaysBlocked) {
  using K = PostOp::Kind;
  // The layout oneDNN prefers here, then each one forced.
  for (const char* layout : {"", "nhwc", "nCx8c", "nCx16c"})
    for (const PostOps& post : {PostOps{}, PostOps{PostOp::binary(K::kAdd, 3), PostOp::unary(UnaryFn::kRelu)}}) {
      if (*layout) setenv("CELER_CPU_LAYOUT", layout, 1);
      SCOPED_TRACE(std::string("layout ") + layout);
      auto g = residual_block(post);
      Tensor x = random_tensor({1, 16, 12, 12}, 77);
      Executor ref(std::shared_ptr<const Graph>(g), *find_device("REF"), CompileOptions{});
      std::vector<RtValue> want = ref.run({RtValue(x)});

      std::shared_ptr<Graph> cpu_graph(g->clone());
      run_layout_pass(*cpu_graph, CompileOptions{});
      int reorders = 0;
      for (const auto& n : cpu_graph->nodes) reorders += n->op->kind() == OpKind::kReorder;
      // In: x to blocked. Out: the GAP output and r1 (a graph output) back to plain. Nothing in between.
      EXPECT_EQ(reorders, 3) << post_ops_to_string(post);
      Executor cpu(std::shared_ptr<const Graph>(cpu_graph), cpu_device(), CompileOptions{});
      std::vector<RtValue> got = cpu.run({RtValue(x)});
      expect_close(got[0].tensor, want[0].tensor, "gap output " + post_ops_to_string(post));
      expect_close(got[1].tensor, want[1].tensor, "relu output " + post_ops_to_string(post));
      unsetenv("CELER_CPU_LAYOUT");
    }
}

// A network whose convolutions all have 8 to 15 input channels still gets a layout chain: run plain, each convolution
// reordered its input into the layout its primitive wanted and its output back (two reorders per node, the larger
// part of a small convolution's time). Only the stem-like first convolution (1 channel) does not vote.
TEST(CpuOnednnLayout, NarrowNetworkGetsAChain) {
  auto g = std::make_shared<Graph>();
  Value* x = g->add_value("x", ValueType::tensor(kF32, PartialShape::of({1, 1, 6, 6})));
  g->inputs.push_back(x);
  Value* v = x;
  const std::vector<Dims> weights = {{8, 1, 3, 3}, {8, 8, 1, 1}, {12, 8, 3, 3}, {8, 12, 1, 1}};
  for (size_t i = 0; i < weights.size(); ++i) {
    auto op = std::make_unique<Conv>();
    if (weights[i][2] == 3) op->window.pads = {1, 1, 1, 1};
    Value* w = g->add_constant("w" + std::to_string(i), random_tensor(weights[i], uint32_t(40 + i)));
    Value* y = g->add_value("y" + std::to_string(i));
    g->add_node("conv" + std::to_string(i), std::move(op), {v, w}, {y});
    v = y;
  }
  g->outputs = {v};
  infer_graph(*g, InferOptions{0});
  Tensor xt = random_tensor({1, 1, 6, 6}, 50);
  Executor ref(std::shared_ptr<const Graph>(g), *find_device("REF"), CompileOptions{});
  const Tensor want = ref.run({RtValue(xt)})[0].tensor;
  std::shared_ptr<Graph> cpu_graph(g->clone());
  run_layout_pass(*cpu_graph, CompileOptions{});
  int reorders = 0;
  for (const auto& n : cpu_graph->nodes) reorders += n->op->kind() == OpKind::kReorder;
  EXPECT_EQ(reorders, 2);  // in and out of the chain (before: none, and two reorders inside every convolution)
  Executor cpu(std::shared_ptr<const Graph>(cpu_graph), cpu_device(), CompileOptions{});
  expect_close(cpu.run({RtValue(xt)})[0].tensor, want, "narrow chain");
}

// The CPU Reorder kernel (a layout change: blocked transposes) against the reference one, between every pair of
// layouts, on sizes with partial 16 x 16 tiles and a large one (threads).
TEST(CpuOnednnLayout, ReorderKernel) {
  const Layout all[] = {Layout::kPlain, Layout::kChannelsLast, Layout::kBlocked8, Layout::kBlocked16};
  for (const Dims& d : std::vector<Dims>{{2, 32, 3, 5}, {1, 16, 2, 3, 4}, {3, 16, 7}, {2, 48, 9, 11}, {1, 64, 60, 60}})
    for (Layout from : all)
      for (Layout to : all) {
        if (from == to) continue;
        OneNode m;
        m.input(d);
        Node* n = m.finish(std::make_unique<Reorder>(from, to));
        // Tile transposes (cpu:reorder) for plain <-> nCx16c and plain <-> nhwc with 16 or more channels and
        // positions, with AVX-512; oneDNN for the rest.
        const bool own = cpu::simd().isa == cpu::Isa::kAvx512 && d[1] >= 16 && element_count(d) / d[0] / d[1] >= 16 &&
                         (from == Layout::kPlain || to == Layout::kPlain) &&
                         (from == Layout::kBlocked16 || to == Layout::kBlocked16 || from == Layout::kChannelsLast ||
                          to == Layout::kChannelsLast);
        check_kernel(m, n,
                     std::string("reorder ") + layout_name(from) + " to " + layout_name(to) + " " + dims_to_string(d),
                     own ? "cpu:reorder" : "onednn:reorder");
      }
}

// The reference Reorder kernel round-trips and really blocks channels.
TEST(CpuOnednnLayout, ReorderReference) {
  OneNode m;
  m.input({2, 32, 3, 5});
  m.finish(std::make_unique<Reorder>(Layout::kPlain, Layout::kBlocked16));
  Tensor blocked = run_on(m, "REF")[0].tensor;
  const float* x = m.feeds[0].data<float>();
  // Element (n=1, c=17, h=2, w=4): block 1, lane 1.
  const int64_t plain_at = ((1 * 32 + 17) * 3 + 2) * 5 + 4;
  const int64_t blocked_at = (((1 * 2 + 1) * 3 + 2) * 5 + 4) * 16 + 1;
  EXPECT_EQ(blocked.data<float>()[blocked_at], x[plain_at]);
  OneNode back;
  back.g->inputs.clear();
  Value* v = back.g->add_value("b", ValueType::tensor(kF32, PartialShape::of({2, 32, 3, 5})));
  back.g->inputs.push_back(v);
  back.feeds.push_back(blocked);
  back.add(v);
  back.finish(std::make_unique<Reorder>(Layout::kBlocked16, Layout::kPlain));
  expect_close(run_on(back, "REF")[0].tensor, m.feeds[0], "round trip");
}

// A channel Concat between convolutions stays in the chain's layout, for every layout: slab copies (cpu:concat) in a
// channel-blocked layout when every input's channels fill whole blocks, oneDNN's concat otherwise.
TEST(CpuOnednnLayout, ChannelConcat) {
  for (int64_t cb : {32, 24}) {
    for (int64_t batch : {1, 2}) {
      celer::test::OnnxBuilder b(13);
      b.input("x", onnx::TensorProto::FLOAT, {batch, 16, 9, 10});
      auto weights = [&](const std::string& name, Dims d) {
        Tensor t = random_tensor(d, uint32_t(d[0] * 31 + d[1]));
        b.initializer(name, std::vector<float>(t.data<float>(), t.data<float>() + t.size()), d);
      };
      weights("wa", {16, 16, 3, 3});
      weights("wb", {cb, 16, 1, 1});
      weights("wc", {16, 16 + cb, 1, 1});
      auto& ca = b.node("Conv", {"x", "wa"}, {"a"});
      celer::test::OnnxBuilder::attr(ca, "pads", std::vector<int64_t>{1, 1, 1, 1});
      b.node("Conv", {"x", "wb"}, {"b"});
      auto& cat = b.node("Concat", {"a", "b"}, {"ab"});
      cat.set_name("cat");
      celer::test::OnnxBuilder::attr(cat, "axis", int64_t{1});
      b.node("Relu", {"ab"}, {"r"});
      b.node("Conv", {"r", "wc"}, {"y"});
      b.output("y");
      Tensor x = random_tensor({batch, 16, 9, 10}, 5);
      const Tensor want = b.run("REF", {x})[0];
      for (const char* layout : {"", "nhwc", "nCx8c", "nCx16c", "plain"}) {
        const std::string what = "layout " + std::string(layout) + ", " + std::to_string(cb) + " channels, batch " +
                                 std::to_string(batch);
        if (*layout) setenv("CELER_CPU_LAYOUT", layout, 1);
        CompiledModel cm = Core().compile_model(b.read(), "CPU");
        InferRequest r = cm.create_infer_request();
        r.enable_profiling();
        r.set_input_tensor(0, x);
        r.infer();
        expect_close(r.get_output_tensor(0), want, what);
        std::string kernel;
        for (const NodeProfile& p : r.profile())
          if (p.name == "cat") kernel = p.kernel;
        const std::string l = layout;
        if ((l == "nCx8c" && cb % 8 == 0) || (l == "nCx16c" && cb % 16 == 0))
          EXPECT_EQ(kernel, "cpu:concat") << what;
        else if (l == "nhwc")
          EXPECT_EQ(kernel, "onednn:concat") << what;
        else if (!l.empty())
          EXPECT_NE(kernel, "cpu:concat") << what;
        unsetenv("CELER_CPU_LAYOUT");
      }
    }
  }
}

// A residual Add fused into a convolution becomes oneDNN's sum post-op: the memory plan puts the convolution's output
// in the residual's buffer when the convolution is its last reader; otherwise (the residual is read later, or is the
// convolution's own input) the kernel copies the residual into its output first. Both match REF, and the residual a
// later node reads is intact.
namespace {

std::shared_ptr<Graph> bottleneck(bool residual_read_later, bool residual_is_conv_input) {
  using K = PostOp::Kind;
  auto g = std::make_shared<Graph>();
  Value* x = g->add_value("x", ValueType::tensor(kF32, PartialShape::of({1, 16, 10, 10})));
  g->inputs.push_back(x);
  auto conv = [&](const std::string& name, Value* in, Dims w, std::vector<int64_t> pads, PostOps post,
                  std::vector<Value*> extra = {}) {
    auto op = std::make_unique<Conv>();
    op->window.pads = std::move(pads);
    op->post_ops = std::move(post);
    Value* wv = g->add_constant(name + "_w", random_tensor(w, uint32_t(w[0] * 5 + w[1] + w[2])));
    Value* bv = g->add_constant(name + "_b", random_tensor({w[0]}, uint32_t(w[0] * 3 + w[2])));
    std::vector<Value*> ins{in, wv, bv};
    ins.insert(ins.end(), extra.begin(), extra.end());
    Value* y = g->add_value(name + "_y");
    g->add_node(name, std::move(op), ins, {y});
    return y;
  };
  const PostOps relu{PostOp::unary(UnaryFn::kRelu)};
  Value* a = conv("c1", x, {32, 16, 1, 1}, {}, relu);
  Value* b = residual_is_conv_input ? a : conv("c2", a, {32, 32, 3, 3}, {1, 1, 1, 1}, relu);
  Value* s = conv("c3", b, {32, 32, 1, 1}, {}, {PostOp::binary(K::kAdd, 3), PostOp::unary(UnaryFn::kRelu)}, {a});
  if (residual_read_later) {
    Value* t = g->add_value("late_y");
    g->add_node("late", std::make_unique<Binary>(BinaryFn::kAdd), {s, a}, {t});
    s = t;
  }
  Value* y = conv("c4", s, {8, 32, 1, 1}, {}, {});
  g->outputs = {y};
  infer_graph(*g, InferOptions{0});
  return g;
}

}  // namespace

TEST(CpuOnednnConv, ResidualAddWritesInPlace) {
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE("variant " + std::to_string(variant));
    auto g = bottleneck(variant == 1, variant == 2);
    Tensor x = random_tensor({1, 16, 10, 10}, 91);
    Executor ref(std::shared_ptr<const Graph>(g), *find_device("REF"), CompileOptions{});
    const Tensor want = ref.run({RtValue(x)})[0].tensor;
    for (int threads : {1, 2}) {
      std::shared_ptr<Graph> cpu_graph(g->clone());
      run_layout_pass(*cpu_graph, CompileOptions{});
      Executor cpu(std::shared_ptr<const Graph>(cpu_graph), cpu_device(), threads_options(threads));
      EXPECT_EQ(cpu.in_place_outputs(), variant == 0 ? 1 : 0);
      auto state = cpu.make_state();
      for (int run = 0; run < 2; ++run)  // the second run reuses the arena the first left behind
        expect_close(cpu.run(*state, {RtValue(x)})[0].tensor, want, "run " + std::to_string(run));
    }
  }
}

// Kernels run from several threads at once (one compiled graph, per-thread streams and scratch buffers).
TEST(CpuOnednnLayout, ConcurrentRuns) {
  auto g = residual_block({});
  Executor ref(std::shared_ptr<const Graph>(g), *find_device("REF"), CompileOptions{});
  std::shared_ptr<Graph> cpu_graph(g->clone());
  run_layout_pass(*cpu_graph, CompileOptions{});
  Executor cpu(std::shared_ptr<const Graph>(cpu_graph), cpu_device(), threads_options(1));
  std::vector<Tensor> xs, want;
  for (uint32_t i = 0; i < 4; ++i) {
    xs.push_back(random_tensor({1, 16, 12, 12}, 100 + i));
    want.push_back(ref.run({RtValue(xs.back())})[0].tensor);
  }
  std::vector<std::vector<Tensor>> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 5; ++r) got[t].push_back(cpu.run({RtValue(xs[t])})[0].tensor);
    });
  for (auto& t : threads) t.join();
  for (size_t t = 0; t < 4; ++t)
    for (const Tensor& y : got[t]) expect_close(y, want[t], "thread " + std::to_string(t));
}
