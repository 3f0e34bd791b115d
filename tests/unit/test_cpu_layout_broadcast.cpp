// The CPU layout pass keeps squeeze-excitation blocks in its chains: a Binary whose other operand broadcasts per
// channel ([N, C, 1, 1], [C, 1, 1], ...) runs on the chain's layout (cpu:binary_layout), with the per-channel operand
// in either position, for every layout, and matches REF. Also: the thread count of oneDNN kernels follows the node's
// work (node_threads).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "cpu_test_util.hpp"
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "ir/infer.hpp"
#include "ops/binary.hpp"
#include "ops/conv.hpp"
#include "ops/eltwise.hpp"
#include "ops/pool.hpp"
#include "ops/unary.hpp"
#include "runtime/executor.hpp"

using namespace celer;

namespace {

using test::threads_options;

constexpr ElementType kF32 = ElementType::kF32;

Tensor random_tensor(const Dims& dims, uint32_t seed) { return test::random_f32(dims, seed); }

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

struct SeCase {
  const char* name;
  BinaryFn fn;
  bool scale_first;     // the per-channel operand is input 0
  bool constant_scale;  // a constant [C, 1, 1] instead of the SE branch
  int64_t batch;
};

// x -> conv 1x1 -> y; SE branch: GAP(y) -> conv (C -> 8) -> Relu -> conv (8 -> C) -> Sigmoid -> s; Binary(s, y) (or
// (y, s), or a constant [C,1,1] operand) -> conv 1x1 (C -> 16) -> out. `out` and the Binary's output are graph outputs.
std::shared_ptr<Graph> se_block(const SeCase& c, const Dims& x_dims) {
  auto g = std::make_shared<Graph>();
  const int64_t C = x_dims[1];
  Value* x = g->add_value("x", ValueType::tensor(kF32, PartialShape::of(x_dims)));
  g->inputs.push_back(x);
  uint32_t seed = 3;
  auto conv = [&](const std::string& name, Value* in, Dims w) {
    Value* wv = g->add_constant(name + "_w", random_tensor(w, seed++));
    Value* bv = g->add_constant(name + "_b", random_tensor({w[0]}, seed++));
    Value* y = g->add_value(name + "_y");
    g->add_node(name, std::make_unique<Conv>(), {in, wv, bv}, {y});
    return y;
  };
  auto unary = [&](const std::string& name, UnaryFn fn, Value* in) {
    Value* y = g->add_value(name + "_y");
    g->add_node(name, std::make_unique<Unary>(fn), {in}, {y});
    return y;
  };
  Value* y = conv("c1", x, {C, C, 1, 1});
  Value* s = nullptr;
  if (c.constant_scale) {
    s = g->add_constant("scale", random_tensor({C, 1, 1}, 99));
  } else {
    auto gap = std::make_unique<Pool>();
    gap->fn = PoolFn::kAverage;
    gap->global = true;
    Value* pooled = g->add_value("pooled");
    g->add_node("gap", std::move(gap), {y}, {pooled});
    Value* h = unary("relu", UnaryFn::kRelu, conv("fc1", pooled, {8, C, 1, 1}));
    s = unary("sigmoid", UnaryFn::kSigmoid, conv("fc2", h, {C, 8, 1, 1}));
  }
  Value* m = g->add_value("m");
  g->add_node("binary", std::make_unique<Binary>(c.fn),
              c.scale_first ? std::vector<Value*>{s, y} : std::vector<Value*>{y, s}, {m});
  Value* out = conv("c2", m, {16, C, 1, 1});
  g->outputs = {out, m};
  infer_graph(*g, InferOptions{0});
  return g;
}

}  // namespace

