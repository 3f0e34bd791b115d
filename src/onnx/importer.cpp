#include "onnx/importer.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_set>

#include "ir/infer.hpp"
#include "onnx/onnx.pb.h"
#include "onnx/onnx_node.hpp"
#include "onnx/onnx_tensor.hpp"
#include "ops/registry.hpp"

namespace celer {

namespace {

std::string normalize_domain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

struct ImportState {
  std::string source;                        // file or label for messages
  std::string weights_dir;
  std::map<std::string, int64_t> opsets;
  struct Unsupported {
    std::string node, op_type, domain;
    int64_t opset;
  };
  std::vector<Unsupported> unsupported;
  size_t node_count = 0;
  // Payloads of the main graph's initializers left out of parsing (onnx/payloads.hpp), or null.
  const std::vector<PayloadSpan>* payloads = nullptr;
  const PayloadSource* payload_source = nullptr;
  bool external_data = false;
};

// Builds one graph (the main graph or a subgraph); resolves names through enclosing builders.
class GraphBuilder {
 public:
  GraphBuilder(ImportState& st, GraphBuilder* parent, int depth) : st_(st), parent_(parent), depth_(depth) {
    graph_ = std::make_shared<Graph>();
    if (parent) graph_->parent = parent->graph_.get();
  }

  // Consumes the proto's tensor bytes (moved into the graph's constants).
  std::shared_ptr<Graph> build(onnx::GraphProto& gp);

  // Finds a value by name here or in an enclosing graph (creating captures along the way); nullptr if undefined.
  Value* resolve(const std::string& name) {
    if (Value* v = graph_->find_value(name)) return v;
    if (!parent_) return nullptr;
    Value* outer = parent_->resolve(name);
    if (!outer) return nullptr;
    Value* cap = graph_->add_value(name, outer->type);
    graph_->captures.push_back(cap);
    captured_outer_.push_back(outer);
    return cap;
  }
  const std::vector<Value*>& captured_outer() const { return captured_outer_; }
  Graph& graph() { return *graph_; }
  ImportState& state() { return st_; }
  int depth() const { return depth_; }

 private:
  void import_node(const onnx::NodeProto& np, size_t index);

  ImportState& st_;
  GraphBuilder* parent_;
  int depth_;
  std::shared_ptr<Graph> graph_;
  std::vector<Value*> captured_outer_;
  friend class ProtoNode;
};

std::string node_label(const onnx::NodeProto& np, size_t index) {
  if (!np.name().empty()) return np.name();
  return np.op_type() + "#" + std::to_string(index);
}

class ProtoNode final : public OnnxNode {
 public:
  ProtoNode(GraphBuilder& b, const onnx::NodeProto& np, std::string label, int opset)
      : b_(b), np_(np), label_(std::move(label)), opset_(opset), domain_(normalize_domain(np.domain())) {
    for (const auto& a : np.attribute()) attrs_[a.name()] = &a;
  }
  const std::string& name() const override { return label_; }
  const std::string& op_type() const override { return np_.op_type(); }
  const std::string& domain() const override { return domain_; }
  int opset() const override { return opset_; }
  size_t num_inputs() const override { return size_t(np_.input_size()); }
  Value* input(size_t i) const override {
    if (i >= num_inputs() || np_.input(int(i)).empty()) return nullptr;
    Value* v = b_.resolve(np_.input(int(i)));
    if (!v) fail("input '", np_.input(int(i)), "' is not defined by any node, initializer or graph input");
    return v;
  }
  size_t num_outputs() const override { return size_t(np_.output_size()); }
  Value* output(size_t i) const override {
    if (i >= num_outputs() || np_.output(int(i)).empty()) return nullptr;
    return b_.graph().find_value(np_.output(int(i)));
  }

