// Shared plumbing of the oneDNN-backed CPU kernels: one engine, one stream per calling thread, memory descriptors of
// celer tensors (plain or channel-blocked), post-ops mapped onto oneDNN attributes, per-thread scratch buffers, the
// thread count of a compiled model, and a small thread-safe cache of primitives keyed by input shapes.
//
// Life cycle of a oneDNN kernel: the factory checks the node (f32, supported geometry), packs constant weights into
// the layout the primitive prefers and creates the primitive when the shapes are static. At run time the kernel looks
// up (or, for new input shapes, creates once) the primitive for the actual shapes and executes it; anything oneDNN
// refuses for those shapes runs the op's reference kernel instead.
#pragma once

#include <omp.h>

#include <cstdint>
#include <dnnl.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "ops/op.hpp"
#include "ops/post_ops.hpp"
#include "ops/reorder.hpp"
#include "runtime/device.hpp"

namespace celer::onednn {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;

dnnl::engine& engine();
// The calling thread's stream (in-order; execution on a CPU stream is synchronous).
dnnl::stream& stream();

memory::dims to_dims(const Dims& d);
// Plain row-major (a, ab, abc, ...) tag of a rank.
Tag plain_tag(size_t rank);
// The tag of an activation of `rank` stored in `layout` (plain, or channel-blocked nCx16c / nCx8c).
Tag activation_tag(size_t rank, Layout layout);
memory::desc f32_desc(const Dims& dims, Tag tag);
memory::desc f32_desc(const Dims& dims, Layout layout);

// BF16 inference (CompileOptions::inference_precision = bf16): convolutions and matmuls take bf16 activations and
// weights and accumulate in f32. Only on CPUs with native bf16 dot products (AVX512-BF16 or AMX): elsewhere oneDNN
// would emulate them, slower than f32, so the option is ignored there.
bool bf16_native();
bool use_bf16(const CompileOptions& options);
// The oneDNN data type of an f32 or bf16 element type (throws for others).
memory::data_type data_type_of(ElementType e);
memory::desc make_desc(const Dims& dims, Tag tag, ElementType e);
memory::desc make_desc(const Dims& dims, Layout layout, ElementType e);
// An f32 or bf16 activation (of a static-shape tensor value).
bool f32_or_bf16(const Value* v);

// Post-ops mapped onto a oneDNN attribute: a prefix of the node's post-ops that oneDNN can run (`count` of them; the
// binary ones read input `inputs[i]` of the node through DNNL_ARG_ATTR_MULTIPLE_POST_OP(slots[i]) | DNNL_ARG_SRC_1),
// and the rest (`tail`), applied by apply_post_ops() after the primitive.
struct MappedPostOps {
  dnnl::post_ops ops;
  size_t count = 0;
  std::vector<int> slots;
  std::vector<size_t> inputs;
  std::vector<memory::desc> mds;  // of each binary operand
  int sum_input = -1;             // the input an Add mapped to oneDNN's sum reads: the primitive adds dst to itself
  PostOps tail;
};
// Maps at most `limit` post-ops. `first` are oneDNN post-ops to put before them (e.g. Gemm's sum for C);
// `input_dims` gives the dims of each input of the node (by index) at the current shapes, `input_layouts` their
// layouts (binary operands are read in their layout when equal in shape to the output, else they must be plain) and
// `input_elems` their element types (f32 where missing).
// With `sum_dst` (the descriptor the primitive writes its output in), the first Add whose operand has exactly that
// descriptor becomes a sum post-op: the caller puts the operand in dst before the primitive runs (or the memory plan
// already put the output in the operand's memory). oneDNN 2.6's brgemm convolutions take a sum but not a full-size
// binary add, which sends them to older kernels (a third slower on resnet50's 1x1 convolutions, measured).
MappedPostOps map_post_ops(const PostOps& ops, size_t limit, const dnnl::post_ops& first, const Dims& out_dims,
                           const std::vector<Dims>& input_dims, const std::vector<Layout>& input_layouts,
                           const std::vector<ElementType>& input_elems = {}, const memory::desc* sum_dst = nullptr);
// Number of leading post-ops map_post_ops could map at all (oneDNN may still refuse some for a given primitive).
size_t mappable_post_ops(const PostOps& ops);

// Per-thread scratch memory (64-byte aligned, grows as needed). Slots are independent buffers.
enum class Slot { kSrc, kDst, kWeights, kScratchpad, kCount };
void* scratch(Slot slot, size_t bytes);

// The OpenMP threads of a oneDNN kernel for `node` (for ThreadScope): the compiled model's num_threads, or 1 when the
// node's estimated serial time (from its FLOPs and the bytes it reads and writes) is too short to pay for a parallel
// region and the split of its work, so that small nodes and small models do not pay for threads they cannot use.
// The bound (25 us by default) can be overridden with the environment variable CELER_CPU_SERIAL_US (0: never serial).
int node_threads(const Node& node, const CompileOptions& options);

// Sets the OpenMP thread count of the calling thread for the lifetime of the object (no-op when n <= 0). oneDNN's
// OpenMP runtime sizes its parallel regions by omp_get_max_threads() of the calling thread, both when a primitive is
// created and when it runs, so kernels wrap both in a ThreadScope with the compiled model's num_threads.
class ThreadScope {
 public:
  explicit ThreadScope(int n) : prev_(n > 0 ? omp_get_max_threads() : 0) {
    if (n > 0 && n != prev_)
      omp_set_num_threads(n);
    else
      prev_ = 0;
  }
  ~ThreadScope() {
    if (prev_ > 0) omp_set_num_threads(prev_);
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int prev_;
};

// Executes a reorder between two memories on the calling thread's stream (creates the reorder primitive: for
// compile-time work).
void reorder(const memory& src, const memory& dst);
// Reorders `src` in layout `from` into `dst` in layout `to` at run time (an activation into the layout a primitive
// wants, and its output back): the calling thread keeps the reorder primitive and memory objects of each (from, to)
// pair, so a run binds two pointers and executes. reorder() built them every time: several microseconds, more than a
// small convolution's own work.
void reorder_data(const memory::desc& from, const void* src, const memory::desc& to, void* dst);
// A constant tensor's data reordered from `from` into `to` (owned memory), once, at kernel creation.
memory pack(const Tensor& t, const memory::desc& from, const memory::desc& to, WeightArena* arena = nullptr,
            std::shared_ptr<void>* owner = nullptr);
// A constant f32 B [K, N] (row-major, or column-major when `transposed`) packed into oneDNN's BA16a64b, the layout
// of brgemm matmul's 2-D f32 B that cpu::gemv_ba16a64b also reads (defined in onednn_matmul.cpp). An empty memory
// when `to` is not that layout.
memory pack_ba16a64b(const Tensor& b, const memory::desc& to, bool transposed, WeightArena* arena,
                     std::shared_ptr<void>* storage);
// A memory descriptor's layout as a string (data type, dims, padding, blocking, extra flags): the key under which
// packed weights are recorded and found again (runtime/packed_weights.hpp).
std::string layout_key(const memory::desc& md);
// Constant weights of `node` in layout `to`: replayed from `store` when it holds them (a view; `owner` keeps it
// alive), else made by pack_now() and, when `store` records, recorded. An empty memory when pack_now() gave none.
// `store` is CompileOptions::packed at kernel creation (null for shapes met only at run time).
memory packed_weights(const Node& node, PackedWeights* store, const memory::desc& to,
                      const std::function<memory()>& pack_now, std::shared_ptr<void>* owner);
// Whether input `i` of the node is a constant: in the graph, or (input 1, the weights) only as packed weights
// replayed from the cache.
bool constant_weights(const Node& node, size_t i, const CompileOptions& options);
// `t`'s data as a oneDNN memory (no copy).
memory wrap(const Tensor& t, const memory::desc& md);

// The arguments of one primitive execution, gathered without allocating. A memory object that wraps a tensor or a
// scratch buffer is kept per calling thread and per (owner, argument) and only gets the run's data handle:
// dnnl_memory_create allocates three times and a std::unordered_map of arguments once per argument, together about
// a microsecond per node, a tenth of a tiny model's time. `owner` is the kernel entry the primitive belongs to.
class ExecArgs {
 public:
  explicit ExecArgs(const void* owner) : owner_(owner) {}
  ExecArgs(const ExecArgs&) = delete;
  ExecArgs& operator=(const ExecArgs&) = delete;
  // Binds `arg` to `data` laid out as `md`.
  void add(int arg, const memory::desc& md, const void* data);
  void add(int arg, const Tensor& t, const memory::desc& md) { add(arg, md, t.raw()); }
  // Binds `arg` to a memory object the caller keeps alive until execute() returns.
  void add(int arg, const memory& m);
  // Binds `arg` to input tensor t, laid out as `user`; when the primitive wants `md` instead, t is first reordered
  // into the calling thread's scratch slot `slot`.
  void add_input(int arg, const Tensor& t, const memory::desc& user, const memory::desc& md, Slot slot);
  // Binds the primitive's scratchpad to the calling thread's scratchpad slot.
  void add_scratchpad(const memory::desc& md);
  // Executes `prim` on the calling thread's stream and waits for it.
  void execute(const dnnl::primitive& prim);

