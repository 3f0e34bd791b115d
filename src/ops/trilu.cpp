// Trilu: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_Trilu(OpRegistry&) {}

}  // namespace celer
