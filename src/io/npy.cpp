#include "io/npy.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

namespace celer::npy {

static_assert(std::endian::native == std::endian::little, "the .npy reader and writer assume a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kMaxHeaderBytes = size_t(1) << 20;  // numpy itself refuses headers over 10000 bytes by default
constexpr size_t kMaxRank = 64;

// What the header says.
struct Header {
  ElementType type = ElementType::kUndefined;
  size_t elem_size = 0;
  bool swap = false;     // big-endian data on this little-endian host
  bool fortran = false;  // column-major data
  Dims dims;
};

struct DtypeSpec {
  const char* code;
  ElementType type;
};
constexpr DtypeSpec kDtypes[] = {
    {"f4", ElementType::kF32}, {"f2", ElementType::kF16}, {"f8", ElementType::kF64},  {"i1", ElementType::kI8},
    {"u1", ElementType::kU8},  {"i2", ElementType::kI16}, {"u2", ElementType::kU16},  {"i4", ElementType::kI32},
    {"u4", ElementType::kU32}, {"i8", ElementType::kI64}, {"u8", ElementType::kU64},  {"b1", ElementType::kBool},
    {"?", ElementType::kBool}, {"bf16", ElementType::kBF16},
};

// A parser for the Python dict literal of a .npy header:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& label) : s_(text), label_(label) {}

  Header parse() {
    std::optional<std::string> descr;
    std::optional<bool> fortran;
    std::optional<Dims> shape;
    skip_ws();
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          fail("unsupported dtype: 'descr' is not a plain type string (structured dtypes are not supported)");
        set_once(descr, parse_string(), key);
      } else if (key == "fortran_order") {
        set_once(fortran, parse_bool(), key);
      } else if (key == "shape") {
        set_once(shape, parse_tuple(), key);
      } else {
        fail("unexpected key '" + key + "' in the header");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}' in the header");
    }
    ++pos_;
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the header's closing '}'");
    if (!descr) fail("the header has no 'descr' key");
    if (!fortran) fail("the header has no 'fortran_order' key");
    if (!shape) fail("the header has no 'shape' key");
    Header h = dtype(*descr);
    h.fortran = *fortran;
    h.dims = std::move(*shape);
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    CELER_THROW(kParse, "'", label_, "': not a valid .npy file: ", what);
  }
  char peek() const {
    if (pos_ >= s_.size()) fail("the header ends early");
    return s_[pos_];
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "' at offset " + std::to_string(pos_) + " of the header");
    ++pos_;
  }
  template <typename T, typename V>
  void set_once(std::optional<T>& slot, V&& v, const std::string& key) {
    if (slot) fail("the header repeats the key '" + key + "'");
    slot = std::forward<V>(v);
  }
  std::string parse_string() {
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string at offset " + std::to_string(pos_) + " of the header");
    ++pos_;
    std::string out;
    while (peek() != q) {
      if (peek() == '\\') fail("escape sequences are not supported in the header");
      out += s_[pos_++];
      if (out.size() > 64) fail("a string in the header is too long");
    }
    ++pos_;
    return out;
  }
  bool parse_bool() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("'fortran_order' must be True or False");
  }
  Dims parse_tuple() {
    expect('(');
    Dims dims;
    while (true) {
      skip_ws();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("'shape' must be a tuple of non-negative integers");
      int64_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        if (__builtin_mul_overflow(v, int64_t(10), &v) || __builtin_add_overflow(v, int64_t(s_[pos_] - '0'), &v))
          CELER_THROW(kLimitExceeded, "'", label_, "': a dimension of 'shape' overflows 64 bits");
        ++pos_;
      }
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long literals
      dims.push_back(v);
      if (dims.size() > kMaxRank)
        CELER_THROW(kLimitExceeded, "'", label_, "': 'shape' has more than ", kMaxRank, " dimensions");
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')' in 'shape'");
    }
    ++pos_;
    return dims;
  }
  Header dtype(const std::string& descr) const {
    Header h;
    std::string code = descr;
    char order = '|';
    if (descr == "bfloat16") {
      code = "bf16";
    } else if (!descr.empty() && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=')) {
      order = descr[0];
      code = descr.substr(1);
    }
    for (const auto& d : kDtypes) {
      if (code == d.code) h.type = d.type;
    }
    if (h.type == ElementType::kUndefined)
      CELER_THROW(kUnsupported, "'", label_, "': unsupported .npy dtype '", descr,
                  "' (supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 and bf16, any byte order)");
    h.elem_size = element_size(h.type);
    h.swap = order == '>' && h.elem_size > 1;
    return h;
  }

  std::string_view s_;
  const std::string& label_;
  size_t pos_ = 0;
};

