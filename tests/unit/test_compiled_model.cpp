// The compiled-model file (io/compiled_model.hpp) and the model cache (runtime/model_cache.hpp): round trips of
// compiled graphs (outputs identical to the graph that was saved), every op's attributes, damaged files (always a clean
// celer::Error, never a crash), and cache hits, misses and rebuilt entries.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "devices/cpu/cpu_device.hpp"
#include "io/compiled_model.hpp"
#include "io/hash.hpp"
#include "io/npy.hpp"
#include "onnx_builder.hpp"
#include "ops/attention.hpp"
#include "ops/conv.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/reorder.hpp"
#include "runtime/executor.hpp"
#include "runtime/model_cache.hpp"

namespace celer {
namespace {

using test::OnnxBuilder;
namespace fs = std::filesystem;

constexpr int kF32 = onnx::TensorProto::FLOAT;
constexpr int kBool = onnx::TensorProto::BOOL;
constexpr int kString = onnx::TensorProto::STRING;

// A fresh folder under the system's temp directory, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    // tmpfs when there is one: the writer's fsync is then free.
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                              ? fs::path("/dev/shm")
                              : fs::temp_directory_path();
    path = base / ("celer_cm_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
// A new file each time: rewriting a file in place by truncation makes ext4 flush it to disk on close (slow).
void write_file(const std::string& path, const std::string& bytes) {
  ::unlink(path.c_str());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

// Everything about a graph as text: values (types, constants by content hash), nodes with their attributes, subgraphs.
class Dump final : public AttrVisitor {
 public:
  std::string s;
  bool loading() const override { return false; }
  void on(const char* n, bool& v) override { put(n, v ? "true" : "false"); }
  void on(const char* n, int64_t& v) override { put(n, std::to_string(v)); }
  void on(const char* n, uint64_t& v) override { put(n, std::to_string(v)); }
  void on(const char* n, float& v) override { put(n, std::to_string(v)); }
  void on(const char* n, double& v) override { put(n, std::to_string(v)); }
  void on(const char* n, std::string& v) override { put(n, "'" + v + "'"); }
  void on(const char* n, std::vector<int64_t>& v) override { put(n, dims_to_string(v)); }
  void on(const char* n, std::vector<float>& v) override {
    std::string t;
    for (float x : v) t += std::to_string(x) + ",";
    put(n, t);
  }
  void on(const char* n, std::vector<std::string>& v) override {
    std::string t;
    for (const auto& x : v) t += x + ",";
    put(n, t);
  }
  void on(const char* n, Tensor& t) override { put(n, tensor(t)); }
  void on(const char* n, std::shared_ptr<Graph>& g) override {
    s += std::string(n) + "={\n";
    if (g) graph(*g);
    s += "}\n";
  }

  static std::string tensor(const Tensor& t) {
    if (t.empty()) return "empty";
    std::string r = std::string(element_type_name(t.type())) + dims_to_string(t.dims()) + ":";
    if (t.type() == ElementType::kString) {
      for (int64_t i = 0; i < t.size(); ++i) r += t.data<std::string>()[i] + "|";
      return r;
    }
    return r + hex64(hash_bytes(std::string_view(static_cast<const char*>(t.raw()), t.byte_size())));
  }
  void graph(const Graph& g) {
    s += "graph " + g.name + "\n";
    auto names = [](const std::vector<Value*>& l) {
      std::string r;
      for (const Value* v : l) r += (v ? v->name + ":" + v->type.to_string() : "-") + " ";
      return r;
    };
    s += "inputs " + names(g.inputs) + "\noutputs " + names(g.outputs) + "\ncaptures " + names(g.captures) + "\n";
    for (const auto& n : g.nodes) {
      s += std::string(op_kind_name(n->op->kind())) + " '" + n->name + "' in " + names(n->inputs) + "explicit " +
           std::to_string(n->num_explicit_inputs) + " out " + names(n->outputs) + "\n";
      for (const Value* v : n->inputs)
        if (v && v->constant) s += "  const " + v->name + " " + tensor(*v->constant) + "\n";
      n->op->visit_attrs(*this);
    }
  }

 private:
  void put(const char* n, const std::string& v) { s += std::string("  ") + n + "=" + v + "\n"; }
};

std::string dump(const Graph& g) {
  Dump d;
  d.graph(g);
  return d.s;
}

std::shared_ptr<Graph> compile_graph(const Model& m, const Device& dev, const CompileOptions& o = {}) {
  std::shared_ptr<Graph> g = m.graph().clone();
  dev.run_passes(*g, o);
  return g;
}

std::vector<Tensor> run_graph(std::shared_ptr<Graph> g, const Device& dev, const std::vector<Tensor>& inputs) {
  Executor ex(std::shared_ptr<const Graph>(std::move(g)), dev, CompileOptions{});
  std::vector<RtValue> in;
  for (const Tensor& t : inputs) in.emplace_back(t);
  std::vector<Tensor> out;
  for (RtValue& v : ex.run(std::move(in))) out.push_back(v.tensor);
  return out;
}

void expect_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].type(), b[i].type()) << what << " output " << i;
    ASSERT_EQ(a[i].dims(), b[i].dims()) << what << " output " << i;
    EXPECT_EQ(Dump::tensor(a[i]), Dump::tensor(b[i])) << what << " output " << i;
  }
}

