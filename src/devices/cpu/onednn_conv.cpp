// oneDNN convolution kernels: Conv (1-D/2-D/3-D, groups incl. depthwise, strides, dilations, any padding, fused
// post-ops) and ConvTranspose (as oneDNN deconvolution), f32. Constant weights are reordered once into the layout the
// primitive prefers; activations are read and written in the layout the CPU layout pass chose for them (plain ones are
// reordered to the primitive's preferred layout and back inside the kernel).
// BF16 inference (inference_precision = bf16 on a CPU with native bf16): weights are packed as bf16 and the primitive
// reads bf16 activations (an f32 input is converted inside the kernel) and accumulates in f32; bias and post-ops are
// applied in f32 and the output is written in its value's type: bf16 inside the layout pass's bf16 chains, else f32.
// A final Silu, Sigmoid, Tanh or Gelu post-op runs after the primitive, in place, through celer's own SIMD functions:
// oneDNN 2.6's exp-based eltwise post-ops cost about 3x more than the separate pass (measured on Zen 4).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/gemv.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "devices/cpu/simd.hpp"
#include "ops/conv.hpp"
#include "ops/conv_transpose.hpp"

namespace celer {
namespace {

using namespace onednn;

// Unary post-ops that run faster as a separate SIMD pass than inside oneDNN's primitive.
bool own_unary(const PostOp& p) {
  if (p.kind != PostOp::Kind::kUnary || !cpu::simd_supports(p.fn) || cpu::simd().isa == cpu::Isa::kScalar) return false;
  return p.fn == UnaryFn::kSilu || p.fn == UnaryFn::kSigmoid || p.fn == UnaryFn::kTanh || p.fn == UnaryFn::kGelu;
}

// Sigmoid (silu = false) or Silu of n bf16 values in place, accurate to bf16: e^-x = 2^-k e^-u (k = round(x log2 e),
// u = x - k ln2, |u| <= ln2/2) with e^-u by its degree-4 Taylor polynomial (< 5e-5 relative) and 1 / (1 + e^-x) by
// rcp14 (< 2^-14 relative); NaN stays NaN. Only called when the CPU has native bf16 (AVX512-BF16).
// GCC 12 reports the _mm512_undefined_ps() inside avx512fintrin.h's unmasked intrinsics as "may be used
// uninitialized" when they are inlined into a target-attribute function: a known false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma"))) void sigmoid_bf16_avx512(uint16_t* p, int64_t n,
                                                                                             bool silu) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m256i h = _mm256_maskz_loadu_epi16(m, p + i);
    const __m512 x = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    // Past |x| = 88 the sigmoid is 0 or 1 in bf16 (and e^88 is still finite). k = round(-x log2 e).
    const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-88.0f)), _mm512_set1_ps(88.0f));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(-1.44269504f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 u = _mm512_fmadd_ps(k, _mm512_set1_ps(0.693147181f), xc);  // -xc = k ln2 - u
    __m512 e = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 24), u, _mm512_set1_ps(-1.0f / 6));
    e = _mm512_fmadd_ps(e, u, _mm512_set1_ps(0.5f));
    e = _mm512_fmadd_ps(e, u, _mm512_set1_ps(-1.0f));
    e = _mm512_fmadd_ps(e, u, one);
    e = _mm512_scalef_ps(e, k);
    const __m512 s = _mm512_rcp14_ps(_mm512_add_ps(one, e));
    const __m512 y = silu ? _mm512_mul_ps(x, s) : s;
    const __m512 out = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
    _mm256_mask_storeu_epi16(p + i, m, reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(out)));
  }
}
#pragma GCC diagnostic pop

