// BatchNormalization: Y = (X - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c] over channel axis 1.
// Inference mode uses the given mean and var. Training mode (opset 14+) normalises with the batch statistics and also
// outputs the updated running statistics: running = input * momentum + batch * (1 - momentum).
#include "ops/batch_normalization.hpp"

#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {
void import_batch_normalization(OnnxNode& n) {
  auto op = std::make_unique<BatchNormalization>();
  op->epsilon = n.attr_float("epsilon", 1e-5f);
  op->momentum = n.attr_float("momentum", 0.9f);
  if (n.opset() < 9 && n.attr_int("spatial", 1) != 1)
    n.unsupported("attribute 'spatial' = 0 (per-activation statistics) is not supported");
  if (n.opset() >= 14) {
    op->training = n.attr_int("training_mode", 0) != 0;
    if (!op->training && (n.output(1) || n.output(2)))
      n.fail("outputs running_mean and running_var are only defined with training_mode = 1");
  } else {
    for (size_t i = 1; i < n.num_outputs(); ++i)
      if (n.output(i)) n.unsupported("the training outputs of BatchNormalization before opset 14 are not supported");
  }
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_BatchNormalization() { return std::make_unique<BatchNormalization>(); }

void register_op_BatchNormalization(OpRegistry& r) {
  r.add_onnx("BatchNormalization", 1, kMaxOpset, import_batch_normalization);
}

}  // namespace celer
