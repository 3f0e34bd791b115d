// The CPU Attention kernel (src/devices/cpu/attention_kernel.cpp) against the reference Attention kernel: one-node
// graphs on odd shapes (S = 1, 7, 33, 128, 197; D = 8, 64), every scale mode, masks of every broadcast pattern the op
// accepts, broadcast batch dims; the output is written into a buffer with guard bytes around it (which must stay
// untouched; it starts as NaN so unwritten elements show). The kernel's implementation follows the ISA of simd.hpp:
// run this suite also with CELER_CPU_ISA=avx2 to cover the SGEMM path.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "celer/celer.hpp"
#include "devices/cpu/cpu_device.hpp"
#include "ir/infer.hpp"
#include "ops/attention.hpp"
#include "runtime/executor.hpp"

using namespace celer;

namespace {

constexpr ElementType kF32 = ElementType::kF32;

Tensor random_tensor(const Dims& dims, uint32_t seed, float lo, float hi) {
  Tensor t(kF32, dims);
  uint32_t s = seed * 2654435761u + 777u;
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = lo + (hi - lo) * float(s >> 8) / float(1 << 24);
  }
  return t;
}

struct Case {
  Dims q, kt, v;
  Dims mask;  // empty: no mask (use has_mask)
  bool has_mask = false;
  Attention::Scale mode = Attention::Scale::kDivScores;
  float scale = 8.0f;
  bool q_heads_inner = false, v_heads_inner = false, y_heads_inner = false;  // q and v dims are then as stored
};

std::string describe(const Case& c) {
  std::string s = "Q " + dims_to_string(c.q) + " Kt " + dims_to_string(c.kt) + " V " + dims_to_string(c.v);
  if (c.has_mask) s += " mask " + dims_to_string(c.mask);
  if (c.q_heads_inner || c.v_heads_inner || c.y_heads_inner)
    s += " heads inner " + std::to_string(c.q_heads_inner) + std::to_string(c.v_heads_inner) +
         std::to_string(c.y_heads_inner);
  return s + " mode " + std::to_string(int(c.mode));
}

struct Built {
  std::shared_ptr<Graph> g = std::make_shared<Graph>();
  Node* node = nullptr;
  std::vector<Tensor> feeds;
};

Built build(const Case& c, uint32_t seed) {
  Built b;
  std::vector<Value*> ins;
  std::vector<Dims> dims{c.q, c.kt, c.v};
  if (c.has_mask) dims.push_back(c.mask);
  for (size_t i = 0; i < dims.size(); ++i) {
    // Scores of a few units so that the softmax is neither flat nor one-hot; masks like BERT's (0 or -10000) mixed
    // with small values.
    Tensor t = i == 3 ? random_tensor(dims[i], seed + uint32_t(i), -4.0f, 0.5f)
                      : random_tensor(dims[i], seed + uint32_t(i), -1.0f, 1.0f);
    if (i == 3 && t.size() > 1) t.data<float>()[t.size() / 2] = -10000.0f;
    Value* v = b.g->add_value("in" + std::to_string(i), ValueType::tensor(kF32, PartialShape::of(dims[i])));
    b.g->inputs.push_back(v);
    b.feeds.push_back(t);
    ins.push_back(v);
  }
  auto op = std::make_unique<Attention>();
  op->scale_mode = c.mode;
  op->scale = c.scale;
  op->q_heads_inner = c.q_heads_inner;
  op->v_heads_inner = c.v_heads_inner;
  op->y_heads_inner = c.y_heads_inner;
  Value* y = b.g->add_value("y");
  b.node = b.g->add_node("attention", std::move(op), ins, {y});
  b.g->outputs.push_back(y);
  infer_graph(*b.g, InferOptions{0});
  return b;
}

Tensor run_ref(const Built& b) {
  Executor ex(std::shared_ptr<const Graph>(b.g), *find_device("REF"), CompileOptions{});
  std::vector<RtValue> in;
  for (const Tensor& t : b.feeds) in.emplace_back(t);
  return ex.run(in)[0].tensor;
}

// Runs the CPU kernel of the node into a guarded, NaN-filled buffer; returns the output tensor (a view of `buf`).
Tensor run_cpu(const Built& b, const Kernel& kernel, std::vector<unsigned char>& buf, unsigned char** base_out) {
  const Node& n = *b.node;
  std::vector<RtValue> values;
  values.reserve(b.feeds.size());
  for (const Tensor& t : b.feeds) values.emplace_back(t);
  std::vector<const RtValue*> ptrs;
  for (const RtValue& v : values) ptrs.push_back(&v);
  const Dims out = n.outputs[0]->type.shape.to_dims();
  const int64_t bytes = element_count(out) * 4;
  constexpr size_t kGuard = 256;
  buf.assign(size_t(bytes) + 2 * kGuard + 64, 0xA5);
  unsigned char* base = buf.data() + kGuard;
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 0; i < bytes / 4; ++i) std::memcpy(base + i * 4, &nan, 4);
  void* planned[1] = {base};
  int64_t planned_bytes[1] = {bytes};
  std::vector<RtValue> outs(1);
  std::vector<ValueType> inferred{n.outputs[0]->type};
  KernelContext ctx(n, ptrs, &outs, &inferred, nullptr);
  ctx.set_planned(planned, planned_bytes);
  kernel.run(ctx);
  *base_out = base;
  return outs[0].tensor;
}

