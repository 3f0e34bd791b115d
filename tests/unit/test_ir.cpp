// The graph IR (values, nodes, topological sort, dead-code removal, clone) and the memory planner.
#include <gtest/gtest.h>

#include "ir/graph.hpp"
#include "ir/infer.hpp"
#include "onnx_builder.hpp"
#include "ops/op.hpp"
#include "runtime/executor.hpp"
#include "runtime/memory_plan.hpp"

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

using namespace celer;
using celer::test::OnnxBuilder;

namespace {
// a -> Relu -> b -> Neg -> c, plus an unused branch a -> Abs -> dead.
std::shared_ptr<Graph> small_graph() {
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::FLOAT, {2, 3});
  b.node("Neg", {"b"}, {"c"}, "second");  // out of order on purpose: the importer sorts
  b.node("Relu", {"a"}, {"b"}, "first");
  b.node("Abs", {"a"}, {"dead"}, "unused");
  b.output("c");
  return b.read().graph_ptr();
}
}  // namespace

TEST(Ir, ImportSortsTopologically) {
  auto g = small_graph();
  std::vector<std::string> order;
  for (const auto& n : g->nodes) order.push_back(n->name);
  auto pos = [&](const std::string& n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
  EXPECT_LT(pos("first"), pos("second"));
  EXPECT_EQ(g->find_value("c")->producer->name, "second");
  EXPECT_EQ(g->find_value("a")->producer, nullptr);
}

TEST(Ir, RemoveDeadKeepsWhatOutputsNeed) {
  auto g = small_graph()->clone();
  g->remove_dead();
  ASSERT_EQ(g->nodes.size(), 2u);
  for (const auto& n : g->nodes) EXPECT_NE(n->name, "unused");
}

TEST(Ir, CloneIsDeepAndIndependent) {
  auto g = small_graph();
  auto c = g->clone();
  ASSERT_EQ(c->nodes.size(), g->nodes.size());
  for (size_t i = 0; i < c->nodes.size(); ++i) {
    EXPECT_NE(c->nodes[i].get(), g->nodes[i].get());
    EXPECT_EQ(c->nodes[i]->name, g->nodes[i]->name);
    for (const Value* v : c->nodes[i]->inputs) EXPECT_EQ(c->find_value(v->name), v);  // points into the clone
  }
  c->inputs[0]->type.shape = PartialShape{Dim(7), Dim(3)};
  EXPECT_EQ(g->inputs[0]->type.shape.to_string(), "[2,3]");
}

TEST(Ir, SymbolicDimsFlowThroughInference) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 4});
  b.graph().mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_param("N");
  b.node("Relu", {"x"}, {"y"});
  b.node("Add", {"y", "x"}, {"z"});
  b.output("z");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].shape.to_string(), "[N,4]");
  m.reshape({{"x", PartialShape{Dim(5), Dim(4)}}});
  EXPECT_EQ(m.outputs()[0].shape.to_string(), "[5,4]");
}

TEST(Ir, ShapeSubgraphsFoldAtLoad) {
  // Reshape(x, Concat(Gather(Shape(x), 0), [-1])): folded to a constant target once x's shape is static.
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2, 3, 4});
  b.initializer_i64("zero", {0}, {1});
  b.initializer_i64("minus1", {-1}, {1});
  b.node("Shape", {"x"}, {"s"});
  b.node("Gather", {"s", "zero"}, {"n"});
  b.node("Concat", {"n", "minus1"}, {"target"}, "concat");
  OnnxBuilder::attr(*b.graph().mutable_node(2), "axis", int64_t(0));
  b.node("Reshape", {"x", "target"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].shape.to_string(), "[2,12]");
  EXPECT_EQ(m.graph().nodes.size(), 1u);  // only the Reshape is left
}

TEST(MemoryPlan, DisjointLifetimesShareMemory) {
  // a [0,1], b [1,2], c [2,3]: a and c may share; b overlaps both.
  MemoryPlan p = plan_buffers({{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}});
  ASSERT_EQ(p.offsets.size(), 3u);
  EXPECT_NE(p.offsets[0], p.offsets[1]);
  EXPECT_NE(p.offsets[1], p.offsets[2]);
  EXPECT_EQ(p.offsets[0], p.offsets[2]);
  EXPECT_EQ(p.total_bytes, 2048);  // two 1024-byte (64-aligned) slots
  for (int64_t o : p.offsets) EXPECT_EQ(o % 64, 0);
}

