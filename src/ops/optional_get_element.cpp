// OptionalGetElement: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_OptionalGetElement(OpRegistry&) {}

}  // namespace celer