  const onnx::AttributeProto* find(const std::string& a) const {
    auto it = attrs_.find(a);
    return it == attrs_.end() ? nullptr : it->second;
  }
  const onnx::AttributeProto& need(const std::string& a, onnx::AttributeProto::AttributeType type) const {
    const onnx::AttributeProto* p = find(a);
    if (!p) fail("attribute '", a, "' is required but missing");
    if (!p->ref_attr_name().empty()) unsupported("attribute '", a, "' refers to a function attribute");
    if (p->type() != type && !(p->type() == onnx::AttributeProto::UNDEFINED))
      fail("attribute '", a, "' has type ", onnx::AttributeProto::AttributeType_Name(p->type()), ", expected ",
           onnx::AttributeProto::AttributeType_Name(type));
    return *p;
  }
  bool has_attr(const std::string& a) const override { return find(a) != nullptr; }
  int64_t attr_int(const std::string& a, std::optional<int64_t> def) const override {
    if (!find(a) && def) return *def;
    return need(a, onnx::AttributeProto::INT).i();
  }
  float attr_float(const std::string& a, std::optional<float> def) const override {
    if (!find(a) && def) return *def;
    return need(a, onnx::AttributeProto::FLOAT).f();
  }
  std::string attr_string(const std::string& a, std::optional<std::string> def) const override {
    if (!find(a) && def) return *def;
    return need(a, onnx::AttributeProto::STRING).s();
  }
  std::vector<int64_t> attr_ints(const std::string& a, std::optional<std::vector<int64_t>> def) const override {
    if (!find(a) && def) return *def;
    const auto& p = need(a, onnx::AttributeProto::INTS);
    return {p.ints().begin(), p.ints().end()};
  }
  std::vector<float> attr_floats(const std::string& a, std::optional<std::vector<float>> def) const override {
    if (!find(a) && def) return *def;
    const auto& p = need(a, onnx::AttributeProto::FLOATS);
    return {p.floats().begin(), p.floats().end()};
  }
  std::vector<std::string> attr_strings(const std::string& a,
                                        std::optional<std::vector<std::string>> def) const override {
    if (!find(a) && def) return *def;
    const auto& p = need(a, onnx::AttributeProto::STRINGS);
    return {p.strings().begin(), p.strings().end()};
  }
  Tensor attr_tensor(const std::string& a) const override {
    const auto& p = need(a, onnx::AttributeProto::TENSOR);
    return read_onnx_tensor(p.t(), b_.state().weights_dir,
                            detail::concat("attribute '", a, "' of node '", label_, "' (", op_type(), ")"));
  }
  std::shared_ptr<Graph> attr_graph(const std::string& a) override {
    const auto& p = need(a, onnx::AttributeProto::GRAPH);
    CELER_CHECK(b_.depth() + 1 <= kMaxSubgraphDepth, kLimitExceeded, "node '", label_, "' (", op_type(),
                "): subgraphs are nested deeper than the limit of ", kMaxSubgraphDepth, " levels");
    GraphBuilder sub(b_.state(), &b_, b_.depth() + 1);
    std::shared_ptr<Graph> g;
    try {
      // The importer owns the parsed model: subgraph protos are consumed like the main graph.
      g = sub.build(const_cast<onnx::GraphProto&>(p.g()));
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kLimitExceeded) throw;
      throw Error(e.code(), detail::concat("in subgraph '", a, "' of node '", label_, "' (", op_type(), "): ", e.message()));
    }
    for (Value* outer : sub.captured_outer())
      if (std::find(implicit_.begin(), implicit_.end(), outer) == implicit_.end()) implicit_.push_back(outer);
    return g;
  }

  Node* emit(std::unique_ptr<Op> op) override {
    std::vector<Value*> in, out;
    for (size_t i = 0; i < num_inputs(); ++i) in.push_back(input(i));
    while (!in.empty() && !in.back()) in.pop_back();
    for (size_t i = 0; i < num_outputs(); ++i) out.push_back(output(i));
    return emit(std::move(op), std::move(in), std::move(out));
  }
  Node* emit(std::unique_ptr<Op> op, std::vector<Value*> in, std::vector<Value*> out) override {
    size_t explicit_count = in.size();
    for (Value* v : implicit_) in.push_back(v);
    std::string name = emitted_ == 0 ? label_ : label_ + "/" + std::to_string(emitted_);
    ++emitted_;
    Node* n = b_.graph().add_node(std::move(name), std::move(op), std::move(in), std::move(out));
    n->num_explicit_inputs = explicit_count;
    return n;
  }
  Value* constant(Tensor t) override {
    return b_.graph().add_constant(label_ + "/const" + std::to_string(temps_++), std::move(t));
  }
  Value* temp(const std::string& suffix) override {
    return b_.graph().add_value(label_ + "/" + suffix + std::to_string(temps_++));
  }

