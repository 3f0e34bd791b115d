#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "celer/celer.hpp"
#include "core/dispatch.hpp"
#include "io/npy.hpp"

using namespace celer;
namespace fs = std::filesystem;

namespace {

// A fresh temporary folder per test, removed afterwards.
class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("celer_npy_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_file(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  fs::path dir_;
};

// .npy bytes with the given header dict and raw data (header padded like numpy does).
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((8 + len_bytes + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += char(major);
  out += char(0);
  for (size_t i = 0; i < len_bytes; ++i) out += char((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

template <typename T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Big-endian bytes of each value.
template <typename T>
std::string big_endian_bytes(const std::vector<T>& v) {
  std::string out;
  for (const T& x : v) {
    char b[sizeof(T)];
    std::memcpy(b, &x, sizeof(T));
    for (size_t i = sizeof(T); i-- > 0;) out += b[i];
  }
  return out;
}

// Tensor with values 0, 1, 2, ... (mod a small number for narrow types); bools alternate.
Tensor iota(ElementType type, const Dims& dims) {
  Tensor t(type, dims);
  dispatch_numeric(type, [&]<typename T>() {
    for (int64_t i = 0; i < t.size(); ++i) {
      if constexpr (std::is_same_v<T, bool>) {
        t.data<T>()[i] = i % 3 == 0;
      } else {
        t.data<T>()[i] = T(float(i % 100) - (is_signed(type) || is_float(type) ? 50.0f : 0.0f));
      }
    }
  });
  return t;
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.type(), b.type());
  ASSERT_EQ(a.dims(), b.dims());
  ASSERT_EQ(a.byte_size(), b.byte_size());
  if (a.byte_size()) {
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.byte_size()), 0);
  }
}

// Expects an Error whose message contains every fragment.
template <typename F>
void expect_error(F&& f, ErrorCode code, std::initializer_list<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& s : fragments) EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what();
  }
}

const ElementType kAllTypes[] = {ElementType::kF32, ElementType::kF16, ElementType::kBF16, ElementType::kF64,
                                 ElementType::kI8,  ElementType::kU8,  ElementType::kI16,  ElementType::kU16,
                                 ElementType::kI32, ElementType::kU32, ElementType::kI64,  ElementType::kU64,
                                 ElementType::kBool};

}  // namespace

TEST_F(NpyTest, RoundTripsEveryTypeThroughFilesAndMemory) {
  for (ElementType type : kAllTypes) {
    for (const Dims& dims : {Dims{2, 3}, Dims{}, Dims{0}, Dims{3, 0, 2}, Dims{5}, Dims{2, 1, 2, 3}}) {
      SCOPED_TRACE(std::string(element_type_name(type)) + dims_to_string(dims));
      Tensor t = iota(type, dims);
      const std::string file = path("t.npy");
      npy::write(file, t);
      expect_same(npy::read(file), t);
      std::string bytes = npy::serialize(t);
      expect_same(npy::parse(bytes), t);
      // Version 1.0, header padded to a multiple of 64 bytes and ending in a newline.
      EXPECT_EQ(bytes[6], 1);
      size_t header_len = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
      EXPECT_EQ((10 + header_len) % 64, 0u);
      EXPECT_EQ(bytes[10 + header_len - 1], '\n');
    }
  }
}

TEST_F(NpyTest, WritesNumpyStyleHeaders) {
  std::string bytes = npy::serialize(Tensor::from_vector<float>({1, 2, 3}, {3}));
  EXPECT_NE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"), std::string::npos);
  bytes = npy::serialize(Tensor::scalar<int64_t>(7));
  EXPECT_NE(bytes.find("'shape': ()"), std::string::npos);
  bytes = npy::serialize(Tensor::from_vector<bool>({true, false}, {1, 2}));
  EXPECT_NE(bytes.find("'descr': '|b1'"), std::string::npos);
  EXPECT_NE(bytes.find("'shape': (1, 2)"), std::string::npos);
}

TEST_F(NpyTest, WritesVersion2WhenTheHeaderIsLong) {
  // Only a tensor of absurd rank needs a header over 64 KiB; numpy would not read it back either (rank > 64).
  std::string bytes = npy::serialize(Tensor(ElementType::kU8, Dims(30000, 1)));
  EXPECT_EQ(bytes[6], 2);
  size_t header_len = 0;
  for (int i = 0; i < 4; ++i) header_len |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
  EXPECT_EQ((12 + header_len) % 64, 0u);
  EXPECT_EQ(bytes.size(), 12 + header_len + 1);
  expect_error([&] { npy::parse(bytes, "rank.npy"); }, ErrorCode::kLimitExceeded, {"rank.npy", "64"});
}