uint32_t read_le(const unsigned char* p, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint32_t(p[i]) << (8 * i);
  return v;
}

// Reads `n` bytes at `offset` of the source into `dst` (the caller checked that they exist).
using ReadFn = std::function<void(size_t offset, size_t n, void* dst)>;

void byte_swap(void* data, int64_t count, size_t elem_size) {
  auto* p = static_cast<unsigned char*>(data);
  for (int64_t i = 0; i < count; ++i, p += elem_size) std::reverse(p, p + elem_size);
}

// Converts column-major data to row-major.
Tensor fortran_to_c(const Tensor& src, size_t elem_size) {
  Tensor dst(src.type(), src.dims());
  const size_t rank = src.dims().size();
  std::vector<int64_t> fstride(rank), idx(rank, 0);
  int64_t s = 1;
  for (size_t k = 0; k < rank; ++k) {
    fstride[k] = s;
    s *= src.dims()[k];
  }
  const auto* in = static_cast<const unsigned char*>(src.raw());
  auto* out = static_cast<unsigned char*>(dst.raw());
  int64_t off = 0;  // source element offset of idx
  for (int64_t i = 0; i < src.size(); ++i) {
    std::memcpy(out + size_t(i) * elem_size, in + size_t(off) * elem_size, elem_size);
    // Advance the C-order odometer (last dim fastest), keeping `off` in step.
    for (size_t k = rank; k-- > 0;) {
      if (++idx[k] < src.dims()[k]) {
        off += fstride[k];
        break;
      }
      off -= fstride[k] * (idx[k] - 1);
      idx[k] = 0;
    }
  }
  return dst;
}

Tensor load(size_t total, const ReadFn& read_at, const std::string& label) {
  unsigned char pre[12];
  if (total < 10) CELER_THROW(kParse, "'", label, "': not a valid .npy file: only ", total, " bytes");
  read_at(0, 10, pre);
  if (std::memcmp(pre, kMagic, kMagicSize) != 0)
    CELER_THROW(kParse, "'", label, "': not a .npy file (the magic string \\x93NUMPY is missing)");
  const int major = pre[6], minor = pre[7];
  if (major < 1 || major > 3 || minor != 0)
    CELER_THROW(kUnsupported, "'", label, "': unsupported .npy format version ", major, ".", minor,
                " (supported: 1.0, 2.0, 3.0)");
  const size_t len_bytes = major == 1 ? 2 : 4;
  if (total < 8 + len_bytes) CELER_THROW(kParse, "'", label, "': not a valid .npy file: truncated preamble");
  if (len_bytes == 4) read_at(10, 2, pre + 10);
  const size_t header_len = read_le(pre + 8, len_bytes);
  const size_t data_offset = 8 + len_bytes + header_len;
  if (header_len > kMaxHeaderBytes)
    CELER_THROW(kLimitExceeded, "'", label, "': the .npy header claims ", header_len, " bytes (limit ",
                kMaxHeaderBytes, ")");
  if (data_offset > total)
    CELER_THROW(kParse, "'", label, "': not a valid .npy file: truncated header (", header_len,
                " bytes announced, ", total - 8 - len_bytes, " present)");
  std::string text(header_len, '\0');
  read_at(8 + len_bytes, header_len, text.data());
  if (major < 3) {
    for (char c : text) {
      if (static_cast<unsigned char>(c) >= 0x80 || c == '\0')
        CELER_THROW(kParse, "'", label, "': not a valid .npy file: non-ASCII bytes in the header");
    }
  }
  Header h = HeaderParser(text, label).parse();

  int64_t count = 0;
  try {
    count = element_count(h.dims);
  } catch (const Error& e) {
    CELER_THROW(kLimitExceeded, "'", label, "': shape ", dims_to_string(h.dims), ": ", e.what());
  }
  int64_t bytes = 0;
  if (__builtin_mul_overflow(count, int64_t(h.elem_size), &bytes) || bytes > kMaxTensorBytes)
    CELER_THROW(kLimitExceeded, "'", label, "': shape ", dims_to_string(h.dims), " of ", element_type_name(h.type),
                " exceeds the tensor size limit of ", kMaxTensorBytes, " bytes");
  const size_t present = total - data_offset;
  if (present != size_t(bytes))
    CELER_THROW(kParse, "'", label, "': the header's shape ", dims_to_string(h.dims), " of ",
                element_type_name(h.type), " needs ", bytes, " bytes of data, but the file holds ", present,
                present < size_t(bytes) ? " (truncated)" : " (trailing bytes)");

  Tensor t(h.type, h.dims);
  if (bytes > 0) read_at(data_offset, size_t(bytes), t.raw());
  if (h.type == ElementType::kBool) {
    // Any non-zero byte is true; a C++ bool must hold exactly 0 or 1.
    auto* p = static_cast<unsigned char*>(t.raw());
    for (int64_t i = 0; i < count; ++i) p[i] = p[i] != 0;
  }
  if (h.swap) byte_swap(t.raw(), count, h.elem_size);
  if (h.fortran && h.dims.size() > 1 && count > 0) t = fortran_to_c(t, h.elem_size);
  return t;
}

