// Reading compiled-model files (see compiled_model.hpp): every count, offset, index and kind is checked against what
// the file holds before it is used; any damage is a celer::Error kParse naming the file and what is wrong.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "io/compiled_model.hpp"
#include "io/compiled_model_format.hpp"
#include "io/hash.hpp"
#include "ops/op.hpp"

namespace celer {

using cmfile::Fd;
using cmfile::Header;
using cmfile::header_hash;
using cmfile::kAlign;
using cmfile::kMagic;
using cmfile::kMaxRank;
using cmfile::kNodeEnd;
using cmfile::kNone;
using cmfile::kPacked;
using cmfile::Tag;
using cmfile::tag_name;
using cmfile::undefined_input;

namespace {

class In {
 public:
  In(const uint8_t* p, size_t n, const std::string& path) : p_(p), n_(n), path_(path) {}
  size_t remaining() const { return n_ - pos_; }
  size_t pos() const { return pos_; }

  [[noreturn]] void fail(const std::string& what) const {
    CELER_THROW(kParse, "compiled model '", path_, "': ", what, " (metadata byte ", pos_, ")");
  }
  void need(uint64_t n, const char* what) const {
    if (n > remaining()) fail(detail::concat("truncated ", what, ": ", n, " bytes needed, ", remaining(), " left"));
  }
  void raw(void* out, size_t n, const char* what) {
    need(n, what);
    std::memcpy(out, p_ + pos_, n);
    pos_ += n;
  }
  template <typename T>
  T get(const char* what) {
    T v;
    raw(&v, sizeof(T), what);
    return v;
  }
  uint8_t u8(const char* what) { return get<uint8_t>(what); }
  uint32_t u32(const char* what) { return get<uint32_t>(what); }
  uint64_t u64(const char* what) { return get<uint64_t>(what); }
  int64_t i64(const char* what) { return get<int64_t>(what); }
  bool flag(const char* what) {
    const uint8_t b = u8(what);
    if (b > 1) fail(detail::concat(what, ": ", int(b), " is not a boolean"));
    return b == 1;
  }
  // A count of items that take at least `min_bytes` each in what is left.
  uint32_t count(const char* what, uint64_t min_bytes) {
    const uint32_t n = u32(what);
    if (min_bytes > 0 && n > remaining() / min_bytes)
      fail(detail::concat(what, ": ", n, " entries cannot fit in the ", remaining(), " bytes left"));
    return n;
  }
  std::string str(const char* what) {
    const uint32_t n = u32(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& path_;
};

class GraphReader final : public AttrVisitor {
 public:
  GraphReader(In& in, std::vector<std::shared_ptr<const Tensor>> tensors) : in_(in), tensors_(std::move(tensors)) {}

  bool loading() const override { return true; }
  void on(const char* name, bool& v) override {
    expect(name, Tag::kBool);
    v = in_.flag(name);
  }
  void on(const char* name, int64_t& v) override {
    expect(name, Tag::kI64);
    v = in_.i64(name);
  }
  void on(const char* name, uint64_t& v) override {
    expect(name, Tag::kU64);
    v = in_.u64(name);
  }
  void on(const char* name, float& v) override {
    expect(name, Tag::kF32);
    v = in_.get<float>(name);
  }
  void on(const char* name, double& v) override {
    expect(name, Tag::kF64);
    v = in_.get<double>(name);
  }
  void on(const char* name, std::string& v) override {
    expect(name, Tag::kString);
    v = in_.str(name);
  }
  void on(const char* name, std::vector<int64_t>& v) override {
    expect(name, Tag::kI64s);
    v.resize(in_.count(name, 8));
    in_.raw(v.data(), v.size() * 8, name);
  }
  void on(const char* name, std::vector<float>& v) override {
    expect(name, Tag::kF32s);
    v.resize(in_.count(name, 4));
    in_.raw(v.data(), v.size() * 4, name);
  }
  void on(const char* name, std::vector<std::string>& v) override {
    expect(name, Tag::kStrings);
    v.resize(in_.count(name, 4));
    for (auto& s : v) s = in_.str(name);
  }
  void on(const char* name, Tensor& t) override {
    expect(name, Tag::kTensor);
    t = *tensor(in_.u32(name), name);
  }
  void on(const char* name, std::shared_ptr<Graph>& g) override {
    expect(name, Tag::kGraph);
    const std::string here = where_;
    g = in_.flag(name) ? read_graph(graphs_.empty() ? nullptr : graphs_.back()) : nullptr;
    where_ = here;
  }
  void on_count(const char* name, uint64_t& n) override {
    on(name, n);
    if (n > in_.remaining())
      fail(name, detail::concat(n, " entries cannot fit in the ", in_.remaining(), " bytes left"));
  }
  [[noreturn]] void fail(const char* name, const std::string& what) override {
    in_.fail(detail::concat(where_, "attribute '", name, "': ", what));
  }

  // The packed-weights table after the top-level graph.
  std::vector<PackedWeights::Entry> read_packed() {
    std::vector<PackedWeights::Entry> out;
    const uint32_t n = in_.count("packed weights count", 4 + 4 + 4);
    for (uint32_t i = 0; i < n; ++i) {
      PackedWeights::Entry e;
      e.node = in_.str("packed weights node");
      e.layout = in_.str("packed weights layout");
      e.bytes = *tensor(in_.u32("packed weights tensor"), "packed weights tensor");
      if (e.bytes.type() != ElementType::kU8 || e.bytes.rank() != 1)
        in_.fail(detail::concat("packed weights of node '", e.node, "' are not a u8 vector"));
      out.push_back(std::move(e));
    }
    if (!packed_values_.empty() && out.empty()) in_.fail("values are marked as packed weights but none are stored");
    return out;
  }

  std::shared_ptr<Graph> read_graph(Graph* parent) {
    if (graphs_.size() > size_t(kMaxSubgraphDepth))
      in_.fail(detail::concat("subgraphs nested deeper than ", kMaxSubgraphDepth, " levels"));
    auto g = std::make_shared<Graph>();
    g->parent = parent;
    g->name = in_.str("graph name");
    const uint32_t nv = in_.count("value count", 4 + 8 + 4);
    std::vector<Value*> values(nv);
    for (uint32_t i = 0; i < nv; ++i) {
      std::string name = in_.str("value name");
      ValueType type = read_type();
      Value* v = g->add_value(std::move(name), std::move(type));
      const uint32_t c = in_.u32("value constant");
      if (c == kPacked) {
        if (parent) in_.fail(detail::concat("value '", v->name, "' of a subgraph is marked as packed weights"));
        packed_values_.insert(v);
      } else if (c != kNone) {
        v->constant = tensor(c, "value constant");
      }
      values[i] = v;
    }
    g->inputs = read_list(values, false, "graph inputs");
    g->outputs = read_list(values, false, "graph outputs");
    g->captures = read_list(values, false, "graph captures");
    const uint32_t nn = in_.count("node count", 4 + 4 + 4 + 4 + 4 + 1);
    total_nodes_ += nn;
    if (total_nodes_ > kMaxNodes) in_.fail(detail::concat("more than ", kMaxNodes, " nodes"));
    graphs_.push_back(g.get());
    std::unordered_map<const Node*, size_t> order;
    for (uint32_t k = 0; k < nn; ++k) {
      const std::string kind_name = in_.str("op kind");
      const std::optional<OpKind> kind = op_kind_from_name(kind_name);
      if (!kind) in_.fail(detail::concat("unknown op kind '", kind_name, "'"));
      std::string name = in_.str("node name");
      const uint32_t explicit_inputs = in_.u32("explicit input count");
      std::vector<Value*> ins = read_list(values, true, "node inputs");
      std::vector<Value*> outs = read_list(values, true, "node outputs");
      where_ = detail::concat("node '", name, "' (", kind_name, "): ");
      if (explicit_inputs > ins.size())
        in_.fail(detail::concat(where_, explicit_inputs, " explicit inputs of ", ins.size()));
      for (const Value* v : outs)
        if (v && v->producer) in_.fail(detail::concat(where_, "output '", v->name, "' has two producers"));
      std::unique_ptr<Op> op = make_op(*kind);
      const std::string here = where_;
      try {
        op->visit_attrs(*this);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kParse) throw;
        in_.fail(here + e.message());  // an op rejecting its attributes (e.g. Einsum's equation)
      }
      if (in_.u8("node end") != kNodeEnd) in_.fail(here + "the attributes do not match this build's op");
      where_.clear();
      Node* n = g->add_node(std::move(name), std::move(op), std::move(ins), std::move(outs));
      n->num_explicit_inputs = explicit_inputs;
      order.emplace(n, k);
    }
    graphs_.pop_back();
    for (size_t k = 0; k < g->nodes.size(); ++k)
      for (const Value* v : g->nodes[k]->inputs)
        if (v && v->producer && order.at(v->producer) >= k)
          in_.fail(detail::concat(g->nodes[k]->describe(), " reads '", v->name, "' before it is computed"));
    if (const Value* v = undefined_input(*g, parent ? nullptr : &packed_values_))
      in_.fail(detail::concat("graph '", g->name, "' reads '", v->name, "', which nothing defines"));
    return g;
  }

 private:
  void expect(const char* name, Tag tag) {
    const std::string got = in_.str("attribute name");
    const uint8_t t = in_.u8("attribute type");
    if (got != name)
      in_.fail(detail::concat(where_, "attribute '", name, "' expected, the file has '", got,
                              "' (written by a build with other op attributes)"));
    if (t != static_cast<uint8_t>(tag))
      in_.fail(detail::concat(where_, "attribute '", name, "' should be ", tag_name(static_cast<uint8_t>(tag)),
                              ", the file has ", tag_name(t)));
  }
  std::shared_ptr<const Tensor> tensor(uint32_t i, const char* what) {
    if (i >= tensors_.size())
      in_.fail(detail::concat(where_, what, ": tensor ", i, " of a table of ", tensors_.size()));
    return tensors_[i];
  }
  std::vector<Value*> read_list(const std::vector<Value*>& values, bool allow_none, const char* what) {
    const uint32_t n = in_.count(what, 4);
    std::vector<Value*> out(n);
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t j = in_.u32(what);
      if (j == kNone && allow_none) continue;
      if (j >= values.size())
        in_.fail(detail::concat(where_, what, ": value ", j, " of a graph of ", values.size(), " values"));
      out[i] = values[j];
    }
    return out;
  }
  ValueType read_type() {
    ValueType t;
    const uint8_t kind = in_.u8("value kind");
    if (kind > static_cast<uint8_t>(ValueKind::kSequence)) in_.fail(detail::concat("bad value kind ", int(kind)));
    t.kind = static_cast<ValueKind>(kind);
    t.optional = in_.flag("optional flag");
    const uint8_t elem = in_.u8("element type");
    if (elem > static_cast<uint8_t>(ElementType::kString)) in_.fail(detail::concat("bad element type ", int(elem)));
    t.elem = static_cast<ElementType>(elem);
    const bool rank_known = in_.flag("rank flag");
    const uint32_t rank = in_.count("rank", 1);
    if (rank > kMaxRank) in_.fail(detail::concat("rank ", rank, " is over the limit of ", kMaxRank));
    if (!rank_known && rank > 0) in_.fail("dims listed for an unknown rank");
    std::vector<Dim> dims(rank);
    for (Dim& d : dims) {
      switch (in_.u8("dim kind")) {
        case 0: {
          const int64_t v = in_.i64("dim");
          if (v < 0) in_.fail(detail::concat("negative dim ", v));
          d = Dim(v);
          break;
        }
        case 1:
          d = Dim::symbol(in_.str("dim symbol"));
          break;
        case 2:
          break;
        default:
          in_.fail("bad dim kind");
      }
    }
    if (rank_known) t.shape = PartialShape(std::move(dims));
    return t;
  }

