// Decoding PNG (libpng) and JPEG (libjpeg) images and turning them into model inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "celer/tensor.hpp"

namespace celer::quant {

// An 8-bit image, interleaved RGB (3 channels) or gray (1).
struct Image {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// Largest image accepted (width * height), checked from the header before decoding.
inline constexpr int64_t kMaxImagePixels = int64_t(1) << 28;

// Decodes a .png, .jpg or .jpeg file (by extension) to RGB (or gray when `gray`). PNG: palette, gray, alpha and 16-bit
// images are converted; alpha is dropped. Errors (kIo / kParse) name the file.
Image read_image(const std::string& path, bool gray);

// Preprocessing: x = (pixel - mean[c]) / scale[c], pixel in [0, 255].
struct ImagePreprocess {
  int64_t resize = 0;              // shorter side resized to this (bilinear); 0: no resize
  int64_t crop_h = 0, crop_w = 0;  // centre crop; 0: none
  std::vector<float> mean{0.0f};   // one value, or one per channel
  std::vector<float> scale{1.0f};
  bool bgr = false;   // channel order of the model's input
  bool nhwc = false;  // layout of the model's input (else NCHW)
};

// Resize (bilinear, pixel centres aligned) to w x h.
Image resize_image(const Image& img, int64_t w, int64_t h);
// The model input [1, C, H, W] (or [1, H, W, C]) of one image.
Tensor image_to_tensor(const Image& img, const ImagePreprocess& pre);

}  // namespace celer::quant