 private:
  GraphBuilder& b_;
  const onnx::NodeProto& np_;
  std::string label_;
  int opset_;
  std::string domain_;
  std::map<std::string, const onnx::AttributeProto*> attrs_;
  std::vector<Value*> implicit_;
  int emitted_ = 0;
  int temps_ = 0;
};

std::shared_ptr<Graph> GraphBuilder::build(onnx::GraphProto& gp) {
  Graph& g = *graph_;
  g.name = gp.name();
  // 1. Initializers and inputs.
  std::unordered_set<std::string> init_names;
  const std::vector<PayloadSpan>* payloads = depth_ == 0 ? st_.payloads : nullptr;
  CELER_CHECK(!payloads || payloads->size() == size_t(gp.initializer_size()), kInternal,
              "initializer payloads out of step with the parsed graph");
  std::vector<PayloadRead> reads;  // the payloads' reads, done together after the loop
  for (int i = 0; i < gp.initializer_size(); ++i) {
    onnx::TensorProto& init = *gp.mutable_initializer(i);
    CELER_CHECK(!init.name().empty(), kInvalidModel, "graph '", gp.name(), "': an initializer has no name");
    CELER_CHECK(!g.find_value(init.name()), kInvalidModel, "graph '", gp.name(), "': initializer '", init.name(),
                "' is defined twice");
    const std::string what = "initializer '" + init.name() + "'";
    if (init.data_location() == onnx::TensorProto::EXTERNAL) st_.external_data = true;
    if (payloads && (*payloads)[size_t(i)].size > 0)
      g.add_constant(init.name(), take_onnx_tensor(init, (*payloads)[size_t(i)], *st_.payload_source,
                                                   st_.weights_dir, what, &reads));
    else
      g.add_constant(init.name(), take_onnx_tensor(init, st_.weights_dir, what));
    init_names.insert(init.name());
  }
  if (!reads.empty()) read_payloads(*st_.payload_source, reads);
  CELER_CHECK(gp.sparse_initializer_size() == 0, kUnsupported, "graph '", gp.name(),
              "': sparse initializers are not supported");
  for (const auto& in : gp.input()) {
    if (init_names.count(in.name())) continue;  // an initializer listed as input: a constant with a default
    CELER_CHECK(!in.name().empty(), kInvalidModel, "graph '", gp.name(), "': an input has no name");
    CELER_CHECK(!g.find_value(in.name()), kInvalidModel, "graph '", gp.name(), "': input '", in.name(),
                "' is defined twice");
    Value* v = g.add_value(in.name(), read_onnx_type(in.type(), "input '" + in.name() + "'"));
    g.inputs.push_back(v);
  }
  // 2. Every node output, so that order in the file does not matter and duplicates are caught.
  std::map<std::string, std::string> producer_of;
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& np = gp.node(i);
    for (const auto& out : np.output()) {
      if (out.empty()) continue;
      std::string label = node_label(np, size_t(i));
      auto it = producer_of.find(out);
      CELER_CHECK(it == producer_of.end(), kInvalidModel, "nodes '", it->second, "' and '", label,
                  "' both write the value '", out, "'");
      CELER_CHECK(!g.find_value(out), kInvalidModel, "node '", label, "' writes '", out,
                  "', which is already a graph input or initializer");
      producer_of[out] = label;
      g.add_value(out);
    }
  }
  st_.node_count += size_t(gp.node_size());
  CELER_CHECK(st_.node_count <= kMaxNodes, kLimitExceeded, "the model has more than the limit of ", kMaxNodes, " nodes");
  // 3. Nodes.
  for (int i = 0; i < gp.node_size(); ++i) import_node(gp.node(i), size_t(i));
  // 4. Outputs: keep declared types where inference finds nothing better.
  CELER_CHECK(gp.output_size() > 0, kInvalidModel, "graph '", gp.name(), "' has no outputs");
  for (const auto& out : gp.output()) {
    Value* v = resolve(out.name());
    CELER_CHECK(v, kInvalidModel, "graph output '", out.name(), "' is not defined by any node, initializer or input");
    ValueType declared = read_onnx_type(out.type(), "output '" + out.name() + "'");
    if (v->type.elem == ElementType::kUndefined) v->type = declared;
    g.outputs.push_back(v);
  }
  // Types declared in value_info help inference where the model gives them.
  for (const auto& vi : gp.value_info()) {
    Value* v = g.find_value(vi.name());
    if (v && !v->constant && v->type.elem == ElementType::kUndefined)
      v->type = read_onnx_type(vi.type(), "value_info '" + vi.name() + "'");
  }
  g.sort();
  return graph_;
}

