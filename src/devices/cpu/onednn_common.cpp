#include "devices/cpu/onednn_common.hpp"

#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "ops/unary.hpp"

namespace celer::onednn {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

memory::dims to_dims(const Dims& d) { return memory::dims(d.begin(), d.end()); }

Tag plain_tag(size_t rank) {
  static const Tag tags[] = {Tag::undef, Tag::a, Tag::ab, Tag::abc, Tag::abcd, Tag::abcde, Tag::abcdef};
  CELER_CHECK(rank >= 1 && rank <= 6, kUnsupported, "oneDNN tensors of rank ", rank);
  return tags[rank];
}

Tag activation_tag(size_t rank, Layout layout) {
  if (layout == Layout::kPlain) return plain_tag(rank);
  if (layout == Layout::kChannelsLast) {
    static const Tag tags[] = {Tag::acb, Tag::acdb, Tag::acdeb};
    CELER_CHECK(rank >= 3 && rank <= 5, kUnsupported, "channels-last layout of rank ", rank);
    return tags[rank - 3];
  }
  const bool b16 = layout == Layout::kBlocked16;
  switch (rank) {
    case 3:
      return b16 ? Tag::aBc16b : Tag::aBc8b;
    case 4:
      return b16 ? Tag::aBcd16b : Tag::aBcd8b;
    case 5:
      return b16 ? Tag::aBcde16b : Tag::aBcde8b;
    default:
      break;
  }
  CELER_THROW(kUnsupported, "blocked layout of rank ", rank);
}

memory::desc f32_desc(const Dims& dims, Tag tag) { return memory::desc(to_dims(dims), memory::data_type::f32, tag); }
memory::desc f32_desc(const Dims& dims, Layout layout) { return f32_desc(dims, activation_tag(dims.size(), layout)); }

bool bf16_native() {
  static const bool native = [] {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
    return (isa & bf16) == bf16;
  }();
  return native;
}

bool use_bf16(const CompileOptions& options) {
  return options.inference_precision == ElementType::kBF16 && bf16_native();
}

memory::data_type data_type_of(ElementType e) {
  if (e == ElementType::kF32) return memory::data_type::f32;
  if (e == ElementType::kBF16) return memory::data_type::bf16;
  if (e == ElementType::kU8) return memory::data_type::u8;  // int8 kernels, their reorders and poolings
  if (e == ElementType::kI8) return memory::data_type::s8;
  CELER_THROW(kUnsupported, "element type ", element_type_name(e), " in a oneDNN kernel");
}

memory::desc make_desc(const Dims& dims, Tag tag, ElementType e) {
  return memory::desc(to_dims(dims), data_type_of(e), tag);
}
memory::desc make_desc(const Dims& dims, Layout layout, ElementType e) {
  return make_desc(dims, activation_tag(dims.size(), layout), e);
}

bool f32_or_bf16(const Value* v) {
  return v && v->type.is_tensor() && (v->type.elem == ElementType::kF32 || v->type.elem == ElementType::kBF16);
}

std::vector<ElementType> input_elems(const Node& node) {
  std::vector<ElementType> e(node.num_explicit_inputs, ElementType::kUndefined);
  for (size_t i = 0; i < e.size(); ++i)
    if (node.inputs[i]) e[i] = node.inputs[i]->type.elem;
  return e;
}

namespace {

using Alg = dnnl::algorithm;

// Appends the oneDNN form of a unary post-op; false when there is none.
bool append_unary(const PostOp& p, dnnl::post_ops& po) {
  auto add = [&](Alg a, float alpha = 0, float beta = 0) { po.append_eltwise(1.0f, a, alpha, beta); };
  switch (p.fn) {
    case UnaryFn::kRelu:
      add(Alg::eltwise_relu);
      return true;
    case UnaryFn::kLeakyRelu:
      add(Alg::eltwise_relu, p.alpha);
      return true;
    case UnaryFn::kClip:
      add(Alg::eltwise_clip_v2, p.alpha, p.beta);
      return true;
    case UnaryFn::kSigmoid:
      add(Alg::eltwise_logistic);
      return true;
    case UnaryFn::kTanh:
      add(Alg::eltwise_tanh);
      return true;
    case UnaryFn::kElu:
      add(Alg::eltwise_elu, p.alpha);
      return true;
    case UnaryFn::kSilu:
      add(Alg::eltwise_swish, 1.0f);
      return true;
    case UnaryFn::kGelu:
      add(p.alpha == 0 ? Alg::eltwise_gelu_erf : Alg::eltwise_gelu_tanh);
      return true;
    case UnaryFn::kHardSigmoid:  // clamp(a*x + b, 0, 1)
      add(Alg::eltwise_linear, p.alpha, p.beta);
      add(Alg::eltwise_clip_v2, 0.0f, 1.0f);
      return true;
    case UnaryFn::kHardSwish:  // oneDNN 2.6 has only x * relu6(x + 3) / 6
      if (p.alpha != 1.0f / 6.0f || p.beta != 0.5f) return false;
      add(Alg::eltwise_hardswish);
      return true;
    case UnaryFn::kAbs:
      add(Alg::eltwise_abs);
      return true;
    case UnaryFn::kSqrt:
      add(Alg::eltwise_sqrt);
      return true;
    case UnaryFn::kExp:
      add(Alg::eltwise_exp);
      return true;
    case UnaryFn::kLog:
      add(Alg::eltwise_log);
      return true;
    case UnaryFn::kSoftplus:
      add(Alg::eltwise_soft_relu);
      return true;
    default:
      return false;
  }
}

bool is_mappable(const PostOp& p) {
  if (p.kind != PostOp::Kind::kUnary) return true;
  dnnl::post_ops scratch_ops;
  return append_unary(p, scratch_ops);
}

}  // namespace

size_t mappable_post_ops(const PostOps& ops) {
  size_t n = 0;
  while (n < ops.size() && is_mappable(ops[n])) ++n;
  return n;
}

MappedPostOps map_post_ops(const PostOps& ops, size_t limit, const dnnl::post_ops& first, const Dims& out_dims,
                           const std::vector<Dims>& input_dims, const std::vector<Layout>& input_layouts,
                           const std::vector<ElementType>& input_elems, const memory::desc* sum_dst) {
  MappedPostOps m;
  m.ops = first;
  size_t i = 0;
  for (; i < ops.size() && i < limit; ++i) {
    const PostOp& p = ops[i];
    if (p.kind == PostOp::Kind::kUnary) {
      if (!append_unary(p, m.ops)) break;
      continue;
    }
    if (p.input >= input_dims.size()) break;
    const Dims& od = input_dims[p.input];
    if (od.size() > out_dims.size()) break;
    Dims d(out_dims.size() - od.size(), 1);
    d.insert(d.end(), od.begin(), od.end());
    const Layout l = p.input < input_layouts.size() ? input_layouts[p.input] : Layout::kPlain;
    if (l != Layout::kPlain && d != out_dims) break;
    const ElementType e = p.input < input_elems.size() ? input_elems[p.input] : ElementType::kF32;
    const memory::desc md = make_desc(d, l, e == ElementType::kBF16 ? e : ElementType::kF32);
    if (sum_dst && m.sum_input < 0 && p.kind == PostOp::Kind::kAdd && md == *sum_dst) {
      m.sum_input = int(p.input);
      m.ops.append_sum(1.0f);
      continue;
    }
    m.slots.push_back(m.ops.len());
    m.inputs.push_back(p.input);
    m.mds.push_back(md);
    m.ops.append_binary(p.kind == PostOp::Kind::kAdd ? Alg::binary_add : Alg::binary_mul, md);
  }
  m.count = i;
  m.tail.assign(ops.begin() + static_cast<std::ptrdiff_t>(i), ops.end());
  return m;
}

namespace {
struct ScratchBuffers {
  struct Buf {
    void* p = nullptr;
    size_t cap = 0;
  };
  Buf bufs[static_cast<size_t>(Slot::kCount)];
  ~ScratchBuffers() {
    for (Buf& b : bufs) std::free(b.p);
  }
};
}  // namespace

void* scratch(Slot slot, size_t bytes) {
  thread_local ScratchBuffers s;
  auto& b = s.bufs[static_cast<size_t>(slot)];
  if (bytes > b.cap) {
    std::free(b.p);
    b.p = nullptr;
    b.cap = 0;
    const size_t cap = (bytes + 4095) & ~size_t(4095);
    CELER_CHECK(cap <= size_t(kMaxTensorBytes), kLimitExceeded, "oneDNN scratch buffer of ", bytes, " bytes");
    b.p = std::aligned_alloc(64, cap);
    CELER_CHECK(b.p, kLimitExceeded, "out of memory allocating a oneDNN scratch buffer of ", bytes, " bytes");
    b.cap = cap;
  }
  return b.p;
}

void reorder(const memory& src, const memory& dst) {
  dnnl::reorder(src, dst).execute(stream(), const_cast<memory&>(src), const_cast<memory&>(dst));
  stream().wait();
}

memory pack(const Tensor& t, const memory::desc& from, const memory::desc& to, WeightArena* arena,
            std::shared_ptr<void>* owner) {
  // One thread: a weight reorder is short and memory-bound, and a parallel one stalls at its barrier whenever another
  // process holds the other CPU (compiles on a busy 2-CPU machine took several times longer with 2 threads).
  ThreadScope one(1);
  memory src(from, engine(), const_cast<void*>(t.raw()));
  memory dst;
  if (arena && owner) {
    *owner = arena->allocate(to.get_size());
    dst = memory(to, engine(), owner->get());
  } else {
    dst = memory(to, engine());
  }
  reorder(src, dst);
  return dst;
}

std::string layout_key(const memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  std::string k = detail::concat("dt", int(d.data_type), " nd", d.ndims, " fk", int(d.format_kind), " off", d.offset0);
  for (int i = 0; i < d.ndims; ++i)
    k += detail::concat(" ", d.dims[i], "/", d.padded_dims[i], "+", d.padded_offsets[i]);
  if (d.format_kind == dnnl_blocked) {
    const dnnl_blocking_desc_t& b = d.format_desc.blocking;
    k += " s";
    for (int i = 0; i < d.ndims; ++i) k += detail::concat(" ", b.strides[i]);
    k += " b";
    for (int i = 0; i < b.inner_nblks; ++i) k += detail::concat(" ", b.inner_idxs[i], ":", b.inner_blks[i]);
  }
  k += detail::concat(" x", d.extra.flags, ",", d.extra.compensation_mask, ",", d.extra.scale_adjust, ",",
                      d.extra.asymm_compensation_mask, " bytes", md.get_size());
  return k;
}

bool constant_weights(const Node& node, size_t i, const CompileOptions& options) {
  if (i < node.inputs.size() && node.inputs[i] && node.inputs[i]->constant) return true;
  // Packed weights are those of input 1 (the weights of Conv, ConvTranspose, MatMul and Gemm).
  return i == 1 && options.packed && options.packed->mode() == PackedWeights::Mode::kReplay &&
         options.packed->has(node.name);
}

memory packed_weights(const Node& node, PackedWeights* store, const memory::desc& to,
                      const std::function<memory()>& pack_now, std::shared_ptr<void>* owner) {
  if (store && store->mode() == PackedWeights::Mode::kReplay) {
    const Tensor* t = store->find(node.name, layout_key(to));
    CELER_CHECK(t && size_t(t->size()) == to.get_size(), kInternal, node.describe(),
                ": the cached packed weights do not match this build's layout");
    *owner = t->owner();
    return memory(to, engine(), const_cast<void*>(t->raw()));
  }
  memory m = pack_now();
  if (m && store && store->mode() == PackedWeights::Mode::kRecord)
    store->record(node.name, layout_key(to),
                  Tensor::wrap(ElementType::kU8, {int64_t(to.get_size())}, m.get_data_handle()));
  return m;
}

memory wrap(const Tensor& t, const memory::desc& md) { return memory(md, engine(), const_cast<void*>(t.raw())); }

void add_post_op_args(const MappedPostOps& post, const KernelContext& ctx, ExecArgs& args) {
  for (size_t i = 0; i < post.slots.size(); ++i)
    args.add(DNNL_ARG_ATTR_MULTIPLE_POST_OP(post.slots[i]) | DNNL_ARG_SRC_1, ctx.input(post.inputs[i]), post.mds[i]);
}

namespace {
// The calling thread's memory objects by (owner, argument). A stale entry (its owner freed and another allocated at
// the same address) is harmless: the descriptor is compared on every use and the object re-created when it differs.
struct BoundMemories {
  struct Key {
    const void* owner;
    int arg;
    bool operator==(const Key& o) const { return owner == o.owner && arg == o.arg; }
  };
  struct Hash {
    size_t operator()(const Key& k) const { return std::hash<const void*>()(k.owner) * 31u + std::hash<int>()(k.arg); }
  };
  struct Bound {
    memory mem;
    memory::desc md;
  };
  static constexpr size_t kMaxEntries = 8192;  // a thread that outlives many compiled models starts over
  std::unordered_map<Key, Bound, Hash> map;

