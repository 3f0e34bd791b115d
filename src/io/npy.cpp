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
  size_t elem_size = 0;  // bytes per element in the file
  size_t swap_unit = 0;  // bytes per byte-swapped unit (0: no swapping; big-endian data on this little-endian host)
  char text_kind = 0;    // 'S' (bytes) or 'U' (UTF-32) for string arrays
  bool fortran = false;  // column-major data
  Dims dims;
};

struct DtypeSpec {
  const char* code;
  ElementType type;
};
constexpr DtypeSpec kDtypes[] = {
    {"f4", ElementType::kF32}, {"f2", ElementType::kF16},    {"f8", ElementType::kF64}, {"i1", ElementType::kI8},
    {"u1", ElementType::kU8},  {"i2", ElementType::kI16},    {"u2", ElementType::kU16}, {"i4", ElementType::kI32},
    {"u4", ElementType::kU32}, {"i8", ElementType::kI64},    {"u8", ElementType::kU64}, {"b1", ElementType::kBool},
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
    if (code.size() >= 2 && (code[0] == 'S' || code[0] == 'U') &&
        code.find_first_not_of("0123456789", 1) == std::string::npos && code.size() <= 10) {
      // Fixed-width strings: bytes ('S') or UTF-32 code points ('U'), padded with NULs.
      h.type = ElementType::kString;
      h.text_kind = code[0];
      h.elem_size = size_t(std::stoull(code.substr(1))) * (code[0] == 'U' ? 4 : 1);
      // Width 0 would let a tiny file announce billions of strings.
      if (h.elem_size == 0) fail("string dtype '" + descr + "' has width 0");
      h.swap_unit = order == '>' && code[0] == 'U' ? 4 : 0;
      return h;
    }
    for (const auto& d : kDtypes) {
      if (code == d.code) h.type = d.type;
    }
    if (h.type == ElementType::kUndefined)
      CELER_THROW(kUnsupported, "'", label_, "': unsupported .npy dtype '", descr,
                  "' (supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, bf16, S<n> and U<n>, any byte order)");
    h.elem_size = element_size(h.type);
    h.swap_unit = order == '>' && h.elem_size > 1 ? h.elem_size : 0;
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

void byte_swap(unsigned char* p, size_t bytes, size_t unit) {
  for (size_t i = 0; i + unit <= bytes; i += unit) std::reverse(p + i, p + i + unit);
}

// Copies column-major elements of shape `dims` from `in` to row-major order in `out`.
void fortran_to_c(const unsigned char* in, unsigned char* out, const Dims& dims, int64_t count, size_t elem_size) {
  const size_t rank = dims.size();
  std::vector<int64_t> fstride(rank), idx(rank, 0);
  int64_t s = 1;
  for (size_t k = 0; k < rank; ++k) {
    fstride[k] = s;
    s *= dims[k];
  }
  int64_t off = 0;  // source element offset of idx
  for (int64_t i = 0; i < count; ++i) {
    std::memcpy(out + size_t(i) * elem_size, in + size_t(off) * elem_size, elem_size);
    // Advance the C-order odometer (last dim fastest), keeping `off` in step.
    for (size_t k = rank; k-- > 0;) {
      if (++idx[k] < dims[k]) {
        off += fstride[k];
        break;
      }
      off -= fstride[k] * (idx[k] - 1);
      idx[k] = 0;
    }
  }
}

void append_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xc0 | (c >> 6));
    out += char(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += char(0xe0 | (c >> 12));
    out += char(0x80 | ((c >> 6) & 0x3f));
    out += char(0x80 | (c & 0x3f));
  } else {
    out += char(0xf0 | (c >> 18));
    out += char(0x80 | ((c >> 12) & 0x3f));
    out += char(0x80 | ((c >> 6) & 0x3f));
    out += char(0x80 | (c & 0x3f));
  }
}

