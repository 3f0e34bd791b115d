// Pad: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_Pad(OpRegistry&) {}

}  // namespace celer
