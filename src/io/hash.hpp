// A fast 64-bit non-cryptographic hash for model bytes, cache keys and file checksums (~10 GB/s): streaming
// (update() in any pieces gives the same digest as one call) and stable across runs and machines (little-endian).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace celer {

class Hasher {
 public:
  explicit Hasher(uint64_t seed = 0);
  void update(const void* data, size_t bytes);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // A field of a composite key: its length first, so ("ab", "c") and ("a", "bc") differ.
  void add_field(std::string_view s);
  uint64_t digest() const;

  static constexpr size_t kStripe = 64;  // bytes per step of the 8 accumulator lanes
  static constexpr int kStripesPerRound = 16;

 private:
  void stripes(const uint8_t* p, size_t count);

  uint64_t acc_[8];
  uint8_t buf_[kStripe];
  size_t buffered_ = 0;
  uint64_t total_ = 0;
  int stripe_ = 0;  // position within the current round of kStripesPerRound stripes
};

uint64_t hash_bytes(std::string_view bytes, uint64_t seed = 0);

// A checksum of large data that several threads compute together: the data is cut into kChunk-byte pieces, each
// hashed on its own (seeded with its index), and the digest is the hash of the pieces' digests. The streaming form
// (update() in any pieces) and the one-call form (threads over the pieces) give the same value.
class ChunkedHasher {
 public:
  static constexpr size_t kChunk = size_t(8) << 20;
  void update(const void* data, size_t bytes);
  uint64_t digest() const;

 private:
  Hasher current_{0};
  size_t in_current_ = 0;
  std::string digests_;  // of the finished chunks, 8 bytes each
};
uint64_t chunked_hash(const void* data, size_t bytes);
// chunked_hash of a file's bytes (mapped, hashed by all threads); throws kIo naming the file.
uint64_t hash_file(const std::string& path);
// 16 lowercase hex digits.
std::string hex64(uint64_t v);

}  // namespace celer