TEST_F(NpyTest, ReadsVersions2And3AndDoubleQuotes) {
  std::string data = raw_bytes<int32_t>({1, 2, 3, 4});
  for (int major : {1, 2, 3}) {
    Tensor t = npy::parse(make_npy("{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2, 2)}", data, major));
    EXPECT_EQ(t.dims(), (Dims{2, 2}));
    EXPECT_EQ(t.data<int32_t>()[3], 4);
  }
  expect_error([&] { npy::parse(make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", data, 4)); },
               ErrorCode::kUnsupported, {"version 4.0"});
  // Python 2 long literals.
  Tensor t = npy::parse(make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 2L), }", data));
  EXPECT_EQ(t.dims(), (Dims{2, 2}));
}

TEST_F(NpyTest, ConvertsBigEndian) {
  Tensor a = npy::parse(make_npy("{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }",
                                 big_endian_bytes<int32_t>({1, -2, 0x01020304})));
  EXPECT_EQ(a.type(), ElementType::kI32);
  EXPECT_EQ(a.data<int32_t>()[0], 1);
  EXPECT_EQ(a.data<int32_t>()[1], -2);
  EXPECT_EQ(a.data<int32_t>()[2], 0x01020304);
  Tensor b = npy::parse(
      make_npy("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", big_endian_bytes<double>({1.5, -1e300})));
  EXPECT_EQ(b.data<double>()[0], 1.5);
  EXPECT_EQ(b.data<double>()[1], -1e300);
  Tensor c = npy::parse(make_npy("{'descr': '>f2', 'fortran_order': False, 'shape': (1,), }",
                                 big_endian_bytes<uint16_t>({float16::from_float(2.5f)})));
  EXPECT_EQ(float(c.data<float16>()[0]), 2.5f);
  Tensor d = npy::parse(make_npy("{'descr': '>u8', 'fortran_order': False, 'shape': (), }",
                                 big_endian_bytes<uint64_t>({0x0102030405060708ull})));
  EXPECT_EQ(d.data<uint64_t>()[0], 0x0102030405060708ull);
  // One-byte types in any byte order.
  Tensor e = npy::parse(make_npy("{'descr': '>i1', 'fortran_order': False, 'shape': (1,), }", std::string(1, '\xff')));
  EXPECT_EQ(e.data<int8_t>()[0], -1);
}

TEST_F(NpyTest, ConvertsFortranOrder) {
  // C index (i, j, k) of a [2,3,4] array holds 100i + 10j + k; Fortran order stores i fastest.
  std::vector<int16_t> f(24);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) f[size_t(i + 2 * (j + 3 * k))] = int16_t(100 * i + 10 * j + k);
  Tensor t = npy::parse(make_npy("{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3, 4), }", raw_bytes(f)));
  ASSERT_EQ(t.dims(), (Dims{2, 3, 4}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(t.data<int16_t>()[(i * 3 + j) * 4 + k], 100 * i + 10 * j + k);
  // Big-endian and Fortran order together.
  Tensor u = npy::parse(
      make_npy("{'descr': '>f4', 'fortran_order': True, 'shape': (2, 2), }", big_endian_bytes<float>({1, 3, 2, 4})));
  EXPECT_EQ(u.data<float>()[1], 2.0f);
  EXPECT_EQ(u.data<float>()[2], 3.0f);
  // 1-d, 0-d and empty arrays are the same in both orders.
  EXPECT_EQ(npy::parse(make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (0, 3), }", "")).dims(),
            (Dims{0, 3}));
}

TEST_F(NpyTest, NormalisesBoolBytesAndReadsBf16) {
  Tensor t =
      npy::parse(make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\0\1\7", 3)));
  EXPECT_FALSE(t.data<bool>()[0]);
  EXPECT_TRUE(t.data<bool>()[1]);
  EXPECT_TRUE(t.data<bool>()[2]);
  std::string bf = raw_bytes<uint16_t>({bfloat16::from_float(1.0f), bfloat16::from_float(-3.0f)});
  for (const char* descr : {"<bf16", "bfloat16"}) {
    Tensor b =
        npy::parse(make_npy(std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (2,), }", bf));
    EXPECT_EQ(b.type(), ElementType::kBF16);
    EXPECT_EQ(float(b.data<bfloat16>()[1]), -3.0f);
  }
}

TEST_F(NpyTest, RejectsTruncatedFiles) {
  std::string good = npy::serialize(Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}));
  write_file("short.npy", good.substr(0, good.size() - 1));
  expect_error([&] { npy::read(path("short.npy")); }, ErrorCode::kParse, {"short.npy", "truncated", "[2,2]"});
  write_file("header.npy", good.substr(0, 40));
  expect_error([&] { npy::read(path("header.npy")); }, ErrorCode::kParse, {"header.npy", "truncated header"});
  write_file("tiny.npy", good.substr(0, 7));
  expect_error([&] { npy::read(path("tiny.npy")); }, ErrorCode::kParse, {"tiny.npy"});
  write_file("empty.npy", "");
  expect_error([&] { npy::read(path("empty.npy")); }, ErrorCode::kParse, {"empty.npy"});
  // Data beyond what the shape needs: the header lies about the shape.
  write_file("long.npy", good + "xxxx");
  expect_error([&] { npy::read(path("long.npy")); }, ErrorCode::kParse, {"long.npy", "trailing"});
}

TEST_F(NpyTest, RejectsGarbage) {
  write_file("garbage.npy", "this is not a numpy file at all, just text");
  expect_error([&] { npy::read(path("garbage.npy")); }, ErrorCode::kParse, {"garbage.npy", "magic"});
  const std::string data = raw_bytes<float>({1});
  for (const char* dict :
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), ",  // no closing brace
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", "{'descr': '<f4', 'shape': (1,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing", "['descr', '<f4']"}) {
    SCOPED_TRACE(dict);
    expect_error([&] { npy::parse(make_npy(dict, data), "bad.npy"); }, ErrorCode::kParse, {"bad.npy"});
  }
  // A header length beyond the file.
  std::string lying("\x93NUMPY\x01\x00\xff\xff", 10);
  expect_error([&] { npy::parse(lying + "{}", "lying.npy"); }, ErrorCode::kParse, {"lying.npy", "truncated header"});
  // A huge announced header is refused before it is allocated.
  std::string huge("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12);
  expect_error([&] { npy::parse(huge, "huge.npy"); }, ErrorCode::kLimitExceeded, {"huge.npy"});
}

TEST_F(NpyTest, RejectsOverflowAndHugeShapesBeforeAllocating) {
  expect_error(
      [&] {
        npy::parse(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", ""),
                   "overflow.npy");
      },
      ErrorCode::kLimitExceeded, {"overflow.npy"});
  expect_error(
      [&] {
        npy::parse(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", ""), "big.npy");
      },
      ErrorCode::kLimitExceeded, {"big.npy", "limit"});
  expect_error(
      [&] {
        npy::parse(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", ""),
                   "digits.npy");
      },
      ErrorCode::kLimitExceeded, {"digits.npy"});
  // Within the limit but far more than the file holds.
  expect_error(
      [&] { npy::parse(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }", ""), "t.npy"); },
      ErrorCode::kParse, {"t.npy", "truncated"});
}

TEST_F(NpyTest, RejectsUnknownDtypes) {
  for (const char* descr : {"<c8", "|O", "<U", "|Sx", "<f16", "<m8[s]", "xyz"}) {
    SCOPED_TRACE(descr);
    expect_error(
        [&] {
          npy::parse(make_npy(std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (1,), }", ""),
                     "dtype.npy");
        },
        ErrorCode::kUnsupported, {"dtype.npy", descr});
  }
  expect_error(
      [&] {
        npy::parse(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "abcd"), "s.npy");
      },
      ErrorCode::kParse, {"s.npy", "structured"});
  expect_error([&] { npy::descr_of(ElementType::kString); }, ErrorCode::kUnsupported, {"string"});
}

TEST_F(NpyTest, FileErrorsNameTheFile) {
  expect_error([&] { npy::read(path("missing.npy")); }, ErrorCode::kIo, {"missing.npy"});
  expect_error([&] { npy::read(dir_.string()); }, ErrorCode::kIo, {"directory"});
  expect_error([&] { npy::write(path("no/such/dir/x.npy"), Tensor::scalar<float>(1)); }, ErrorCode::kIo, {"x.npy"});
}

// numpy reads what celer writes, and celer reads what numpy writes (big-endian and Fortran order included).
TEST_F(NpyTest, InteroperatesWithNumpy) {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3 numpy";
  for (ElementType type : kAllTypes) {
    if (type == ElementType::kBF16) continue;  // numpy has no bfloat16
    std::string name = std::string(element_type_name(type)) + ".npy";
    npy::write(path(name), iota(type, {2, 3}));
  }
  npy::write(path("scalar.npy"), Tensor::scalar<double>(2.5));
  npy::write(path("empty.npy"), Tensor(ElementType::kF32, {0, 4}));
  Tensor strings(ElementType::kString, {2});
  strings.data<std::string>()[0] = "ab";
  npy::write(path("strings.npy"), strings);
  const std::string script = R"PY(
import numpy as np, sys, os
d = sys.argv[1]
for name, dt in [('f32','<f4'),('f16','<f2'),('f64','<f8'),('i8','i1'),('u8','u1'),('i16','<i2'),('u16','<u2'),
                 ('i32','<i4'),('u32','<u4'),('i64','<i8'),('u64','<u8')]:
    a = np.load(os.path.join(d, name + '.npy'))
    signed = dt[-2] in 'if'
    want = (np.arange(6) % 100 - (50 if signed else 0)).astype(dt).reshape(2, 3)
    assert a.dtype == np.dtype(dt) and a.shape == (2, 3) and (a == want).all(), name
b = np.load(os.path.join(d, 'bool.npy'))
assert b.dtype == bool and (b == (np.arange(6) % 3 == 0).reshape(2, 3)).all()
assert np.load(os.path.join(d, 'scalar.npy')).shape == () and np.load(os.path.join(d, 'scalar.npy')) == 2.5
assert np.load(os.path.join(d, 'empty.npy')).shape == (0, 4)
assert list(np.load(os.path.join(d, 'strings.npy'))) == [b'ab', b'']
np.save(os.path.join(d, 'unicode.npy'), np.array([['\u00e9t\u00e9', 'x'], ['', 'yz']]))
x = np.arange(24, dtype='>f4').reshape(2, 3, 4)
np.save(os.path.join(d, 'big_fortran.npy'), np.asfortranarray(x))
np.save(os.path.join(d, 'big.npy'), x.astype('>i8'))
np.save(os.path.join(d, 'fortran.npy'), np.asfortranarray(np.arange(6, dtype='<u2').reshape(2, 3)))
)PY";
  { std::ofstream(path("check.py")) << script; }
  ASSERT_EQ(std::system(("/usr/bin/python3 " + path("check.py") + " " + dir_.string()).c_str()), 0);
  Tensor bf = npy::read(path("big_fortran.npy"));
  ASSERT_EQ(bf.dims(), (Dims{2, 3, 4}));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(bf.data<float>()[i], float(i));
  Tensor b = npy::read(path("big.npy"));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(b.data<int64_t>()[i], i);
  Tensor f = npy::read(path("fortran.npy"));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f.data<uint16_t>()[i], i);
  Tensor u = npy::read(path("unicode.npy"));
  ASSERT_EQ(u.dims(), (Dims{2, 2}));
  EXPECT_EQ(u.data<std::string>()[0], "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(u.data<std::string>()[3], "yz");
}

TEST_F(NpyTest, ReadsAndWritesStrings) {
  Tensor t(ElementType::kString, {2, 2});
  const std::string values[] = {"abc", "", "h\xc3\xa9llo", "x"};
  for (int i = 0; i < 4; ++i) t.data<std::string>()[i] = values[i];
  std::string bytes = npy::serialize(t);
  EXPECT_NE(bytes.find("'descr': '|S6'"), std::string::npos);
  Tensor back = npy::parse(bytes);
  ASSERT_EQ(back.type(), ElementType::kString);
  ASSERT_EQ(back.dims(), (Dims{2, 2}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back.data<std::string>()[i], values[i]);
  EXPECT_EQ(npy::parse(npy::serialize(Tensor(ElementType::kString, {0}))).dims(), (Dims{0}));

  // UTF-32 in both byte orders, Fortran order: [['a', 'é'], ['bc', '']] stored column by column.
  auto utf32 = [](std::vector<uint32_t> cps, bool big) { return big ? big_endian_bytes(cps) : raw_bytes(cps); };
  for (bool big : {false, true}) {
    std::string data = utf32({'a', 0, 'b', 'c', 0xe9, 0, 0, 0}, big);
    Tensor u = npy::parse(make_npy(
        std::string("{'descr': '") + (big ? ">" : "<") + "U2', 'fortran_order': True, 'shape': (2, 2), }", data));
    ASSERT_EQ(u.type(), ElementType::kString);
    EXPECT_EQ(u.data<std::string>()[0], "a");
    EXPECT_EQ(u.data<std::string>()[1], "\xc3\xa9");
    EXPECT_EQ(u.data<std::string>()[2], "bc");
    EXPECT_EQ(u.data<std::string>()[3], "");
  }
  expect_error(
      [&] {
        npy::parse(make_npy("{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }", utf32({0xd800}, false)),
                   "cp.npy");
      },
      ErrorCode::kParse, {"cp.npy", "code point"});
  // Zero-width strings would let a tiny file announce a huge tensor.
  expect_error(
      [&] { npy::parse(make_npy("{'descr': '|S0', 'fortran_order': False, 'shape': (1000000000,), }", ""), "w.npy"); },
      ErrorCode::kParse, {"w.npy", "width 0"});
}