void check(const Case& c, int threads, uint32_t seed = 1) {
  const std::string what = describe(c) + " threads " + std::to_string(threads);
  Built b = build(c, seed);
  const Tensor want = run_ref(b);
  CompileOptions options;
  options.num_threads = threads;
  auto kernel = cpu_device().create_kernel(*b.node, options);
  ASSERT_TRUE(kernel) << what << ": no CPU kernel";
  ASSERT_EQ(std::string(kernel->name()).rfind("cpu:attention", 0), 0u) << what << ": kernel " << kernel->name();
  std::vector<unsigned char> buf;
  unsigned char* base = nullptr;
  const Tensor got = run_cpu(b, *kernel, buf, &base);
  ASSERT_EQ(got.raw(), static_cast<const void*>(base)) << what << ": output not in the planned buffer";
  ASSERT_EQ(got.dims(), want.dims()) << what;
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  int bad = 0;
  for (int64_t i = 0; i < want.size() && bad < 5; ++i)
    if (!(std::fabs(g[i] - w[i]) <= 1e-4f * std::fabs(w[i]) + 1e-5f)) {
      ADD_FAILURE() << what << ": element " << i << " is " << g[i] << ", the reference " << w[i];
      ++bad;
    }
  const int64_t bytes = want.size() * 4;
  for (unsigned char* p = buf.data(); p < base; ++p) ASSERT_EQ(*p, 0xA5) << what << ": guard before the output";
  for (unsigned char* p = base + bytes; p < buf.data() + buf.size(); ++p)
    ASSERT_EQ(*p, 0xA5) << what << ": guard after the output";
}

Case plain(Dims q, Dims kt, Dims v) {
  Case c;
  c.q = std::move(q);
  c.kt = std::move(kt);
  c.v = std::move(v);
  return c;
}

Case heads(int64_t b, int64_t h, int64_t s, int64_t d) { return plain({b, h, s, d}, {b, h, d, s}, {b, h, s, d}); }

Case with_mode(Case c, Attention::Scale mode) {
  c.mode = mode;
  return c;
}

Case with_mask(Case c, Dims mask) {
  c.has_mask = true;
  c.mask = std::move(mask);
  return c;
}

}  // namespace

TEST(CpuAttention, OddShapesNoMask) {
  for (int64_t s : {1, 7, 33, 128, 197})
    for (int64_t d : {8, 64})
      for (int threads : {1, 2}) check(heads(1, 3, s, d), threads);
}

TEST(CpuAttention, OddShapesWithKeyMask) {
  for (int64_t s : {1, 7, 33, 128, 197})
    for (int64_t d : {8, 64}) {
      Case c = heads(2, 3, s, d);
      c.has_mask = true;
      c.mask = {2, 1, 1, s};  // BERT's per-batch key mask
      check(c, 2);
    }
}

// Q, V and the output stored heads inner ([B, S, H, D] / [S, H, D] as multi-head attention's Reshape leaves them),
// alone and together, with a key mask and a broadcast Kt.
TEST(CpuAttention, HeadsInnerLayouts) {
  for (int64_t s : {1, 7, 33, 197})
    for (int flags = 1; flags < 8; ++flags)
      for (int rank = 3; rank <= 4; ++rank) {
        const int64_t H = 3, D = 8;
        const Dims lead = rank == 4 ? Dims{2} : Dims{};
        auto dims = [&](std::initializer_list<int64_t> tail) {
          Dims d = lead;
          d.insert(d.end(), tail);
          return d;
        };
        Case c = plain(dims({H, s, D}), dims({H, D, s}), dims({H, s, D}));
        c.q_heads_inner = flags & 1;
        c.v_heads_inner = flags & 2;
        c.y_heads_inner = flags & 4;
        if (c.q_heads_inner) c.q = dims({s, H, D});
        if (c.v_heads_inner) c.v = dims({s, H, D});
        if (rank == 4 && flags == 7) c = with_mask(c, {2, 1, 1, s});
        if (rank == 3 && flags == 5) c.kt = {1, D, s};  // Kt broadcast over the heads
        check(c, 1);
        check(c, 2);
      }
}

