// Conv: N-D convolution (1-D, 2-D, 3-D spatial) with groups, strides, dilations and padding, plus the sliding-window
// geometry it shares with ConvTranspose and Pool (attributes, output size, automatic padding).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.hpp"
#include "ops/post_ops.hpp"

namespace celer {

class OnnxNode;

enum class AutoPad : uint8_t { kNotSet, kSameUpper, kSameLower, kValid };

// Window attributes of Conv, ConvTranspose and Pool. Empty vectors mean the ONNX defaults.
struct WindowAttrs {
  std::vector<int64_t> kernel_shape;  // empty: taken from the weights (Conv, ConvTranspose)
  std::vector<int64_t> strides;       // empty: all 1
  std::vector<int64_t> dilations;     // empty: all 1
  std::vector<int64_t> pads;          // [begin_0, begin_1, ..., end_0, end_1, ...]; empty: all 0
  AutoPad auto_pad = AutoPad::kNotSet;

  int64_t stride(size_t i) const { return strides.empty() ? 1 : strides[i]; }
  int64_t dilation(size_t i) const { return dilations.empty() ? 1 : dilations[i]; }
  int64_t pad_begin(size_t i) const { return pads.empty() ? 0 : pads[i]; }
  int64_t pad_end(size_t i, size_t spatial) const { return pads.empty() ? 0 : pads[spatial + i]; }
  // Throws kInvalidModel unless every given attribute fits `spatial` spatial axes (named in the message).
  void check_rank(size_t spatial) const;
};

inline void visit_window(AttrVisitor& v, WindowAttrs& w) {
  v.on("kernel_shape", w.kernel_shape);
  v.on("strides", w.strides);
  v.on("dilations", w.dilations);
  v.on("pads", w.pads);
  visit_enum(v, "auto_pad", w.auto_pad, AutoPad::kValid);
}

// Reads kernel_shape, strides, dilations, pads and auto_pad, refusing zero/negative values and inconsistent lengths.
WindowAttrs read_window_attrs(const OnnxNode& n);

// One spatial axis of a forward sliding window (Conv, Pool): output length and the padding actually applied.
struct WindowAxis {
  int64_t out = 0;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
};
WindowAxis window_axis(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end,
                       AutoPad auto_pad, bool ceil_mode = false);

// Checks X (input 0) and W (input 1) of Conv and ConvTranspose: float, same element type, equal ranks >= 3. Returns
// the number of spatial axes, or -1 when neither rank is known.
int64_t check_conv_operands(const InferContext& ctx, const char* op);

class Conv final : public OpBase<Conv, OpKind::kConv> {
 public:
  WindowAttrs window;
  int64_t group = 1;
  PostOps post_ops;  // fused by graph passes; their operands are inputs 3, 4, ...

  const char* type_name() const override { return "Conv"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_window(v, window);
    v.on("group", group);
    visit_post_ops(v, post_ops);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;
};

}  // namespace celer
