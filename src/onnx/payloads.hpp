// Large initializer payloads kept out of protobuf parsing.
//
// Parsing a .onnx file with protobuf copies every initializer's raw_data into a fresh std::string, which on a 440 MB
// model costs more than everything else celer does to load and compile it (page faults on 4 KiB pages, then a second
// copy into tensors). Instead, the model bytes are first walked at the wire-format level (no protobuf objects): the
// raw_data fields of the main graph's large initializers are left out of a compact copy that protobuf then parses, and
// their place in the file is recorded. The importer reads each payload straight into aligned, huge-page backed memory
// (a large one its tensor's own, small ones pieces of shared blocks: core/weight_arena.hpp), with pread from the
// file, so the payload pages are never mapped into the process.
// Anything the walker does not understand makes it give up, and protobuf parses the original bytes as before.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/weight_arena.hpp"

namespace celer {

struct PayloadSpan {
  uint64_t offset = 0;  // of the payload in the original bytes
  uint64_t size = 0;
};

struct StrippedModel {
  std::string bytes;  // the model without the payloads (for protobuf)
  // One entry per initializer of the main graph, in file order: the span of its raw_data, or size 0 when it was kept.
  std::vector<PayloadSpan> initializers;
};

// Payloads of at least `min_bytes` are left out. False (and `out` unspecified) when the bytes are not a well-formed
// ModelProto in a shape the walker handles; protobuf should then parse the original bytes and report any error.
bool strip_payloads(std::string_view model, uint64_t min_bytes, StrippedModel& out);

// Where payloads are read from: a file descriptor (pread) or the bytes in memory.
struct PayloadSource {
  std::string_view bytes;  // the original model bytes (memory source), or empty
  int fd = -1;             // the model file (file source), or -1
  std::string label;       // for messages
  // Where weights (rank 2 and up) under kArenaBelow bytes are placed (null: each in its own allocation).
  WeightArena* arena = nullptr;
  static constexpr uint64_t kArenaBelow = uint64_t(2) << 20;
  // Reads a span into dst; throws kIo when the file is shorter than it was when walked.
  void read(const PayloadSpan& span, void* dst) const;
};

struct PayloadRead {
  PayloadSpan span;
  void* dst = nullptr;
};

// Does the reads, on two threads when they are large and the process may use two CPUs (affinity mask and cgroup
// quota: runtime/cpu_resources.hpp): most of the time of a large read goes to faulting in the fresh memory it fills,
// which the two threads do side by side. Throws as read() does.
void read_payloads(const PayloadSource& source, const std::vector<PayloadRead>& reads);

}  // namespace celer
