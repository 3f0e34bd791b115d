// Transpose: output dim k is input dim perm[k]; without 'perm' the dims are reversed.
#include "ops/transpose.hpp"

#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {
void import_transpose(OnnxNode& n) {
  auto op = std::make_unique<Transpose>();
  op->perm = n.attr_ints("perm", std::vector<int64_t>{});
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Transpose() { return std::make_unique<Transpose>(); }

void register_op_Transpose(OpRegistry& r) { r.add_onnx("Transpose", 1, kMaxOpset, import_transpose); }

}  // namespace celer
