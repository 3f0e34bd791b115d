// Reduce: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_Reduce(OpRegistry&) {}

}  // namespace celer
