// Shared plumbing of the oneDNN int8 kernels (onednn_qconv.cpp, onednn_qmatmul.cpp) for the canonical int8 ops
// QLinearConv / QLinearMatMul: their constant scales and zero points, s8 weights, and their post-ops mapped onto
// oneDNN's in "units" of the running value (see onednn_qconv.cpp).
#pragma once

#include <optional>
#include <unordered_map>
#include <vector>

#include "devices/cpu/onednn_common.hpp"

namespace celer::onednn {

// A QLinearConv the int8 convolution kernel handles judged by its types and shapes alone (the int8 layout pass).
bool qconv_supported(const Node& node);
// Whether the int8 convolution kernel would run it (asks oneDNN for the primitive descriptor only).
bool qconv_runnable(const Node& node, const CompileOptions& options);

namespace int8 {

memory::data_type dnnl_type(ElementType e);

// The per-tensor scales and zero points of x (inputs 1, 2) and y (6, 7; 1 and 0 with an f32 output), when constant
// and valid.
struct Scalars {
  float x_scale = 1, y_scale = 1;
  int32_t x_zero = 0, y_zero = 0;
};
std::optional<Scalars> read_scalars(const Node& node, bool float_output);
// A constant f32 scale of one value or `channels` values (all finite and positive).
std::optional<std::vector<float>> channel_scales(const Value* v, int64_t channels);
// The weights (input `w`) minus their zero point (input `zp`: one value, or one per channel: rows of a [M, ...] tensor
// when `per_row`, else columns of a [K, N] one) as s8; nullopt when a value leaves [-128, 127].
std::optional<Tensor> s8_weights(const Node& node, size_t w, size_t zp, bool per_row);
// Whether input `i` (the weights) is a constant, or replayed packed from the model cache.
bool weights_available(const Node& node, size_t i, const CompileOptions& options);

// A binary post-op operand: node input `input`, read through `user` (its layout) and given to the primitive as `md`;
// or a constant scalar.
struct BinaryOperand {
  int slot = 0;
  size_t input = 0;
  memory::desc user, md;
  bool constant = false;  // a scalar `value` instead of an input
  float value = 0;
};
struct Mapped {
  dnnl::post_ops ops;
  float unit0 = 1;  // the output scales are divided by it
  std::vector<BinaryOperand> binary;
};
// Maps the node's post-ops (and the final requantization to y_scale, or to f32) for a primitive writing `dst`
// (dims `y`, layout `dst_tag`) with the node's inputs of dims `in_dims`; false when some post-op cannot be mapped.
bool map_post_ops(const PostOps& ops, const Node& node, const std::vector<Dims>& in_dims, const Scalars& sc,
                  bool float_output, const Dims& y, Tag dst_tag, Mapped& out);
// The unit the mapped post-ops start in (Mapped::unit0); it does not depend on shapes.
float start_unit(const PostOps& ops, const Node& node, const Scalars& sc, bool float_output);
// The dims of the node's explicit inputs at compile time (empty where not static) or in a kernel context.
std::vector<Dims> static_input_dims(const Node& node);
std::vector<Dims> input_dims(const KernelContext& ctx);
// Adds the binary operands to a primitive's arguments (reordered into per-thread scratch when their layout differs).
void add_operands(const std::vector<BinaryOperand>& ops, const KernelContext& ctx,
                  ExecArgs& args);

}  // namespace int8
}  // namespace celer::onednn
