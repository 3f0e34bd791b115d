// ConvInteger: y = conv(x - x_zero_point, w - w_zero_point) with int32 accumulation. x and w are u8 or i8; x's zero
// point is per tensor, w's per tensor or per output channel. Same window attributes as Conv.
#include "ops/conv_integer.hpp"

#include "onnx/onnx_node.hpp"
#include "ops/quant_util.hpp"
#include "ops/registry.hpp"

namespace celer {

namespace {
void import_conv_integer(OnnxNode& n) {
  auto op = std::make_unique<ConvInteger>();
  op->window = read_window_attrs(n);
  op->group = n.attr_int("group", 1);
  if (op->group < 1) n.fail("attribute 'group' = ", op->group, " must be positive");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_ConvInteger() { return std::make_unique<ConvInteger>(); }

void register_op_ConvInteger(OpRegistry& r) { r.add_onnx("ConvInteger", 10, kMaxOpset, import_conv_integer); }

}  // namespace celer
