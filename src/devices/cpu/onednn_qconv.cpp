// oneDNN int8 convolution for QLinearConv (the ONNX op and the fused form the INT8 rules make): u8 or s8 activations,
// s8 weights (u8 weights, or s8 ones with a zero point, are shifted into s8 when the result fits), u8 / s8 / f32
// output. Weights are packed once at kernel creation (recorded for / replayed from the model cache); activations are
// computed in channels-last (nhwc), the layout oneDNN's int8 kernels want: values the int8 layout pass left
// channels-last are read and written as they are, plain ones are reordered inside the kernel.
//
// Scales and zero points map onto the primitive's attributes: output scales x_scale * w_scale[m] / u per channel
// (oneDNN applies them to acc + B), a runtime src zero point, a runtime dst zero point. The post-ops run in "units"
// u (the value is v = d * u): activations that commute with a positive scale (Relu, LeakyRelu, Clip with its bounds
// divided by u) keep u; others need u = 1 (an eltwise_linear rescales first); a quantized Add operand r (scale s, zero
// point z) is added raw after linear(u / s, -z), making u = s; a final linear brings u to y_scale (or 1 for an f32
// output). u starts where no rescaling is needed in the common chains (Conv + Relu, Conv + Add(int8) + Relu).
#include <algorithm>
#include <cmath>
#include <optional>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "devices/cpu/onednn_int8.hpp"
#include "ops/q_linear_conv.hpp"
#include "ops/quant_util.hpp"

namespace celer {
namespace {

using namespace onednn;

struct QConvEntry {
  dnnl::primitive prim;
  memory::desc src_user, src, dst_user, dst, wei, scratchpad;
  memory packed;
  std::shared_ptr<void> packed_owner;
  std::vector<int8::BinaryOperand> binary;
};

class QConvKernel final : public Kernel {
 public:
  QConvKernel(const Node& node, const CompileOptions& options)
      : node_(node), op_(static_cast<const QLinearConv&>(*node.op)), threads_(node_threads(node, options)) {}

  // Checks what does not depend on shapes and, when every shape is static, builds the primitive; false when the node
  // is not handled (the reference kernel runs). With `query_only`, only the primitive descriptor is made.
  bool init(const CompileOptions& options, bool query_only = false) {
    std::optional<int8::Scalars> sc = int8::read_scalars(node_, op_.float_output);
    if (!sc) return false;
    sc_ = *sc;
    const PartialShape& ws = node_.inputs[3]->type.shape;
    if (!ws.is_static()) return false;
    const int64_t M = ws[0].value();
    std::optional<std::vector<float>> w_scales = int8::channel_scales(node_.inputs[4], M);
    if (!w_scales) return false;
    w_scales_ = *w_scales;
    if (node_.inputs[3]->constant && !(s8_ = int8::s8_weights(node_, 3, 5, true))) return false;
    if (node_.num_explicit_inputs > 8 && node_.inputs[8]) {
      if (!node_.inputs[8]->constant) return false;
      bias_ = memory::desc({M}, memory::data_type::s32, Tag::a);
      bias_const_ = node_.inputs[8]->constant;
    }
    xdt_ = int8::dnnl_type(node_.inputs[0]->type.elem);
    ydt_ = op_.float_output ? memory::data_type::f32 : int8::dnnl_type(node_.outputs[0]->type.elem);
    out_layout_ = value_layout(node_.outputs[0]);
    bool all_static = static_shape(node_.outputs[0]);
    for (size_t i = 0; i < node_.num_explicit_inputs; ++i)
      if (node_.inputs[i] && !static_shape(node_.inputs[i])) all_static = false;
    if (!all_static) return !query_only;  // built per shape at run time
    const std::vector<Dims> in = int8::static_input_dims(node_);
    static_key_ = key_of(in);
    ThreadScope ts(threads_);
    static_entry_ = make(in, node_.outputs[0]->type.shape.to_dims(), options.packed.get(), query_only);
    if (static_entry_ && !query_only) s8_.reset();  // packed: the copy is no longer needed
    return static_entry_ != nullptr;
  }