TEST(CpuAttention, MaskBroadcastPatterns) {
  const int64_t B = 2, H = 3, M = 7, N = 19, D = 8;
  const std::vector<Dims> masks = {
      {B, H, M, N},  // full
      {1, 1, M, N},  // one matrix for all (e.g. causal)
      {M, N},        // lower rank
      {N},           // one key row for all
      {B, 1, 1, N},  // per batch key mask
      {1, H, 1, 1},  // a value per head
      {B, 1, M, 1},  // a value per query row
      {},            // a scalar
      {1, 1, 1, 1},
  };
  for (const Dims& m : masks) {
    const Case c = with_mask(plain({B, H, M, D}, {B, H, D, N}, {B, H, N, D}), m);
    check(c, 1);
    check(c, 2);
  }
}

TEST(CpuAttention, ScaleModes) {
  for (auto mode : {Attention::Scale::kNone, Attention::Scale::kMulScores, Attention::Scale::kDivScores,
                    Attention::Scale::kMulQ, Attention::Scale::kDivQ}) {
    Case c = heads(1, 2, 33, 64);
    c.mode = mode;
    c.scale = mode == Attention::Scale::kMulScores || mode == Attention::Scale::kMulQ ? 0.125f : 8.0f;
    check(c, 2);
  }
}

TEST(CpuAttention, RectangularAndBroadcastBatch) {
  // M != N, K != D, and batch dims that broadcast between Q, Kt and V (rank 3 like ViT's [heads, S, D] too).
  check(plain({2, 5, 12}, {2, 12, 40}, {2, 40, 24}), 2);
  check(plain({3, 1, 17, 16}, {1, 4, 16, 9}, {3, 4, 9, 33}), 2);
  check(plain({17, 16}, {2, 3, 16, 9}, {9, 48}), 2);
  check(with_mode(plain({12, 197, 64}, {12, 64, 197}, {12, 197, 64}), Attention::Scale::kDivQ), 2);
  Case one_head = heads(1, 1, 70, 64);  // fewer matrices than threads: rows split between them
  one_head.has_mask = true;
  one_head.mask = {1, 1, 70, 70};
  check(one_head, 2);
}

TEST(CpuAttention, EmptyAndDegenerate) {
  check(plain({1, 2, 0, 8}, {1, 2, 8, 5}, {1, 2, 5, 8}), 2);  // no query rows
  check(plain({1, 2, 4, 8}, {1, 2, 8, 5}, {1, 2, 5, 0}), 2);  // D = 0
  check(plain({1, 2, 4, 0}, {1, 2, 0, 5}, {1, 2, 5, 8}), 2);  // K = 0: uniform weights
  check(plain({0, 2, 4, 8}, {0, 2, 8, 5}, {0, 2, 5, 8}), 2);  // no batch
}

// Timing of the BERT-base and ViT-B/16 attention blocks (run with --gtest_also_run_disabled_tests).
TEST(CpuAttention, DISABLED_Timing) {
  for (const Case& c : {with_mask(heads(1, 12, 128, 64), {1, 1, 1, 128}),
                        with_mode(plain({12, 197, 64}, {12, 64, 197}, {12, 197, 64}), Attention::Scale::kDivQ)}) {
    Built b = build(c, 3);
    for (int threads : {1, 2}) {
      CompileOptions options;
      options.num_threads = threads;
      auto kernel = cpu_device().create_kernel(*b.node, options);
      ASSERT_TRUE(kernel);
      std::vector<unsigned char> buf;
      unsigned char* base = nullptr;
      double best = 1e9;
      for (int rep = 0; rep < 50; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        run_cpu(b, *kernel, buf, &base);
        best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      const auto t0 = std::chrono::steady_clock::now();
      run_ref(b);
      const double ref = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%s %s threads %d: %.3f ms (reference %.1f ms)\n", describe(c).c_str(), kernel->name(), threads, best,
                  ref);
    }
  }
}

// Which kernel each Attention node of a model gets on CPU and its input shapes (diagnostic: set
// CELER_ATTENTION_MODEL=path/model.onnx and run with --gtest_also_run_disabled_tests).
TEST(CpuAttention, DISABLED_ModelKernels) {
  const char* path = std::getenv("CELER_ATTENTION_MODEL");
  if (!path) GTEST_SKIP() << "CELER_ATTENTION_MODEL not set";
  Model m = Core().read_model(path);
  std::shared_ptr<Graph> g = m.graph().clone();
  cpu_device().run_passes(*g, CompileOptions{});
  Executor ex(std::shared_ptr<const Graph>(g), cpu_device(), CompileOptions{});
  int count = 0;
  for (const auto& [node, kernel] : ex.kernels()) {
    if (node->op->kind() != OpKind::kAttention) continue;
    const auto& op = static_cast<const Attention&>(*node->op);
    if (count++ == 0) {
      std::printf("%s: %s scale mode %d scale %g inputs", node->name.c_str(), kernel, int(op.scale_mode), op.scale);
      for (const Value* v : node->inputs) std::printf(" %s", v ? v->type.shape.to_string().c_str() : "-");
      std::printf("\n");
    }
  }
  std::printf("%d Attention nodes\n", count);
}
