// oneDNN matmul kernels for MatMul (batched, batch dims broadcast, 1-D operands promoted) and Gemm (transposes, alpha,
// beta, C broadcast), f32, with fused post-ops. A constant B is reordered once into the layout the primitive prefers.
// With inference_precision = bf16 (and a constant B), B is packed as bf16 and A is converted to bf16 on entry; the
// primitive accumulates in f32 and writes an f32 output, so bias, C and post-ops stay f32.
// A single row of A against a constant f32 B (batch 1 classifiers, transformer decode steps) skips the primitive:
// cpu::gemv_ba16a64b streams the same packed B faster, then the post-ops run through the SIMD functions.
// Gemm's C goes in as the primitive's bias when it is a row vector and alpha = beta = 1; otherwise the output is first
// filled with C and a oneDNN sum post-op (scale beta) adds it: y = post_ops(alpha * A'B' + beta * C).
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/gemv.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/gemm.hpp"
#include "ops/mat_mul.hpp"

namespace celer {
namespace onednn {

// A constant f32 B [K, N] (plain: row-major, or column-major when `transposed`) packed into oneDNN's BA16a64b (blocks
// of 16 rows x 64 columns ordered by column block, then row block; zero-padded), the layout the brgemm matmul picks
// for a 2-D f32 B. oneDNN 2.6's reorder into it runs at ~7 ns an element (~0.7 s for ViT-B's weights); this is a copy.
// The buffer is on transparent huge pages: the brgemm kernel walks B by blocks of 4 KB, one page each, and with 4 KB
// pages a [3072, 768] B ran 14% slower (TLB misses). It comes from `arena` (core/weight_arena.hpp); without one (a
// kernel re-created at run time) it is allocated alone, 2 MB aligned, with its whole 2 MB pages marked and the partial
// last page small, so the resident size does not grow. `storage` receives the buffer's owner.
// Returns an empty memory when `to` is not that layout.
memory pack_ba16a64b(const Tensor& b, const memory::desc& to, bool transposed, WeightArena* arena,
                     std::shared_ptr<void>* storage) {
  if (b.type() != ElementType::kF32 || b.rank() != 2) return {};
  const int64_t K = transposed ? b.dim(1) : b.dim(0), N = transposed ? b.dim(0) : b.dim(1);
  if (to != memory::desc({K, N}, memory::data_type::f32, Tag::BA16a64b)) return {};
  const int64_t KB = (K + 15) / 16, NB = (N + 63) / 64;
  if (to.get_size() != size_t(KB * NB * 16 * 64) * sizeof(float)) return {};
  constexpr size_t kHugePage = size_t(2) << 20;
  const size_t bytes = to.get_size();
  void* buf = nullptr;
  if (arena) {
    *storage = arena->allocate(bytes);
    buf = storage->get();
  } else {
    buf = std::aligned_alloc(kHugePage, (bytes + kHugePage - 1) / kHugePage * kHugePage);
    if (!buf) return {};
    storage->reset(buf, std::free);
    if (bytes >= kHugePage) madvise(buf, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);  // advisory: errors ignored
  }
  memory dst(to, engine(), buf);
  float* d = static_cast<float*>(buf);
  const float* src = b.data<float>();
  const bool avx512 = cpu::simd().isa == cpu::Isa::kAvx512;
  // Serial, like onednn::pack(): parallel copies stall whenever another process holds the other CPU.
  for (int64_t nb = 0; nb < NB; ++nb) {
    const int64_t n0 = nb * 64, cols = std::min<int64_t>(64, N - n0);
    for (int64_t kb = 0; kb < KB; ++kb) {
      float* block = d + (nb * KB + kb) * 16 * 64;
      std::fill(block, block + 16 * 64, 0.0f);
      const int64_t k0 = kb * 16, rows = std::min<int64_t>(16, K - k0);
      if (transposed) {
        // B^T is [N, K]: 16 x 16 tiles transposed in registers, then each of the block's last columns read as one
        // run of 16 floats. Reading along k instead touches 64 lines a row (K * 4 bytes apart, often one L1 set) per
        // element: 3.3-3.6 ms for a 1000 x 1024 classifier, 1.3 ms now (2.2-2.7 ms with the scalar runs alone).
        int64_t j = 0;
        if (avx512 && rows == 16)
          for (; j + 16 <= cols; j += 16)
            cpu::transpose16x16_avx512(reinterpret_cast<const uint32_t*>(src + (n0 + j) * K + k0), K,
                                       reinterpret_cast<uint32_t*>(block + j), 64);
        for (; j < cols; ++j) {
          const float* col = src + (n0 + j) * K + k0;
          for (int64_t i = 0; i < rows; ++i) block[i * 64 + j] = col[i];
        }
      } else {
        for (int64_t i = 0; i < rows; ++i)
          std::copy(src + (k0 + i) * N + n0, src + (k0 + i) * N + n0 + cols, block + i * 64);
      }
    }
  }
  return dst;
}

}  // namespace onednn
namespace {

using namespace onednn;

struct MatMulEntry {
  dnnl::primitive prim;
  // a: the primitive's A, a_user's bf16 copy with BF16 inference (else a_user itself).
  memory::desc a_user, a, b_user, b, c, bias, scratchpad;
  memory packed;           // constant B in `b` layout
  bool c_as_bias = false;  // Gemm: C is the primitive's bias; else (when present) it is pre-filled into y
  MappedPostOps post;
  std::shared_ptr<void> packed_storage;  // owns `packed`'s buffer when celer allocated it (arena, pack_ba16a64b)
  bool gemv = false;                     // one row of A: cpu::gemv_ba16a64b instead of the primitive
  int64_t K = 0, N = 0;                  // B's dims (gemv)
};

class MatMulKernel final : public Kernel {
 public:
  MatMulKernel(const Node& node, const CompileOptions& options, bool gemm)
      : node_(node), gemm_(gemm), threads_(node_threads(node, options)) {
    if (gemm) {
      const auto& op = static_cast<const Gemm&>(*node.op);
      alpha_ = op.alpha;
      beta_ = op.beta;
      trans_a_ = op.trans_a;
      trans_b_ = op.trans_b;
      post_ops_ = op.post_ops;
    } else {
      post_ops_ = static_cast<const MatMul&>(*node.op).post_ops;
    }
    bconst_ = node.inputs[1]->constant;
    b_const_ = constant_weights(node, 1, options);
    store_ = options.packed.get();
    arena_ = options.weight_arena.get();
    bf16_ = b_const_ && use_bf16(options);
  }