 private:
  static constexpr int kInline = 24;
  const void* owner_;
  dnnl_exec_arg_t args_[kInline];
  int n_ = 0;
  std::vector<dnnl_exec_arg_t> more_;  // beyond kInline (a Concat of many inputs): all of them
};
// Adds the binary post-op operands of `post` (node inputs, read from ctx) to a primitive's arguments.
void add_post_op_args(const MappedPostOps& post, const KernelContext& ctx, ExecArgs& args);

// Primitives by input shapes: at most kMaxEntries per kernel (cleared when full); a null entry records shapes oneDNN
// refused (the reference kernel runs them).
template <typename Entry>
class ShapeCache {
 public:
  static constexpr size_t kMaxEntries = 32;
  template <typename Make>
  std::shared_ptr<const Entry> get(const std::vector<int64_t>& key, Make&& make) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second;
    if (entries_.size() >= kMaxEntries) entries_.clear();
    std::shared_ptr<const Entry> e = make();
    entries_.emplace(key, e);
    return e;
  }

 private:
  mutable std::mutex mu_;
  mutable std::map<std::vector<int64_t>, std::shared_ptr<const Entry>> entries_;
};

// Appends the dims of a tensor to a cache key (with a separator).
void append_key(std::vector<int64_t>& key, const Dims& dims);

// The layout of a value as the CPU layout pass left it (defined in layout_pass.cpp): the `to` of a Reorder, the
// layout of input 0 of a layout-aware node (Conv, Pool: their output keeps their input's layout), plain otherwise.
Layout value_layout(const Value* v);
// The input whose layout a node's output keeps: 0, or for a Binary whose input 1 alone has the output's shape, 1.
size_t layout_operand(const Node& node);
// A static f32 value that broadcasts onto `out` (rank >= 3) per channel: aligned to it, every dim is 1 but axis 0 and
// axis 1, which may equal out's. A Binary in a chain reads such an operand as plain (layout_pass.cpp).
bool per_channel_operand(const Value* v, const PartialShape& out);
// For a Conv with static shapes that oneDNN runs: the activation layout its primitive prefers (onednn_conv.cpp).
std::optional<Layout> conv_preferred_layout(const Node& node, const CompileOptions& options);
// Whether oneDNN runs this Pool (in its input's current layout), asked without compiling a primitive (onednn_pool.cpp).
bool pool_supported(const Node& node, const CompileOptions& options);
// A Concat of f32 activations (static shapes, rank 3 to 5) along the channel axis (onednn_concat.cpp).
bool is_channel_concat(const Node& node);
// The layouts of all inputs of a node.
std::vector<Layout> input_layouts(const Node& node);
// The element types of all explicit inputs of a node (kUndefined where absent).
std::vector<ElementType> input_elems(const Node& node);

// Whether every dim of the node's input/output type is static.
bool static_shape(const Value* v);

}  // namespace celer::onednn
