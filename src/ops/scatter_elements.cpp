// ScatterElements: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_ScatterElements(OpRegistry&) {}

}  // namespace celer
