// Compress: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_Compress(OpRegistry&) {}

}  // namespace celer
