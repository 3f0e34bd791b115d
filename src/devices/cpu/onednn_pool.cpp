// oneDNN pooling kernels: MaxPool (without the Indices output), AveragePool and their Global forms, f32, 1 to 3 spatial
// axes, strides, dilations, pads, ceil_mode; bf16 in a BF16 chain of the layout pass (output type = input type). The
// activation keeps the layout the CPU layout pass gave it (plain or
// channel-blocked). Cases oneDNN counts differently (LpPool, count_include_pad with ceil_mode growing the right pad)
// run the reference kernel.
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"
#include "ops/pool.hpp"

namespace celer {
namespace {

using namespace onednn;

struct PoolEntry {
  dnnl::primitive prim;
  memory::desc src, dst, scratchpad;
};

class PoolKernel final : public Kernel {
 public:
  PoolKernel(const Node& node, const CompileOptions& options)
      : node_(node), op_(static_cast<const Pool&>(*node.op)), threads_(node_threads(node, options)) {
    layout_ = value_layout(node.inputs[0]);
    elem_ = node.inputs[0]->type.elem;
  }

  // With `query_only`, whether oneDNN takes the pooling, without creating (compiling) its primitive.
  bool prepare(bool query_only = false) {
    if (!static_shape(node_.inputs[0]) || !static_shape(node_.outputs[0])) return true;  // built at run time
    static_key_ = node_.inputs[0]->type.shape.to_dims();
    ThreadScope ts(threads_);
    static_entry_ = make(static_key_, node_.outputs[0]->type.shape.to_dims(), query_only);
    return static_entry_ != nullptr;
  }

  const char* name() const override { return elem_ == ElementType::kBF16 ? "onednn:pool_bf16" : "onednn:pool"; }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    ThreadScope ts(threads_);
    std::shared_ptr<const PoolEntry> e = static_entry_;
    if (!e || x.dims() != static_key_) {
      const ValueType* t = ctx.inferred_type(0);
      CELER_CHECK(t && t->shape.is_static(), kInternal, "output shape unknown at run time");
      const Dims ydims = t->shape.to_dims();
      e = cache_.get(x.dims(), [&] { return make(x.dims(), ydims); });
    }
    if (!e) {
      CELER_CHECK(layout_ == Layout::kPlain, kInternal, "oneDNN refused a pooling in a blocked layout");
      node_.op->run(ctx);
      return;
    }
    Tensor& y = ctx.output(0);
    if (y.size() == 0) return;
    ExecArgs args(e.get());
    args.add(DNNL_ARG_SRC, x, e->src);
    args.add(DNNL_ARG_DST, y, e->dst);
    args.add_scratchpad(e->scratchpad);
    args.execute(e->prim);
  }

 private:
  std::shared_ptr<const PoolEntry> make(const Dims& x, const Dims& y, bool query_only = false) const {
    try {
      return make_or_throw(x, y, query_only);
    } catch (const dnnl::error&) {
      return nullptr;
    } catch (const Error&) {
      return nullptr;
    }
  }

  std::shared_ptr<const PoolEntry> make_or_throw(const Dims& x, const Dims& y, bool query_only) const {
    for (int64_t v : x)
      if (v == 0) return nullptr;
    const size_t spatial = x.size() - 2;
    memory::dims strides, kernel, dilation, pad_l, pad_r;
    for (size_t i = 0; i < spatial; ++i) {
      if (op_.global) {
        strides.push_back(1);
        kernel.push_back(x[2 + i]);
        dilation.push_back(0);
        pad_l.push_back(0);
        pad_r.push_back(0);
        continue;
      }
      const int64_t k = op_.window.kernel_shape[i], s = op_.window.stride(i), d = op_.window.dilation(i);
      const WindowAxis a = window_axis(x[2 + i], k, s, d, op_.window.pad_begin(i), op_.window.pad_end(i, spatial),
                                       op_.window.auto_pad, op_.ceil_mode);
      const int64_t pr = (y[2 + i] - 1) * s + (k - 1) * d + 1 - x[2 + i] - a.pad_begin;
      // ONNX counts the padded window only up to the given end pad; oneDNN counts the whole kernel.
      if (op_.fn == PoolFn::kAverage && op_.count_include_pad && pr != a.pad_end) return nullptr;
      strides.push_back(s);
      kernel.push_back(k);
      dilation.push_back(d - 1);
      pad_l.push_back(a.pad_begin);
      pad_r.push_back(pr);
    }
    const dnnl::algorithm alg = op_.fn == PoolFn::kMax  ? dnnl::algorithm::pooling_max
                                : op_.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                        : dnnl::algorithm::pooling_avg_exclude_padding;
    auto e = std::make_shared<PoolEntry>();
    e->src = make_desc(x, layout_, elem_);
    e->dst = make_desc(y, layout_, elem_);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, e->src, e->dst, strides, kernel, dilation,
                                     pad_l, pad_r);
    dnnl::pooling_v2_forward::primitive_desc pd(d, attr, engine());
    e->scratchpad = pd.scratchpad_desc();
    if (!query_only) e->prim = dnnl::pooling_v2_forward(pd);
    return e;
  }

  const Node& node_;
  const Pool& op_;
  int threads_;
  Layout layout_ = Layout::kPlain;
  ElementType elem_ = ElementType::kF32;
  Dims static_key_;
  std::shared_ptr<const PoolEntry> static_entry_;
  ShapeCache<PoolEntry> cache_;
};

}  // namespace

namespace {
bool pool_mappable(const Node& node) {
  const auto& op = static_cast<const Pool&>(*node.op);
  if (op.fn == PoolFn::kLp || (node.outputs.size() > 1 && node.outputs[1])) return false;
  const ValueType& x = node.inputs[0]->type;
  const bool q8_max = op.fn == PoolFn::kMax && (x.elem == ElementType::kU8 || x.elem == ElementType::kI8);
  return (f32_or_bf16(node.inputs[0]) || q8_max) && node.outputs[0]->type.elem == x.elem && x.shape.rank_known() &&
         x.shape.rank() >= 3 && x.shape.rank() <= 5;
}
}  // namespace

bool onednn::pool_supported(const Node& node, const CompileOptions& options) {
  if (node.op->kind() != OpKind::kPool || !pool_mappable(node)) return false;
  PoolKernel k(node, options);
  return k.prepare(/*query_only=*/true);
}

std::unique_ptr<Kernel> make_onednn_pool(const Node& node, const CompileOptions& options) {
  if (!pool_mappable(node)) return nullptr;
  auto k = std::make_unique<PoolKernel>(node, options);
  if (k->prepare()) return k;
  CELER_CHECK(onednn::value_layout(node.inputs[0]) == Layout::kPlain, kInternal, node.describe(),
              ": oneDNN cannot run it in a blocked layout");
  return nullptr;
}

}  // namespace celer
