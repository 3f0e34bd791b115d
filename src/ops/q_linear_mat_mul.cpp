// QLinearMatMul: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_QLinearMatMul(OpRegistry&) {}

}  // namespace celer
