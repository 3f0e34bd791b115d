// GridSample: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_GridSample(OpRegistry&) {}

}  // namespace celer