Tensor random_tensor(ElementType e, const Dims& dims, uint32_t seed) {
  std::mt19937 gen(seed);
  Tensor t(e, dims);
  if (e == ElementType::kF32) {
    std::uniform_real_distribution<float> d(-1, 1);
    for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = d(gen);
  } else if (e == ElementType::kI64) {
    for (int64_t i = 0; i < t.size(); ++i) t.data<int64_t>()[i] = int64_t(gen() % 100);
  } else if (e == ElementType::kBool) {
    for (int64_t i = 0; i < t.size(); ++i) t.data<bool>()[i] = gen() & 1;
  }
  return t;
}

std::vector<float> seq(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * float(int(i * 7 % 13) - 6);
  return v;
}

// Saves `g`, loads it back, checks the structure is the same and that both run to identical outputs on `dev`.
void round_trip(const std::shared_ptr<Graph>& g, const Device& dev, const std::vector<Tensor>& inputs,
                const std::string& what) {
  TempDir dir;
  const std::string path = dir.file("m.celer");
  save_compiled_graph(*g, {{"model", what}}, path);
  LoadedGraph loaded = load_compiled_graph(path);
  EXPECT_EQ(loaded.meta.at("model"), what);
  EXPECT_EQ(dump(*g), dump(*loaded.graph)) << what;
  EXPECT_EQ(hash_graph(*g), hash_graph(*loaded.graph)) << what;
  expect_identical(run_graph(g, dev, inputs), run_graph(loaded.graph, dev, inputs), what);
}

// ------------------------------------------------------------------------------------------------------ models

