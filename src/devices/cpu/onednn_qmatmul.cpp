// oneDNN int8 matmul for QLinearMatMul (the ONNX op and the fused form the INT8 rules make from DQ -> MatMul / Gemm):
// A u8 or s8 ([..., M, K], per-tensor scale and zero point), a constant 2-D B (s8, or u8 / s8 with zero points that
// shift into s8; per-column or per-tensor scales), an optional i32 bias [N], u8 / s8 / f32 output, post-ops mapped as
// for the int8 convolution (onednn_int8.hpp). B is packed once (model cache: recorded / replayed). A batched A with
// no binary post-op runs as one 2-D product of all its rows.
#include <algorithm>
#include <cmath>
#include <optional>

#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "devices/cpu/onednn_int8.hpp"
#include "ops/q_linear_mat_mul.hpp"
#include "ops/quant_util.hpp"

namespace celer {
namespace {

using namespace onednn;

struct QMatMulEntry {
  dnnl::primitive prim;
  memory::desc a, y, b, bias, scratchpad;
  memory packed;
  std::shared_ptr<void> packed_owner;
  std::vector<int8::BinaryOperand> binary;
};

class QMatMulKernel final : public Kernel {
 public:
  QMatMulKernel(const Node& node, const CompileOptions& options)
      : node_(node), op_(static_cast<const QLinearMatMul&>(*node.op)), threads_(node_threads(node, options)) {}

  // Checks what does not depend on shapes and, when every shape is static, builds the primitive; false when the node
  // is not handled (the reference kernel runs).
  bool init(const CompileOptions& options) {
    const PartialShape& bs = node_.inputs[3]->type.shape;
    if (!bs.is_static() || bs.rank() != 2 || !node_.inputs[0]->type.shape.rank_known() ||
        node_.inputs[0]->type.shape.rank() < 2)
      return false;
    const int64_t N = bs[1].value();
    std::optional<int8::Scalars> sc = int8::read_scalars(node_, op_.float_output);
    if (!sc) {  // dynamic quantization: A's scale and zero point are computed per inference (DynamicQuantizeLinear)
      const Value* xs = node_.inputs[1];
      const Value* xz = node_.inputs[2];
      if (!op_.float_output || !static_shape(xs) || xs->type.elem != ElementType::kF32 ||
          element_count(xs->type.shape.to_dims()) != 1 || !static_shape(xz) ||
          element_count(xz->type.shape.to_dims()) != 1)
        return false;
      dynamic_ = true;
      sc = int8::Scalars{};
    }
    sc_ = *sc;
    std::optional<std::vector<float>> ws = int8::channel_scales(node_.inputs[4], N);
    if (!ws) return false;
    w_scales_ = *ws;
    if (node_.inputs[3]->constant && !(s8_ = int8::s8_weights(node_, 3, 5, false))) return false;
    if (node_.num_explicit_inputs > 8 && node_.inputs[8]) {
      if (!node_.inputs[8]->constant) return false;
      bias_const_ = node_.inputs[8]->constant;
    }
    for (const PostOp& p : op_.post_ops) binary_post_ops_ = binary_post_ops_ || p.kind != PostOp::Kind::kUnary;
    unit0_ = int8::start_unit(op_.post_ops, node_, sc_, op_.float_output);
    adt_ = int8::dnnl_type(node_.inputs[0]->type.elem);
    ydt_ = op_.float_output ? memory::data_type::f32 : int8::dnnl_type(node_.outputs[0]->type.elem);
    bool all_static = static_shape(node_.outputs[0]);
    for (size_t i = 0; i < node_.num_explicit_inputs; ++i)
      if (node_.inputs[i] && !static_shape(node_.inputs[i])) all_static = false;
    if (!all_static) return true;  // built per shape at run time
    const std::vector<Dims> in = int8::static_input_dims(node_);
    static_key_ = key_of(in);
    ThreadScope ts(threads_);
    static_entry_ = make(in, options.packed.get());
    if (static_entry_) s8_.reset();  // packed: the copy is no longer needed
    return static_entry_ != nullptr;
  }

  bool reads_constant_input(size_t i) const override { return i != 3 || !static_entry_; }
  const char* name() const override { return dynamic_ ? "onednn:qmatmul_dynamic" : "onednn:qmatmul"; }

  void run(KernelContext& ctx) const override {
    const std::vector<Dims> in = int8::input_dims(ctx);
    ThreadScope ts(threads_);
    std::shared_ptr<const QMatMulEntry> e = static_entry_;
    if (!e || key_of(in) != static_key_) {
      CELER_CHECK(s8_, kInternal, node_.describe(), ": shapes changed after B was packed");
      e = cache_.get(key_of(in), [&] { return make(in, nullptr); });
    }
    if (!e) {
      node_.op->run(ctx);
      return;
    }
    Tensor& y = ctx.output(0);
    if (y.size() == 0) return;
    ExecArgs args(e.get());
    args.add(DNNL_ARG_SRC, ctx.input(0), e->a);
    args.add(DNNL_ARG_WEIGHTS, e->packed);
    args.add(DNNL_ARG_DST, y, e->y);
    if (bias_const_) args.add(DNNL_ARG_BIAS, *bias_const_, e->bias);
    args.add_scratchpad(e->scratchpad);
    int32_t zs = sc_.x_zero, zd = sc_.y_zero;
    const memory::desc zmd({1}, memory::data_type::s32, Tag::a);
    thread_local std::vector<float> scales;
    if (dynamic_) {
      const float xs = float(ctx.input(1).value_as_double(0));
      CELER_CHECK(std::isfinite(xs) && xs != 0.0f, kInvalidArgument, "input 'a_scale' has the value ", xs,
                  ": a quantization scale must be finite and non-zero");
      zs = int32_t(ctx.input(2).value_as_int(0));
      scales.resize(w_scales_.size());
      for (size_t i = 0; i < scales.size(); ++i) scales[i] = xs * w_scales_[i] / unit0_;
      args.add(DNNL_ARG_ATTR_OUTPUT_SCALES,
               memory::desc({int64_t(scales.size())}, memory::data_type::f32, Tag::a), scales.data());
      args.add(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zmd, &zs);
    } else if (zs != 0) {
      args.add(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zmd, &zs);
    }
    if (zd != 0) args.add(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, zmd, &zd);
    int8::add_operands(e->binary, ctx, args);
    args.execute(e->prim);
  }

