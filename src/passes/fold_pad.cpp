// A Pad by zeros of the spatial axes only, read by a Conv or an AveragePool alone, becomes that op's own padding.
// PyTorch exports avg_pool2d(padding=p, count_include_pad=True) as Pad + AveragePool (Inception-v3 has nine: on the
// reference kernel, with layout changes around each), and TensorFlow exports explicit padding as Pad + Conv.
// A Conv pads with zeros anyway. An AveragePool counts the padded zeros, so it takes count_include_pad: equivalent
// when it had no padding of its own or already counted it, and without ceil_mode (whose partial last windows would
// then count differently).
#include "ops/conv.hpp"
#include "ops/pad.hpp"
#include "ops/pool.hpp"
#include "passes/pass.hpp"

namespace celer::passes {

namespace {

bool is_zero_scalar(const Value* v) {
  if (!v) return true;
  if (!v->constant) return false;
  return v->constant->size() == 0 || (v->constant->size() == 1 && v->constant->value_as_double(0) == 0);
}

bool fold_pad_into_window(Rewriter& rw, Node& n) {
  const Pad* pad = op_as<Pad>(n);
  if (!pad || pad->mode != PadMode::kConstant || pad->value != 0 || n.num_explicit_inputs < 2) return false;
  const Value* x = n.inputs[0];
  const Value* pads = n.inputs[1];
  if (!x || !pads || !pads->constant || !is_zero_scalar(n.num_explicit_inputs > 2 ? n.inputs[2] : nullptr))
    return false;
  if (x->type.kind != ValueKind::kTensor || !x->type.shape.rank_known() || x->type.shape.rank() < 3) return false;
  const int64_t rank = x->type.shape.rank();
  const std::vector<int64_t> p = pads->constant->to_int_vector();
  if (int64_t(p.size()) != 2 * rank || p[0] || p[1] || p[size_t(rank)] || p[size_t(rank + 1)]) return false;
  for (int64_t v : p)
    if (v < 0) return false;
  Node* reader = rw.sole_reader(n.outputs[0]);
  if (!reader || reader->inputs[0] != n.outputs[0]) return false;
  WindowAttrs* w = nullptr;
  Pool* pool = op_as<Pool>(reader);
  if (Conv* conv = op_as<Conv>(reader)) {
    w = &conv->window;
  } else if (pool && pool->fn == PoolFn::kAverage && !pool->global && !pool->ceil_mode) {
    bool own = false;
    for (int64_t v : pool->window.pads) own = own || v != 0;
    if (own && !pool->count_include_pad) return false;
    w = &pool->window;
  }
  if (!w || w->auto_pad != AutoPad::kNotSet) return false;
  const size_t spatial = size_t(rank - 2);
  std::vector<int64_t> merged(2 * spatial, 0);
  for (size_t i = 0; i < spatial; ++i) {
    merged[i] = w->pad_begin(i) + p[2 + i];
    merged[spatial + i] = w->pad_end(i, spatial) + p[size_t(rank) + 2 + i];
  }
  w->pads = merged;
  if (pool) pool->count_include_pad = true;
  reader->inputs[0] = n.inputs[0];
  rw.erase(&n);
  return true;
}

}  // namespace

void add_pad_rules(std::vector<Rule>& rules) { rules.push_back({"fold_pad_into_window", fold_pad_into_window}); }

}  // namespace celer::passes
