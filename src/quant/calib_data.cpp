#include "quant/calib_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "io/npy.hpp"

namespace celer::quant {

namespace fs = std::filesystem;

namespace {

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool is_image(const fs::path& p) {
  const std::string e = lower_extension(p);
  return e == ".png" || e == ".jpg" || e == ".jpeg";
}

// Regular files of `dir` (symlinks to files included) with a wanted extension, sorted by name. `labels.npy` is the
// labels of an evaluation folder (quant/accuracy_aware.hpp), never a sample.
std::vector<fs::path> list_files(const fs::path& dir, bool images) {
  std::error_code ec;
  CELER_CHECK(fs::is_directory(dir, ec), kInvalidArgument, "calibration data '", dir.string(), "' is not a folder");
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const fs::path& p = e.path();
    if (p.filename() == kLabelsFile) continue;
    if (lower_extension(p) == ".npy" || (images && is_image(p))) out.push_back(p);
  }
  CELER_CHECK(!ec, kIo, "cannot list the calibration folder '", dir.string(), "': ", ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// Rows [begin, begin + n) of dim 0 as a new tensor.
Tensor slice_rows(const Tensor& t, int64_t begin, int64_t n) {
  CELER_CHECK(t.type() != ElementType::kString, kUnsupported, "string calibration data is not supported");
  Dims dims = t.dims();
  const int64_t rows = dims[0];
  dims[0] = n;
  Tensor out(t.type(), dims);
  const size_t row_bytes = rows ? t.byte_size() / size_t(rows) : 0;
  if (row_bytes != 0 && n > 0)
    std::memcpy(out.raw(), static_cast<const char*>(t.raw()) + size_t(begin) * row_bytes, row_bytes * size_t(n));
  return out;
}

// The samples of one .npy file for input `p`, appended to `out` (at most `limit` in all, 0: no limit).
void split_samples(const Tensor& t, const PortInfo& p, const std::string& file, std::vector<Tensor>& out,
                   std::vector<std::string>& sources, int64_t limit) {
  CELER_CHECK(p.type == ElementType::kUndefined || t.type() == p.type, kInvalidArgument, "calibration file '", file,
              "' holds ", element_type_name(t.type()), " data, but input '", p.name, "' expects ",
              element_type_name(p.type));
  const int64_t rank = p.shape.rank();
  auto add = [&](Tensor s, const std::string& src) {
    CELER_CHECK(p.shape.accepts(s.dims()), kInvalidArgument, "calibration sample ", src, " has shape ",
                dims_to_string(s.dims()), ", which input '", p.name, "' (", p.shape.to_string(), ") does not accept");
    check_finite(s, src);
    out.push_back(std::move(s));
    sources.push_back(src);
  };
  auto full = [&] { return limit > 0 && int64_t(out.size()) >= limit; };
  if (rank >= 1 && t.rank() == rank - 1) {
    Dims d = t.dims();
    d.insert(d.begin(), 1);
    add(t.reshaped(d), file);
    return;
  }
  CELER_CHECK(rank < 0 || t.rank() == rank, kInvalidArgument, "calibration file '", file, "' has shape ",
              dims_to_string(t.dims()), " (rank ", t.rank(), "); input '", p.name, "' has rank ", rank,
              ": expected a batch of rank ", rank, " or one sample of rank ", rank - 1);
  if (t.rank() == 0) return add(t, file);
  const Dim& d0 = p.shape.rank() > 0 ? p.shape[0] : Dim();
  const int64_t step = d0.is_static() && d0.value() > 0 ? d0.value() : 1;
  CELER_CHECK(t.dim(0) % step == 0, kInvalidArgument, "calibration file '", file, "' holds ", t.dim(0),
              " rows, not a multiple of the model's batch size ", step);
  for (int64_t r = 0; r < t.dim(0) && !full(); r += step)
    add(slice_rows(t, r, step), file + "[" + std::to_string(r / step) + "]");
}

}  // namespace

void check_finite(const Tensor& t, const std::string& source) {
  auto check = [&](auto* p) {
    for (int64_t i = 0; i < t.size(); ++i)
      CELER_CHECK(std::isfinite(double(p[i])), kInvalidArgument, "calibration sample ", source, " holds ", double(p[i]),
                  " at element ", i, ": NaN and Inf are not allowed in calibration data");
  };
  if (t.type() == ElementType::kF32) check(t.data<float>());
  if (t.type() == ElementType::kF64) check(t.data<double>());
}

CalibrationSet load_calibration(const std::string& dir, const std::vector<PortInfo>& ports, const ImagePreprocess& pre,
                                int64_t limit) {
  CELER_CHECK(!ports.empty(), kInvalidArgument, "the model has no inputs to calibrate");
  CalibrationSet set;
  for (const auto& p : ports) set.input_names.push_back(p.name);
  std::vector<std::vector<Tensor>> per_input(ports.size());
  std::vector<std::vector<std::string>> sources(ports.size());
  for (size_t i = 0; i < ports.size(); ++i) {
    const PortInfo& p = ports[i];
    fs::path folder = dir;
    if (ports.size() > 1) {
      CELER_CHECK(p.name.find('/') == std::string::npos && p.name != "." && p.name != "..", kInvalidArgument, "input '",
                  p.name, "' cannot be a calibration subfolder name");
      folder /= p.name;
      std::error_code ec;
      CELER_CHECK(fs::is_directory(folder, ec), kInvalidArgument, "the model has ", ports.size(),
                  " inputs: calibration data for input '", p.name, "' must be in the folder '", folder.string(), "'");
    }
    const std::vector<fs::path> files = list_files(folder, ports.size() == 1);
    bool images = false, npys = false;
    for (const auto& f : files) (is_image(f) ? images : npys) = true;
    CELER_CHECK(!(images && npys), kInvalidArgument, "calibration folder '", folder.string(),
                "' mixes .npy files and images; use one kind");
    for (const auto& f : files) {
      if (limit > 0 && int64_t(per_input[i].size()) >= limit) break;
      if (images) {
        CELER_CHECK(p.shape.rank() == 4, kInvalidArgument, "images need a rank-4 model input; input '", p.name,
                    "' has shape ", p.shape.to_string());
        const Dim& cdim = p.shape[pre.nhwc ? 3 : 1];
        CELER_CHECK(cdim.is_static() && (cdim.value() == 1 || cdim.value() == 3), kInvalidArgument, "input '", p.name,
                    "' has shape ", p.shape.to_string(), ": images need 1 or 3 channels in dim ", pre.nhwc ? 3 : 1,
                    " (see --layout)");
        CELER_CHECK(p.type == ElementType::kF32 || p.type == ElementType::kUndefined, kInvalidArgument, "input '",
                    p.name, "' expects ", element_type_name(p.type), "; images give f32");
        Tensor t = image_to_tensor(read_image(f.string(), cdim.value() == 1), pre);
        split_samples(t, p, f.string(), per_input[i], sources[i], limit);
      } else {
        split_samples(npy::read(f.string()), p, f.string(), per_input[i], sources[i], limit);
      }
    }
    CELER_CHECK(!per_input[i].empty(), kInvalidArgument, "the calibration set is empty: no ",
                ports.size() == 1 ? ".npy files or images" : ".npy files", " in '", folder.string(), "'");
  }
  const size_t n = per_input[0].size();
  for (size_t i = 1; i < ports.size(); ++i)
    CELER_CHECK(per_input[i].size() == n, kInvalidArgument, "input '", ports[i].name, "' has ", per_input[i].size(),
                " calibration samples, input '", ports[0].name, "' has ", n, ": the counts must agree");
  set.samples.resize(n);
  for (size_t s = 0; s < n; ++s) {
    for (size_t i = 0; i < ports.size(); ++i) set.samples[s].push_back(std::move(per_input[i][s]));
    set.sources.push_back(sources[0][s]);
  }
  return set;
}

}  // namespace celer::quant