TEST(CpuLayoutBroadcast, SqueezeExcitationStaysInChain) {
  const SeCase cases[] = {
      {"mul_scale_first", BinaryFn::kMul, true, false, 1},
      {"mul_scale_second", BinaryFn::kMul, false, false, 1},
      {"sub_scale_first", BinaryFn::kSub, true, false, 1},
      {"div_scale_second_batch2", BinaryFn::kDiv, false, false, 2},
      {"add_constant_per_channel", BinaryFn::kAdd, false, true, 1},
      {"max_constant_first_batch3", BinaryFn::kMax, true, true, 3},
  };
  for (const SeCase& c : cases)
    for (const char* layout : {"", "nhwc", "nCx8c", "nCx16c", "plain"}) {
      if (*layout) setenv("CELER_CPU_LAYOUT", layout, 1);
      const std::string what = std::string(c.name) + " layout " + layout;
      const Dims xd = {c.batch, 32, 5, 7};
      auto g = se_block(c, xd);
      Tensor x = random_tensor(xd, 7);
      Executor ref(std::shared_ptr<const Graph>(g), *find_device("REF"), CompileOptions{});
      std::vector<RtValue> want = ref.run({RtValue(x)});

      std::shared_ptr<Graph> cpu_graph(g->clone());
      run_layout_pass(*cpu_graph, CompileOptions{});
      Executor cpu(std::shared_ptr<const Graph>(cpu_graph), cpu_device(), CompileOptions{});
      int reorders = 0;
      std::string binary_kernel;
      for (const auto& [node, kernel] : cpu.kernels()) {
        reorders += node->op->kind() == OpKind::kReorder;
        if (node->op->kind() == OpKind::kBinary) binary_kernel = kernel;
      }
      const bool blocked = std::string(layout) != "plain" && reorders > 0;
      if (*layout && std::string(layout) != "plain") {
        EXPECT_TRUE(blocked) << what;
      }
      if (blocked) {
        // The Binary runs in the chain: x in, and the two graph outputs back to plain (plus, for nCx16c, the GAP
        // output: the 8-channel SE convolutions cannot be blocked by 16).
        EXPECT_EQ(binary_kernel, "cpu:binary_layout") << what;
        EXPECT_LE(reorders, std::string(layout) == "nCx16c" && !c.constant_scale ? 4 : 3) << what;
      }
      std::vector<RtValue> got = cpu.run({RtValue(x)});
      expect_close(got[0].tensor, want[0].tensor, what + " (conv output)");
      expect_close(got[1].tensor, want[1].tensor, what + " (binary output)");
      unsetenv("CELER_CPU_LAYOUT");
    }
}

// A broadcast that is not per channel (along a spatial axis) keeps the Binary out of the chain.
TEST(CpuLayoutBroadcast, SpatialBroadcastStaysPlain) {
  auto g = std::make_shared<Graph>();
  Value* x = g->add_value("x", ValueType::tensor(kF32, PartialShape::of({1, 16, 4, 6})));
  g->inputs.push_back(x);
  Value* w = g->add_constant("w", random_tensor({16, 16, 1, 1}, 1));
  Value* y = g->add_value("y");
  g->add_node("conv", std::make_unique<Conv>(), {x, w}, {y});
  Value* row = g->add_constant("row", random_tensor({1, 1, 1, 6}, 2));
  Value* m = g->add_value("m");
  g->add_node("mul", std::make_unique<Binary>(BinaryFn::kMul), {y, row}, {m});
  Value* w2 = g->add_constant("w2", random_tensor({16, 16, 1, 1}, 3));
  Value* out = g->add_value("out");
  g->add_node("conv2", std::make_unique<Conv>(), {m, w2}, {out});
  g->outputs = {out};
  infer_graph(*g, InferOptions{0});
  Tensor xt = random_tensor({1, 16, 4, 6}, 4);
  Executor ref(std::shared_ptr<const Graph>(g), *find_device("REF"), CompileOptions{});
  const Tensor want = ref.run({RtValue(xt)})[0].tensor;
  for (const char* layout : {"nhwc", "nCx8c", "nCx16c"}) {
    setenv("CELER_CPU_LAYOUT", layout, 1);
    std::shared_ptr<Graph> cpu_graph(g->clone());
    run_layout_pass(*cpu_graph, CompileOptions{});
    Executor cpu(std::shared_ptr<const Graph>(cpu_graph), cpu_device(), CompileOptions{});
    for (const auto& [node, kernel] : cpu.kernels())
      if (node->op->kind() == OpKind::kBinary) {
        EXPECT_STREQ(kernel, "cpu:binary") << layout;
      }
    expect_close(cpu.run({RtValue(xt)})[0].tensor, want, layout);
    unsetenv("CELER_CPU_LAYOUT");
  }
}