// Conv + BatchNorm + Relu, a residual Add, pooling, Gemm, Softmax: on CPU, fusions, post-ops and Reorders.
OnnxBuilder cnn_model() {
  OnnxBuilder b(17);
  b.input("x", kF32, {1, 16, 10, 10});
  b.initializer("w1", seq(16 * 16 * 9, 0.05f), {16, 16, 3, 3});
  b.initializer("b1", seq(16, 0.1f), {16});
  b.initializer("scale", seq(16, 0.2f), {16});
  b.initializer("bias", seq(16, 0.1f), {16});
  b.initializer("mean", seq(16, 0.01f), {16});
  b.initializer("var", std::vector<float>(16, 1.5f), {16});
  b.initializer("w2", seq(16 * 16 * 9, 0.03f), {16, 16, 3, 3});
  b.initializer("wf", seq(16 * 10, 0.1f), {10, 16});
  b.initializer("bf", seq(10, 0.1f), {10});
  auto& c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"});
  OnnxBuilder::attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("BatchNormalization", {"c1", "scale", "bias", "mean", "var"}, {"bn"});
  b.node("Relu", {"bn"}, {"r1"});
  auto& c2 = b.node("Conv", {"r1", "w2"}, {"c2"});
  OnnxBuilder::attr(c2, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Add", {"c2", "x"}, {"res"});
  b.node("Relu", {"res"}, {"r2"});
  auto& mp = b.node("MaxPool", {"r2"}, {"mp"});
  OnnxBuilder::attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(mp, "strides", std::vector<int64_t>{2, 2});
  b.node("GlobalAveragePool", {"mp"}, {"gap"});
  b.node("Flatten", {"gap"}, {"flat"});
  auto& gemm = b.node("Gemm", {"flat", "wf", "bf"}, {"logits"});
  OnnxBuilder::attr(gemm, "transB", int64_t(1));
  b.node("Softmax", {"logits"}, {"y"});
  b.output("y");
  return b;
}

// Scaled dot-product attention (fused into Attention on CPU), LayerNormalization, Gelu through Erf, Resize.
OnnxBuilder transformer_model() {
  OnnxBuilder b(17);
  b.input("q", kF32, {2, 4, 8});
  b.input("k", kF32, {2, 4, 8});
  b.input("v", kF32, {2, 4, 8});
  b.initializer("ln_s", seq(8, 0.3f), {8});
  b.initializer("ln_b", seq(8, 0.1f), {8});
  b.initializer("half", {0.5f}, {});
  b.initializer("one", {1.0f}, {});
  b.initializer("sqrt2", {1.4142135f}, {});
  b.initializer("scale", {0.35355339f}, {});
  auto& kt = b.node("Transpose", {"k"}, {"kt"});
  OnnxBuilder::attr(kt, "perm", std::vector<int64_t>{0, 2, 1});
  b.node("MatMul", {"q", "kt"}, {"s"});
  b.node("Mul", {"s", "scale"}, {"ss"});
  auto& sm = b.node("Softmax", {"ss"}, {"p"});
  OnnxBuilder::attr(sm, "axis", int64_t(-1));
  b.node("MatMul", {"p", "v"}, {"att"});
  auto& ln = b.node("LayerNormalization", {"att", "ln_s", "ln_b"}, {"ln"});
  OnnxBuilder::attr(ln, "epsilon", 1e-5f);
  b.node("Div", {"ln", "sqrt2"}, {"d"});
  b.node("Erf", {"d"}, {"e"});
  b.node("Add", {"e", "one"}, {"e1"});
  b.node("Mul", {"ln", "e1"}, {"m"});
  b.node("Mul", {"m", "half"}, {"y"});
  b.initializer("scales", {1, 1, 2, 0.5f}, {4});
  b.node("Unsqueeze", {"y", "axes0"}, {"y4"});
  b.initializer_i64("axes0", {0}, {1});
  auto& rs = b.node("Resize", {"y4", "", "scales"}, {"z"});
  OnnxBuilder::attr(rs, "mode", std::string("linear"));
  OnnxBuilder::attr(rs, "coordinate_transformation_mode", std::string("align_corners"));
  b.output("y");
  b.output("z");
  return b;
}

// Attribute subgraphs: If with branches that capture outer values, Loop with a carried value.
OnnxBuilder control_model() {
  OnnxBuilder b(13);
  b.input("cond", kBool, {});
  b.input("x", kF32, {3});
  b.initializer("w", {1, 2, 3}, {3});
  auto& n = b.node("If", {"cond"}, {"y"}, "branch");
  auto* a = n.add_attribute();
  a->set_name("then_branch");
  a->set_type(onnx::AttributeProto::GRAPH);
  auto* tg = a->mutable_g();
  tg->set_name("then");
  auto* tn = tg->add_node();
  tn->set_op_type("Mul");
  tn->add_input("x");
  tn->add_input("w");
  tn->add_output("t");
  tg->add_output()->set_name("t");
  auto* e = n.add_attribute();
  e->set_name("else_branch");
  e->set_type(onnx::AttributeProto::GRAPH);
  auto* eg = e->mutable_g();
  eg->set_name("else");
  auto* en = eg->add_node();
  en->set_op_type("Sub");
  en->add_input("x");
  en->add_input("w");
  en->add_output("f");
  eg->add_output()->set_name("f");

  // Loop: 3 iterations of acc = acc + x (x captured).
  b.initializer_i64("trip", {3}, {});
  auto& l = b.node("Loop", {"trip", "", "y"}, {"acc"}, "loop");
  auto* la = l.add_attribute();
  la->set_name("body");
  la->set_type(onnx::AttributeProto::GRAPH);
  auto* body = la->mutable_g();
  body->set_name("body");
  auto add_in = [&](const char* name, int elem, bool scalar) {
    auto* vi = body->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    if (scalar) tt->mutable_shape();
  };
  add_in("i", onnx::TensorProto::INT64, true);
  add_in("c", kBool, true);
  add_in("a", kF32, false);
  auto* bn = body->add_node();
  bn->set_op_type("Add");
  bn->add_input("a");
  bn->add_input("x");
  bn->add_output("a2");
  auto* bc = body->add_node();
  bc->set_op_type("Identity");
  bc->add_input("c");
  bc->add_output("c2");
  body->add_output()->set_name("c2");
  body->add_output()->set_name("a2");
  b.output("acc");
  return b;
}

// String constants (length-prefixed in the data part) and string attributes.
OnnxBuilder string_model() {
  OnnxBuilder b(13);
  b.input("s", kString, {3});
  auto& n = b.node("StringNormalizer", {"s"}, {"n"});
  OnnxBuilder::attr(n, "case_change_action", std::string("UPPER"));
  auto* a = n.add_attribute();
  a->set_name("stopwords");
  a->set_type(onnx::AttributeProto::STRINGS);
  a->add_strings("the");
  a->add_strings("");
  auto* init = b.graph().add_initializer();
  init->set_name("extra");
  init->set_data_type(kString);
  init->add_dims(2);
  init->add_string_data("");
  init->add_string_data(std::string("a\0b", 3));
  OnnxBuilder::attr(b.node("Concat", {"n", "extra"}, {"y"}), "axis", int64_t(0));
  b.output("y");
  return b;
}

Tensor strings(const std::vector<std::string>& v) {
  Tensor t(ElementType::kString, {int64_t(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.data<std::string>()[i] = v[i];
  return t;
}

bool has_node(const Graph& g, const std::function<bool(const Node&)>& pred) {
  for (const auto& n : g.nodes)
    if (pred(*n)) return true;
  return false;
}

TEST(CompiledModel, CnnRoundTripOnCpuAndRef) {
  Model m = cnn_model().read();
  const Tensor x = random_tensor(ElementType::kF32, {1, 16, 10, 10}, 1);
  auto g = compile_graph(m, cpu_device());
  // The compiled graph holds what the file must keep: post-ops and layout Reorders.
  EXPECT_TRUE(has_node(*g, [](const Node& n) {
    return n.op->kind() == OpKind::kConv && !static_cast<const Conv&>(*n.op).post_ops.empty();
  }));
  EXPECT_TRUE(has_node(*g, [](const Node& n) { return n.op->kind() == OpKind::kReorder; }) ||
              std::getenv("CELER_CPU_LAYOUT") != nullptr);
  round_trip(g, cpu_device(), {x}, "cnn on CPU");
  round_trip(compile_graph(m, *find_device("REF")), *find_device("REF"), {x}, "cnn on REF");
}

TEST(CompiledModel, TransformerRoundTrip) {
  Model m = transformer_model().read();
  std::vector<Tensor> in;
  for (uint32_t i = 0; i < 3; ++i) in.push_back(random_tensor(ElementType::kF32, {2, 4, 8}, 10 + i));
  auto g = compile_graph(m, cpu_device());
  EXPECT_TRUE(has_node(*g, [](const Node& n) { return n.op->kind() == OpKind::kAttention; }));
  round_trip(g, cpu_device(), in, "transformer on CPU");
  CompileOptions no_fusion;
  no_fusion.enable_fusion = false;
  round_trip(compile_graph(m, cpu_device(), no_fusion), cpu_device(), in, "transformer without fusion");
}

TEST(CompiledModel, SubgraphsRoundTrip) {
  Model m = control_model().read();
  auto g = compile_graph(m, cpu_device());
  const Tensor x = Tensor::from_vector<float>({1, -2, 3}, {3});
  for (bool c : {true, false}) round_trip(g, cpu_device(), {Tensor::scalar<bool>(c), x}, "control");
  // The loaded subgraphs are children of the loaded graph, with their captures.
  TempDir dir;
  save_compiled_graph(*g, {}, dir.file("c.celer"));
  auto loaded = load_compiled_graph(dir.file("c.celer")).graph;
  for (const auto& n : loaded->nodes)
    for (Graph* sub : n->op->subgraphs()) {
      EXPECT_EQ(sub->parent, loaded.get());
      EXPECT_FALSE(sub->captures.empty()) << n->describe();
    }
}

TEST(CompiledModel, StringTensorsRoundTrip) {
  Model m = string_model().read();
  round_trip(compile_graph(m, cpu_device()), cpu_device(), {strings({"the", "Cat", ""})}, "strings");
}

// Models exported from torchvision / transformers, when present (the build's generated model set, or the folder in
// CELER_TEST_MODEL_DIR): compiled on CPU, saved, loaded, identical outputs. Three by default, all *_op17 with
// CELER_TEST_ALL_MODELS=1.
TEST(CompiledModel, ExportedModelsRoundTrip) {
  const char* env_dir = std::getenv("CELER_TEST_MODEL_DIR");
  const fs::path root = env_dir ? fs::path(env_dir) : fs::path(CELER_TEST_MODEL_DIR);
  std::vector<std::string> names;
  std::error_code ec;
  if (fs::is_directory(root, ec))
    for (const auto& e : fs::directory_iterator(root))
      if (e.path().filename().string().find("_op17") != std::string::npos) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  if (!std::getenv("CELER_TEST_ALL_MODELS") && names.size() > 3) names.resize(3);
  int ran = 0;
  for (const std::string& name : names) {
    const fs::path dir = root / name;
    if (!fs::exists(dir / "model.onnx")) continue;
    Model m = Core().read_model((dir / "model.onnx").string());
    std::vector<Tensor> in;
    for (size_t i = 0; i < m.inputs().size(); ++i)
      in.push_back(npy::read((dir / ("input_" + std::to_string(i) + ".npy")).string()));
    round_trip(compile_graph(m, cpu_device()), cpu_device(), in, name);
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "no generated models under " << root.string();
}

// ------------------------------------------------------------------------------------------------- attributes

// Sets every attribute to a value other than its default (reads as a loader would), to check each op's round trip.
class Fill final : public AttrVisitor {
 public:
  bool loading() const override { return true; }
  void on(const char*, bool& v) override { v = !v; }
  void on(const char*, int64_t& v) override { v = 1; }
  void on(const char*, uint64_t& v) override { v = 2; }
  void on(const char*, float& v) override { v = 0.25f; }
  void on(const char*, double& v) override { v = 0.125; }
  void on(const char*, std::string& v) override { v = "ij"; }
  void on(const char*, std::vector<int64_t>& v) override { v = {1, 2, 3}; }
  void on(const char*, std::vector<float>& v) override { v = {0.5f, -1.5f}; }
  void on(const char*, std::vector<std::string>& v) override { v = {"x", "", "yz"}; }
  void on(const char*, Tensor& t) override { t = Tensor::from_vector<float>({1, 2, 3}, {3}); }
  void on(const char*, std::shared_ptr<Graph>& g) override {
    g = std::make_shared<Graph>();
    g->name = "sub";
    Value* a = g->add_value("a", ValueType::tensor(ElementType::kF32, PartialShape{Dim::symbol("n")}));
    Value* b = g->add_value("b", ValueType::tensor(ElementType::kF32, PartialShape::unknown_rank()));
    g->add_node("id", make_op(OpKind::kIdentity), {a}, {b});
    g->inputs = {a};
    g->outputs = {b};
  }
};

TEST(CompiledModel, EveryOpsAttributesRoundTrip) {
  TempDir dir;
  for (size_t k = 0; k < size_t(OpKind::kCount); ++k) {
    const OpKind kind = OpKind(k);
    for (bool filled : {false, true}) {
      auto g = std::make_shared<Graph>();
      Value* x = g->add_value("x", ValueType::tensor(ElementType::kF32, PartialShape{2, Dim::symbol("b"), Dim()}));
      Value* y = g->add_value("y", ValueType::sequence(ElementType::kI64));
      std::unique_ptr<Op> op = make_op(kind);
      ASSERT_EQ(op->kind(), kind);
      if (filled) {
        Fill f;
        op->visit_attrs(f);
      }
      for (Graph* sub : op->subgraphs())
        if (sub) sub->parent = g.get();
      g->add_node("n", std::move(op), {x, nullptr}, {y, nullptr});
      g->nodes.back()->num_explicit_inputs = 1;
      g->inputs = {x};
      g->outputs = {y};
      const std::string path = dir.file("op.celer");
      save_compiled_graph(*g, {}, path);
      auto loaded = load_compiled_graph(path).graph;
      EXPECT_EQ(dump(*g), dump(*loaded)) << op_kind_name(kind) << (filled ? " filled" : " default");
      EXPECT_EQ(hash_graph(*g), hash_graph(*loaded)) << op_kind_name(kind);
    }
  }
}

TEST(CompiledModel, UnusualAttributesSurvive) {
  // Attention, Reorder and post-ops through a graph round trip, checked field by field.
  auto g = std::make_shared<Graph>();
  Value* x = g->add_value("x", ValueType::tensor(ElementType::kF32, PartialShape{1, 16, 4, 4}));
  Value* a = g->add_value("a", ValueType::tensor(ElementType::kF32, PartialShape{1, 16, 4, 4}));
  Value* y = g->add_value("y", ValueType::tensor(ElementType::kBF16, PartialShape{1, 16, 4, 4}));
  auto conv = std::make_unique<Conv>();
  conv->window.pads = {1, 1, 1, 1};
  conv->window.auto_pad = AutoPad::kSameLower;
  conv->group = 4;
  conv->post_ops = {PostOp::unary(UnaryFn::kClip, 0.f, 6.f), PostOp::binary(PostOp::Kind::kMul, 3)};
  g->add_node("conv", std::move(conv), {x, x}, {a});
  g->add_node("reorder", std::make_unique<Reorder>(Layout::kBlocked16, Layout::kPlain, ElementType::kBF16), {a}, {y});
  auto att = std::make_unique<Attention>();
  att->scale_mode = Attention::Scale::kDivQ;
  att->scale = 8;
  att->v_heads_inner = true;
  Value* z = g->add_value("z", ValueType::tensor(ElementType::kF32, PartialShape{}));
  g->add_node("att", std::move(att), {x, x, x}, {z});
  g->inputs = {x};
  g->outputs = {y, z};
  TempDir dir;
  save_compiled_graph(*g, {}, dir.file("u.celer"));
  auto l = load_compiled_graph(dir.file("u.celer")).graph;
  ASSERT_EQ(l->nodes.size(), 3u);
  const auto& c = static_cast<const Conv&>(*l->nodes[0]->op);
  EXPECT_EQ(c.window.pads, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(c.window.auto_pad, AutoPad::kSameLower);
  EXPECT_EQ(c.group, 4);
  ASSERT_EQ(c.post_ops.size(), 2u);
  EXPECT_EQ(c.post_ops[0].fn, UnaryFn::kClip);
  EXPECT_EQ(c.post_ops[0].beta, 6.f);
  EXPECT_EQ(c.post_ops[1].kind, PostOp::Kind::kMul);
  EXPECT_EQ(c.post_ops[1].input, 3u);
  const auto& r = static_cast<const Reorder&>(*l->nodes[1]->op);
  EXPECT_EQ(r.from, Layout::kBlocked16);
  EXPECT_EQ(r.elem, ElementType::kBF16);
  const auto& at = static_cast<const Attention&>(*l->nodes[2]->op);
  EXPECT_EQ(at.scale_mode, Attention::Scale::kDivQ);
  EXPECT_EQ(at.scale, 8.f);
  EXPECT_TRUE(at.v_heads_inner);
  EXPECT_EQ(l->outputs[0]->type.to_string(), y->type.to_string());
  EXPECT_EQ(l->nodes[0]->inputs[1], l->inputs[0]);  // the same value twice stays one value
}

TEST(CompiledModel, SavingAGraphWithoutItsWeightsIsRefused) {
  // What compile_model's graph looks like once the Executor released the weights its kernels packed.
  auto g = compile_graph(cnn_model().read(), cpu_device());
  for (const auto& n : g->nodes)
    if (n->op->kind() == OpKind::kConv) n->inputs[1]->constant.reset();
  TempDir dir;
  try {
    save_compiled_graph(*g, {}, dir.file("x.celer"));
    FAIL() << "saved";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
    EXPECT_NE(std::string(e.what()).find("no producer and no constant"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.file("x.celer")));
}

// ------------------------------------------------------------------------------------------------- damage

std::string saved_cnn(const TempDir& dir) {
  auto g = compile_graph(cnn_model().read(), cpu_device());
  const std::string path = dir.file("cnn.celer");
  save_compiled_graph(*g, {{"k", "v"}}, path);
  return read_file(path);
}

// Loads `bytes` as a file: true when it loads, false on a celer::Error; anything else fails the test.
bool loads(const TempDir& dir, const std::string& bytes, bool verify = true) {
  const std::string path = dir.file("damaged.celer");
  write_file(path, bytes);
  try {
    load_compiled_graph(path, {verify});
    return true;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kParse) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    return false;
  }
}

TEST(CompiledModelDamage, TruncatedFilesAreRejected) {
  TempDir dir;
  const std::string good = saved_cnn(dir);
  ASSERT_TRUE(loads(dir, good));
  const size_t step = std::max<size_t>(1, good.size() / 400);
  for (size_t n = 0; n < good.size(); n += (n < 512 ? 1 : step))
    EXPECT_FALSE(loads(dir, good.substr(0, n))) << "truncated at " << n;
  EXPECT_FALSE(loads(dir, good + "x"));
}

TEST(CompiledModelDamage, FlippedBytesAreRejected) {
  TempDir dir;
  const std::string good = saved_cnn(dir);
  const size_t step = std::max<size_t>(1, good.size() / 400);
  for (size_t i = 0; i < good.size(); i += (i < 1024 ? 1 : step)) {
    std::string bad = good;
    bad[i] = char(bad[i] ^ 0x5a);
    EXPECT_FALSE(loads(dir, bad)) << "flipped byte " << i;
  }
}

// With the checksums off, the parser itself meets every damaged metadata byte: a clean error or a graph, never a
// crash or a read out of bounds.
TEST(CompiledModelDamage, ParserSurvivesDamagedMetadata) {
  TempDir dir;
  const std::string good = saved_cnn(dir);
  uint64_t meta_size;
  std::memcpy(&meta_size, good.data() + 48, 8);
  const size_t end = std::min<size_t>(good.size(), 128 + meta_size);
  int rejected = 0;
  for (size_t i = 128; i < end; ++i)
    for (uint8_t x : {0x01, 0xff}) {
      if (x == 0x01 && i % 2) continue;
      std::string bad = good;
      bad[i] = char(bad[i] ^ x);
      rejected += !loads(dir, bad, false);
    }
  EXPECT_GT(rejected, 0);
  // Huge counts and lengths everywhere.
  for (size_t i = 128; i + 4 <= end; i += 3) {
    std::string bad = good;
    std::memset(&bad[i], 0xff, 4);
    loads(dir, bad, false);
    bad[i + 3] = 0x7f;
    loads(dir, bad, false);
  }
}

TEST(CompiledModelDamage, NotAModel) {
  TempDir dir;
  EXPECT_FALSE(loads(dir, ""));
  EXPECT_FALSE(loads(dir, std::string(4096, '\0')));
  EXPECT_FALSE(loads(dir, cnn_model().bytes()));
  try {
    load_compiled_graph(dir.file("missing.celer"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
  }
}

// ------------------------------------------------------------------------------------------------- cache

TEST(ModelCache, HitMissAndStaleEntries) {
  TempDir dir;
  const std::string cache = dir.file("cache");  // created by the first store
  const OnnxBuilder b = cnn_model();
  const uint64_t model_hash = hash_bytes(b.bytes());
  CompileOptions opts;
  const uint64_t key = cache_key(model_hash, "CPU", opts);
  EXPECT_FALSE(cache_lookup(cache, key).has_value());

  auto g = compile_graph(b.read(), cpu_device(), opts);
  std::string err;
  ASSERT_TRUE(cache_store(cache, key, *g, {{"source", "cnn"}}, &err)) << err;
  EXPECT_TRUE(fs::exists(cache_entry_path(cache, key)));
  EXPECT_EQ(fs::path(cache_entry_path(cache, key)).filename().string(), hex64(key) + ".celer");
  auto hit_entry = cache_lookup(cache, key);
  ASSERT_TRUE(hit_entry.has_value());
  std::shared_ptr<Graph> hit = hit_entry->graph;
  const Tensor x = random_tensor(ElementType::kF32, {1, 16, 10, 10}, 3);
  expect_identical(run_graph(g, cpu_device(), {x}), run_graph(hit, cpu_device(), {x}), "cache hit");

  // Whatever changes the compiled graph changes the key.
  CompileOptions bf16 = opts, no_fusion = opts;
  bf16.inference_precision = ElementType::kBF16;
  no_fusion.enable_fusion = false;
  EXPECT_NE(cache_key(model_hash, "CPU", bf16), key);
  EXPECT_NE(cache_key(model_hash, "CPU", no_fusion), key);
  EXPECT_NE(cache_key(model_hash, "REF", opts), key);
  EXPECT_NE(cache_key(model_hash + 1, "CPU", opts), key);
  EXPECT_FALSE(cache_lookup(cache, cache_key(model_hash, "CPU", no_fusion)).has_value());
  CompileOptions threads = opts;
  threads.num_threads = 1;
  EXPECT_EQ(cache_key(model_hash, "CPU", threads), key);  // threads do not change the graph

  // A damaged entry is a miss, deleted, then rebuilt.
  const std::string path = cache_entry_path(cache, key);
  std::string bytes = read_file(path);
  bytes[bytes.size() / 2] ^= 1;
  write_file(path, bytes);
  std::string note;
  EXPECT_FALSE(cache_lookup(cache, key, &note).has_value());
  EXPECT_NE(note.find("checksum"), std::string::npos) << note;
  EXPECT_FALSE(fs::exists(path));
  ASSERT_TRUE(cache_store(cache, key, *g, {}));
  EXPECT_TRUE(cache_lookup(cache, key).has_value());

  // An entry under another key's name (copied by hand) is stale.
  const uint64_t other = key ^ 1;
  fs::copy_file(path, cache_entry_path(cache, other));
  EXPECT_FALSE(cache_lookup(cache, other, &note).has_value());
  EXPECT_NE(note.find("another key"), std::string::npos) << note;
  EXPECT_FALSE(fs::exists(cache_entry_path(cache, other)));

  // A folder that cannot be written: store reports it, never throws.
  EXPECT_FALSE(cache_store("/proc/celer-no-such-dir", key, *g, {}, &err));
  EXPECT_FALSE(err.empty());
}

TEST(ModelCache, GraphHashIdentifiesInMemoryModels) {
  Model a = cnn_model().read(), b = cnn_model().read();
  EXPECT_EQ(hash_graph(a.graph()), hash_graph(b.graph()));
  OnnxBuilder other = cnn_model();
  other.graph().mutable_initializer(0)->set_float_data(0, 42.0f);
  EXPECT_NE(hash_graph(a.graph()), hash_graph(other.read().graph()));
}

TEST(ModelCache, ModelFileHash) {
  TempDir dir;
  const std::string model = dir.file("m.onnx");
  write_file(model, cnn_model().bytes());
  const uint64_t h = model_file_hash(dir.file("cache"), model);
  EXPECT_EQ(h, hash_file(model));
  EXPECT_EQ(h, chunked_hash(cnn_model().bytes().data(), cnn_model().bytes().size()));
  write_file(model, transformer_model().bytes());
  EXPECT_NE(model_file_hash(dir.file("cache"), model), h);
  // A file that has not changed for a while is remembered by its identity: one small ".src" file.
  const std::string old_file = "/etc/os-release";
  if (!fs::exists(old_file)) return;
  const std::string cache = dir.file("cache2");
  const uint64_t a = model_file_hash(cache, old_file);
  EXPECT_EQ(a, hash_file(old_file));
  int memos = 0;
  for (const auto& e : fs::directory_iterator(cache)) memos += e.path().extension() == ".src";
  EXPECT_EQ(memos, 1);
  EXPECT_EQ(model_file_hash(cache, old_file), a);
}

TEST(Hash, ChunkedMatchesStreaming) {
  std::string s(ChunkedHasher::kChunk * 2 + 12345, '\0');
  for (size_t i = 0; i < s.size(); i += 97) s[i] = char(i);
  ChunkedHasher c;
  for (size_t i = 0; i < s.size(); i += 1 << 20) c.update(s.data() + i, std::min<size_t>(1 << 20, s.size() - i));
  EXPECT_EQ(c.digest(), chunked_hash(s.data(), s.size()));
  EXPECT_NE(chunked_hash(s.data(), s.size() - 1), chunked_hash(s.data(), s.size()));
}

TEST(Hash, StreamingMatchesOneCall) {
  std::string s(10000, '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = char(i * 31 + 7);
  for (size_t piece : {1, 3, 63, 64, 65, 1000}) {
    Hasher h;
    for (size_t i = 0; i < s.size(); i += piece) h.update(s.data() + i, std::min(piece, s.size() - i));
    EXPECT_EQ(h.digest(), hash_bytes(s)) << piece;
  }
  EXPECT_NE(hash_bytes("a"), hash_bytes(std::string("a\0", 2)));
  // Reordered 64-byte stripes hash differently.
  std::string swapped = s;
  std::swap_ranges(swapped.begin(), swapped.begin() + 64, swapped.begin() + 64);
  EXPECT_NE(hash_bytes(swapped), hash_bytes(s));
}

}  // namespace
}  // namespace celer

namespace celer {
namespace {

std::vector<float> run_cached(Core& core, const std::string& model, const std::string& cache, const Tensor& x,
                              double* compile_ms = nullptr) {
  Properties props{{"inference_num_threads", "1"}};
  if (!cache.empty()) props["cache_dir"] = cache;
  CompiledModel cm = core.compile_model(model, "CPU", props);
  if (compile_ms) *compile_ms = cm.compile_ms();
  InferRequest r = cm.create_infer_request();
  r.set_input_tensor(0, x);
  r.infer();
  const Tensor& y = r.get_output_tensor(0);
  return std::vector<float>(y.data<float>(), y.data<float>() + y.size());
}

// Through the API: the cold compile stores the graph and the kernels' packed weights, warm compiles load them (no
// import, no passes, no packing) and give the same outputs bit for bit; a damaged entry is rebuilt, never trusted.
TEST(ModelCache, CompileModelStoresAndReusesPackedWeights) {
  TempDir dir;
  const std::string model = dir.file("cnn.onnx"), cache = dir.file("cache");
  write_file(model, cnn_model().bytes());
  Core core;
  const Tensor x = random_tensor(ElementType::kF32, {1, 16, 10, 10}, 5);
  const std::vector<float> want = run_cached(core, model, "", x);
  EXPECT_EQ(run_cached(core, model, cache, x), want);  // cold: stored
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(cache))
    if (e.path().extension() == ".celer") entries.push_back(e.path());
  ASSERT_EQ(entries.size(), 1u);
  LoadedGraph stored = load_compiled_graph(entries[0].string());
  EXPECT_GE(stored.packed.size(), 3u);  // two convolutions and the Gemm
  // The packed copies replace the original weights in the entry.
  for (const auto& v : stored.graph->values())
    if (v->name == "w1" || v->name == "w2" || v->name == "wf") {
      EXPECT_FALSE(v->constant) << v->name;
    }
  EXPECT_EQ(run_cached(core, model, cache, x), want);  // warm
  // Damaged: detected, deleted, rebuilt; the outputs stay right.
  std::string bytes = read_file(entries[0].string());
  bytes[bytes.size() / 2] = char(bytes[bytes.size() / 2] ^ 0x5a);
  write_file(entries[0].string(), bytes);
  EXPECT_EQ(run_cached(core, model, cache, x), want);
  EXPECT_NO_THROW(load_compiled_graph(entries[0].string()));  // written again
  EXPECT_EQ(run_cached(core, model, cache, x), want);
  // Another precision is another entry.
  CompiledModel bf16 = core.compile_model(model, "CPU", {{"cache_dir", cache}, {"inference_precision", "bf16"}});
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(cache)) n += e.path().extension() == ".celer";
  EXPECT_EQ(n, 2u);
  // A model changed on disk is a new entry, not the old one.
  OnnxBuilder changed = cnn_model();
  changed.graph().mutable_initializer(0)->set_float_data(0, 3.0f);
  write_file(model, changed.bytes());
  const std::vector<float> want2 = run_cached(core, model, "", x);
  EXPECT_NE(want2, want);
  EXPECT_EQ(run_cached(core, model, cache, x), want2);
}

}  // namespace
}  // namespace celer