void GraphBuilder::import_node(const onnx::NodeProto& np, size_t index) {
  std::string label = node_label(np, index);
  std::string domain = normalize_domain(np.domain());
  auto it = st_.opsets.find(domain);
  const OpRegistry& reg = OpRegistry::get();
  if (it == st_.opsets.end()) {
    st_.unsupported.push_back({label, np.op_type(), domain.empty() ? "ai.onnx" : domain, -1});
    return;
  }
  int opset = int(it->second);
  const OnnxMapping* m = reg.find_onnx(domain, np.op_type(), opset);
  if (!m) {
    st_.unsupported.push_back({label, np.op_type(), domain.empty() ? "ai.onnx" : domain, opset});
    return;
  }
  ProtoNode node(*this, np, label, opset);
  m->fn(node);
}

ImportedModel import_model(onnx::ModelProto& mp, const std::string& weights_dir, const std::string& label,
                           const std::vector<PayloadSpan>* payloads, const PayloadSource* payload_source) {
  ImportState st;
  st.source = label;
  st.weights_dir = weights_dir;
  st.payloads = payloads;
  st.payload_source = payload_source;
  CELER_CHECK(mp.has_graph(), kInvalidModel, "model '", label, "' has no graph");
  CELER_CHECK(mp.opset_import_size() > 0, kInvalidModel, "model '", label,
              "' has no opset_import: it does not say which opset of ai.onnx it uses");
  for (const auto& o : mp.opset_import()) {
    std::string d = normalize_domain(o.domain());
    CELER_CHECK(!st.opsets.count(d), kInvalidModel, "model '", label, "' imports domain '",
                d.empty() ? "ai.onnx" : d, "' twice");
    st.opsets[d] = o.version();
  }
  if (st.opsets.count("")) {
    int64_t v = st.opsets[""];
    CELER_CHECK(v >= kMinOpset && v <= kMaxOpset, kUnsupported, "model '", label, "' uses opset ", v,
                " of domain ai.onnx; celer supports opsets ", kMinOpset, " to ", kMaxOpset);
  }
  for (const auto& [d, v] : st.opsets) {
    if (d.empty()) continue;
    bool known = false;
    for (const auto& m : OpRegistry::get().onnx_mappings()) known |= m.domain == d;
    (void)v;
    (void)known;  // an unknown domain is reported per node, with the ops that use it
  }
  CELER_CHECK(mp.functions_size() == 0, kUnsupported, "model '", label,
              "' defines local functions, which celer does not inline yet");
  auto& gp = *mp.mutable_graph();
  CELER_CHECK(gp.node_size() > 0 || gp.output_size() > 0, kInvalidModel, "model '", label,
              "' has an empty graph (no nodes and no outputs)");
  GraphBuilder builder(st, nullptr, 0);
  std::shared_ptr<Graph> graph;
  try {
    graph = builder.build(gp);
  } catch (const Error& e) {
    if (!st.unsupported.empty()) {
      // Unsupported ops explain most later failures; report them instead.
    } else {
      throw Error(e.code(), label + ": " + e.message());
    }
  }
  if (!st.unsupported.empty()) {
    std::ostringstream os;
    os << label << ": " << st.unsupported.size() << " node(s) use ops celer does not support:";
    std::set<std::string> seen;
    for (const auto& u : st.unsupported) {
      std::string key = u.domain + "::" + u.op_type + "-" + std::to_string(u.opset);
      os << "\n  " << u.op_type << " (domain " << u.domain << ", opset "
         << (u.opset < 0 ? std::string("not imported by the model") : std::to_string(u.opset)) << ") at node '"
         << u.node << "'";
    }
    CELER_THROW(kUnsupported, os.str());
  }
  std::shared_ptr<Graph> original = graph->clone();
  try {
    infer_graph(*graph);
  } catch (const Error& e) {
    throw Error(e.code(), label + ": " + e.message());
  }
  ImportedModel out;
  out.graph = graph;
  out.external_data = st.external_data;
  out.original = original;
  out.opsets = st.opsets;
  out.ir_version = mp.ir_version();
  out.producer = mp.producer_name() + (mp.producer_version().empty() ? "" : " " + mp.producer_version());
  out.source = label;
  return out;
}

}  // namespace

