// Concat along the channel axis of activations the layout pass keeps in a oneDNN layout (channels-last or
// channel-blocked), f32 or bf16 (BF16 chains; inputs and output of one type). Plain Concat runs elsewhere.
// In a channel-blocked layout with every input's channels a multiple of the block, each input is one contiguous
// slab per image, so the kernel copies slabs ("cpu:concat": DenseNet-121's 58 concats in nCx16c took 18 ms with
// oneDNN's concat, 1.8 ms this way); otherwise oneDNN's concat runs. The Concat op's axis is not visible here (its class lives in concat.cpp), so the kernel recognises a
// channel concat from the static shapes: every input has the output's dims except the channels, which add up to the
// output's (with two or more non-empty inputs no other axis can give that).
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"

#include <cstring>

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
    if (layout == Layout::kBlocked8 || layout == Layout::kBlocked16) {
      // [N][C/b][spatial][b]: input i is N slabs of C_i/b * spatial * b elements.
      const int64_t block = layout_block(layout);
      const Dims y = node.outputs[0]->type.shape.to_dims();
      int64_t spatial = 1;
      for (size_t a = 2; a < y.size(); ++a) spatial *= y[a];
      const size_t es = element_size(elem);
      bool aligned = true;
      for (size_t i = 0; i < node.num_explicit_inputs; ++i) {
        const int64_t c = node.inputs[i]->type.shape.to_dims()[1];
        aligned = aligned && c % block == 0;
        slab_bytes_.push_back(size_t(c * spatial) * es);
      }
      images_ = y[0];
      if (!aligned) slab_bytes_.clear();
    }
    if (!slab_bytes_.empty()) return;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::concat::primitive_desc pd(dst_, 1, srcs, engine(), attr);
    srcs_ = srcs;
    scratchpad_ = pd.scratchpad_desc();
    prim_ = dnnl::concat(pd);
  }
  const char* name() const override {
    if (!slab_bytes_.empty()) return bf16_ ? "cpu:concat_bf16" : "cpu:concat";
    return bf16_ ? "onednn:concat_bf16" : "onednn:concat";
  }

  void run(KernelContext& ctx) const override {
    if (!slab_bytes_.empty()) return copy_slabs(ctx);
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
  void copy_slabs(KernelContext& ctx) const {
    const size_t inputs = slab_bytes_.size();
    size_t image_bytes = 0;
    for (size_t i = 0; i < inputs; ++i) {
      CELER_CHECK(ctx.input(i).byte_size() == slab_bytes_[i] * size_t(images_), kInternal, "Concat input ", i,
                  " has shape ", dims_to_string(ctx.input(i).dims()), " at run time");
      image_bytes += slab_bytes_[i];
    }
    Tensor& y = ctx.output(0);
    char* out = static_cast<char*>(y.raw());
    const int64_t total = images_ * int64_t(image_bytes);
    // Split the output's bytes evenly over the threads; each copies the parts of the slabs that fall in its range.
    const int threads = threads_ > 1 ? threads_ : 1;
    auto copy_range = [&](int64_t begin, int64_t end) {
      int64_t at = 0;
      for (int64_t n = 0; n < images_ && at < end; ++n)
        for (size_t i = 0; i < inputs && at < end; ++i) {
          const int64_t len = int64_t(slab_bytes_[i]);
          const int64_t b = std::max(begin, at), e = std::min(end, at + len);
          if (b < e) {
            const char* src = static_cast<const char*>(ctx.input(i).raw()) + n * len;
            std::memcpy(out + b, src + (b - at), size_t(e - b));
          }
          at += len;
        }
    };
    if (threads <= 1) {
      copy_range(0, total);
      return;
    }
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      // Boundaries on 64-byte lines, so that no two threads write one cache line.
      const int64_t b = std::min(total, (total * t / nt) & ~int64_t(63));
      const int64_t e = t + 1 == nt ? total : std::min(total, (total * (t + 1) / nt) & ~int64_t(63));
      copy_range(b, e);
    }
  }

  int threads_;
  bool bf16_;
  std::vector<size_t> slab_bytes_;  // per input, one image's slab (empty: oneDNN's concat runs)
  int64_t images_ = 0;
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
