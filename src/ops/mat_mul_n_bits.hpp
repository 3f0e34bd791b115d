// MatMulNBits (ONNX Runtime's com.microsoft contrib op, the common ONNX form of weight-only compression):
// Y = A x dequantize(B)^T (+ bias), A float [..., K], Y [..., N]. B holds N rows of K codes of `bits` bits (2, 4 or
// 8), packed low bits first into bytes, in blocks of `block_size` codes along K: B is uint8 [N, k_blocks, blob] with
// k_blocks = ceil(K / block_size) and blob = block_size * bits / 8. Each (row, block) has a scale and a zero point:
// w = (code - zero_point) * scale. Zero points are either absent (2^(bits-1)), uint8 codes packed like B along the
// blocks of a row ([N * ceil(k_blocks * bits / 8)]), or floats of A's type ([N * k_blocks]).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.hpp"

namespace celer {

class MatMulNBits final : public OpBase<MatMulNBits, OpKind::kMatMulNBits> {
 public:
  int64_t K = 0, N = 0, bits = 4, block_size = 0;

  const char* type_name() const override { return "MatMulNBits"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("K", K);
    v.on("N", N);
    v.on("bits", bits);
    v.on("block_size", block_size);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;

  int64_t k_blocks() const { return (K + block_size - 1) / block_size; }
  int64_t blob_bytes() const { return block_size * bits / 8; }
};

// The compressed weights of one MatMulNBits node, validated, for the reference and the CPU kernels: `row(n, out)`
// writes the K dequantized weights of output column n.
class NBitsWeights {
 public:
  // b, scales, zero_points (nullptr when absent): the node's inputs 1, 2, 3. Throws naming the input that does not
  // fit the attributes.
  NBitsWeights(const MatMulNBits& op, const Tensor& b, const Tensor& scales, const Tensor* zero_points);
  void row(int64_t n, float* out) const;

 private:
  int64_t K_, N_, bits_, block_, kb_, blob_;
  const uint8_t* codes_;
  std::vector<float> scales_;
  std::vector<float> zero_;  // per (row, block): the zero point as a float
};

}  // namespace celer
