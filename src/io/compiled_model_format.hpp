// Internal to io/compiled_model*.cpp: the file's header, attribute type tags and the checks writer and reader share.
#pragma once

#include <unistd.h>

#include <bit>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <unordered_set>

#include "io/hash.hpp"
#include "ir/graph.hpp"

namespace celer::cmfile {

static_assert(std::endian::native == std::endian::little, "the compiled-model format is little-endian");

inline constexpr char kMagic[8] = {'C', 'E', 'L', 'E', 'R', 'C', 'M', '\x1a'};
inline constexpr uint32_t kNone = 0xFFFFFFFFu;  // an omitted input or output, or a value without a constant
inline constexpr uint32_t kPacked = 0xFFFFFFFEu;  // a constant stored only as kernels' packed weights (packed table)
inline constexpr uint8_t kNodeEnd = 0xA5;       // after each node's attributes
inline constexpr uint64_t kAlign = 64;          // of every constant in the data part
inline constexpr uint32_t kMaxRank = 1024;

struct Header {
  char magic[8];
  uint32_t format;
  uint32_t header_bytes;
  char version[16];
  uint64_t file_size;
  uint64_t meta_offset, meta_size;
  uint64_t data_offset, data_size;
  uint64_t meta_hash, data_hash;
  uint64_t schema;
  uint8_t reserved[24];
  uint64_t header_hash;  // of the bytes before it
};
static_assert(sizeof(Header) == 128);

inline uint64_t header_hash(const Header& h) {
  return hash_bytes(std::string_view(reinterpret_cast<const char*>(&h), 120));
}

enum class Tag : uint8_t { kBool = 1, kI64, kU64, kF32, kF64, kString, kI64s, kF32s, kStrings, kTensor, kGraph };

inline const char* tag_name(uint8_t t) {
  static const char* const kNames[] = {"?",      "bool",    "int64",   "uint64",   "float",  "double",
                                       "string", "int64[]", "float[]", "string[]", "tensor", "graph"};
  return t < std::size(kNames) ? kNames[t] : "?";
}

inline uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// A node input that nothing defines (no producer, no constant, not a graph input or capture, not in `packed`), or
// nullptr.
inline const Value* undefined_input(const Graph& g, const std::unordered_set<const Value*>* packed = nullptr) {
  std::unordered_set<const Value*> defined(g.inputs.begin(), g.inputs.end());
  if (packed) defined.insert(packed->begin(), packed->end());
  defined.insert(g.captures.begin(), g.captures.end());
  for (const auto& n : g.nodes) defined.insert(n->outputs.begin(), n->outputs.end());
  for (const auto& n : g.nodes)
    for (const Value* v : n->inputs)
      if (v && !v->constant && !defined.count(v)) return v;
  for (const Value* v : g.outputs)
    if (!v->constant && !defined.count(v)) return v;
  return nullptr;
}

// Closes a file descriptor at the end of a scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace celer::cmfile
