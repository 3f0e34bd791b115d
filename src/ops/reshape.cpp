// Reshape: same data, new shape. A 0 copies the input dim (unless allowzero), a -1 is inferred. Reshape-1 (the shape
// as an attribute) becomes a constant 'shape' input at import.
#include "ops/reshape.hpp"

#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {
void import_reshape(OnnxNode& n) {
  auto op = std::make_unique<Reshape>();
  if (n.opset() < 5) {
    std::vector<int64_t> shape = n.attr_ints("shape");
    Value* shape_v = n.constant(Tensor::from_vector(shape, {int64_t(shape.size())}));
    n.emit(std::move(op), {n.input(0), shape_v}, {n.output(0)});
    return;
  }
  if (n.opset() >= 14) op->allow_zero = n.attr_int("allowzero", 0) != 0;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Reshape() { return std::make_unique<Reshape>(); }

void register_op_Reshape(OpRegistry& r) { r.add_onnx("Reshape", 1, kMaxOpset, import_reshape); }

}  // namespace celer