// Applies a unary post-op in place to every element of y (f32 or bf16, any layout: it is elementwise), in chunks
// shared among the calling thread's OpenMP threads.
void apply_own_unary(const PostOp& p, Tensor& y) {
  const cpu::SimdKernels& k = cpu::simd();
  constexpr int64_t kChunk = 4096;
  const int64_t n = y.size(), chunks = (n + kChunk - 1) / kChunk;
  const bool bf16 = y.type() == ElementType::kBF16;
  const bool fast = bf16 && bf16_native() && (p.fn == UnaryFn::kSilu || p.fn == UnaryFn::kSigmoid);
  void* base = y.raw();
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = c * kChunk, len = std::min(kChunk, n - b);
    if (fast) {
      sigmoid_bf16_avx512(static_cast<uint16_t*>(base) + b, len, p.fn == UnaryFn::kSilu);
    } else if (bf16) {
      alignas(64) float buf[kChunk];
      uint16_t* h = static_cast<uint16_t*>(base) + b;
      k.bf16_to_f32(h, buf, len);
      k.unary(p.fn, p.alpha, p.beta, buf, buf, len);
      k.f32_to_bf16(buf, h, len);
    } else {
      float* f = static_cast<float*>(base) + b;
      k.unary(p.fn, p.alpha, p.beta, f, f, len);
    }
  }
}

struct ConvEntry {
  dnnl::primitive prim;
  memory::desc src_user, dst_user, src, dst, wei_user, wei, bias, scratchpad;
  memory packed;                       // constant weights in `wei` layout
  std::shared_ptr<void> packed_owner;  // keeps `packed`'s buffer alive when it is a view (arena, cached weights)
  MappedPostOps post;
  bool gemv = false;     // one pixel in and out (squeeze-excitation): cpu::gemv_ba16a64b on `packed`, no primitive
  int64_t K = 0, N = 0;  // input and output channels (gemv)
};

class ConvKernel final : public Kernel {
 public:
  ConvKernel(const Node& node, const CompileOptions& options, bool transposed)
      : node_(node), transposed_(transposed), threads_(node_threads(node, options)) {
    if (transposed) {
      const auto& op = static_cast<const ConvTranspose&>(*node.op);
      window_ = op.window;
      group_ = op.group;
    } else {
      const auto& op = static_cast<const Conv&>(*node.op);
      window_ = op.window;
      group_ = op.group;
      post_ops_ = op.post_ops;
    }
    mapped_ops_ = post_ops_;
    if (!post_ops_.empty() && own_unary(post_ops_.back())) {
      own_ = post_ops_.back();
      mapped_ops_.pop_back();
    }
    wconst_ = node.inputs[1]->constant;
    w_const_ = constant_weights(node, 1, options);
    store_ = options.packed.get();
    arena_ = options.weight_arena.get();
    layouts_ = input_layouts(node);
    elems_ = input_elems(node);
    out_layout_ = layouts_[0];
    out_elem_ = node.outputs[0]->type.elem;
    compute_ = use_bf16(options) ? ElementType::kBF16 : ElementType::kF32;
  }

  // Builds the primitive for the current shapes when they are static; false when oneDNN refuses them. With
  // `query_only`, only the primitive descriptor is made (enough for preferred_layout(): no code generation, no
  // weight packing).
  bool prepare(bool query_only = false) {
    for (size_t i = 0; i < node_.num_explicit_inputs; ++i)
      if (node_.inputs[i] && !static_shape(node_.inputs[i])) return true;  // built at run time
    if (!static_shape(node_.outputs[0])) return true;
    std::vector<Dims> dims(node_.num_explicit_inputs);
    for (size_t i = 0; i < dims.size(); ++i)
      if (node_.inputs[i]) dims[i] = node_.inputs[i]->type.shape.to_dims();
    static_dims_ = dims;
    ThreadScope ts(threads_);
    static_entry_ = make(dims, node_.outputs[0]->type.shape.to_dims(), query_only);
    store_ = nullptr;  // only while the kernel is created
    arena_ = nullptr;
    // Every shape is static, so run() always finds this entry: the packed copy replaces the original weights.
    if (static_entry_ && static_entry_->packed) wconst_.reset();
    return static_entry_ != nullptr;
  }