  memory& bind(const void* owner, int arg, const memory::desc& md, void* data) {
    if (map.size() >= kMaxEntries) map.clear();
    Bound& b = map[Key{owner, arg}];
    if (!b.mem || b.md != md) {
      b.mem = memory(md, engine(), data);
      b.md = md;
    } else {
      b.mem.set_data_handle(data, stream());
    }
    return b.mem;
  }
};
}  // namespace

void ExecArgs::add(int arg, const memory::desc& md, const void* data) {
  thread_local BoundMemories bound;
  add(arg, bound.bind(owner_, arg, md, const_cast<void*>(data)));
}

void ExecArgs::add(int arg, const memory& m) {
  if (n_ == kInline) more_.assign(args_, args_ + kInline);
  if (n_ >= kInline)
    more_.push_back(dnnl_exec_arg_t{arg, m.get()});
  else
    args_[n_] = dnnl_exec_arg_t{arg, m.get()};
  ++n_;
}

namespace {
// The calling thread's run-time reorders by (from, to) layout; the oldest goes when it holds kMax of them.
struct CachedReorders {
  struct Entry {
    memory::desc from, to;
    dnnl::primitive prim;
    memory src, dst;
  };
  static constexpr size_t kMax = 64;
  std::vector<Entry> entries;
  size_t next = 0;  // the entry replaced next when full

