// Writing compiled-model files (see compiled_model.hpp for the layout; compiled_model_reader.cpp reads them).
// Little-endian fixed-width fields; strings and lists are length-prefixed (u32). Every attribute is stored as (name,
// type tag, value) so a reader built with other ops reports the first field that differs instead of misreading the
// rest.
#include "io/compiled_model.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "io/compiled_model_format.hpp"
#include "io/hash.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

using cmfile::align_up;
using cmfile::Fd;
using cmfile::Header;
using cmfile::header_hash;
using cmfile::kAlign;
using cmfile::kMagic;
using cmfile::kNodeEnd;
using cmfile::kNone;
using cmfile::kPacked;
using cmfile::Tag;
using cmfile::undefined_input;

namespace {

class Out {
 public:
  std::string buf;
  void raw(const void* p, size_t n) { buf.append(static_cast<const char*>(p), n); }
  void u8(uint8_t v) { buf.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void i64(int64_t v) { raw(&v, 8); }
  void f32(float v) { raw(&v, 4); }
  void f64(double v) { raw(&v, 8); }
  void count(size_t n) {
    CELER_CHECK(n < kNone, kLimitExceeded, "compiled model: a list of ", n, " entries is too long");
    u32(static_cast<uint32_t>(n));
  }
  void str(std::string_view s) {
    count(s.size());
    buf.append(s);
  }
};

// Bytes of a string tensor in the data part: per element a u64 length, then the bytes.
uint64_t string_bytes(const Tensor& t) {
  uint64_t n = 0;
  const std::string* s = t.data<std::string>();
  for (int64_t i = 0; i < t.size(); ++i) n += 8 + s[i].size();
  return n;
}

void append_strings(const Tensor& t, std::string& out) {
  const std::string* s = t.data<std::string>();
  for (int64_t i = 0; i < t.size(); ++i) {
    const uint64_t n = s[i].size();
    out.append(reinterpret_cast<const char*>(&n), 8);
    out.append(s[i]);
  }
}

// Every constant (value constants and op attributes), each once, with its place in the data part.
struct TensorTable {
  struct Entry {
    const Tensor* tensor;
    uint64_t offset, bytes;
  };
  std::vector<Entry> entries;
  std::unordered_map<const Tensor*, uint32_t> index;
  uint64_t end = 0;

  uint32_t add(const Tensor& t) {
    auto it = index.find(&t);
    if (it != index.end()) return it->second;
    const uint64_t bytes = t.empty() ? 0 : t.type() == ElementType::kString ? string_bytes(t) : t.byte_size();
    const uint64_t offset = align_up(end);
    end = offset + bytes;
    const uint32_t i = static_cast<uint32_t>(entries.size());
    entries.push_back({&t, offset, bytes});
    index.emplace(&t, i);
    return i;
  }

  void write(Out& o) const {
    o.count(entries.size());
    for (const Entry& e : entries) {
      o.u8(static_cast<uint8_t>(e.tensor->type()));
      o.count(e.tensor->dims().size());
      for (int64_t d : e.tensor->dims()) o.i64(d);
      o.u64(e.offset);
      o.u64(e.bytes);
    }
  }
};

class GraphWriter final : public AttrVisitor {
 public:
  Out out;
  TensorTable tensors;
  const CompiledExtras* extras = nullptr;  // top-level graph only
  int depth = 0;

  bool loading() const override { return false; }
  void on(const char* name, bool& v) override {
    head(name, Tag::kBool);
    out.u8(v ? 1 : 0);
  }
  void on(const char* name, int64_t& v) override {
    head(name, Tag::kI64);
    out.i64(v);
  }
  void on(const char* name, uint64_t& v) override {
    head(name, Tag::kU64);
    out.u64(v);
  }
  void on(const char* name, float& v) override {
    head(name, Tag::kF32);
    out.f32(v);
  }
  void on(const char* name, double& v) override {
    head(name, Tag::kF64);
    out.f64(v);
  }
  void on(const char* name, std::string& v) override {
    head(name, Tag::kString);
    out.str(v);
  }
  void on(const char* name, std::vector<int64_t>& v) override {
    head(name, Tag::kI64s);
    out.count(v.size());
    out.raw(v.data(), v.size() * 8);
  }
  void on(const char* name, std::vector<float>& v) override {
    head(name, Tag::kF32s);
    out.count(v.size());
    out.raw(v.data(), v.size() * 4);
  }
  void on(const char* name, std::vector<std::string>& v) override {
    head(name, Tag::kStrings);
    out.count(v.size());
    for (const auto& s : v) out.str(s);
  }
  void on(const char* name, Tensor& t) override {
    head(name, Tag::kTensor);
    out.u32(tensors.add(t));
  }
  void on(const char* name, std::shared_ptr<Graph>& g) override {
    head(name, Tag::kGraph);
    out.u8(g ? 1 : 0);
    if (g) {
      ++depth;
      write_graph(*g);
      --depth;
    }
  }