namespace {

// Payloads of at least this size skip protobuf (onnx/payloads.hpp); smaller models are parsed as they are.
constexpr uint64_t kMinPayloadBytes = 4096, kMinStripModelBytes = 1 << 20;

// `fd` >= 0: the open model file, from which left-out payloads are read.
ImportedModel import_bytes(std::string_view bytes, const std::string& weights_dir, const std::string& label, int fd) {
  CELER_CHECK(!bytes.empty(), kParse, "cannot parse '", label, "': the file is empty");
  CELER_CHECK(int64_t(bytes.size()) <= kMaxModelFileBytes, kLimitExceeded, "cannot parse '", label,
              "': larger than the 2 GiB protobuf limit (use external data)");
  StrippedModel stripped;
  const bool strip = bytes.size() >= kMinStripModelBytes && strip_payloads(bytes, kMinPayloadBytes, stripped);
  PayloadSource source{fd >= 0 ? std::string_view() : bytes, fd, label};
  // Small weights in huge-page blocks: a fault per 2 MiB instead of per 4 KiB. Blocks of 4 MiB, not one for all:
  // kernels release the weights they packed in about file order, and each block goes once all of its weights are
  // gone, so that the originals and their packed copies are not all resident at once.
  std::optional<WeightArena> arena;
  if (strip) {
    arena.emplace(PayloadSource::kArenaBelow * 2);
    source.arena = &*arena;
  }
  const std::string_view parse = strip ? std::string_view(stripped.bytes) : bytes;
  onnx::ModelProto mp;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(parse.data()), int(parse.size()));
  in.SetRecursionLimit(kMaxProtoNesting);
  in.SetTotalBytesLimit(int(kMaxModelFileBytes));
  bool ok = mp.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
  CELER_CHECK(ok, kParse, "cannot parse '", label,
              "' as an ONNX model: the protobuf is malformed or truncated, or nests deeper than the limit of ",
              kMaxProtoNesting, " messages (", kMaxSubgraphDepth, " subgraph levels)");
  return import_model(mp, weights_dir, label, strip ? &stripped.initializers : nullptr, &source);
}

}  // namespace

ImportedModel import_onnx_bytes(std::string_view bytes, const std::string& weights_dir, const std::string& label) {
  return import_bytes(bytes, weights_dir, label, -1);
}

ImportedModel import_onnx_file(const std::string& path) {
  namespace fs = std::filesystem;
  struct stat st;
  CELER_CHECK(stat(path.c_str(), &st) == 0, kIo, "cannot open model '", path, "': no such file");
  CELER_CHECK(S_ISREG(st.st_mode), kIo, "cannot open model '", path, "': not a regular file");
  CELER_CHECK(int64_t(st.st_size) <= kMaxModelFileBytes, kLimitExceeded, "model '", path,
              "' is larger than the 2 GiB protobuf limit (use external data)");
  std::string dir = fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  // Mapped, not copied: protobuf parses straight from the page cache.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  CELER_CHECK(fd >= 0, kIo, "cannot open model '", path, "': ", std::strerror(errno));
  size_t size = size_t(st.st_size);
  CELER_CHECK(size > 0, kParse, "cannot parse '", path, "': the file is empty");
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_fd{fd};
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  CELER_CHECK(map != MAP_FAILED, kIo, "cannot map model '", path, "': ", std::strerror(errno));
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, size};
  // The mapping is walked for structure; large payloads are read with pread and never mapped in.
  return import_bytes(std::string_view(static_cast<const char*>(map), size), dir, path, fd);
}

}  // namespace celer
