// Property codecs (string <-> C++ type), the table of known keys, and parse_compile_options.
#include "runtime/properties.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "celer/error.hpp"

namespace celer {

namespace {

std::string upper(const std::string& s) {
  std::string u = s;
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

// A decimal integer in [lo, hi] (the whole string), or throws naming the key and `accepts`.
int64_t parse_int(const std::string& key, const std::string& s, int64_t lo, int64_t hi, const char* accepts) {
  errno = 0;
  char* end = nullptr;
  long long v = s.empty() ? 0 : std::strtoll(s.c_str(), &end, 10);
  CELER_CHECK(!s.empty() && end && *end == 0 && errno == 0 && v >= lo && v <= hi, kInvalidArgument, "property '", key,
              "' must be ", accepts, ", got '", s, "'");
  return v;
}

}  // namespace

const char* performance_mode_name(PerformanceMode m) {
  switch (m) {
    case PerformanceMode::kNone:
      return "NONE";
    case PerformanceMode::kLatency:
      return "LATENCY";
    case PerformanceMode::kThroughput:
      return "THROUGHPUT";
    case PerformanceMode::kCumulativeThroughput:
      return "CUMULATIVE_THROUGHPUT";
  }
  return "NONE";
}

// ---- Codecs
std::string PropertyCodec<bool>::to_string(bool v) { return v ? "true" : "false"; }
bool PropertyCodec<bool>::from_string(const std::string& key, const std::string& s) {
  const std::string u = upper(s);
  if (u == "TRUE" || u == "1" || u == "YES") return true;
  if (u == "FALSE" || u == "0" || u == "NO") return false;
  CELER_THROW(kInvalidArgument, "property '", key, "' must be true or false (also 1/0, YES/NO), got '", s, "'");
}

std::string PropertyCodec<int32_t>::to_string(int32_t v) { return std::to_string(v); }
int32_t PropertyCodec<int32_t>::from_string(const std::string& key, const std::string& s) {
  return static_cast<int32_t>(parse_int(key, s, INT32_MIN, INT32_MAX, "an integer"));
}

std::string PropertyCodec<uint32_t>::to_string(uint32_t v) { return std::to_string(v); }
uint32_t PropertyCodec<uint32_t>::from_string(const std::string& key, const std::string& s) {
  return static_cast<uint32_t>(parse_int(key, s, 0, UINT32_MAX, "a non-negative integer"));
}

std::string PropertyCodec<std::vector<std::string>>::to_string(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}
std::vector<std::string> PropertyCodec<std::vector<std::string>>::from_string(const std::string&,
                                                                              const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size() && !s.empty()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    std::string item = s.substr(b, e - b);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
    b = e + 1;
  }
  return out;
}

PerformanceMode PropertyCodec<PerformanceMode>::from_string(const std::string& key, const std::string& s) {
  const std::string u = upper(s);
  for (PerformanceMode m : {PerformanceMode::kNone, PerformanceMode::kLatency, PerformanceMode::kThroughput,
                            PerformanceMode::kCumulativeThroughput})
    if (u == performance_mode_name(m)) return m;
  CELER_THROW(kInvalidArgument, "property '", key,
              "' must be LATENCY, THROUGHPUT, CUMULATIVE_THROUGHPUT or NONE, got '", s, "'");
}

std::string PropertyCodec<NumStreams>::to_string(NumStreams v) {
  return v.value == NumStreams::kAuto ? "AUTO" : std::to_string(v.value);
}
NumStreams PropertyCodec<NumStreams>::from_string(const std::string& key, const std::string& s) {
  if (upper(s) == "AUTO") return NumStreams(NumStreams::kAuto);
  return NumStreams(
      static_cast<int32_t>(parse_int(key, s, 1, kMaxThreads, "a positive integer (at most 4096) or AUTO")));
}

std::string PropertyCodec<ElementType>::to_string(ElementType v) { return v == ElementType::kBF16 ? "bf16" : "f32"; }
ElementType PropertyCodec<ElementType>::from_string(const std::string& key, const std::string& s) {
  if (s == "f32") return ElementType::kF32;
  if (s == "bf16") return ElementType::kBF16;
  CELER_THROW(kInvalidArgument, "property '", key, "' must be f32 or bf16, got '", s, "'");
}

// ---- The table
namespace {
template <typename T>
std::string str(const T& v) {
  return PropertyCodec<T>::to_string(v);
}
constexpr auto kRW = PropertyMutability::kReadWrite;
constexpr auto kRO = PropertyMutability::kReadOnly;
const char* const kBoolAccepts = "true or false (also 1/0, YES/NO)";
}  // namespace

const std::vector<PropertySpec>& property_table() {
  static const std::vector<PropertySpec> table = {
      {"performance_mode", kRW, "LATENCY, THROUGHPUT, CUMULATIVE_THROUGHPUT or NONE",
       [](CompileOptions& o, const std::string& v) { o.performance_mode = hint::performance_mode.parse(v); },
       [](const CompileOptions& o) { return str(o.performance_mode); }},
      {"num_requests", kRW, "a non-negative integer (0: no limit)",
       [](CompileOptions& o, const std::string& v) {
         o.num_requests = static_cast<uint32_t>(
             parse_int("num_requests", v, 0, kMaxRequests, "a non-negative integer (at most 1048576; 0: no limit)"));
       },
       [](const CompileOptions& o) { return str(o.num_requests); }},
      {"num_streams", kRW, "a positive integer or AUTO",
       [](CompileOptions& o, const std::string& v) { o.num_streams = num_streams.parse(v).value; },
       [](const CompileOptions& o) {
         if (o.num_streams != 0) return str(NumStreams(o.num_streams));
         const bool tput = o.performance_mode == PerformanceMode::kThroughput ||
                           o.performance_mode == PerformanceMode::kCumulativeThroughput;
         return std::string(tput ? "AUTO" : "1");
       }},
      {"inference_num_threads", kRW, "a non-negative integer (0: every CPU the process may use)",
       [](CompileOptions& o, const std::string& v) {
         o.inference_num_threads = static_cast<int32_t>(parse_int(
             "inference_num_threads", v, 0, kMaxThreads, "a non-negative integer (at most 4096; 0: all CPUs)"));
         o.num_threads = o.inference_num_threads;
       },
       [](const CompileOptions& o) { return str(o.inference_num_threads); }},
      {"enable_cpu_pinning", kRW, kBoolAccepts,
       [](CompileOptions& o, const std::string& v) { o.enable_cpu_pinning = enable_cpu_pinning.parse(v); },
       [](const CompileOptions& o) { return str(o.enable_cpu_pinning); }},
      {"inference_precision", kRW, "f32 or bf16",
       [](CompileOptions& o, const std::string& v) { o.inference_precision = inference_precision.parse(v); },
       [](const CompileOptions& o) { return str(o.inference_precision); }},
      {"cache_dir", kRW, "a folder path (empty: no cache)",
       [](CompileOptions& o, const std::string& v) { o.cache_dir = v; },
       [](const CompileOptions& o) { return o.cache_dir; }},
      {"enable_fusion", kRW, kBoolAccepts,
       [](CompileOptions& o, const std::string& v) { o.enable_fusion = enable_fusion.parse(v); },
       [](const CompileOptions& o) { return str(o.enable_fusion); }},
      {"plan_memory", kRW, kBoolAccepts,
       [](CompileOptions& o, const std::string& v) { o.plan_memory = plan_memory.parse(v); },
       [](const CompileOptions& o) { return str(o.plan_memory); }},
      {"optimal_number_of_infer_requests", kRO, "nothing (read-only)", nullptr, nullptr},
      {"inference_threads_per_stream", kRO, "nothing (read-only)", nullptr, nullptr},
      {"execution_devices", kRO, "nothing (read-only)", nullptr, nullptr},
      {"supported_properties", kRO, "nothing (read-only)", nullptr, nullptr},
  };
  return table;
}

std::vector<std::string> supported_property_names() {
  std::vector<std::string> names;
  for (const PropertySpec& p : property_table()) names.push_back(p.name);
  return names;
}

const PropertySpec& find_property(const std::string& key) {
  for (const PropertySpec& p : property_table())
    if (key == p.name) return p;
  CELER_THROW(kInvalidArgument, "unknown property '", key, "' (supported: ", str(supported_property_names()), ")");
}

void apply_properties(CompileOptions& o, const Properties& properties) {
  for (const auto& [key, value] : properties) {
    const PropertySpec& p = find_property(key);
    CELER_CHECK(p.mutability == PropertyMutability::kReadWrite, kInvalidArgument, "property '", key,
                "' is read-only: it can be read from a compiled model, not set");
    p.apply(o, value);
  }
}

CompileOptions parse_compile_options(const Properties& properties) {
  CompileOptions o;
  apply_properties(o, properties);
  return o;
}

}  // namespace celer
