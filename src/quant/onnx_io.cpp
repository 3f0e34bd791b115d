#include "quant/onnx_io.hpp"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "onnx/importer.hpp"
#include "onnx/onnx_tensor.hpp"

namespace celer::quant {

namespace fs = std::filesystem;

onnx::ModelProto load_model_inline(const std::string& path) {
  struct stat st;
  CELER_CHECK(stat(path.c_str(), &st) == 0, kIo, "cannot open model '", path, "': no such file");
  CELER_CHECK(S_ISREG(st.st_mode), kIo, "cannot open model '", path, "': not a regular file");
  CELER_CHECK(int64_t(st.st_size) <= kMaxModelFileBytes, kLimitExceeded, "model '", path,
              "' is larger than the 2 GiB protobuf limit");
  std::string bytes = read_file(path);
  std::string dir = fs::path(path).parent_path().string();
  return parse_model_inline(bytes, dir.empty() ? "." : dir, path);
}

std::string read_file(const std::string& path) {
  struct stat st;
  CELER_CHECK(stat(path.c_str(), &st) == 0, kIo, "cannot open '", path, "': no such file");
  CELER_CHECK(S_ISREG(st.st_mode), kIo, "cannot open '", path, "': not a regular file");
  CELER_CHECK(int64_t(st.st_size) <= kMaxModelFileBytes, kLimitExceeded, "'", path,
              "' is larger than the 2 GiB protobuf limit");
  std::ifstream f(path, std::ios::binary);
  CELER_CHECK(f, kIo, "cannot open '", path, "': ", std::strerror(errno));
  std::string bytes(size_t(st.st_size), '\0');
  f.read(bytes.data(), std::streamsize(bytes.size()));
  CELER_CHECK(f.gcount() == std::streamsize(bytes.size()), kIo, "cannot read '", path, "'");
  return bytes;
}

onnx::ModelProto parse_model_inline(std::string_view bytes, const std::string& weights_dir, const std::string& label) {
  CELER_CHECK(int64_t(bytes.size()) <= kMaxModelFileBytes, kLimitExceeded, "model '", label,
              "' is larger than the 2 GiB protobuf limit");
  onnx::ModelProto m;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), int(bytes.size()));
  in.SetRecursionLimit(kMaxProtoNesting);
  in.SetTotalBytesLimit(int(kMaxModelFileBytes));
  CELER_CHECK(m.ParseFromCodedStream(&in) && in.ConsumedEntireMessage(), kParse, "cannot parse '", label,
              "' as an ONNX model");
  int64_t inline_bytes = int64_t(bytes.size());
  for (auto& init : *m.mutable_graph()->mutable_initializer()) {
    if (init.data_location() != onnx::TensorProto::EXTERNAL) continue;
    const std::string what = "initializer '" + init.name() + "'";
    Tensor t = read_onnx_tensor(init, weights_dir, what);
    inline_bytes += int64_t(t.byte_size());
    CELER_CHECK(inline_bytes < kMaxModelFileBytes, kLimitExceeded, "model '", label,
                "': with its external data inline it would pass the 2 GiB protobuf limit; quantizing models that "
                "large is not supported");
    set_tensor(init, init.name(), t);
  }
  return m;
}

Tensor tensor_of(const onnx::TensorProto& t, const std::string& what) { return read_onnx_tensor(t, "", what); }

void set_tensor(onnx::TensorProto& t, const std::string& name_in, const Tensor& value) {
  const std::string name = name_in;  // may refer to t's own name
  t.Clear();
  t.set_name(name);
  const int dt = onnx_data_type_of(value.type());
  CELER_CHECK(dt != onnx::TensorProto::UNDEFINED && value.type() != ElementType::kString, kInternal, "cannot store a ",
              element_type_name(value.type()), " tensor");
  t.set_data_type(dt);
  for (int64_t d : value.dims()) t.add_dims(d);
  t.set_raw_data(static_cast<const char*>(value.raw()), value.byte_size());
}

int64_t default_opset(const onnx::ModelProto& m) {
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  return 0;
}

std::string serialize_model(const onnx::ModelProto& m) {
  const size_t size = m.ByteSizeLong();
  CELER_CHECK(int64_t(size) <= kMaxModelFileBytes, kLimitExceeded, "the quantized model would take ", size,
              " bytes, over the 2 GiB protobuf limit");
  std::string out;
  CELER_CHECK(m.SerializeToString(&out), kInternal, "cannot serialise the quantized model");
  return out;
}

