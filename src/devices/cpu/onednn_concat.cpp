// oneDNN concat for Concat along the channel axis of activations the layout pass keeps in a oneDNN layout
// (channels-last or channel-blocked), f32 or bf16 (BF16 chains; inputs and output of one type). Plain Concat runs
// elsewhere. The Concat op's axis is not visible here (its class lives in concat.cpp), so the kernel recognises a
// channel concat from the static shapes: every input has the output's dims except the channels, which add up to the
// output's (with two or more non-empty inputs no other axis can give that).
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"

namespace celer {

bool onednn::is_channel_concat(const Node& node) {
  if (node.op->kind() != OpKind::kConcat || node.num_explicit_inputs < 2 || !static_shape(node.outputs[0]) ||
      !f32_or_bf16(node.outputs[0]))
    return false;
  const ElementType elem = node.outputs[0]->type.elem;
  const Dims y = node.outputs[0]->type.shape.to_dims();
  if (y.size() < 3 || y.size() > 5) return false;
  int64_t channels = 0;
  for (size_t i = 0; i < node.num_explicit_inputs; ++i) {
    const Value* v = node.inputs[i];
    if (!static_shape(v) || v->type.elem != elem) return false;
    const Dims d = v->type.shape.to_dims();
    if (d.size() != y.size() || d[1] <= 0) return false;
    for (size_t a = 0; a < d.size(); ++a)
      if (a != 1 && d[a] != y[a]) return false;
    channels += d[1];
  }
  return channels == y[1];
}

namespace {

using namespace onednn;

class ConcatKernel final : public Kernel {
 public:
  ConcatKernel(const Node& node, const CompileOptions& options, Layout layout)
      : threads_(node_threads(node, options)), bf16_(node.outputs[0]->type.elem == ElementType::kBF16) {
    ThreadScope ts(threads_);
    const ElementType elem = node.outputs[0]->type.elem;
    std::vector<memory::desc> srcs;
    for (size_t i = 0; i < node.num_explicit_inputs; ++i)
      srcs.push_back(make_desc(node.inputs[i]->type.shape.to_dims(), layout, elem));
    dst_ = make_desc(node.outputs[0]->type.shape.to_dims(), layout, elem);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::concat::primitive_desc pd(dst_, 1, srcs, engine(), attr);
    srcs_ = srcs;
    scratchpad_ = pd.scratchpad_desc();
    prim_ = dnnl::concat(pd);
  }
  const char* name() const override { return bf16_ ? "onednn:concat_bf16" : "onednn:concat"; }

  void run(KernelContext& ctx) const override {
    ThreadScope ts(threads_);
    ExecArgs args(this);
    for (size_t i = 0; i < srcs_.size(); ++i) {
      const Tensor& x = ctx.input(i);
      CELER_CHECK(x.byte_size() == srcs_[i].get_size(), kInternal, "Concat input ", i, " has shape ",
                  dims_to_string(x.dims()), " at run time");
      args.add(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), x, srcs_[i]);
    }
    Tensor& y = ctx.output(0);
    args.add(DNNL_ARG_DST, y, dst_);
    args.add_scratchpad(scratchpad_);
    args.execute(prim_);
  }

 private:
  int threads_;
  bool bf16_;
  std::vector<memory::desc> srcs_;
  memory::desc dst_, scratchpad_;
  dnnl::primitive prim_;
};

}  // namespace

std::unique_ptr<Kernel> make_onednn_concat(const Node& node, const CompileOptions& options) {
  const Layout layout = value_layout(node.inputs.empty() ? nullptr : node.inputs[0]);
  if (layout == Layout::kPlain) return nullptr;  // plain concats: the reference (or another) kernel
  CELER_CHECK(is_channel_concat(node), kInternal, node.describe(), ": a non-plain Concat must join channels");
  for (size_t i = 0; i < node.num_explicit_inputs; ++i)
    CELER_CHECK(value_layout(node.inputs[i]) == layout, kInternal, node.describe(), ": input ", i, " is not in layout ",
                layout_name(layout));
  return std::make_unique<ConcatKernel>(node, options, layout);
}

}  // namespace celer