  bool prepare() {
    for (size_t i = 0; i < node_.num_explicit_inputs; ++i)
      if (node_.inputs[i] && !static_shape(node_.inputs[i])) return true;  // built at run time
    std::vector<Dims> dims(node_.num_explicit_inputs);
    for (size_t i = 0; i < dims.size(); ++i)
      if (node_.inputs[i]) dims[i] = node_.inputs[i]->type.shape.to_dims();
    static_dims_ = dims;
    ThreadScope ts(threads_);
    static_entry_ = make(dims);
    store_ = nullptr;  // only while the kernel is created
    arena_ = nullptr;
    // Every shape is static, so run() always finds this entry: the packed copy replaces the original B.
    if (static_entry_ && static_entry_->packed) bconst_.reset();
    return static_entry_ != nullptr;
  }

  bool reads_constant_input(size_t i) const override { return i != 1 || !b_const_ || bconst_; }

  const char* name() const override {
    if (static_entry_ && static_entry_->gemv) return "cpu:gemv";
    if (bf16_) return gemm_ ? "onednn:gemm_bf16" : "onednn:matmul_bf16";
    return gemm_ ? "onednn:gemm" : "onednn:matmul";
  }

  // Whether the inputs have the shapes the static entry was made for (checked without allocating).
  bool static_shapes(const KernelContext& ctx) const {
    for (size_t i = 0; i < static_dims_.size(); ++i) {
      if (i == 1 && b_const_) continue;
      if (ctx.has_input(i) ? ctx.input(i).dims() != static_dims_[i] : !static_dims_[i].empty()) return false;
    }
    return true;
  }

  void run(KernelContext& ctx) const override {
    ThreadScope ts(threads_);
    std::shared_ptr<const MatMulEntry> e = static_entry_;
    if (!e || !static_shapes(ctx)) {
      std::vector<Dims> dims(node_.num_explicit_inputs);
      for (size_t i = 0; i < dims.size(); ++i)
        if (ctx.has_input(i)) dims[i] = ctx.input(i).dims();
      CELER_CHECK(!b_const_ || bconst_, kInternal, "shapes changed after the constant B was released");
      e = cache_.get(key_of(dims), [&] { return make(dims); });
    }
    if (!e) {
      node_.op->run(ctx);
      return;
    }
    Tensor& y = ctx.output(0);
    if (y.size() == 0) return;
    const bool has_c = gemm_ && ctx.has_input(2);
    if (e->gemv) {
      run_gemv(*e, ctx, has_c, y);
      return;
    }
    if (has_c && !e->c_as_bias) fill_c(ctx.input(2), y);
    ExecArgs args(e.get());
    if (e->packed)
      args.add(DNNL_ARG_WEIGHTS, e->packed);
    else
      args.add_input(DNNL_ARG_WEIGHTS, ctx.input(1), e->b_user, e->b, Slot::kWeights);
    args.add_input(DNNL_ARG_SRC, ctx.input(0), e->a_user, e->a, Slot::kSrc);
    args.add(DNNL_ARG_DST, y, e->c);
    if (has_c && e->c_as_bias) args.add(DNNL_ARG_BIAS, ctx.input(2), e->bias);
    args.add_scratchpad(e->scratchpad);
    add_post_op_args(e->post, ctx, args);
    args.execute(e->prim);
    apply_post_ops(e->post.tail, ctx, y);
  }