  In& in_;
  std::vector<std::shared_ptr<const Tensor>> tensors_;
  std::vector<Graph*> graphs_;  // being read, innermost last
  size_t total_nodes_ = 0;
  std::unordered_set<const Value*> packed_values_;  // top-level values whose data only packed weights hold
  std::string where_;                               // "node 'x' (Op): " while reading a node
};

// Keeps the mapping alive for one tensor; when the tensor is gone (e.g. weights a kernel packed and the executor
// released), the pages only it covered leave the process's resident memory (they are clean file pages).
std::shared_ptr<void> tensor_owner(uint8_t* p, uint64_t bytes, const std::shared_ptr<void>& mapping) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) / page * page;
  if (end <= begin) return mapping;
  return std::shared_ptr<void>(
      p, [mapping, begin, end](void*) { ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED); });
}

// The tensor table: views into the data part (string tensors are copied out).
std::vector<std::shared_ptr<const Tensor>> read_tensors(In& in, uint8_t* data, uint64_t data_size,
                                                        const std::shared_ptr<void>& owner) {
  const uint32_t n = in.count("tensor count", 1 + 4 + 8 + 8);
  std::vector<std::shared_ptr<const Tensor>> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const std::string what = detail::concat("tensor ", i);
    const uint8_t elem_byte = in.u8("tensor element type");
    if (elem_byte > static_cast<uint8_t>(ElementType::kString))
      in.fail(detail::concat(what, ": bad element type ", int(elem_byte)));
    const ElementType elem = static_cast<ElementType>(elem_byte);
    const uint32_t rank = in.count("tensor rank", 8);
    if (rank > kMaxRank) in.fail(detail::concat(what, ": rank ", rank, " is over the limit of ", kMaxRank));
    Dims dims(rank);
    for (int64_t& d : dims) {
      d = in.i64("tensor dim");
      if (d < 0) in.fail(detail::concat(what, ": negative dim ", d));
    }
    const uint64_t offset = in.u64("tensor offset"), bytes = in.u64("tensor size");
    if (offset % kAlign != 0 || offset > data_size || bytes > data_size - offset)
      in.fail(detail::concat(what, ": bytes [", offset, ", +", bytes, ") are not inside the ", data_size,
                             "-byte data part"));
    if (elem == ElementType::kUndefined) {
      if (rank != 0 || bytes != 0) in.fail(detail::concat(what, ": an empty tensor with a shape or bytes"));
      out.push_back(std::make_shared<const Tensor>());
      continue;
    }
    int64_t count = 0;
    try {
      count = element_count(dims);
    } catch (const Error&) {
      in.fail(detail::concat(what, ": shape ", dims_to_string(dims), " overflows"));
    }
    uint8_t* p = data + offset;
    if (elem != ElementType::kString) {
      const uint64_t esize = element_size(elem);
      if (static_cast<uint64_t>(count) > bytes / esize || static_cast<uint64_t>(count) * esize != bytes)
        in.fail(detail::concat(what, ": ", bytes, " bytes for shape ", dims_to_string(dims), " of ",
                               element_type_name(elem)));
      out.push_back(
          std::make_shared<const Tensor>(Tensor::view(elem, std::move(dims), p, tensor_owner(p, bytes, owner))));
      continue;
    }
    if (static_cast<uint64_t>(count) > bytes / 8)
      in.fail(detail::concat(what, ": ", bytes, " bytes cannot hold ", count, " strings"));
    Tensor t(ElementType::kString, dims);
    std::string* s = t.data<std::string>();
    uint64_t at = 0;
    for (int64_t j = 0; j < count; ++j) {
      uint64_t len;
      std::memcpy(&len, p + at, 8);
      at += 8;
      if (len > bytes - at) in.fail(detail::concat(what, ": string ", j, " runs past the tensor's bytes"));
      s[j].assign(reinterpret_cast<const char*>(p + at), len);
      at += len;
    }
    if (at != bytes) in.fail(detail::concat(what, ": ", bytes - at, " bytes left after the strings"));
    out.push_back(std::make_shared<const Tensor>(std::move(t)));
  }
  return out;
}

}  // namespace

