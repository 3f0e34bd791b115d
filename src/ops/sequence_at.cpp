// SequenceAt: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_SequenceAt(OpRegistry&) {}

}  // namespace celer
