#include "quant/images.hpp"

#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "celer/error.hpp"

namespace celer::quant {

namespace {

std::string lower_extension(const std::string& path) {
  const size_t dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

Image read_png(const std::string& path, bool gray) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  CELER_CHECK(png_image_begin_read_from_file(&img, path.c_str()), kParse, "cannot read PNG '", path,
              "': ", img.message);
  struct Free {
    png_image* p;
    ~Free() { png_image_free(p); }
  } guard{&img};
  CELER_CHECK(int64_t(img.width) * int64_t(img.height) <= kMaxImagePixels && img.width > 0 && img.height > 0,
              kLimitExceeded, "PNG '", path, "': ", img.width, "x", img.height,
              " pixels is empty or over the limit of ", kMaxImagePixels);
  img.format = gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  Image out;
  out.width = img.width;
  out.height = img.height;
  out.channels = gray ? 1 : 3;
  out.pixels.resize(PNG_IMAGE_SIZE(img));
  CELER_CHECK(png_image_finish_read(&img, nullptr, out.pixels.data(), 0, nullptr), kParse, "cannot decode PNG '", path,
              "': ", img.message);
  return out;
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  err->mgr.format_message(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Decodes into `out` (already empty); returns false with `err.message` set on a libjpeg error. No C++ objects with
// destructors live across the setjmp.
bool decode_jpeg(std::FILE* f, bool gray, Image& out, JpegError& err, bool& too_large) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  if (int64_t(cinfo.image_width) * int64_t(cinfo.image_height) > kMaxImagePixels || cinfo.image_width == 0) {
    too_large = true;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  out.width = cinfo.output_width;
  out.height = cinfo.output_height;
  out.channels = cinfo.output_components;
  out.pixels.resize(size_t(out.width * out.height * out.channels));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.pixels.data() + size_t(cinfo.output_scanline) * size_t(out.width * out.channels);
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Image read_jpeg(const std::string& path, bool gray) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  CELER_CHECK(f, kIo, "cannot open image '", path, "': ", std::strerror(errno));
  Image out;
  JpegError err{};
  bool too_large = false;
  const bool ok = decode_jpeg(f, gray, out, err, too_large);
  std::fclose(f);
  CELER_CHECK(!too_large, kLimitExceeded, "JPEG '", path, "': empty or more than ", kMaxImagePixels, " pixels");
  CELER_CHECK(ok, kParse, "cannot decode JPEG '", path, "': ", err.message);
  CELER_CHECK(out.channels == (gray ? 1 : 3), kParse, "JPEG '", path, "': unexpected ", out.channels, " channels");
  return out;
}

}  // namespace

Image read_image(const std::string& path, bool gray) {
  const std::string ext = lower_extension(path);
  if (ext == "png") return read_png(path, gray);
  if (ext == "jpg" || ext == "jpeg") return read_jpeg(path, gray);
  CELER_THROW(kUnsupported, "'", path, "': not a .png, .jpg or .jpeg image");
}

Image resize_image(const Image& img, int64_t w, int64_t h) {
  CELER_CHECK(w > 0 && h > 0 && w * h <= kMaxImagePixels, kInvalidArgument, "cannot resize to ", w, "x", h);
  Image out;
  out.width = w;
  out.height = h;
  out.channels = img.channels;
  out.pixels.resize(size_t(w * h * img.channels));
  const double sx = double(img.width) / double(w), sy = double(img.height) / double(h);
  for (int64_t y = 0; y < h; ++y) {
    const double fy = std::clamp((double(y) + 0.5) * sy - 0.5, 0.0, double(img.height - 1));
    const int64_t y0 = int64_t(fy), y1 = std::min(y0 + 1, img.height - 1);
    const double ay = fy - double(y0);
    for (int64_t x = 0; x < w; ++x) {
      const double fx = std::clamp((double(x) + 0.5) * sx - 0.5, 0.0, double(img.width - 1));
      const int64_t x0 = int64_t(fx), x1 = std::min(x0 + 1, img.width - 1);
      const double ax = fx - double(x0);
      for (int64_t c = 0; c < img.channels; ++c) {
        auto at = [&](int64_t yy, int64_t xx) {
          return double(img.pixels[size_t((yy * img.width + xx) * img.channels + c)]);
        };
        const double v =
            (1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x1)) + ay * ((1 - ax) * at(y1, x0) + ax * at(y1, x1));
        out.pixels[size_t((y * w + x) * img.channels + c)] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

Tensor image_to_tensor(const Image& src, const ImagePreprocess& pre) {
  Image img = src;
  if (pre.resize > 0) {
    const int64_t shorter = std::min(img.width, img.height);
    const int64_t w = std::max<int64_t>(1, std::llround(double(img.width) * double(pre.resize) / double(shorter)));
    const int64_t h = std::max<int64_t>(1, std::llround(double(img.height) * double(pre.resize) / double(shorter)));
    img = resize_image(img, w, h);
  }
  int64_t x0 = 0, y0 = 0, w = img.width, h = img.height;
  if (pre.crop_h > 0 && pre.crop_w > 0) {
    CELER_CHECK(pre.crop_h <= img.height && pre.crop_w <= img.width, kInvalidArgument, "--crop ", pre.crop_h, "x",
                pre.crop_w, " is larger than the ", img.height, "x", img.width, " image (after --resize)");
    y0 = (img.height - pre.crop_h) / 2;
    x0 = (img.width - pre.crop_w) / 2;
    h = pre.crop_h;
    w = pre.crop_w;
  }
  const int64_t c = img.channels;
  auto per_channel = [&](const std::vector<float>& v, const char* opt) {
    CELER_CHECK(v.size() == 1 || int64_t(v.size()) == c, kInvalidArgument, "--", opt, " has ", v.size(), " values for ",
                c, " channels");
    std::vector<float> out(static_cast<size_t>(c));
    for (int64_t i = 0; i < c; ++i) out[size_t(i)] = v.size() == 1 ? v[0] : v[size_t(i)];
    return out;
  };
  const std::vector<float> mean = per_channel(pre.mean, "mean"), scale = per_channel(pre.scale, "scale");
  for (float s : scale) CELER_CHECK(s != 0 && std::isfinite(s), kInvalidArgument, "--scale values must be non-zero");
  Tensor t(ElementType::kF32, pre.nhwc ? Dims{1, h, w, c} : Dims{1, c, h, w});
  float* dst = t.data<float>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) {
        // Model channel k takes image channel k (RGB) or 2 - k (BGR).
        const int64_t from = (pre.bgr && c == 3) ? 2 - k : k;
        const float p = float(img.pixels[size_t(((y0 + y) * img.width + x0 + x) * c + from)]);
        const float v = (p - mean[size_t(k)]) / scale[size_t(k)];
        dst[pre.nhwc ? (y * w + x) * c + k : (k * h + y) * w + x] = v;
      }
  return t;
}

}  // namespace celer::quant
