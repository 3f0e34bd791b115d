// TopK: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_TopK(OpRegistry&) {}

}  // namespace celer