 private:
  static std::vector<int64_t> key_of(const std::vector<Dims>& in) {
    std::vector<int64_t> key;
    for (size_t i = 0; i < in.size(); ++i)
      if (i == 0 || i >= 9) append_key(key, in[i]);
    return key;
  }

  std::shared_ptr<const QMatMulEntry> make(const std::vector<Dims>& in, PackedWeights* store) const {
    try {
      return make_or_throw(in, store);
    } catch (const dnnl::error&) {
      return nullptr;
    } catch (const Error&) {
      return nullptr;
    }
  }

  std::shared_ptr<const QMatMulEntry> make_or_throw(const std::vector<Dims>& in, PackedWeights* store) const {
    Dims a = in[0];
    const Dims b = node_.inputs[3]->type.shape.to_dims();
    if (a.size() < 2 || element_count(a) == 0) return nullptr;
    const int64_t K = b[0], N = b[1];
    if (a.back() != K) return nullptr;
    Dims y = a;
    y.back() = N;
    if (!binary_post_ops_ && a.size() > 2) {  // all rows in one 2-D product
      a = {element_count(a) / K, K};
      y = {a[0], N};
    }
    auto e = std::make_shared<QMatMulEntry>();
    Dims bd(a.size(), 1);
    bd[bd.size() - 2] = K;
    bd[bd.size() - 1] = N;
    const Tag tag = plain_tag(a.size());
    e->a = memory::desc(to_dims(a), adt_, tag);
    e->y = memory::desc(to_dims(y), ydt_, tag);
    const memory::desc b_user(to_dims(bd), memory::data_type::s8, tag);
    const memory::desc b_any(to_dims(bd), memory::data_type::s8, Tag::any);
    if (bias_const_) {
      Dims biasd(a.size(), 1);
      biasd.back() = N;
      e->bias = memory::desc(to_dims(biasd), memory::data_type::s32, tag);
    }
    int8::Mapped post;
    if (!int8::map_post_ops(op_.post_ops, node_, in, sc_, op_.float_output, y, tag, post)) return nullptr;
    e->binary = post.binary;
    std::vector<float> scales(w_scales_.size());
    for (size_t i = 0; i < scales.size(); ++i) scales[i] = sc_.x_scale * w_scales_[i] / post.unit0;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const int mask = scales.size() == 1 ? 0 : 1 << (a.size() - 1);
    if (dynamic_)
      attr.set_output_scales(mask, {DNNL_RUNTIME_F32_VAL});
    else
      attr.set_output_scales(mask, scales);
    if (sc_.x_zero != 0 || dynamic_) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    if (sc_.y_zero != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
    attr.set_post_ops(post.ops);
    dnnl::matmul::desc d(e->a, b_any, e->bias, e->y);
    dnnl::matmul::primitive_desc pd(d, attr, engine());
    e->b = pd.weights_desc();
    e->scratchpad = pd.scratchpad_desc();
    e->prim = dnnl::matmul(pd);
    e->packed = packed_weights(
        node_, store, e->b,
        [&] {
          CELER_CHECK(s8_, kInternal, node_.describe(), ": constant B released before packing");
          return pack(*s8_, b_user, e->b);
        },
        &e->packed_owner);
    return e->packed ? e : nullptr;
  }

  const Node& node_;
  const QLinearMatMul& op_;
  int threads_;
  int8::Scalars sc_;
  bool dynamic_ = false;          // A's scale and zero point are runtime inputs
  bool binary_post_ops_ = false;  // rows of a batched A are not folded then
  std::vector<float> w_scales_;
  float unit0_ = 1;           // the post-ops' starting unit (the same for every shape)
  std::optional<Tensor> s8_;  // B as s8, until packed for static shapes
  std::shared_ptr<const Tensor> bias_const_;
  memory::data_type adt_ = memory::data_type::u8, ydt_ = memory::data_type::u8;
  std::vector<int64_t> static_key_;
  std::shared_ptr<const QMatMulEntry> static_entry_;
  ShapeCache<QMatMulEntry> cache_;
};

}  // namespace

std::unique_ptr<Kernel> make_onednn_qmatmul(const Node& node, const CompileOptions& options) {
  if (node.num_explicit_inputs < 8) return nullptr;
  const Value* a = node.inputs[0];
  const Value* b = node.inputs[3];
  if (!a || !b || !a->type.shape.rank_known() || !static_shape(b)) return nullptr;
  if (!quant::is_q8(a->type.elem) || !quant::is_q8(b->type.elem) || a->type.shape.rank() > 6) return nullptr;
  if (onednn::value_layout(a) != Layout::kPlain) return nullptr;
  if (!int8::weights_available(node, 3, options)) return nullptr;
  auto k = std::make_unique<QMatMulKernel>(node, options);
  if (!k->init(options)) return nullptr;
  return k;
}

}  // namespace celer