 private:
  void run_gemv(const MatMulEntry& e, KernelContext& ctx, bool has_c, Tensor& y) const {
    float* py = y.data<float>();
    cpu::gemv_ba16a64b(ctx.input(0).data<float>(), static_cast<const float*>(e.packed.get_data_handle()), e.K, e.N,
                       has_c ? ctx.input(2).data<float>() : nullptr, py, threads_);
    const cpu::SimdKernels& k = cpu::simd();
    for (const PostOp& p : post_ops_) {
      if (p.kind == PostOp::Kind::kUnary) {
        k.unary(p.fn, p.alpha, p.beta, py, py, e.N);
        continue;
      }
      const Tensor& o = ctx.input(p.input);
      k.binary(p.kind == PostOp::Kind::kAdd ? BinaryFn::kAdd : BinaryFn::kMul, py, 1, o.data<float>(),
               o.size() == 1 ? 0 : 1, py, e.N);
    }
  }

  // The gemv path applies: one row of A, alpha 1, C (if any) as a bias row, post-ops the SIMD functions do with
  // operands of one element or one per column.
  bool gemv_fits(const MatMulEntry& e, const Dims& b, const Dims& c, const std::vector<Dims>& in, bool has_c) const {
    if (bf16_ || !b_const_ || !e.packed || b.size() != 2 || c.size() != 2 || c[0] != 1 || alpha_ != 1.0f) return false;
    if ((has_c && !e.c_as_bias) || !cpu::gemv_available()) return false;
    if (e.b != memory::desc({b[0], b[1]}, memory::data_type::f32, Tag::BA16a64b)) return false;
    for (const PostOp& p : post_ops_) {
      if (p.kind == PostOp::Kind::kUnary) {
        if (!cpu::simd_supports(p.fn) || p.gamma != 0.0f) return false;
        continue;
      }
      if (p.input >= in.size() || node_.inputs[p.input] == nullptr) return false;
      if (node_.inputs[p.input]->type.elem != ElementType::kF32) return false;
      const Dims& od = in[p.input];
      const int64_t n = element_count(od);
      if (!(n == 1 || (n == c[1] && !od.empty() && od.back() == c[1]))) return false;
    }
    return true;
  }

  std::vector<int64_t> key_of(const std::vector<Dims>& dims) const {
    std::vector<int64_t> key;
    for (size_t i = 0; i < dims.size(); ++i)
      if (i != 1 || !b_const_) append_key(key, dims[i]);
    return key;
  }

  // y[i, j] = C broadcast from [], [N], [1|M, 1|N].
  static void fill_c(const Tensor& c, Tensor& y) {
    const int64_t M = y.dim(0), N = y.dim(1);
    const int64_t cm = c.rank() == 2 ? c.dim(0) : 1, cn = c.rank() >= 1 ? c.dim(c.rank() - 1) : 1;
    const float* cp = c.data<float>();
    float* yp = y.data<float>();
    for (int64_t i = 0; i < M; ++i) {
      const float* row = cp + (cm == 1 ? 0 : i) * cn;
      float* out = yp + i * N;
      if (cn == 1)
        std::fill(out, out + N, row[0]);
      else
        std::copy(row, row + N, out);
    }
  }

