// Weight-only compression (`celer quantize --mode weights-int8|weights-int4`): the constant weights of MatMul (and
// Gemm) nodes become int8 or int4 codes in blocks of `group_size` along K with a scale per (output column, block),
// written as ONNX Runtime's com.microsoft MatMulNBits, which ONNX Runtime and celer both run (celer decompresses inside
// the kernel: devices/cpu/nbits_matmul.cpp). Activations stay float; no calibration data is needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "onnx/onnx.pb.h"

namespace celer::quant {

struct WeightCompressionOptions {
  int bits = 4;                            // 4 or 8
  int64_t group_size = 128;                // codes per block along K: a power of two, at least 16
  bool symmetric = true;                   // symmetric: the default zero point 2^(bits-1); else a zero point per block
  int64_t min_elements = 4096;             // smaller weights stay float (not worth it)
  std::vector<std::string> ignored_scope;  // as --ignored-scope takes them (name:, type:, pattern:)
};

struct WeightCompressionReport {
  std::vector<std::string> compressed;            // "MatMul 'name' [K, N]"
  std::vector<std::string> kept;                  // "MatMul 'name': reason"
  int64_t float_bytes = 0, compressed_bytes = 0;  // of the weights compressed, before and after
  double max_relative_error = 0;                  // largest |w - dequantized w| / max |w| of a block
};

// Rewrites `model` in place. Throws (naming the node or attribute) when the options are invalid; a model with nothing
// to compress is an error too (nothing would change).
WeightCompressionReport compress_weights(onnx::ModelProto& model, const WeightCompressionOptions& options);

// Quantizes one row of K weights (an output column) into packed codes `blob` bytes per block, its scales and (when
// asymmetric) its zero-point codes; returns the largest relative error of a block. Exposed for tests.
double quantize_row_nbits(const float* w, int64_t K, int bits, int64_t group, bool symmetric, uint8_t* codes,
                          float* scales, uint8_t* zero_codes);

}  // namespace celer::quant