namespace {

// realpath of an existing folder, or an error naming it.
std::string real_folder(const fs::path& dir, const std::string& what) {
  char buf[PATH_MAX];
  CELER_CHECK(realpath(dir.c_str(), buf), kIo, what, " '", dir.string(), "' does not exist");
  struct stat st;
  CELER_CHECK(stat(buf, &st) == 0 && S_ISDIR(st.st_mode), kIo, what, " '", dir.string(), "' is not a folder");
  return buf;
}

bool inside(const std::string& path, const std::string& base) {
  return path == base || (path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
                          (base == "/" || path[base.size()] == '/'));
}

}  // namespace

std::string resolve_output_path(const std::string& output, const std::string& output_dir, const std::string& input) {
  CELER_CHECK(!output.empty(), kInvalidArgument, "-o: the output path is empty");
  fs::path out(output);
  CELER_CHECK(out.has_filename() && out.filename() != "." && out.filename() != "..", kInvalidArgument, "-o '", output,
              "': not a file name");
  if (!output_dir.empty()) {
    const std::string base = real_folder(output_dir, "--output-dir");
    if (out.is_relative()) out = fs::path(output_dir) / out;
    // Resolve the folder the file goes to (symlinks included) and require it inside the output folder.
    const std::string folder =
        real_folder(out.parent_path().empty() ? fs::path(".") : out.parent_path(), "the output's folder");
    CELER_CHECK(inside(folder, base), kInvalidArgument, "-o '", output, "' is outside --output-dir '", output_dir,
                "' (resolves to '", folder, "')");
    out = fs::path(folder) / out.filename();
  } else {
    const std::string folder =
        real_folder(out.parent_path().empty() ? fs::path(".") : out.parent_path(), "the output's folder");
    out = fs::path(folder) / out.filename();
  }
  struct stat so;
  if (lstat(out.c_str(), &so) == 0) {
    CELER_CHECK(!S_ISLNK(so.st_mode), kInvalidArgument, "-o '", output,
                "' is a symbolic link; refusing to replace it (remove it or choose another name)");
    CELER_CHECK(S_ISREG(so.st_mode), kInvalidArgument, "-o '", output, "' exists and is not a regular file");
    struct stat si;
    CELER_CHECK(!(stat(input.c_str(), &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino), kInvalidArgument,
                "-o '", output, "' is the input model; choose another output path");
  }
  return out.string();
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const fs::path p(path);
  std::string tmpl = (p.parent_path() / ("." + p.filename().string() + ".tmp.XXXXXX")).string();
  int fd = mkstemp(tmpl.data());
  CELER_CHECK(fd >= 0, kIo, "cannot create a temporary file beside '", path, "': ", std::strerror(errno));
  const std::string tmp = tmpl;
  auto fail = [&](const std::string& what) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    CELER_THROW(kIo, "cannot write '", path, "': ", what, ": ", err);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write failed");
    done += size_t(n);
  }
  if (::fchmod(fd, 0644) != 0) fail("chmod failed");
  if (::fsync(fd) != 0) fail("fsync failed");
  if (::close(fd) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    CELER_THROW(kIo, "cannot write '", path, "': close failed: ", err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    CELER_THROW(kIo, "cannot write '", path, "': rename failed: ", err);
  }
}

int64_t int_attr(const onnx::NodeProto& n, const std::string& name, int64_t def) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return def;
}

float float_attr(const onnx::NodeProto& n, const std::string& name, float def) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.f();
  return def;
}

void remove_initializers(onnx::GraphProto& g, std::vector<int> indices) {
  // Largest index first: swapping the last element into a removed slot leaves the smaller indices valid.
  std::sort(indices.begin(), indices.end(), std::greater<int>());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  std::set<std::string> removed;
  for (int i : indices) {
    removed.insert(g.initializer(i).name());
    g.mutable_initializer()->SwapElements(i, g.initializer_size() - 1);
    g.mutable_initializer()->RemoveLast();
  }
  for (int i = g.input_size() - 1; i >= 0; --i)
    if (removed.count(g.input(i).name())) g.mutable_input()->DeleteSubrange(i, 1);
}

}  // namespace celer::quant