LoadedGraph load_compiled_graph(const std::string& path, const CompiledModelLoadOptions& options) {
  auto fail = [&](auto&&... what) -> void {
    CELER_THROW(kParse, "compiled model '", path, "': ", std::forward<decltype(what)>(what)...);
  };
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  CELER_CHECK(f.fd >= 0, kIo, "cannot open compiled model '", path, "': ", std::strerror(errno));
  struct stat st {};
  CELER_CHECK(::fstat(f.fd, &st) == 0 && S_ISREG(st.st_mode), kIo, "cannot open compiled model '", path,
              "': not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < sizeof(Header)) fail("the file has ", size, " bytes, less than the ", sizeof(Header), "-byte header");

  // Pages populated at once (cheaper than faulting them in one by one), then made writable: private pages, so a
  // kernel that writes into a constant changes its own copy, never the file.
  void* map = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, f.fd, 0);
  CELER_CHECK(map != MAP_FAILED, kIo, "cannot map compiled model '", path, "': ", std::strerror(errno));
  if (::mprotect(map, static_cast<size_t>(size), PROT_READ | PROT_WRITE) != 0) {
    ::munmap(map, static_cast<size_t>(size));
    CELER_THROW(kIo, "cannot map compiled model '", path, "': ", std::strerror(errno));
  }
  std::shared_ptr<void> owner(map, [size](void* p) { ::munmap(p, static_cast<size_t>(size)); });
  uint8_t* base = static_cast<uint8_t*>(map);

  Header h;
  std::memcpy(&h, base, sizeof(h));
  if (std::memcmp(h.magic, kMagic, 8) != 0) fail("not a celer compiled model (bad magic)");
  if (h.header_hash != header_hash(h)) fail("the header is damaged (checksum mismatch)");
  if (h.format != kCompiledModelFormat || h.header_bytes != sizeof(Header))
    fail("format version ", h.format, ", this build reads version ", kCompiledModelFormat);
  h.version[sizeof(h.version) - 1] = 0;
  if (std::strcmp(h.version, kCelerVersion) != 0) fail("written by celer ", h.version, ", this is ", kCelerVersion);
  if (h.schema != op_schema_fingerprint()) fail("written by a celer build whose op attributes differ");
  if (h.file_size != size) fail("the header gives ", h.file_size, " bytes, the file has ", size, " (truncated?)");
  if (h.meta_offset != sizeof(Header) || h.meta_size > size - h.meta_offset || h.data_offset % kAlign != 0 ||
      h.data_offset < h.meta_offset + h.meta_size || h.data_offset > size || h.data_size != size - h.data_offset)
    fail("the header's part offsets do not fit the file");
  const std::string_view md(reinterpret_cast<const char*>(base + h.meta_offset), static_cast<size_t>(h.meta_size));
  for (uint64_t i = h.meta_offset + h.meta_size; i < h.data_offset; ++i)
    if (base[i] != 0) fail("the padding before the data part is damaged");
  if (options.verify_checksums) {
    if (hash_bytes(md) != h.meta_hash) fail("the metadata is damaged (checksum mismatch)");
    if (chunked_hash(base + h.data_offset, static_cast<size_t>(h.data_size)) != h.data_hash)
      fail("the data is damaged (checksum mismatch)");
  }

  In in(reinterpret_cast<const uint8_t*>(md.data()), md.size(), path);
  LoadedGraph out;
  const uint32_t nmeta = in.count("metadata entries", 8);
  for (uint32_t i = 0; i < nmeta; ++i) {
    std::string k = in.str("metadata key");
    out.meta[std::move(k)] = in.str("metadata value");
  }
  GraphReader reader(in, read_tensors(in, base + h.data_offset, h.data_size, owner));
  out.graph = reader.read_graph(nullptr);
  out.packed = reader.read_packed();
  if (in.remaining() != 0) in.fail(detail::concat(in.remaining(), " unread bytes after the graph"));
  return out;
}

}  // namespace celer