// Small nodes run on one thread, large ones on the model's threads.
TEST(CpuLayoutBroadcast, NodeThreadsFollowWork) {
  auto conv_node = [](Graph& g, const Dims& x, const Dims& w) {
    Value* xv = g.add_value("x" + std::to_string(g.nodes.size()), ValueType::tensor(kF32, PartialShape::of(x)));
    g.inputs.push_back(xv);
    Value* wv = g.add_constant("w" + std::to_string(g.nodes.size()), random_tensor(w, 1));
    Value* y = g.add_value("y" + std::to_string(g.nodes.size()));
    g.outputs.push_back(y);
    return g.add_node("conv" + std::to_string(g.nodes.size()), std::make_unique<Conv>(), {xv, wv}, {y});
  };
  Graph g;
  Node* tiny = conv_node(g, {1, 16, 7, 7}, {16, 16, 1, 1});
  Node* big = conv_node(g, {1, 64, 56, 56}, {64, 64, 3, 3});
  infer_graph(g, InferOptions{0});
  EXPECT_EQ(onednn::node_threads(*tiny, threads_options(2)), 1);
  EXPECT_EQ(onednn::node_threads(*big, threads_options(2)), 2);
  EXPECT_EQ(onednn::node_threads(*big, CompileOptions{}), 0);  // all threads
}

// A fused Eltwise with per-channel operands (an unfolded BatchNormalization + Relu) between convolutions stays in the
// chain (cpu:eltwise_layout) and matches REF, in every layout.
TEST(CpuLayoutBroadcast, PerChannelEltwiseStaysInChain) {
  auto g = std::make_shared<Graph>();
  const Dims xd = {2, 32, 5, 6};
  Value* x = g->add_value("x", ValueType::tensor(kF32, PartialShape::of(xd)));
  g->inputs.push_back(x);
  Value* w = g->add_constant("w", random_tensor({32, 32, 1, 1}, 1));
  Value* y = g->add_value("y");
  g->add_node("conv", std::make_unique<Conv>(), {x, w}, {y});
  Value* scale = g->add_constant("scale", random_tensor({32, 1, 1}, 2));
  Value* shift = g->add_constant("shift", random_tensor({1, 32, 1, 1}, 3));
  auto op = std::make_unique<Eltwise>();
  EltwiseStep mul;
  mul.unary = false;
  mul.bfn = BinaryFn::kMul;
  mul.input = 1;
  EltwiseStep sub = mul;
  sub.bfn = BinaryFn::kSub;
  sub.input = 2;
  sub.operand_first = true;
  EltwiseStep relu;
  op->steps = {mul, sub, relu};
  Value* e = g->add_value("e");
  g->add_node("eltwise", std::move(op), {y, scale, shift}, {e});
  Value* w2 = g->add_constant("w2", random_tensor({16, 32, 1, 1}, 4));
  Value* out = g->add_value("out");
  g->add_node("conv2", std::make_unique<Conv>(), {e, w2}, {out});
  g->outputs = {out};
  infer_graph(*g, InferOptions{0});
  Tensor xt = random_tensor(xd, 5);
  Executor ref(std::shared_ptr<const Graph>(g), *find_device("REF"), CompileOptions{});
  const Tensor want = ref.run({RtValue(xt)})[0].tensor;
  for (const char* layout : {"nhwc", "nCx8c", "nCx16c", "plain"}) {
    setenv("CELER_CPU_LAYOUT", layout, 1);
    std::shared_ptr<Graph> cpu_graph(g->clone());
    run_layout_pass(*cpu_graph, CompileOptions{});
    Executor cpu(std::shared_ptr<const Graph>(cpu_graph), cpu_device(), CompileOptions{});
    int reorders = 0;
    for (const auto& [node, kernel] : cpu.kernels()) {
      reorders += node->op->kind() == OpKind::kReorder;
      if (node->op->kind() == OpKind::kEltwise) {
        EXPECT_STREQ(kernel, std::string(layout) == "plain" ? "cpu:eltwise" : "cpu:eltwise_layout") << layout;
      }
    }
    EXPECT_EQ(reorders, std::string(layout) == "plain" ? 0 : 2) << layout;
    expect_close(cpu.run({RtValue(xt)})[0].tensor, want, layout);
    unsetenv("CELER_CPU_LAYOUT");
  }
}