  bool reads_constant_input(size_t i) const override { return i != 1 || !w_const_ || wconst_; }

  int output_overwrites_input() const override { return static_entry_ ? static_entry_->post.sum_input : -1; }

  const char* name() const override {
    if (static_entry_ && static_entry_->gemv) return "cpu:gemv";
    if (compute_ == ElementType::kBF16) return transposed_ ? "onednn:deconv_bf16" : "onednn:conv_bf16";
    return transposed_ ? "onednn:deconv" : "onednn:conv";
  }

  // The activation layout the primitive picked for its input (of those celer has; plain otherwise).
  Layout preferred_layout() const {
    if (!static_entry_) return Layout::kPlain;
    const Dims x = node_.inputs[0]->type.shape.to_dims();
    for (Layout l : {Layout::kChannelsLast, Layout::kBlocked16, Layout::kBlocked8})
      if ((l == Layout::kChannelsLast || x[1] % layout_block(l) == 0) &&
          static_entry_->src == make_desc(x, l, compute_))
        return l;
    return Layout::kPlain;
  }

  // Whether the inputs have the shapes the static entry was made for (checked without allocating).
  bool static_shapes(const KernelContext& ctx) const {
    for (size_t i = 0; i < static_dims_.size(); ++i) {
      if (i == 1 && w_const_) continue;
      if (ctx.has_input(i) ? ctx.input(i).dims() != static_dims_[i] : !static_dims_[i].empty()) return false;
    }
    return true;
  }

  void run(KernelContext& ctx) const override {
    ThreadScope ts(threads_);
    std::shared_ptr<const ConvEntry> e = static_entry_;
    if (!e || !static_shapes(ctx)) {
      std::vector<Dims> dims(node_.num_explicit_inputs);
      for (size_t i = 0; i < dims.size(); ++i)
        if (ctx.has_input(i)) dims[i] = ctx.input(i).dims();
      const std::vector<int64_t> key = key_of(dims);
      CELER_CHECK(!w_const_ || wconst_, kInternal, "shapes changed after the constant weights were released");
      const ValueType* t = ctx.inferred_type(0);
      CELER_CHECK(t && t->shape.is_static(), kInternal, "output shape unknown at run time");
      const Dims ydims = t->shape.to_dims();
      e = cache_.get(key, [&] { return make(dims, ydims); });
    }
    if (!e) {
      CELER_CHECK(out_layout_ == Layout::kPlain, kInternal, "oneDNN refused a convolution in layout ",
                  layout_name(out_layout_));
      node_.op->run(ctx);
      return;
    }
    Tensor& y = ctx.output(0);
    if (y.size() == 0) return;
    if (e->gemv) {
      float* py = y.data<float>();
      cpu::gemv_ba16a64b(ctx.input(0).data<float>(), static_cast<const float*>(e->packed.get_data_handle()), e->K,
                         e->N, ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr, py, threads_);
      for (const PostOp& p : post_ops_) cpu::simd().unary(p.fn, p.alpha, p.beta, py, py, e->N);
      return;
    }
    ExecArgs args(e.get());
    args.add_input(DNNL_ARG_SRC, ctx.input(0), e->src_user, e->src, Slot::kSrc);
    if (e->packed)
      args.add(DNNL_ARG_WEIGHTS, e->packed);
    else
      args.add_input(DNNL_ARG_WEIGHTS, ctx.input(1), e->wei_user, e->wei, Slot::kWeights);
    // Written in the primitive's layout into scratch and reordered after, when it wants another than ours.
    void* dst = e->dst != e->dst_user ? scratch(Slot::kDst, e->dst.get_size()) : nullptr;
    args.add(DNNL_ARG_DST, e->dst, dst ? dst : y.raw());
    if (e->post.sum_input >= 0) {  // oneDNN adds dst to the result: dst must hold the operand first
      const Tensor& r = ctx.input(size_t(e->post.sum_input));
      CELER_CHECK(!dst && r.dims() == y.dims() && r.type() == y.type(), kInternal, "sum post-op operand ",
                  dims_to_string(r.dims()), " does not match the output ", dims_to_string(y.dims()));
      if (r.raw() != y.raw()) std::memcpy(y.raw(), r.raw(), size_t(y.byte_size()));
    }
    if (ctx.has_input(2)) args.add(DNNL_ARG_BIAS, ctx.input(2), e->bias);
    args.add_scratchpad(e->scratchpad);
    add_post_op_args(e->post, ctx, args);
    args.execute(e->prim);
    if (dst) reorder_data(e->dst, dst, e->dst_user, y.raw());
    // Post-ops oneDNN did not take. In a blocked layout only those that are elementwise in any layout may be left
    // (the layout pass blocks nodes whose post-ops all map, so this is a safety net).
    for (const PostOp& p : e->post.tail)
      CELER_CHECK(out_layout_ == Layout::kPlain || p.kind == PostOp::Kind::kUnary ||
                      (layouts_[p.input] == out_layout_ && ctx.input(p.input).dims() == y.dims()),
                  kInternal, "post-op ", post_ops_to_string({p}), " left after oneDNN in layout ",
                  layout_name(out_layout_));
    for (const PostOp& p : e->post.tail)
      CELER_CHECK(
          out_elem_ == ElementType::kF32 && (p.kind == PostOp::Kind::kUnary || elems_[p.input] == ElementType::kF32),
          kInternal, "post-op ", post_ops_to_string({p}), " left after oneDNN on bf16 data");
    apply_post_ops(e->post.tail, ctx, y);
    if (own_) apply_own_unary(*own_, y);
  }

