// Hasher: 8 independent 64-bit lanes, each step folding a 64-bit word with a lane- and position-dependent key through
// a 32x32->64 multiply (vectorisable with plain SSE2), scrambled every round of 16 stripes; the digest folds the
// lanes with 128-bit multiplies and a final avalanche. Position-dependent keys make reordered stripes hash differently.
#include "io/hash.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "celer/error.hpp"

namespace celer {

namespace {

constexpr uint64_t kMulA = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio
constexpr uint64_t kMulB = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kMulC = 0x165667B19E3779F9ull;
constexpr uint32_t kScramble = 0x9E3779B1u;

constexpr uint64_t splitmix(uint64_t& s) {
  s += kMulA;
  uint64_t z = s;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Keys {
  uint64_t stripe[Hasher::kStripesPerRound][8];
  uint64_t round[8];
  uint64_t final[8];
};

constexpr Keys make_keys() {
  Keys k{};
  uint64_t s = 0x63656C6572ull;  // "celer"
  for (auto& row : k.stripe)
    for (auto& x : row) x = splitmix(s);
  for (auto& x : k.round) x = splitmix(s);
  for (auto& x : k.final) x = splitmix(s);
  return k;
}

constexpr Keys kKeys = make_keys();

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint64_t fold128(uint64_t a, uint64_t b) {
  const unsigned __int128 m = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
}

}  // namespace

Hasher::Hasher(uint64_t seed) {
  for (int i = 0; i < 8; ++i) acc_[i] = kKeys.final[i] ^ (seed * kMulB) ^ static_cast<uint64_t>(i);
}

void Hasher::stripes(const uint8_t* p, size_t count) {
  for (size_t s = 0; s < count; ++s, p += kStripe) {
    const uint64_t* key = kKeys.stripe[stripe_];
    for (int i = 0; i < 8; ++i) {
      const uint64_t v = load64(p + 8 * i);
      const uint64_t x = v ^ key[i];
      acc_[i] += v + (x & 0xFFFFFFFFu) * (x >> 32);
    }
    if (++stripe_ == kStripesPerRound) {
      stripe_ = 0;
      for (int i = 0; i < 8; ++i) {
        uint64_t a = acc_[i];
        a ^= a >> 47;
        a ^= kKeys.round[i];
        acc_[i] = a * kScramble;
      }
    }
  }
}

void Hasher::update(const void* data, size_t bytes) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  total_ += bytes;
  if (buffered_ > 0) {
    const size_t take = std::min(bytes, kStripe - buffered_);
    std::memcpy(buf_ + buffered_, p, take);
    buffered_ += take;
    p += take;
    bytes -= take;
    if (buffered_ < kStripe) return;
    stripes(buf_, 1);
    buffered_ = 0;
  }
  const size_t whole = bytes / kStripe;
  stripes(p, whole);
  p += whole * kStripe;
  bytes -= whole * kStripe;
  std::memcpy(buf_, p, bytes);
  buffered_ = bytes;
}

void Hasher::add_field(std::string_view s) {
  const uint64_t n = s.size();
  update(&n, sizeof(n));
  update(s);
}

uint64_t Hasher::digest() const {
  Hasher h = *this;
  if (h.buffered_ > 0) {
    std::memset(h.buf_ + h.buffered_, 0, kStripe - h.buffered_);
    h.stripes(h.buf_, 1);
  }
  uint64_t r = total_ * kMulA;
  for (int i = 0; i < 8; i += 2) r += fold128(h.acc_[i] ^ kKeys.final[i], h.acc_[i + 1] ^ kKeys.final[i + 1]);
  r ^= r >> 37;
  r *= kMulC;
  r ^= r >> 32;
  return r;
}

uint64_t hash_bytes(std::string_view bytes, uint64_t seed) {
  Hasher h(seed);
  h.update(bytes);
  return h.digest();
}

void ChunkedHasher::update(const void* data, size_t bytes) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (bytes > 0) {
    const size_t take = std::min(bytes, kChunk - in_current_);
    current_.update(p, take);
    in_current_ += take;
    p += take;
    bytes -= take;
    if (in_current_ == kChunk) {
      const uint64_t d = current_.digest();
      digests_.append(reinterpret_cast<const char*>(&d), 8);
      current_ = Hasher(digests_.size() / 8);
      in_current_ = 0;
    }
  }
}

uint64_t ChunkedHasher::digest() const {
  std::string all = digests_;
  if (in_current_ > 0) {
    const uint64_t d = current_.digest();
    all.append(reinterpret_cast<const char*>(&d), 8);
  }
  return hash_bytes(all);
}

uint64_t chunked_hash(const void* data, size_t bytes) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  const int64_t chunks = static_cast<int64_t>((bytes + ChunkedHasher::kChunk - 1) / ChunkedHasher::kChunk);
  std::vector<uint64_t> digests(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const size_t begin = static_cast<size_t>(c) * ChunkedHasher::kChunk;
    const size_t n = std::min(ChunkedHasher::kChunk, bytes - begin);
    digests[static_cast<size_t>(c)] =
        hash_bytes(std::string_view(reinterpret_cast<const char*>(p + begin), n), static_cast<uint64_t>(c));
  }
  return hash_bytes(std::string_view(reinterpret_cast<const char*>(digests.data()), digests.size() * 8));
}

uint64_t hash_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  CELER_CHECK(fd >= 0, kIo, "cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    CELER_THROW(kIo, "cannot read '", path, "': not a regular file");
  }
  uint64_t digest = chunked_hash(nullptr, 0);
  if (st.st_size > 0) {
    // Mapped with its pages populated at once (cheaper than faulting them in one by one), hashed by all threads.
    const size_t size = static_cast<size_t>(st.st_size);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      CELER_THROW(kIo, "cannot map '", path, "': ", std::strerror(err));
    }
    digest = chunked_hash(p, size);
    ::munmap(p, size);
  }
  ::close(fd);
  return digest;
}

std::string hex64(uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = kDigits[v & 15];
  return s;
}

}  // namespace celer
