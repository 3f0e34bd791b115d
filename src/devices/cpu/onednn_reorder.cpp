// oneDNN kernel of the CPU-internal Reorder op (layout conversions at the boundaries of the layout pass's chains), f32,
// or converting between f32 and bf16 (BF16 inference: chains carry bf16 activations).
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/onednn_common.hpp"

namespace celer {
namespace {

using namespace onednn;

struct ReorderEntry {
  dnnl::primitive prim;
  memory::desc src, dst;
};

class ReorderKernel final : public Kernel {
 public:
  ReorderKernel(const Node& node, const CompileOptions& options)
      : op_(static_cast<const Reorder&>(*node.op)),
        threads_(node_threads(node, options)),
        in_(node.inputs[0]->type.elem),
        out_(op_.elem == ElementType::kUndefined ? in_ : op_.elem) {}
  const char* name() const override { return in_ == out_ ? "onednn:reorder" : "onednn:reorder_convert"; }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (op_.from == op_.to && in_ == out_) {
      ctx.set_output(0, x);
      return;
    }
    ThreadScope ts(threads_);
    std::shared_ptr<const ReorderEntry> e = cache_.get(x.dims(), [&] {
      auto r = std::make_shared<ReorderEntry>();
      r->src = make_desc(x.dims(), op_.from, in_);
      r->dst = make_desc(x.dims(), op_.to, out_);
      r->prim = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), r->src, engine(), r->dst));
      return r;
    });
    Tensor& y = ctx.output(0);
    if (y.size() == 0) return;
    dnnl::stream& s = stream();
    e->prim.execute(s, {{DNNL_ARG_FROM, wrap(x, e->src)}, {DNNL_ARG_TO, wrap(y, e->dst)}});
    s.wait();
  }

 private:
  const Reorder& op_;
  int threads_;
  ElementType in_, out_;
  ShapeCache<ReorderEntry> cache_;
};

}  // namespace

std::unique_ptr<Kernel> make_onednn_reorder(const Node& node, const CompileOptions& options) {
  const ValueType& x = node.inputs[0]->type;
  const ElementType out = static_cast<const Reorder&>(*node.op).elem;
  const bool q8 = (x.elem == ElementType::kU8 || x.elem == ElementType::kI8) && out == ElementType::kUndefined;
  if ((!f32_or_bf16(node.inputs[0]) && !q8) || !x.shape.rank_known() || x.shape.rank() < 3 || x.shape.rank() > 5) return nullptr;
  if (out != ElementType::kUndefined && out != ElementType::kF32 && out != ElementType::kBF16) return nullptr;
  return std::make_unique<ReorderKernel>(node, options);
}

}  // namespace celer