  // The packed copy replaces the weights only when every shape is static (else they are packed per shape).
  bool reads_constant_input(size_t i) const override { return i != 3 || !static_entry_; }
  const char* name() const override { return "onednn:qconv"; }

  void run(KernelContext& ctx) const override {
    const std::vector<Dims> in = int8::input_dims(ctx);
    ThreadScope ts(threads_);
    std::shared_ptr<const QConvEntry> e = static_entry_;
    if (!e || key_of(in) != static_key_) {
      CELER_CHECK(s8_, kInternal, node_.describe(), ": shapes changed after the weights were packed");
      const ValueType* t = ctx.inferred_type(0);
      CELER_CHECK(t && t->shape.is_static(), kInternal, "output shape unknown at run time");
      const Dims ydims = t->shape.to_dims();
      e = cache_.get(key_of(in), [&] { return make(in, ydims, nullptr, false); });
    }
    if (!e) {
      CELER_CHECK(out_layout_ == Layout::kPlain, kInternal, "oneDNN refused an int8 convolution channels-last");
      node_.op->run(ctx);
      return;
    }
    Tensor& y = ctx.output(0);
    if (y.size() == 0) return;
    ExecArgs args(e.get());
    args.add_input(DNNL_ARG_SRC, ctx.input(0), e->src_user, e->src, Slot::kSrc);
    args.add(DNNL_ARG_WEIGHTS, e->packed);
    void* dst = e->dst != e->dst_user ? scratch(Slot::kDst, e->dst.get_size()) : nullptr;
    args.add(DNNL_ARG_DST, e->dst, dst ? dst : y.raw());
    if (bias_const_) args.add(DNNL_ARG_BIAS, *bias_const_, bias_);
    args.add_scratchpad(e->scratchpad);
    int32_t zs = sc_.x_zero, zd = sc_.y_zero;
    const memory::desc zmd({1}, memory::data_type::s32, Tag::a);
    if (zs != 0) args.add(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zmd, &zs);
    if (zd != 0) args.add(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, zmd, &zd);
    int8::add_operands(e->binary, ctx, args);
    args.execute(e->prim);
    if (dst) reorder_data(e->dst, dst, e->dst_user, y.raw());
  }

 private:
  static std::vector<int64_t> key_of(const std::vector<Dims>& in) {
    std::vector<int64_t> key;
    for (size_t i = 0; i < in.size(); ++i)
      if (i == 0 || i >= 9) append_key(key, in[i]);
    return key;
  }

  std::shared_ptr<const QConvEntry> make(const std::vector<Dims>& in, const Dims& y, PackedWeights* store,
                                         bool query_only) const {
    try {
      return make_or_throw(in, y, store, query_only);
    } catch (const dnnl::error&) {
      return nullptr;
    } catch (const Error&) {
      return nullptr;
    }
  }