  // A batched MatMul whose B has no batch ([..., M, K] x [K, N], B's batch dims all 1) runs as one 2-D GEMM of
  // prod(...) * M rows: A and C are plain row-major, so only their dims change. Without this, torch's
  // MultiheadAttention in_proj ([L, 1, E] x [E, 3E]) runs as L matrix-vector products, each streaming all of B; and
  // even with a batch of 1 ([1, L, E] x [E, N]) oneDNN 2.6 keeps a 3-D B plain, while for a 2-D one it picks a blocked
  // layout (measured 8.0 instead of 9.5 ms for 197 x 768 x 3072, whose plain rows of 12 KB alias in the caches).
  // Binary post-op operands (inputs 2.. of the node) must then be a row broadcast ([1, .., 1, N] or a scalar) or
  // have C's shape; otherwise nothing is folded.
  static bool fold_batch_into_m(Dims& a, Dims& b, Dims& c, std::vector<Dims>& operands) {
    const size_t r = a.size();
    if (r < 3) return false;
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < r; ++i) rows *= a[i];
    for (size_t i = 0; i + 2 < r; ++i)
      if (b[i] != 1) return false;
    std::vector<Dims> folded(operands.size());
    for (size_t i = 2; i < operands.size(); ++i) {
      const Dims& od = operands[i];
      if (od.empty()) continue;  // absent, or a scalar
      if (od.size() > r) return false;
      Dims d(r - od.size(), 1);
      d.insert(d.end(), od.begin(), od.end());
      if (d == c) {
        folded[i] = {rows, c[r - 1]};
        continue;
      }
      for (size_t k = 0; k + 1 < r; ++k)
        if (d[k] != 1) return false;
      folded[i] = {1, d[r - 1]};
    }
    for (size_t i = 2; i < operands.size(); ++i) operands[i] = folded[i];
    a = {rows, a[r - 1]};
    b = {b[r - 2], b[r - 1]};
    c = {rows, c[r - 1]};
    return true;
  }

  std::shared_ptr<const MatMulEntry> make(const std::vector<Dims>& in) const {
    try {
      return make_or_throw(in);
    } catch (const dnnl::error&) {
      return nullptr;
    } catch (const Error&) {
      return nullptr;
    }
  }

  std::shared_ptr<const MatMulEntry> make_or_throw(const std::vector<Dims>& in) const {
    for (const Dims& d : in)
      for (int64_t v : d)
        if (v == 0) return nullptr;  // empty operands: the reference kernel
    auto e = std::make_shared<MatMulEntry>();
    Dims a = in[0], b = in[1], c;
    Tag a_tag, b_tag;
    if (gemm_) {
      const int64_t M = trans_a_ ? a[1] : a[0], K = trans_a_ ? a[0] : a[1], N = trans_b_ ? b[0] : b[1];
      a = {M, K};
      b = {K, N};
      c = {M, N};
      a_tag = trans_a_ ? Tag::ba : Tag::ab;
      b_tag = trans_b_ ? Tag::ba : Tag::ab;
    } else {
      if (a.size() == 1) a.insert(a.begin(), 1);
      if (b.size() == 1) b.push_back(1);
      const size_t r = std::max(a.size(), b.size());
      a.insert(a.begin(), r - a.size(), 1);
      b.insert(b.begin(), r - b.size(), 1);
      c = a;
      for (size_t i = 0; i + 2 < r; ++i) {
        if (a[i] != b[i] && a[i] != 1 && b[i] != 1) return nullptr;
        c[i] = a[i] == 1 ? b[i] : a[i];
      }
      c[r - 1] = b[r - 1];
      a_tag = b_tag = plain_tag(r);
    }
    // Binary post-op operands broadcast onto the output; with a 1-D operand the output is squeezed and no longer has
    // the primitive's rank, so only unary post-ops are fused then.
    const bool squeezed = !gemm_ && (in[0].size() == 1 || in[1].size() == 1);
    std::vector<Dims> operand_dims = squeezed ? std::vector<Dims>{} : in;
    if (!gemm_ && fold_batch_into_m(a, b, c, operand_dims)) a_tag = b_tag = Tag::ab;
    e->a_user = f32_desc(a, a_tag);
    e->a = bf16_ ? make_desc(a, plain_tag(a.size()), ElementType::kBF16) : e->a_user;
    e->b_user = f32_desc(b, b_tag);
    e->c = f32_desc(c, plain_tag(c.size()));
    const memory::data_type wdt = bf16_ ? memory::data_type::bf16 : memory::data_type::f32;
    const memory::desc b_any = b_const_ ? memory::desc(to_dims(b), wdt, Tag::any) : e->b_user;

    dnnl::post_ops first;
    const bool has_c = gemm_ && in.size() > 2 && node_.inputs[2] != nullptr;
    if (has_c) {
      const Dims& cd = in[2];
      const bool row = (cd.size() == 1 && cd[0] == c[1]) || (cd.size() == 2 && cd[0] == 1 && cd[1] == c[1]);
      e->c_as_bias = row && alpha_ == 1.0f && beta_ == 1.0f;
      if (e->c_as_bias)
        e->bias = f32_desc({1, c[1]}, Tag::ab);
      else
        first.append_sum(beta_);
    }
    const size_t can_map = mappable_post_ops(post_ops_);
    const std::vector<Layout> plain(in.size(), Layout::kPlain);
    for (size_t limit = can_map + 1; limit-- > 0;) {
      MappedPostOps post = map_post_ops(post_ops_, limit, first, c, operand_dims, plain);
      if (post.count < limit) continue;
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      if (alpha_ != 1.0f) attr.set_output_scales(0, {alpha_});
      attr.set_post_ops(post.ops);
      try {
        dnnl::matmul::desc d(e->a, b_any, e->c_as_bias ? e->bias : memory::desc(), e->c);
        dnnl::matmul::primitive_desc pd(d, attr, engine());
        e->b = pd.weights_desc();
        e->scratchpad = pd.scratchpad_desc();
        e->prim = dnnl::matmul(pd);
      } catch (const dnnl::error&) {
        if (limit == 0) throw;
        continue;
      }
      e->post = std::move(post);
      if (b_const_) {
        e->packed = packed_weights(
            node_, store_, e->b,
            [&] {
              CELER_CHECK(bconst_, kInternal, node_.describe(), ": constant B released before packing");
              memory m;
              if (!bf16_ && b.size() == 2 && (b_tag == Tag::ab || b_tag == Tag::ba))
                m = pack_ba16a64b(*bconst_, e->b, b_tag == Tag::ba, arena_, &e->packed_storage);
              return m ? m : pack(*bconst_, e->b_user, e->b, arena_, &e->packed_storage);
            },
            &e->packed_storage);
        e->gemv = gemv_fits(*e, b, c, in, has_c);
        e->K = b[0];
        e->N = b[1];
      }
      return e;
    }
    return nullptr;
  }