std::string format_header(const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.dims().size(); ++i) shape += (i ? ", " : "") + std::to_string(t.dims()[i]);
  if (t.dims().size() == 1) shape += ",";
  shape += ")";
  return "{'descr': '" + descr_of(t.type()) + "', 'fortran_order': False, 'shape': " + shape + ", }";
}

// Magic, version, header length, padded header (total a multiple of 64, ending in '\n').
std::string preamble(const Tensor& t) {
  std::string header = format_header(t);
  int major = 1;
  size_t len_bytes = 2;
  auto padded = [&] {
    size_t unpadded = 8 + len_bytes + header.size() + 1;
    return header.size() + 1 + (64 - unpadded % 64) % 64;
  };
  if (padded() > 0xffff) {
    major = 2;
    len_bytes = 4;
  }
  const size_t hlen = padded();
  std::string out(kMagic, kMagicSize);
  out += char(major);
  out += char(0);
  for (size_t i = 0; i < len_bytes; ++i) out += char((hlen >> (8 * i)) & 0xff);
  out += header;
  out.append(hlen - header.size() - 1, ' ');
  out += '\n';
  return out;
}

void check_writable(const Tensor& t) {
  CELER_CHECK(!t.empty(), kInvalidArgument, "cannot write an empty (typeless) tensor as .npy");
  (void)descr_of(t.type());
}

}  // namespace

std::string descr_of(ElementType type) {
  switch (type) {
    case ElementType::kF32: return "<f4";
    case ElementType::kF16: return "<f2";
    case ElementType::kBF16: return "<bf16";
    case ElementType::kF64: return "<f8";
    case ElementType::kI8: return "|i1";
    case ElementType::kU8: return "|u1";
    case ElementType::kI16: return "<i2";
    case ElementType::kU16: return "<u2";
    case ElementType::kI32: return "<i4";
    case ElementType::kU32: return "<u4";
    case ElementType::kI64: return "<i8";
    case ElementType::kU64: return "<u8";
    case ElementType::kBool: return "|b1";
    default: break;
  }
  CELER_THROW(kUnsupported, "element type ", element_type_name(type), " cannot be stored in a .npy file");
}

Tensor parse(std::string_view bytes, const std::string& label) {
  return load(
      bytes.size(), [&](size_t off, size_t n, void* dst) { std::memcpy(dst, bytes.data() + off, n); }, label);
}

Tensor read(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) CELER_THROW(kIo, "cannot read '", path, "': it is a directory");
  std::ifstream f(path, std::ios::binary);
  if (!f) CELER_THROW(kIo, "cannot open '", path, "': ", std::strerror(errno));
  f.seekg(0, std::ios::end);
  const std::streamoff end = f.tellg();
  if (end < 0) CELER_THROW(kIo, "cannot read '", path, "': not a seekable file");
  f.seekg(0);
  return load(
      size_t(end),
      [&](size_t off, size_t n, void* dst) {
        f.seekg(std::streamoff(off));
        f.read(static_cast<char*>(dst), std::streamsize(n));
        if (!f || size_t(f.gcount()) != n) CELER_THROW(kIo, "cannot read '", path, "': read error at offset ", off);
      },
      path);
}

std::string serialize(const Tensor& t) {
  check_writable(t);
  std::string out = preamble(t);
  out.append(static_cast<const char*>(t.raw()), t.byte_size());
  return out;
}

void write(const std::string& path, const Tensor& t) {
  check_writable(t);
  const std::string pre = preamble(t);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) CELER_THROW(kIo, "cannot write '", path, "': ", std::strerror(errno));
  f.write(pre.data(), std::streamsize(pre.size()));
  if (t.byte_size() > 0) f.write(static_cast<const char*>(t.raw()), std::streamsize(t.byte_size()));
  f.close();
  if (!f) CELER_THROW(kIo, "cannot write '", path, "': write error (disk full?)");
}

}  // namespace celer::npy