  Entry& get(const memory::desc& from, const memory::desc& to) {
    for (Entry& e : entries)
      if (e.from == from && e.to == to) return e;
    Entry e{from, to, dnnl::reorder(dnnl::reorder::primitive_desc(engine(), from, engine(), to)),
            memory(from, engine(), nullptr), memory(to, engine(), nullptr)};
    if (entries.size() < kMax) return entries.emplace_back(std::move(e));
    Entry& slot = entries[next];
    next = (next + 1) % kMax;
    return slot = std::move(e);
  }
};
}  // namespace

void reorder_data(const memory::desc& from, const void* src, const memory::desc& to, void* dst) {
  thread_local CachedReorders cache;
  CachedReorders::Entry& e = cache.get(from, to);
  dnnl::stream& s = stream();
  e.src.set_data_handle(const_cast<void*>(src), s);
  e.dst.set_data_handle(dst, s);
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, e.src.get()}, {DNNL_ARG_TO, e.dst.get()}};
  dnnl::error::wrap_c_api(dnnl_primitive_execute(e.prim.get(), s.get(), 2, args), "could not execute a reorder");
  s.wait();
}

void ExecArgs::add_input(int arg, const Tensor& t, const memory::desc& user, const memory::desc& md, Slot slot) {
  if (md == user) return add(arg, t, md);
  void* buf = scratch(slot, md.get_size());
  reorder_data(user, t.raw(), md, buf);
  add(arg, md, buf);
}

