// GatherND: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_GatherND(OpRegistry&) {}

}  // namespace celer