TEST(MemoryPlan, OverlappingLifetimesNeverOverlapInMemory) {
  std::vector<BufferRequest> reqs;
  for (int i = 0; i < 40; ++i) reqs.push_back({int64_t(100 + 37 * (i % 7)), i % 9, i % 9 + (i % 5)});
  MemoryPlan p = plan_buffers(reqs);
  for (size_t i = 0; i < reqs.size(); ++i)
    for (size_t j = i + 1; j < reqs.size(); ++j) {
      bool live_together = reqs[i].first <= reqs[j].last && reqs[j].first <= reqs[i].last;
      bool mem_overlap = p.offsets[i] < p.offsets[j] + reqs[j].bytes && p.offsets[j] < p.offsets[i] + reqs[i].bytes;
      EXPECT_FALSE(live_together && mem_overlap) << i << " and " << j;
    }
}

TEST(MemoryPlan, ArenaResultsMatchUnplanned) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {4, 8});
  b.node("Relu", {"x"}, {"a"});
  b.node("Neg", {"a"}, {"b"});
  b.node("Abs", {"b"}, {"c"});
  b.node("Add", {"a", "c"}, {"d"});
  b.initializer_i64("shape", {32}, {1});
  b.node("Reshape", {"d", "shape"}, {"y"});
  b.output("y");
  Tensor x(ElementType::kF32, {4, 8});
  for (int i = 0; i < 32; ++i) x.data<float>()[i] = float(i - 16);
  std::vector<float> results[2];
  for (int planned = 0; planned < 2; ++planned) {
    CompiledModel cm = Core().compile_model(b.read(), "REF", {{"plan_memory", planned ? "1" : "0"}});
    InferRequest r = cm.create_infer_request();
    r.set_tensor("x", x);
    for (int run = 0; run < 3; ++run) r.infer();  // reuse of the arena across runs
    const Tensor& y = r.get_output_tensor(0);
    results[planned].assign(y.data<float>(), y.data<float>() + y.size());
  }
  EXPECT_EQ(results[0], results[1]);
}

// ---- Kernels made on worker threads (Executor, CompileOptions::compile_threads)
namespace {
// A device whose kernels are the reference ones; creating one takes a millisecond (so that workers interleave),
// records the creating thread, and throws for one named node.
class SlowDevice final : public Device {
 public:
  explicit SlowDevice(std::string fail = "") : fail_(std::move(fail)) {}
  std::string name() const override { return "SLOW"; }
  std::unique_ptr<Kernel> create_kernel(const Node& node, const CompileOptions&) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads_.insert(std::this_thread::get_id());
    }
    CELER_CHECK(node.name != fail_, kUnsupported, "no kernel for node '", node.name, "'");
    return nullptr;
  }
  size_t threads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_.size();
  }

 private:
  std::string fail_;
  mutable std::mutex mu_;
  mutable std::set<std::thread::id> threads_;
};

// x -> 40 x (Relu, Neg) alternating -> y.
std::shared_ptr<Graph> chain_graph() {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {3, 5});
  std::string in = "x";
  for (int i = 0; i < 40; ++i) {
    const std::string out = i == 39 ? "y" : "v" + std::to_string(i);
    b.node(i % 2 ? "Neg" : "Relu", {in}, {out}, "n" + std::to_string(i));
    in = out;
  }
  b.output("y");
  return b.read().graph_ptr();
}
}  // namespace

TEST(Executor, KernelsMadeOnWorkerThreadsRunLikeSerialOnes) {
  Tensor x(ElementType::kF32, {3, 5});
  for (int i = 0; i < 15; ++i) x.data<float>()[i] = float(i - 7) * 0.5f;
  std::vector<float> results[2];
  for (int threads : {1, 3}) {
    SlowDevice device;
    CompileOptions o;
    o.compile_threads = threads;
    Executor e(chain_graph(), device, o);
    if (threads > 1) EXPECT_GE(device.threads(), 2u);
    else EXPECT_EQ(device.threads(), 1u);
    const Tensor y = e.run({RtValue(x)})[0].tensor;
    results[threads > 1].assign(y.data<float>(), y.data<float>() + y.size());
  }
  EXPECT_EQ(results[0], results[1]);
}

TEST(Executor, KernelErrorOnAWorkerThreadReachesTheCompile) {
  for (int threads : {1, 3}) {
    for (const char* bad : {"n0", "n21", "n39"}) {
      SlowDevice device(bad);
      CompileOptions o;
      o.compile_threads = threads;
      try {
        Executor e(chain_graph(), device, o);
        ADD_FAILURE() << "no error for " << bad;
      } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find(std::string("no kernel for node '") + bad + "'"), std::string::npos)
            << err.what();
      }
    }
  }
}