// Fills a string tensor from fixed-width 'S' or 'U' elements (C order); trailing NULs are dropped, as numpy does.
void decode_strings(const unsigned char* data, const Header& h, Tensor& t, const std::string& label) {
  std::string* out = t.data<std::string>();
  for (int64_t i = 0; i < t.size(); ++i) {
    const unsigned char* e = data + size_t(i) * h.elem_size;
    if (h.text_kind == 'S') {
      size_t n = h.elem_size;
      while (n > 0 && e[n - 1] == 0) --n;
      out[i].assign(reinterpret_cast<const char*>(e), n);
      continue;
    }
    size_t n = h.elem_size / 4;
    while (n > 0 && read_le(e + 4 * (n - 1), 4) == 0) --n;
    for (size_t k = 0; k < n; ++k) {
      uint32_t c = read_le(e + 4 * k, 4);
      if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        CELER_THROW(kParse, "'", label, "': element ", i, " holds the invalid code point ", c);
      append_utf8(out[i], c);
    }
  }
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
    CELER_THROW(kLimitExceeded, "'", label, "': the .npy header claims ", header_len, " bytes (limit ", kMaxHeaderBytes,
                ")");
  if (data_offset > total)
    CELER_THROW(kParse, "'", label, "': not a valid .npy file: truncated header (", header_len, " bytes announced, ",
                total - 8 - len_bytes, " present)");
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
  const std::string type_name =
      h.text_kind ? std::string(1, h.text_kind) + std::to_string(h.text_kind == 'U' ? h.elem_size / 4 : h.elem_size)
                  : std::string(element_type_name(h.type));
  if (__builtin_mul_overflow(count, int64_t(h.elem_size), &bytes) || bytes > kMaxTensorBytes)
    CELER_THROW(kLimitExceeded, "'", label, "': shape ", dims_to_string(h.dims), " of ", type_name,
                " exceeds the tensor size limit of ", kMaxTensorBytes, " bytes");
  const size_t present = total - data_offset;
  if (present != size_t(bytes))
    CELER_THROW(kParse, "'", label, "': the header's shape ", dims_to_string(h.dims), " of ", type_name, " needs ",
                bytes, " bytes of data, but the file holds ", present,
                present < size_t(bytes) ? " (truncated)" : " (trailing bytes)");

  Tensor t(h.type, h.dims);  // checks the size limit (strings need more memory than their bytes in the file)
  if (bytes == 0) return t;
  // Numbers in C order are read in place; the rest goes through a buffer.
  const bool direct = h.type != ElementType::kString && !(h.fortran && h.dims.size() > 1);
  std::vector<unsigned char> buffer(direct ? 0 : size_t(bytes));
  unsigned char* data = direct ? static_cast<unsigned char*>(t.raw()) : buffer.data();
  read_at(data_offset, size_t(bytes), data);
  if (h.swap_unit) byte_swap(data, size_t(bytes), h.swap_unit);
  if (h.type == ElementType::kBool) {
    // Any non-zero byte is true; a C++ bool must hold exactly 0 or 1.
    for (int64_t i = 0; i < count; ++i) data[i] = data[i] != 0;
  }
  if (h.fortran && h.dims.size() > 1) {
    if (h.type != ElementType::kString) {
      fortran_to_c(data, static_cast<unsigned char*>(t.raw()), h.dims, count, h.elem_size);
      return t;
    }
    std::vector<unsigned char> c_order(static_cast<size_t>(bytes));
    fortran_to_c(data, c_order.data(), h.dims, count, h.elem_size);
    buffer.swap(c_order);
    data = buffer.data();
  }
  if (h.type == ElementType::kString) decode_strings(data, h, t, label);
  return t;
}

// The width of the '|S<n>' dtype of a string tensor: its longest string (at least 1, like numpy).
size_t string_width(const Tensor& t) {
  size_t width = 1;
  const std::string* p = t.data<std::string>();
  for (int64_t i = 0; i < t.size(); ++i) width = std::max(width, p[i].size());
  return width;
}

std::string descr_for(const Tensor& t) {
  return t.type() == ElementType::kString ? "|S" + std::to_string(string_width(t)) : descr_of(t.type());
}

std::string format_header(const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.dims().size(); ++i) shape += (i ? ", " : "") + std::to_string(t.dims()[i]);
  if (t.dims().size() == 1) shape += ",";
  shape += ")";
  return "{'descr': '" + descr_for(t) + "', 'fortran_order': False, 'shape': " + shape + ", }";
}

// Passes the data bytes of a tensor to `sink` (strings as NUL-padded fixed-width bytes).
void emit_data(const Tensor& t, const std::function<void(const char*, size_t)>& sink) {
  if (t.type() != ElementType::kString) {
    if (t.byte_size() > 0) sink(static_cast<const char*>(t.raw()), t.byte_size());
    return;
  }
  const size_t width = string_width(t);
  const std::string pad(width, '\0');
  const std::string* p = t.data<std::string>();
  for (int64_t i = 0; i < t.size(); ++i) {
    sink(p[i].data(), p[i].size());
    sink(pad.data(), width - p[i].size());
  }
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
  if (t.type() == ElementType::kString) {
    int64_t bytes = 0;
    CELER_CHECK(!__builtin_mul_overflow(int64_t(string_width(t)), t.size(), &bytes) && bytes <= kMaxTensorBytes,
                kLimitExceeded, "a string tensor of shape ", dims_to_string(t.dims()),
                " is too large for a fixed-width .npy array");
  } else {
    (void)descr_of(t.type());
  }
}

}  // namespace

std::string descr_of(ElementType type) {
  switch (type) {
    case ElementType::kF32:
      return "<f4";
    case ElementType::kF16:
      return "<f2";
    case ElementType::kBF16:
      return "<bf16";
    case ElementType::kF64:
      return "<f8";
    case ElementType::kI8:
      return "|i1";
    case ElementType::kU8:
      return "|u1";
    case ElementType::kI16:
      return "<i2";
    case ElementType::kU16:
      return "<u2";
    case ElementType::kI32:
      return "<i4";
    case ElementType::kU32:
      return "<u4";
    case ElementType::kI64:
      return "<i8";
    case ElementType::kU64:
      return "<u8";
    case ElementType::kBool:
      return "|b1";
    default:
      break;
  }
  CELER_THROW(kUnsupported, "element type ", element_type_name(type), " has no fixed .npy dtype",
              type == ElementType::kString ? " (string tensors are written as '|S<longest string>')" : "");
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
  emit_data(t, [&](const char* p, size_t n) { out.append(p, n); });
  return out;
}

void write(const std::string& path, const Tensor& t) {
  check_writable(t);
  const std::string pre = preamble(t);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) CELER_THROW(kIo, "cannot write '", path, "': ", std::strerror(errno));
  f.write(pre.data(), std::streamsize(pre.size()));
  emit_data(t, [&](const char* p, size_t n) { f.write(p, std::streamsize(n)); });
  f.close();
  if (!f) CELER_THROW(kIo, "cannot write '", path, "': write error (disk full?)");
}

}  // namespace celer::npy
