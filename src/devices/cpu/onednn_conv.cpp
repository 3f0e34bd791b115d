// oneDNN convolution kernels: Conv (1-D/2-D/3-D, groups incl. depthwise, strides, dilations, any padding, fused
// post-ops) and ConvTranspose (as oneDNN deconvolution), f32. Constant weights are reordered once into the layout the
// primitive prefers; activations are read and written in the layout the CPU layout pass chose for them (plain ones are
// reordered to the primitive's preferred layout and back inside the kernel).
#include <algorithm>
#include <optional>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "ops/conv.hpp"
#include "ops/conv_transpose.hpp"

namespace celer {
namespace {

using namespace onednn;

struct ConvEntry {
  dnnl::primitive prim;
  memory::desc src_user, dst_user, src, dst, wei_user, wei, scratchpad;
  memory packed;  // constant weights in `wei` layout
  MappedPostOps post;
};

class ConvKernel final : public Kernel {
 public:
  ConvKernel(const Node& node, const CompileOptions& options, bool transposed)
      : node_(node), transposed_(transposed), threads_(options.num_threads) {
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
    wconst_ = node.inputs[1]->constant;
    layouts_ = input_layouts(node);
    out_layout_ = layouts_[0];
  }

  // Builds the primitive for the current shapes when they are static; false when oneDNN refuses them.
  bool prepare() {
    for (size_t i = 0; i < node_.num_explicit_inputs; ++i)
      if (node_.inputs[i] && !static_shape(node_.inputs[i])) return true;  // built at run time
    if (!static_shape(node_.outputs[0])) return true;
    std::vector<Dims> dims(node_.num_explicit_inputs);
    for (size_t i = 0; i < dims.size(); ++i)
      if (node_.inputs[i]) dims[i] = node_.inputs[i]->type.shape.to_dims();
    static_key_ = key_of(dims);
    ThreadScope ts(threads_);
    static_entry_ = make(dims, node_.outputs[0]->type.shape.to_dims());
    return static_entry_ != nullptr;
  }

  const char* name() const override { return transposed_ ? "onednn:deconv" : "onednn:conv"; }

  // The activation layout the primitive picked for its input (of those celer has; plain otherwise).
  Layout preferred_layout() const {
    if (!static_entry_) return Layout::kPlain;
    const Dims x = node_.inputs[0]->type.shape.to_dims();
    for (Layout l : {Layout::kChannelsLast, Layout::kBlocked16, Layout::kBlocked8})
      if ((l == Layout::kChannelsLast || x[1] % layout_block(l) == 0) && static_entry_->src == f32_desc(x, l)) return l;
    return Layout::kPlain;
  }

