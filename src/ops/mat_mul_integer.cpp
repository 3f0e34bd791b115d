// MatMulInteger: y = (A - a_zero_point) x (B - b_zero_point) with numpy matmul rules and int32 accumulation.
// A and B are u8 or i8; zero points are per tensor, per row of A ([M] or [..., M, 1]) or per column of B ([N] or
// [..., 1, N]).
#include "ops/mat_mul_integer.hpp"

#include "onnx/onnx_node.hpp"
#include "ops/quant_util.hpp"
#include "ops/registry.hpp"

namespace celer {

namespace {
void import_mat_mul_integer(OnnxNode& n) { n.emit(std::make_unique<MatMulInteger>()); }
}  // namespace

std::unique_ptr<Op> make_op_MatMulInteger() { return std::make_unique<MatMulInteger>(); }

void register_op_MatMulInteger(OpRegistry& r) { r.add_onnx("MatMulInteger", 10, kMaxOpset, import_mat_mul_integer); }

}  // namespace celer