  // After the top-level graph: the kernels' packed weights.
  void write_packed() {
    if (!extras) {
      out.count(0);
      return;
    }
    out.count(extras->packed.size());
    for (const PackedWeights::Entry& e : extras->packed) {
      out.str(e.node);
      out.str(e.layout);
      out.u32(tensors.add(e.bytes));
    }
  }

  void write_graph(const Graph& g) {
    // Only the values something refers to (passes leave unused ones behind), in the graph's order.
    std::unordered_map<const Value*, uint32_t> idx;
    auto note = [&](const std::vector<Value*>& list) {
      for (const Value* v : list)
        if (v) idx.emplace(v, kNone);
    };
    note(g.inputs);
    note(g.outputs);
    note(g.captures);
    for (const auto& n : g.nodes) {
      note(n->inputs);
      note(n->outputs);
    }
    std::vector<const Value*> values;
    for (const auto& v : g.values()) {
      auto it = idx.find(v.get());
      if (it == idx.end()) continue;
      it->second = static_cast<uint32_t>(values.size());
      values.push_back(v.get());
    }
    CELER_CHECK(values.size() == idx.size(), kInternal, "compiled model: graph '", g.name,
                "' refers to a value it does not own");
    const std::unordered_set<const Value*>* packed = depth == 0 && extras ? &extras->packed_values : nullptr;
    if (const Value* v = undefined_input(g, packed))
      CELER_THROW(kInternal, "compiled model: graph '", g.name, "' reads '", v->name,
                  "', which has no producer and no constant (save the graph before an Executor releases the weights "
                  "its kernels packed)");
    out.str(g.name);
    out.count(values.size());
    for (const Value* v : values) {
      out.str(v->name);
      write_type(v->type);
      out.u32(v->constant ? tensors.add(*v->constant) : packed && packed->count(v) ? kPacked : kNone);
    }
    auto list = [&](const std::vector<Value*>& l, bool allow_none) {
      out.count(l.size());
      for (const Value* v : l) {
        CELER_CHECK(v || allow_none, kInternal, "compiled model: graph '", g.name, "' lists a null value");
        out.u32(v ? idx.at(v) : kNone);
      }
    };
    list(g.inputs, false);
    list(g.outputs, false);
    list(g.captures, false);
    out.count(g.nodes.size());
    for (const auto& n : g.nodes) {
      out.str(op_kind_name(n->op->kind()));
      out.str(n->name);
      out.count(n->num_explicit_inputs);
      list(n->inputs, true);
      list(n->outputs, true);
      n->op->visit_attrs(*this);
      out.u8(kNodeEnd);
    }
  }

 private:
  void head(const char* name, Tag t) {
    out.str(name);
    out.u8(static_cast<uint8_t>(t));
  }
  void write_type(const ValueType& t) {
    out.u8(static_cast<uint8_t>(t.kind));
    out.u8(t.optional ? 1 : 0);
    out.u8(static_cast<uint8_t>(t.elem));
    out.u8(t.shape.rank_known() ? 1 : 0);
    out.count(t.shape.dims().size());
    for (const Dim& d : t.shape.dims()) {
      if (d.is_static()) {
        out.u8(0);
        out.i64(d.value());
      } else if (!d.symbol_name().empty()) {
        out.u8(1);
        out.str(d.symbol_name());
      } else {
        out.u8(2);
      }
    }
  }
};

// The metadata part: the user map, the tensor table, then the graph.
std::string metadata(const GraphWriter& w, const std::map<std::string, std::string>& meta) {
  Out o;
  o.count(meta.size());
  for (const auto& [k, v] : meta) {
    o.str(k);
    o.str(v);
  }
  w.tensors.write(o);
  o.buf += w.out.buf;
  return std::move(o.buf);
}

// Calls sink(bytes, n) for the data part in order (zero padding included).
template <typename Sink>
void emit_data(const TensorTable& table, Sink&& sink) {
  static const char kZeros[kAlign] = {};
  uint64_t at = 0;
  std::string scratch;
  for (const auto& e : table.entries) {
    sink(kZeros, static_cast<size_t>(e.offset - at));
    if (e.tensor->type() == ElementType::kString) {
      scratch.clear();
      append_strings(*e.tensor, scratch);
      sink(scratch.data(), scratch.size());
    } else if (e.bytes > 0) {
      sink(e.tensor->raw(), static_cast<size_t>(e.bytes));
    }
    at = e.offset + e.bytes;
  }
}

void write_all(int fd, const void* p, size_t n, const std::string& path) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, c, std::min<size_t>(n, size_t(1) << 30));
    if (w < 0 && errno == EINTR) continue;
    CELER_CHECK(w > 0, kIo, "cannot write '", path, "': ", std::strerror(errno));
    c += w;
    n -= static_cast<size_t>(w);
  }
}