 private:
  std::vector<int64_t> key_of(const std::vector<Dims>& dims) const {
    std::vector<int64_t> key;
    for (size_t i = 0; i < dims.size(); ++i)
      if (i != 1 || !w_const_) append_key(key, dims[i]);
    return key;
  }

  // Creates the primitive for these input and output dims (nullptr when oneDNN has no implementation for them).
  std::shared_ptr<const ConvEntry> make(const std::vector<Dims>& in, const Dims& y, bool query_only = false) const {
    try {
      return make_or_throw(in, y, query_only);
    } catch (const dnnl::error&) {
      return nullptr;
    } catch (const Error&) {
      return nullptr;
    }
  }

  std::shared_ptr<const ConvEntry> make_or_throw(const std::vector<Dims>& in, const Dims& y, bool query_only) const {
    const Dims& x = in[0];
    const Dims& w = in[1];
    const size_t spatial = x.size() - 2;
    memory::dims strides, dilates, pad_l, pad_r;
    for (size_t i = 0; i < spatial; ++i) {
      const int64_t k = w[2 + i], s = window_.stride(i), d = window_.dilation(i), span = (k - 1) * d + 1;
      int64_t pl = 0;
      if (transposed_) {
        int64_t out = 0;
        static_cast<const ConvTranspose&>(*node_.op).axis(i, spatial, x[2 + i], k, out, pl);
      } else {
        pl = window_axis(x[2 + i], k, s, d, window_.pad_begin(i), window_.pad_end(i, spatial), window_.auto_pad)
                 .pad_begin;
      }
      // oneDNN wants in + pl + pr = (out - 1) * s + span (Conv), the roles of in and out swapped for deconvolution.
      const int64_t pr =
          transposed_ ? (x[2 + i] - 1) * s + span - y[2 + i] - pl : (y[2 + i] - 1) * s + span - x[2 + i] - pl;
      strides.push_back(s);
      dilates.push_back(d - 1);
      pad_l.push_back(pl);
      pad_r.push_back(pr);
    }
    auto e = std::make_shared<ConvEntry>();
    e->src_user = make_desc(x, layouts_[0], elems_[0]);
    e->dst_user = make_desc(y, out_layout_, out_elem_);
    if (!query_only && gemv_fits(x, w, y, pad_l)) {
      // B [K = C, N = M] is the weights [M, C, 1...] read transposed.
      e->gemv = true;
      e->K = x[1];
      e->N = y[1];
      e->src = e->src_user;
      e->dst = e->dst_user;
      const memory::desc to({e->K, e->N}, memory::data_type::f32, Tag::BA16a64b);
      e->packed = packed_weights(
          node_, store_, to,
          [&] {
            CELER_CHECK(wconst_, kInternal, node_.describe(), ": constant weights released before packing");
            const Tensor w2 = Tensor::wrap(ElementType::kF32, {e->N, e->K}, const_cast<void*>(wconst_->raw()));
            return pack_ba16a64b(w2, to, true, arena_, &e->packed_owner);
          },
          &e->packed_owner);
      if (e->packed) return e;
      e = std::make_shared<ConvEntry>();
      e->src_user = make_desc(x, layouts_[0], elems_[0]);
      e->dst_user = make_desc(y, out_layout_, out_elem_);
    }
    // Weights as oneDNN sees them: [G,] O, I, spatial... ONNX stores Conv weights as [M, C/G, k...] (= [G, M/G, C/G,
    // k...]) and ConvTranspose weights as [C, M/G, k...] (= [G, C/G, M/G, k...], i and o swapped).
    const int64_t M = y[1], C = x[1];
    Dims wd;
    if (group_ > 1) wd.push_back(group_);
    wd.push_back(M / group_);
    wd.push_back(C / group_);
    wd.insert(wd.end(), w.begin() + 2, w.end());
    Tag wtag = plain_tag(wd.size());
    if (transposed_) {
      static const Tag io[] = {Tag::bac, Tag::bacd, Tag::bacde};
      static const Tag gio[] = {Tag::acbd, Tag::acbde, Tag::acbdef};
      wtag = group_ > 1 ? gio[spatial - 1] : io[spatial - 1];
    }
    e->wei_user = f32_desc(wd, wtag);
    // Activations in a layout the pass chose are given in that layout first (so that no reorder is needed); else,
    // or when oneDNN has no implementation for it, the primitive picks its preferred layouts and run() reorders.
    // The primitive reads `compute_` activations (a bf16 primitive an f32 input converted by run()) and writes the
    // output's type.
    const memory::data_type cdt = data_type_of(compute_);
    const memory::desc any_src(to_dims(x), cdt, Tag::any);
    const memory::desc any_dst(to_dims(y), data_type_of(out_elem_), Tag::any);
    const memory::desc any_wei(to_dims(wd), cdt, Tag::any);
    // A residual Add becomes oneDNN's sum where the primitive writes straight into the output (first attempt).
    struct Attempt {
      memory::desc src, dst;
      bool sum;
    };
    std::vector<Attempt> io;
    if (layouts_[0] != Layout::kPlain) {
      const memory::desc src = make_desc(x, layouts_[0], compute_);
      io.push_back({src, e->dst_user, !transposed_});
      io.push_back({src, e->dst_user, false});
    }
    io.push_back({any_src, any_dst, false});
    const bool bias = in.size() > 2 && !in[2].empty();
    e->bias = bias ? f32_desc({M}, Tag::a) : memory::desc();
    const memory::desc& bias_md = e->bias;

    // The most post-ops oneDNN accepts for this primitive; the rest run after it.
    size_t can_map = mappable_post_ops(mapped_ops_);
    // With plain activations the primitive still computes in its preferred layout; a full-size plain operand would
    // push oneDNN onto a slow plain implementation, so such a post-op and those after it run after the reorder.
    if (out_layout_ == Layout::kPlain)
      for (size_t i = 0; i < can_map; ++i)
        if (mapped_ops_[i].kind != PostOp::Kind::kUnary &&
            element_count(in[mapped_ops_[i].input]) == element_count(y)) {
          can_map = i;
          break;
        }
    for (size_t limit = can_map + 1; limit-- > 0;) {
      for (const auto& [src_md, dst_md, sum] : io) {
        MappedPostOps post =
            map_post_ops(mapped_ops_, limit, dnnl::post_ops(), y, in, layouts_, elems_, sum ? &e->dst_user : nullptr);
        if (post.count < limit || (sum && post.sum_input < 0)) continue;
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        attr.set_post_ops(post.ops);
        try {
          if (transposed_) {
            dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                                dnnl::algorithm::deconvolution_direct, src_md, any_wei, bias_md, dst_md,
                                                strides, dilates, pad_l, pad_r);
            dnnl::deconvolution_forward::primitive_desc pd(d, attr, engine());
            finish(*e, pd, query_only ? dnnl::primitive() : dnnl::deconvolution_forward(pd));
          } else {
            dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                              src_md, any_wei, bias_md, dst_md, strides, dilates, pad_l, pad_r);
            dnnl::convolution_forward::primitive_desc pd(d, attr, engine());
            finish(*e, pd, query_only ? dnnl::primitive() : dnnl::convolution_forward(pd));
          }
        } catch (const dnnl::error&) {
          continue;
        }
        if (post.sum_input >= 0 && e->dst != e->dst_user) continue;  // sum needs the output as the primitive's dst
        e->post = std::move(post);
        if (w_const_ && !query_only) {
          e->packed = packed_weights(
              node_, store_, e->wei,
              [&] {
                CELER_CHECK(wconst_, kInternal, node_.describe(), ": constant weights released before packing");
                return pack(*wconst_, e->wei_user, e->wei, arena_, &e->packed_owner);
              },
              &e->packed_owner);
        }
        return e;
      }
    }
    return nullptr;
  }

  // A squeeze-excitation convolution (one pixel in and out, 1x1 kernel, no padding read, one group) with constant f32
  // weights and unary post-ops only is a matrix-vector product: its time is reading the weights, which
  // cpu::gemv_ba16a64b streams at close to the memory bandwidth, where the brgemm convolution reached about a quarter
  // of it (efficientnet_b0's 32 such convolutions: 2.9 MB of weights in 0.54 ms per inference). The activations'
  // layout must store the channels contiguously: always true for one pixel, except blocked layouts padding them.
  bool gemv_fits(const Dims& x, const Dims& w, const Dims& y, const memory::dims& pad_l) const {
    if (transposed_ || group_ != 1 || !w_const_ || !wconst_ || compute_ != ElementType::kF32 ||
        out_elem_ != ElementType::kF32 || elems_[0] != ElementType::kF32 || !cpu::gemv_available())
      return false;
    if (x.size() < 3 || x[0] != 1 || element_count(x) != x[1] || element_count(y) != y[1] ||
        element_count(w) != w[0] * w[1] || w[1] != x[1] || w[0] != y[1])
      return false;
    for (int64_t p : pad_l)
      if (p != 0) return false;
    auto contiguous = [](Layout l, int64_t channels) {
      return l == Layout::kPlain || l == Layout::kChannelsLast || channels % layout_block(l) == 0;
    };
    if (!contiguous(layouts_[0], x[1]) || !contiguous(out_layout_, y[1])) return false;
    if (node_.num_explicit_inputs > 2 && node_.inputs[2] && elems_.size() > 2 && elems_[2] != ElementType::kF32)
      return false;
    for (const PostOp& p : post_ops_)
      if (p.kind != PostOp::Kind::kUnary || !cpu::simd_supports(p.fn) || p.gamma != 0.0f) return false;
    return true;
  }

  template <typename PD>
  static void finish(ConvEntry& e, const PD& pd, dnnl::primitive prim) {
    e.src = pd.src_desc();
    e.dst = pd.dst_desc();
    e.wei = pd.weights_desc();
    e.scratchpad = pd.scratchpad_desc();
    e.prim = std::move(prim);
  }

  const Node& node_;
  bool transposed_;
  int threads_;
  WindowAttrs window_;
  int64_t group_ = 1;
  PostOps post_ops_;
  PostOps mapped_ops_;              // post_ops_ but own_: those given to oneDNN (or run after it by apply_post_ops)
  std::optional<PostOp> own_;       // a final unary run by apply_own_unary
  PackedWeights* store_ = nullptr;  // CompileOptions::packed while the kernel is created
  WeightArena* arena_ = nullptr;    // CompileOptions::weight_arena, likewise
  bool w_const_ = false;            // the weights are a constant
  std::shared_ptr<const Tensor> wconst_;  // they, until packed for static shapes
  std::vector<Layout> layouts_;
  std::vector<ElementType> elems_;  // of the inputs (activations f32 or bf16; weights, bias f32)
  Layout out_layout_ = Layout::kPlain;
  ElementType out_elem_ = ElementType::kF32;
  ElementType compute_ = ElementType::kF32;  // of the primitive's activations and weights
  std::vector<Dims> static_dims_;            // the inputs' dims static_entry_ was made for
  std::shared_ptr<const ConvEntry> static_entry_;
  ShapeCache<ConvEntry> cache_;
};