  std::shared_ptr<const QConvEntry> make_or_throw(const std::vector<Dims>& in, const Dims& y, PackedWeights* store,
                                                  bool query_only) const {
    const Dims& x = in[0];
    const Dims w = node_.inputs[3]->type.shape.to_dims();
    const size_t spatial = x.size() - 2;
    if (spatial < 1 || spatial > 3 || element_count(y) == 0 || element_count(x) == 0) return nullptr;
    const int64_t M = y[1], C = x[1], G = op_.group;
    memory::dims strides, dilates, pad_l, pad_r;
    for (size_t i = 0; i < spatial; ++i) {
      const int64_t k = w[2 + i], s = op_.window.stride(i), d = op_.window.dilation(i), span = (k - 1) * d + 1;
      const int64_t pl =
          window_axis(x[2 + i], k, s, d, op_.window.pad_begin(i), op_.window.pad_end(i, spatial), op_.window.auto_pad)
              .pad_begin;
      strides.push_back(s);
      dilates.push_back(d - 1);
      pad_l.push_back(pl);
      pad_r.push_back((y[2 + i] - 1) * s + span - x[2 + i] - pl);
    }
    auto e = std::make_shared<QConvEntry>();
    const Tag nhwc = activation_tag(x.size(), Layout::kChannelsLast);
    e->src_user = memory::desc(to_dims(x), xdt_, activation_tag(x.size(), value_layout(node_.inputs[0])));
    e->src = memory::desc(to_dims(x), xdt_, nhwc);
    e->dst_user = memory::desc(to_dims(y), ydt_, activation_tag(y.size(), out_layout_));
    e->dst = memory::desc(to_dims(y), ydt_, nhwc);
    Dims wd;
    if (G > 1) wd.push_back(G);
    wd.push_back(M / G);
    wd.push_back(C / G);
    wd.insert(wd.end(), w.begin() + 2, w.end());
    const memory::desc wei_user(to_dims(wd), memory::data_type::s8, plain_tag(wd.size()));
    const memory::desc wei_any(to_dims(wd), memory::data_type::s8, Tag::any);
    int8::Mapped post;
    if (!int8::map_post_ops(op_.post_ops, node_, in, sc_, op_.float_output, y, nhwc, post)) return nullptr;
    e->binary = post.binary;
    std::vector<float> scales(w_scales_.size());
    for (size_t i = 0; i < scales.size(); ++i) scales[i] = sc_.x_scale * w_scales_[i] / post.unit0;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_output_scales(scales.size() == 1 ? 0 : 1 << 1, scales);
    if (sc_.x_zero != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    if (sc_.y_zero != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
    attr.set_post_ops(post.ops);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, e->src,
                                      wei_any, bias_, e->dst, strides, dilates, pad_l, pad_r);
    dnnl::convolution_forward::primitive_desc pd(d, attr, engine());
    e->wei = pd.weights_desc();
    e->scratchpad = pd.scratchpad_desc();
    if (query_only) return e;
    e->prim = dnnl::convolution_forward(pd);
    e->packed = packed_weights(
        node_, store, e->wei,
        [&] {
          CELER_CHECK(s8_, kInternal, node_.describe(), ": constant weights released before packing");
          return pack(*s8_, wei_user, e->wei);
        },
        &e->packed_owner);
    return e->packed ? e : nullptr;
  }

  const Node& node_;
  const QLinearConv& op_;
  int threads_;
  int8::Scalars sc_;
  std::vector<float> w_scales_;
  std::optional<Tensor> s8_;  // the weights as s8, until packed for static shapes
  memory::desc bias_;
  std::shared_ptr<const Tensor> bias_const_;
  memory::data_type xdt_ = memory::data_type::u8, ydt_ = memory::data_type::u8;
  Layout out_layout_ = Layout::kPlain;
  std::vector<int64_t> static_key_;
  std::shared_ptr<const QConvEntry> static_entry_;
  ShapeCache<QConvEntry> cache_;
};

}  // namespace

bool onednn::qconv_supported(const Node& node) {
  if (node.op->kind() != OpKind::kQLinearConv || node.num_explicit_inputs < 8) return false;
  const Value* x = node.inputs[0];
  const Value* w = node.inputs[3];
  if (!x || !w || !x->type.shape.rank_known() || !static_shape(w)) return false;
  if (!quant::is_q8(x->type.elem) || !quant::is_q8(w->type.elem)) return false;
  const int64_t r = x->type.shape.rank();
  return r >= 3 && r <= 5 && w->type.shape.rank() == r;
}

std::unique_ptr<Kernel> make_onednn_qconv(const Node& node, const CompileOptions& options) {
  if (!qconv_supported(node)) return nullptr;
  const bool in_chain = value_layout(node.inputs[0]) != Layout::kPlain;
  if (!int8::weights_available(node, 3, options)) {
    CELER_CHECK(!in_chain, kInternal, node.describe(), ": int8 weights unavailable in a channels-last chain");
    return nullptr;
  }
  auto k = std::make_unique<QConvKernel>(node, options);
  if (k->init(options)) return k;
  CELER_CHECK(!in_chain, kInternal, node.describe(), ": oneDNN cannot run it channels-last");
  return nullptr;
}

bool onednn::qconv_runnable(const Node& node, const CompileOptions& options) {
  if (!qconv_supported(node) || !int8::weights_available(node, 3, options)) return false;
  QConvKernel k(node, options);
  return k.init(options, /*query_only=*/true);
}

}  // namespace celer