// ---------------------------------------------------------------- op schema

class SchemaVisitor final : public AttrVisitor {
 public:
  Hasher h;
  bool loading() const override { return false; }
  void on(const char* n, bool&) override { note(n, Tag::kBool); }
  void on(const char* n, int64_t&) override { note(n, Tag::kI64); }
  void on(const char* n, uint64_t&) override { note(n, Tag::kU64); }
  void on(const char* n, float&) override { note(n, Tag::kF32); }
  void on(const char* n, double&) override { note(n, Tag::kF64); }
  void on(const char* n, std::string&) override { note(n, Tag::kString); }
  void on(const char* n, std::vector<int64_t>&) override { note(n, Tag::kI64s); }
  void on(const char* n, std::vector<float>&) override { note(n, Tag::kF32s); }
  void on(const char* n, std::vector<std::string>&) override { note(n, Tag::kStrings); }
  void on(const char* n, Tensor&) override { note(n, Tag::kTensor); }
  void on(const char* n, std::shared_ptr<Graph>&) override { note(n, Tag::kGraph); }

 private:
  void note(const char* name, Tag t) {
    h.add_field(name);
    const uint8_t b = static_cast<uint8_t>(t);
    h.update(&b, 1);
  }
};

}  // namespace

uint64_t op_schema_fingerprint() {
  static const uint64_t fingerprint = [] {
    SchemaVisitor v;
    for (size_t k = 0; k < size_t(OpKind::kCount); ++k) {
      v.h.add_field(op_kind_name(OpKind(k)));
      make_op(OpKind(k))->visit_attrs(v);
    }
    v.h.add_field(kCelerVersion);
    return v.h.digest();
  }();
  return fingerprint;
}

uint64_t hash_graph(const Graph& graph) {
  GraphWriter w;
  w.write_graph(graph);
  w.write_packed();
  Hasher h;
  h.update(metadata(w, {}));
  emit_data(w.tensors, [&](const void* p, size_t n) { h.update(p, n); });
  return h.digest();
}

void save_compiled_graph(const Graph& graph, const std::map<std::string, std::string>& meta, const std::string& path,
                         const CompiledExtras* extras) {
  GraphWriter w;
  w.extras = extras;
  w.write_graph(graph);
  w.write_packed();
  const std::string md = metadata(w, meta);

  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.format = kCompiledModelFormat;
  h.header_bytes = sizeof(Header);
  std::strncpy(h.version, kCelerVersion, sizeof(h.version) - 1);
  h.meta_offset = sizeof(Header);
  h.meta_size = md.size();
  h.data_offset = align_up(h.meta_offset + h.meta_size);
  h.data_size = w.tensors.end;
  h.file_size = h.data_offset + h.data_size;
  h.meta_hash = hash_bytes(md);
  h.schema = op_schema_fingerprint();

  static std::atomic<uint64_t> counter{0};
  const std::string tmp = detail::concat(path, ".tmp.", ::getpid(), ".", counter++);
  try {
    Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)};
    CELER_CHECK(f.fd >= 0, kIo, "cannot create '", tmp, "': ", std::strerror(errno));
    static const char kZeros[kAlign] = {};
    write_all(f.fd, &h, sizeof(h), tmp);  // rewritten with the data checksum below
    write_all(f.fd, md.data(), md.size(), tmp);
    write_all(f.fd, kZeros, static_cast<size_t>(h.data_offset - h.meta_offset - h.meta_size), tmp);
    ChunkedHasher data_hash;
    // Small pieces are gathered so that the file gets few large writes.
    std::string pending;
    auto flush = [&] {
      write_all(f.fd, pending.data(), pending.size(), tmp);
      pending.clear();
    };
    emit_data(w.tensors, [&](const void* p, size_t n) {
      data_hash.update(p, n);
      if (n >= (size_t(1) << 20)) {
        flush();
        write_all(f.fd, p, n, tmp);
        return;
      }
      pending.append(static_cast<const char*>(p), n);
      if (pending.size() >= (size_t(1) << 20)) flush();
    });
    flush();
    h.data_hash = data_hash.digest();
    h.header_hash = header_hash(h);
    CELER_CHECK(::pwrite(f.fd, &h, sizeof(h), 0) == ssize_t(sizeof(h)), kIo, "cannot write '", tmp,
                "': ", std::strerror(errno));
    CELER_CHECK(::fsync(f.fd) == 0, kIo, "cannot sync '", tmp, "': ", std::strerror(errno));
    CELER_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, kIo, "cannot rename '", tmp, "' to '", path,
                "': ", std::strerror(errno));
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  // The rename itself is durable once the folder is synced.
  std::string dir = std::filesystem::path(path).parent_path().string();
  Fd d{::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd >= 0) ::fsync(d.fd);
}

}  // namespace celer