// A channel Concat fused into the Eltwise chain that reads it (DenseNet's Concat -> BatchNormalization -> Relu):
// convolution outputs and a graph input joined, scaled and shifted per channel and clamped at zero, then a
// convolution. Matches REF in every layout (cpu:concat_eltwise_layout in the chain, cpu:concat_eltwise on plain), with
// rows of the output that cross the kernel's 1024-element tiles (1072 channels) and rows shorter than one.
TEST(CpuLayoutBroadcast, ConcatEltwiseInEveryLayout) {
  struct Case {
    Dims spatial;
    std::vector<int64_t> channels;  // conv outputs joined after the input x (16 channels)
  };
  for (const Case& c : {Case{{5, 6}, {32, 16}}, Case{{3, 3}, {1024, 32}}, Case{{7, 1}, {16, 48, 32}}}) {
    auto g = std::make_shared<Graph>();
    const Dims xd = {2, 16, c.spatial[0], c.spatial[1]};
    Value* x = g->add_value("x", ValueType::tensor(kF32, PartialShape::of(xd)));
    g->inputs.push_back(x);
    std::vector<Value*> joined = {x};
    int64_t total = 16;
    uint32_t seed = 10;
    for (int64_t ch : c.channels) {
      const std::string id = std::to_string(seed);
      Value* w = g->add_constant("w" + id, random_tensor({ch, 16, 1, 1}, seed++));
      Value* y = g->add_value("y" + id);
      g->add_node("conv" + id, std::make_unique<Conv>(), {x, w}, {y});
      joined.push_back(y);
      total += ch;
    }
    std::vector<Value*> inputs = joined;
    inputs.push_back(g->add_constant("scale", random_tensor({total, 1, 1}, seed++)));
    inputs.push_back(g->add_constant("shift", random_tensor({1, total, 1, 1}, seed++)));
    auto op = std::make_unique<Eltwise>();
    op->concat = int64_t(joined.size());
    EltwiseStep mul;
    mul.unary = false;
    mul.bfn = BinaryFn::kMul;
    mul.input = joined.size();
    EltwiseStep add = mul;
    add.bfn = BinaryFn::kAdd;
    add.input = joined.size() + 1;
    EltwiseStep relu;
    op->steps = {mul, add, relu};
    Value* e = g->add_value("e");
    g->add_node("concat_bn_relu", std::move(op), inputs, {e});
    Value* w2 = g->add_constant("w_out", random_tensor({16, total, 1, 1}, seed++));
    Value* out = g->add_value("out");
    g->add_node("conv_out", std::make_unique<Conv>(), {e, w2}, {out});
    g->outputs = {out};
    infer_graph(*g, InferOptions{0});
    ASSERT_EQ(e->type.shape.to_dims(), (Dims{2, total, c.spatial[0], c.spatial[1]}));
    Tensor xt = random_tensor(xd, 5);
    Executor ref(std::shared_ptr<const Graph>(g), *find_device("REF"), CompileOptions{});
    const Tensor want = ref.run({RtValue(xt)})[0].tensor;
    for (const char* layout : {"nhwc", "nCx8c", "nCx16c", "plain"}) {
      const std::string what = std::string(layout) + " " + dims_to_string(e->type.shape.to_dims());
      setenv("CELER_CPU_LAYOUT", layout, 1);
      std::shared_ptr<Graph> cpu_graph(g->clone());
      run_layout_pass(*cpu_graph, CompileOptions{});
      for (int threads : {1, 2}) {
        Executor cpu(std::shared_ptr<const Graph>(cpu_graph), cpu_device(), threads_options(threads));
        for (const auto& [node, kernel] : cpu.kernels())
          if (node->op->kind() == OpKind::kEltwise) {
            EXPECT_STREQ(kernel, std::string(layout) == "plain" ? "cpu:concat_eltwise" : "cpu:concat_eltwise_layout")
                << what;
          }
        expect_close(cpu.run({RtValue(xt)})[0].tensor, want, what + " threads " + std::to_string(threads));
      }
      unsetenv("CELER_CPU_LAYOUT");
    }
  }
}
