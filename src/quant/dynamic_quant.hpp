// Dynamic quantization (`celer quantize --mode dynamic`), for MatMul-heavy transformers: the constant weights of
// MatMul and Gemm nodes become int8 (symmetric, per output column), and their float activation is quantized to uint8
// at every inference from its own range. Written in the standard ONNX form ONNX Runtime's quantize_dynamic also
// writes, which both runtimes fuse into one kernel:
//   DynamicQuantizeLinear(A) -> (A_q, A_scale, A_zp);  MatMulInteger(A_q, W_q, A_zp, W_zp) -> Cast(float)
//   -> Mul(A_scale * W_scale) [-> Add(bias) for Gemm]
// No calibration data is needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "onnx/onnx.pb.h"

namespace celer::quant {

struct DynamicQuantOptions {
  int64_t min_elements = 4096;             // smaller weights stay float
  std::vector<std::string> ignored_scope;  // as --ignored-scope takes them
};

struct DynamicQuantReport {
  std::vector<std::string> quantized;  // "MatMul 'name' [K, N]"
  std::vector<std::string> kept;       // "MatMul 'name': reason"
};

// Rewrites `model` in place (opset >= 11 for DynamicQuantizeLinear; the model must import one). Throws when nothing
// can be quantized.
DynamicQuantReport quantize_dynamic(onnx::ModelProto& model, const DynamicQuantOptions& options);

}  // namespace celer::quant
