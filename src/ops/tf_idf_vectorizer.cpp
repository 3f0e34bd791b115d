// TfIdfVectorizer: being written (registers no ONNX op yet).
#include "ops/registry.hpp"

namespace celer {

void register_op_TfIdfVectorizer(OpRegistry&) {}

}  // namespace celer