void ExecArgs::add_scratchpad(const memory::desc& md) {
  add(DNNL_ARG_SCRATCHPAD, md, scratch(Slot::kScratchpad, md.get_size()));
}

void ExecArgs::execute(const dnnl::primitive& prim) {
  dnnl::stream& s = stream();
  dnnl::error::wrap_c_api(dnnl_primitive_execute(prim.get(), s.get(), n_, n_ > kInline ? more_.data() : args_),
                          "could not execute a primitive");
  s.wait();
}

void append_key(std::vector<int64_t>& key, const Dims& dims) {
  key.push_back(-1 - static_cast<int64_t>(dims.size()));
  key.insert(key.end(), dims.begin(), dims.end());
}

int node_threads(const Node& node, const CompileOptions& options) {
  // Rough serial throughput of the small primitives concerned (memory-bound depthwise and pointwise convolutions,
  // pooling, reorders): FLOPs and bytes per microsecond on one core.
  constexpr double kFlopsPerUs = 40e3, kBytesPerUs = 20e3;
  static const double serial_us = [] {
    const char* env = std::getenv("CELER_CPU_SERIAL_US");
    return env ? std::atof(env) : 25.0;
  }();
  double bytes = 0;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Value* v = node.inputs[i];
    if (v && !constant_weights(node, i, options) && v->type.is_tensor() && v->type.shape.is_static())
      bytes += double(element_count(v->type.shape.to_dims())) * double(element_size(v->type.elem));
  }
  for (const Value* v : node.outputs)
    if (v && v->type.is_tensor()) {
      if (!v->type.shape.is_static()) return options.num_threads;  // unknown work
      bytes += double(element_count(v->type.shape.to_dims())) * double(element_size(v->type.elem));
    }
  const double us = node.op->flops(node) / kFlopsPerUs + bytes / kBytesPerUs;
  return us < serial_us ? 1 : options.num_threads;
}

bool static_shape(const Value* v) { return v && v->type.is_tensor() && v->type.shape.is_static(); }

}  // namespace celer::onednn
