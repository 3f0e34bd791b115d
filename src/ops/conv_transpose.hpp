// ConvTranspose: the gradient of Conv with respect to its input (see conv_transpose.cpp). The class is in a header so
// that the CPU device's oneDNN kernel can read its attributes and output geometry.
#pragma once

#include <vector>

#include "ops/conv.hpp"

namespace celer {

class ConvTranspose final : public OpBase<ConvTranspose, OpKind::kConvTranspose> {
 public:
  WindowAttrs window;
  int64_t group = 1;
  std::vector<int64_t> output_padding;  // empty: all 0
  std::vector<int64_t> output_shape;    // spatial dims; empty: computed from the pads

  const char* type_name() const override { return "ConvTranspose"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_window(v, window);
    v.on("group", group);
    v.on("output_padding", output_padding);
    v.on("output_shape", output_shape);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;

  // Output length and begin pad of spatial axis i.
  void axis(size_t i, size_t spatial, int64_t in, int64_t k, int64_t& out, int64_t& pad_begin) const {
    const int64_t s = window.stride(i), span = (k - 1) * window.dilation(i) + 1;
    const int64_t op = output_padding.empty() ? 0 : output_padding[i];
    const int64_t full = s * (in - 1) + op + span;
    if (!output_shape.empty() || window.auto_pad == AutoPad::kSameUpper || window.auto_pad == AutoPad::kSameLower) {
      out = !output_shape.empty() ? output_shape[i] : in * s;
      const int64_t total = full - out;  // negative when output_shape asks for more: the end is extended
      const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);  // floor(total / 2)
      pad_begin = window.auto_pad == AutoPad::kSameUpper ? half : total - half;
      return;
    }
    pad_begin = window.pad_begin(i);
    out = full - pad_begin - window.pad_end(i, spatial);
  }
};

}  // namespace celer