  const Node& node_;
  bool gemm_;
  int threads_;
  float alpha_ = 1.0f, beta_ = 1.0f;
  bool trans_a_ = false, trans_b_ = false;
  bool bf16_ = false;  // bf16 A and B (constant B only), f32 accumulation and output
  PostOps post_ops_;
  PackedWeights* store_ = nullptr;        // CompileOptions::packed while the kernel is created
  WeightArena* arena_ = nullptr;          // CompileOptions::weight_arena, likewise
  bool b_const_ = false;                  // B is a constant
  std::shared_ptr<const Tensor> bconst_;  // it, until packed for static shapes
  std::vector<Dims> static_dims_;         // the inputs' dims static_entry_ was made for
  std::shared_ptr<const MatMulEntry> static_entry_;
  ShapeCache<MatMulEntry> cache_;
};

bool matmul_supported(const Node& node) {
  if (node.num_explicit_inputs < 2 || !node.inputs[0] || !node.inputs[1]) return false;
  for (size_t i = 0; i < node.num_explicit_inputs; ++i)
    if (node.inputs[i] && (node.inputs[i]->type.elem != ElementType::kF32 || !node.inputs[i]->type.is_tensor()))
      return false;
  const PartialShape& a = node.inputs[0]->type.shape;
  const PartialShape& b = node.inputs[1]->type.shape;
  if (!a.rank_known() || !b.rank_known() || a.rank() > 6 || b.rank() > 6) return false;
  for (size_t i = 0; i < node.num_explicit_inputs; ++i) {
    if (!node.inputs[i]) continue;
    const PartialShape& s = node.inputs[i]->type.shape;
    // Empty matrices and zero-sized operands run the reference kernel.
    if (s.rank_known())
      for (int64_t d = 0; d < s.rank(); ++d)
        if (s[size_t(d)].is_static() && s[size_t(d)].value() == 0) return false;
  }
  return true;
}

std::unique_ptr<Kernel> make_matmul_kernel(const Node& node, const CompileOptions& options, bool gemm) {
  if (!matmul_supported(node)) return nullptr;
  auto k = std::make_unique<MatMulKernel>(node, options, gemm);
  if (!k->prepare()) return nullptr;
  return k;
}

}  // namespace

std::unique_ptr<Kernel> make_onednn_matmul(const Node& node, const CompileOptions& options) {
  return make_matmul_kernel(node, options, false);
}

std::unique_ptr<Kernel> make_onednn_gemm(const Node& node, const CompileOptions& options) {
  return make_matmul_kernel(node, options, true);
}

}  // namespace celer