  void run(KernelContext& ctx) const override {
    std::vector<Dims> dims(node_.num_explicit_inputs);
    for (size_t i = 0; i < dims.size(); ++i)
      if (ctx.has_input(i)) dims[i] = ctx.input(i).dims();
    const std::vector<int64_t> key = key_of(dims);
    ThreadScope ts(threads_);
    std::shared_ptr<const ConvEntry> e = static_entry_;
    if (!e || key != static_key_) {
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
    dnnl::stream& s = stream();
    memory src = wrap(ctx.input(0), e->src_user);
    if (e->src != e->src_user) {
      memory t = temp(e->src, Slot::kSrc);
      reorder(src, t);
      src = t;
    }
    memory dst_user = wrap(y, e->dst_user);
    memory dst = e->dst != e->dst_user ? temp(e->dst, Slot::kDst) : dst_user;
    memory wei = e->packed;
    if (!wei) {
      wei = wrap(ctx.input(1), e->wei_user);
      if (e->wei != e->wei_user) {
        memory t = temp(e->wei, Slot::kWeights);
        reorder(wei, t);
        wei = t;
      }
    }
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    if (ctx.has_input(2)) args[DNNL_ARG_BIAS] = wrap(ctx.input(2), f32_desc({ctx.input(2).size()}, Tag::a));
    args[DNNL_ARG_SCRATCHPAD] = temp(e->scratchpad, Slot::kScratchpad);
    add_post_op_args(e->post, ctx, args);
    e->prim.execute(s, args);
    s.wait();
    if (dst != dst_user) reorder(dst, dst_user);
    // Post-ops oneDNN did not take. In a blocked layout only those that are elementwise in any layout may be left
    // (the layout pass blocks nodes whose post-ops all map, so this is a safety net).
    for (const PostOp& p : e->post.tail)
      CELER_CHECK(out_layout_ == Layout::kPlain || p.kind == PostOp::Kind::kUnary ||
                      (layouts_[p.input] == out_layout_ && dims[p.input] == y.dims()),
                  kInternal, "post-op ", post_ops_to_string({p}), " left after oneDNN in layout ",
                  layout_name(out_layout_));
    apply_post_ops(e->post.tail, ctx, y);
  }

 private:
  std::vector<int64_t> key_of(const std::vector<Dims>& dims) const {
    std::vector<int64_t> key;
    for (size_t i = 0; i < dims.size(); ++i)
      if (i != 1 || !wconst_) append_key(key, dims[i]);
    return key;
  }

  // Creates the primitive for these input and output dims (nullptr when oneDNN has no implementation for them).
  std::shared_ptr<const ConvEntry> make(const std::vector<Dims>& in, const Dims& y) const {
    try {
      return make_or_throw(in, y);
    } catch (const dnnl::error&) {
      return nullptr;
    } catch (const Error&) {
      return nullptr;
    }
  }

  std::shared_ptr<const ConvEntry> make_or_throw(const std::vector<Dims>& in, const Dims& y) const {
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
    e->src_user = f32_desc(x, layouts_[0]);
    e->dst_user = f32_desc(y, out_layout_);
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
    const memory::desc any_src(to_dims(x), memory::data_type::f32, Tag::any);
    const memory::desc any_dst(to_dims(y), memory::data_type::f32, Tag::any);
    const memory::desc any_wei(to_dims(wd), memory::data_type::f32, Tag::any);
    std::vector<std::pair<memory::desc, memory::desc>> io;
    if (layouts_[0] != Layout::kPlain) io.emplace_back(e->src_user, e->dst_user);
    io.emplace_back(any_src, any_dst);
    const bool bias = in.size() > 2 && !in[2].empty();
    const memory::desc bias_md = bias ? f32_desc({M}, Tag::a) : memory::desc();

    // The most post-ops oneDNN accepts for this primitive; the rest run after it.
    size_t can_map = mappable_post_ops(post_ops_);
    // With plain activations the primitive still computes in its preferred layout; a full-size plain operand would
    // push oneDNN onto a slow plain implementation, so such a post-op and those after it run after the reorder.
    if (out_layout_ == Layout::kPlain)
      for (size_t i = 0; i < can_map; ++i)
        if (post_ops_[i].kind != PostOp::Kind::kUnary && element_count(in[post_ops_[i].input]) == element_count(y)) {
          can_map = i;
          break;
        }
    for (size_t limit = can_map + 1; limit-- > 0;) {
      MappedPostOps post = map_post_ops(post_ops_, limit, dnnl::post_ops(), y, in, layouts_);
      if (post.count < limit) continue;
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      attr.set_post_ops(post.ops);
      for (const auto& [src_md, dst_md] : io) {
        try {
          if (transposed_) {
            dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                                dnnl::algorithm::deconvolution_direct, src_md, any_wei, bias_md, dst_md,
                                                strides, dilates, pad_l, pad_r);
            dnnl::deconvolution_forward::primitive_desc pd(d, attr, engine());
            finish(*e, pd, pd.src_desc(), pd.dst_desc(), pd.weights_desc(), dnnl::deconvolution_forward(pd));
          } else {
            dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                              src_md, any_wei, bias_md, dst_md, strides, dilates, pad_l, pad_r);
            dnnl::convolution_forward::primitive_desc pd(d, attr, engine());
            finish(*e, pd, pd.src_desc(), pd.dst_desc(), pd.weights_desc(), dnnl::convolution_forward(pd));
          }
        } catch (const dnnl::error&) {
          continue;
        }
        e->post = std::move(post);
        if (wconst_) e->packed = pack(*wconst_, e->wei_user, e->wei);
        return e;
      }
    }
    return nullptr;
  }

  template <typename PD>
  static void finish(ConvEntry& e, const PD& pd, const memory::desc& src, const memory::desc& dst,
                     const memory::desc& wei, dnnl::primitive prim) {
    e.src = src;
    e.dst = dst;
    e.wei = wei;
    e.scratchpad = pd.scratchpad_desc();
    e.prim = std::move(prim);
  }

  const Node& node_;
  bool transposed_;
  int threads_;
  WindowAttrs window_;
  int64_t group_ = 1;
  PostOps post_ops_;
  std::shared_ptr<const Tensor> wconst_;
  std::vector<Layout> layouts_;
  Layout out_layout_ = Layout::kPlain;
  std::vector<int64_t> static_key_;
  std::shared_ptr<const ConvEntry> static_entry_;
  ShapeCache<ConvEntry> cache_;
};

// The node's geometry oneDNN handles: f32, 1 to 3 spatial axes, known rank, weights of known rank.
bool conv_supported(const Node& node) {
  if (node.num_explicit_inputs < 2 || !node.inputs[0] || !node.inputs[1]) return false;
  const ValueType& x = node.inputs[0]->type;
  const ValueType& w = node.inputs[1]->type;
  if (x.elem != ElementType::kF32 || w.elem != ElementType::kF32 || !x.is_tensor()) return false;
  if (!x.shape.rank_known() || x.shape.rank() < 3 || x.shape.rank() > 5) return false;
  if (!w.shape.rank_known() || w.shape.rank() != x.shape.rank()) return false;
  return node.outputs[0]->type.elem == ElementType::kF32;
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
  if (!k.prepare() || !static_shape(node.inputs[0])) return std::nullopt;
  return k.preferred_layout();
}

std::unique_ptr<Kernel> make_onednn_conv_transpose(const Node& node, const CompileOptions& options) {
  return make_conv_kernel(node, options, true);
}

}  // namespace celer
