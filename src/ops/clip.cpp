// Clip: y = min(max(x, lo), hi), elementwise. Opsets before 11 give lo/hi as float attributes 'min'/'max'; from 11
// they are optional scalar inputs of x's type. NaN stays NaN; lo > hi gives hi (like numpy.clip).
#include "ops/clip.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

void import_clip_attrs(OnnxNode& n) {
  std::optional<float> lo, hi;
  if (n.has_attr("min")) lo = n.attr_float("min");
  if (n.has_attr("max")) hi = n.attr_float("max");
  n.emit(std::make_unique<Clip>(lo, hi), {n.input(0)}, {n.output(0)});
}

void import_clip(OnnxNode& n) { n.emit(std::make_unique<Clip>(std::nullopt, std::nullopt)); }

}  // namespace

std::unique_ptr<Op> make_op_Clip() { return std::make_unique<Clip>(); }

void register_op_Clip(OpRegistry& r) {
  r.add_onnx("Clip", 1, 10, import_clip_attrs);
  r.add_onnx("Clip", 11, kMaxOpset, import_clip);
}

}  // namespace celer