// The node's geometry oneDNN handles: f32 (activations may be bf16 in the layout pass's bf16 chains), 1 to 3 spatial
// axes, known rank, weights of known rank.
bool conv_supported(const Node& node) {
  if (node.num_explicit_inputs < 2 || !node.inputs[0] || !node.inputs[1]) return false;
  const ValueType& x = node.inputs[0]->type;
  const ValueType& w = node.inputs[1]->type;
  if (!f32_or_bf16(node.inputs[0]) || w.elem != ElementType::kF32) return false;
  for (size_t i = 2; i < node.num_explicit_inputs; ++i)  // bias f32; post-op operands f32 or bf16
    if (node.inputs[i] && !f32_or_bf16(node.inputs[i])) return false;
  if (node.num_explicit_inputs > 2 && node.inputs[2] && node.inputs[2]->type.elem != ElementType::kF32) return false;
  if (!x.shape.rank_known() || x.shape.rank() < 3 || x.shape.rank() > 5) return false;
  if (!w.shape.rank_known() || w.shape.rank() != x.shape.rank()) return false;
  return f32_or_bf16(node.outputs[0]);
}

std::unique_ptr<Kernel> make_conv_kernel(const Node& node, const CompileOptions& options, bool transposed) {
  if (!conv_supported(node)) return nullptr;
  auto k = std::make_unique<ConvKernel>(node, options, transposed);
  if (k->prepare()) return k;
  CELER_CHECK(onednn::value_layout(node.inputs[0]) == Layout::kPlain, kInternal, node.describe(),
              ": oneDNN cannot run it in a blocked layout");
  return nullptr;
}

}  // namespace

std::unique_ptr<Kernel> make_onednn_conv(const Node& node, const CompileOptions& options) {
  return make_conv_kernel(node, options, false);
}

std::optional<Layout> onednn::conv_preferred_layout(const Node& node, const CompileOptions& options) {
  if (node.op->kind() != OpKind::kConv || !conv_supported(node)) return std::nullopt;
  ConvKernel k(node, options, false);
  if (!k.prepare(/*query_only=*/true) || !static_shape(node.inputs[0])) return std::nullopt;
  return k.preferred_layout();
}

std::unique_ptr<Kernel> make_onednn_conv_transpose(const Node& node, const CompileOptions& options) {
  return make_conv_kernel(node, options, true);
}

}  // namespace celer
