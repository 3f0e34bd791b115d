// The CPU layout pass and the layout rule the oneDNN kernels share with it (see onednn_common.hpp).
#include "devices/cpu/onednn_common.hpp"

namespace celer::onednn {

namespace {
bool keeps_input_layout(OpKind k) { return k == OpKind::kConv || k == OpKind::kConvTranspose || k == OpKind::kPool; }
}  // namespace

Layout value_layout(const Value* v) {
  while (v && v->producer && !v->producer->outputs.empty() && v->producer->outputs[0] == v) {
    const Node& p = *v->producer;
    if (p.op->kind() == OpKind::kReorder) return static_cast<const Reorder&>(*p.op).to;
    if (!keeps_input_layout(p.op->kind()) || p.inputs.empty()) break;
    v = p.inputs[0];
  }
  return Layout::kPlain;
}

std::vector<Layout> input_layouts(const Node& node) {
  std::vector<Layout> l(node.num_explicit_inputs, Layout::kPlain);
  for (size_t i = 0; i < l.size(); ++i) l[i] = value_layout(node.inputs[i]);
  return l;
}

}  // namespace celer::onednn
