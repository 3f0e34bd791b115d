#include "onnx/payloads.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>

#include "celer/error.hpp"
#include "runtime/cpu_resources.hpp"

namespace celer {

namespace {

// Field numbers in onnx.proto: ModelProto.graph, GraphProto.initializer, TensorProto.raw_data.
constexpr uint32_t kModelGraph = 7, kGraphInitializer = 5, kTensorRawData = 9;
constexpr uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

// A bounds-checked reader over one message's bytes.
class Reader {
 public:
  Reader(const uint8_t* begin, const uint8_t* end) : p_(begin), end_(end) {}
  bool done() const { return p_ >= end_; }
  const uint8_t* pos() const { return p_; }

  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      const uint8_t b = *p_++;
      v |= uint64_t(b & 0x7f) << shift;
      if (b < 0x80) return true;
    }
    return false;
  }

  // Reads one field's key and skips or delimits its value: [value_begin, value_end) is the payload of a
  // length-delimited field (empty for the others).
  bool field(uint32_t& number, uint32_t& wire, const uint8_t*& value_begin, const uint8_t*& value_end) {
    uint64_t key = 0;
    if (!varint(key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) return false;
    number = uint32_t(key >> 3);
    wire = uint32_t(key & 7);
    value_begin = value_end = p_;
    switch (wire) {
      case kVarint: {
        uint64_t v = 0;
        return varint(v);
      }
      case kFixed64:
        return skip(8);
      case kFixed32:
        return skip(4);
      case kLengthDelimited: {
        uint64_t n = 0;
        if (!varint(n) || n > uint64_t(end_ - p_)) return false;
        value_begin = p_;
        p_ += n;
        value_end = p_;
        return true;
      }
      default:
        return false;  // groups: not used by onnx.proto
    }
  }

 private:
  bool skip(uint64_t n) {
    if (n > uint64_t(end_ - p_)) return false;
    p_ += n;
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}

void put_message(std::string& out, uint32_t number, const std::string& body) {
  put_varint(out, (uint64_t(number) << 3) | kLengthDelimited);
  put_varint(out, body.size());
  out += body;
}

struct Walker {
  const uint8_t* base;
  uint64_t min_bytes;
  StrippedModel& out;

  bool tensor(const uint8_t* b, const uint8_t* e, std::string& body, PayloadSpan& span) {
    Reader r(b, e);
    bool seen = false;
    while (!r.done()) {
      const uint8_t* start = r.pos();
      uint32_t number = 0, wire = 0;
      const uint8_t *vb = nullptr, *ve = nullptr;
      if (!r.field(number, wire, vb, ve)) return false;
      if (number == kTensorRawData) {
        if (wire != kLengthDelimited || seen) return false;  // a repeated raw_data: let protobuf decide
        seen = true;
        if (uint64_t(ve - vb) >= min_bytes) {
          span = {uint64_t(vb - base), uint64_t(ve - vb)};
          continue;
        }
      }
      body.append(reinterpret_cast<const char*>(start), size_t(r.pos() - start));
    }
    return true;
  }

  bool graph(const uint8_t* b, const uint8_t* e, std::string& body) {
    Reader r(b, e);
    while (!r.done()) {
      const uint8_t* start = r.pos();
      uint32_t number = 0, wire = 0;
      const uint8_t *vb = nullptr, *ve = nullptr;
      if (!r.field(number, wire, vb, ve)) return false;
      if (number == kGraphInitializer && wire == kLengthDelimited) {
        std::string t;
        PayloadSpan span;
        if (!tensor(vb, ve, t, span)) return false;
        out.initializers.push_back(span);
        put_message(body, number, t);
        continue;
      }
      if (number == kGraphInitializer) return false;
      body.append(reinterpret_cast<const char*>(start), size_t(r.pos() - start));
    }
    return true;
  }
};

}  // namespace

bool strip_payloads(std::string_view model, uint64_t min_bytes, StrippedModel& out) {
  out = StrippedModel();
  out.bytes.reserve(std::min<size_t>(model.size(), size_t(1) << 20));
  const auto* base = reinterpret_cast<const uint8_t*>(model.data());
  Walker w{base, min_bytes, out};
  Reader r(base, base + model.size());
  bool seen_graph = false, stripped = false;
  while (!r.done()) {
    const uint8_t* start = r.pos();
    uint32_t number = 0, wire = 0;
    const uint8_t *vb = nullptr, *ve = nullptr;
    if (!r.field(number, wire, vb, ve)) return false;
    if (number == kModelGraph) {
      // Two graph fields would be merged by protobuf: not worth handling here.
      if (wire != kLengthDelimited || seen_graph) return false;
      seen_graph = true;
      std::string g;
      if (!w.graph(vb, ve, g)) return false;
      put_message(out.bytes, number, g);
      continue;
    }
    out.bytes.append(reinterpret_cast<const char*>(start), size_t(r.pos() - start));
  }
  for (const PayloadSpan& s : out.initializers) stripped |= s.size > 0;
  return stripped;
}

void read_payloads(const PayloadSource& source, const std::vector<PayloadRead>& reads) {
  uint64_t total = 0;
  for (const PayloadRead& r : reads) total += r.span.size;
  if (total < (uint64_t(8) << 20) || allowed_cpu_count() < 2) {
    for (const PayloadRead& r : reads) source.read(r.span, r.dst);
    return;
  }
  // The second thread takes reads from the end until it holds about half of the bytes.
  size_t split = reads.size();
  for (uint64_t back = 0; split > 0 && back + reads[split - 1].span.size <= total / 2; --split)
    back += reads[split - 1].span.size;
  std::exception_ptr error;
  std::thread helper([&] {
    try {
      for (size_t i = split; i < reads.size(); ++i) source.read(reads[i].span, reads[i].dst);
    } catch (...) {
      error = std::current_exception();
    }
  });
  try {
    for (size_t i = 0; i < split; ++i) source.read(reads[i].span, reads[i].dst);
  } catch (...) {
    helper.join();
    throw;
  }
  helper.join();
  if (error) std::rethrow_exception(error);
}

void PayloadSource::read(const PayloadSpan& span, void* dst) const {
  auto* d = static_cast<char*>(dst);
  if (fd < 0) {
    CELER_CHECK(span.offset <= bytes.size() && span.size <= bytes.size() - span.offset, kInternal, label,
                ": payload span out of range");
    std::memcpy(d, bytes.data() + span.offset, span.size);
    return;
  }
  uint64_t done = 0;
  while (done < span.size) {
    const size_t chunk = size_t(std::min<uint64_t>(span.size - done, uint64_t(1) << 30));
    const ssize_t n = ::pread(fd, d + done, chunk, off_t(span.offset + done));
    if (n < 0 && errno == EINTR) continue;
    CELER_CHECK(n > 0, kIo, "cannot read model '", label,
                "': ", n < 0 ? std::strerror(errno) : "the file became shorter while it was read");
    done += uint64_t(n);
  }
}

}  // namespace celer
