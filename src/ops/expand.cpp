// Expand: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_Expand(OpRegistry&) {}

}  // namespace celer
