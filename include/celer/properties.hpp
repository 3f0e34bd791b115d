// Properties: named settings of a compile (and of Core, as defaults for later compiles), carried as strings so that
// tools, config files and the server can pass them through, and set and read through typed keys in C++:
//
//   celer::CompiledModel cm = core.compile_model(model, "CPU", {
//       celer::hint::performance_mode(celer::PerformanceMode::kThroughput),
//       celer::inference_num_threads(2)});
//   int streams = cm.get_property(celer::num_streams);         // what the hint chose
//   uint32_t nireq = cm.get_property(celer::optimal_number_of_infer_requests);
//
// An unknown key, a value of the wrong type and a read-only key given to a compile are errors (kInvalidArgument)
// that name the key and what it accepts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "celer/element_type.hpp"

namespace celer {

using Properties = std::map<std::string, std::string>;

enum class PerformanceMode {
  kNone,                  // no hint: the explicit settings (or the defaults: 1 stream, all allowed cores)
  kLatency,               // one stream with all allowed cores: the shortest time per request
  kThroughput,            // streams and threads per stream chosen from the model and the machine: the most requests/s
  kCumulativeThroughput,  // as THROUGHPUT, over every device of an AUTO/MULTI list at once
};
// "NONE", "LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT".
const char* performance_mode_name(PerformanceMode m);

// The number of streams: a count, or kAuto to let celer choose (as THROUGHPUT does).
struct NumStreams {
  static constexpr int32_t kAuto = -1;
  int32_t value = 1;
  NumStreams(int32_t v = 1) : value(v) {}  // NOLINT: implicit from an int, like the string form
  operator int32_t() const { return value; }
};

// Conversions between a property's C++ type and its string form. from_string throws kInvalidArgument naming `key`.
template <typename T>
struct PropertyCodec;
template <>
struct PropertyCodec<bool> {
  static std::string to_string(bool v);
  static bool from_string(const std::string& key, const std::string& s);  // true/false/1/0/YES/NO
};
template <>
struct PropertyCodec<int32_t> {
  static std::string to_string(int32_t v);
  static int32_t from_string(const std::string& key, const std::string& s);
};
template <>
struct PropertyCodec<uint32_t> {
  static std::string to_string(uint32_t v);
  static uint32_t from_string(const std::string& key, const std::string& s);
};
template <>
struct PropertyCodec<std::string> {
  static std::string to_string(const std::string& v) { return v; }
  static std::string from_string(const std::string&, const std::string& s) { return s; }
};
template <>
struct PropertyCodec<std::vector<std::string>> {  // comma-separated
  static std::string to_string(const std::vector<std::string>& v);
  static std::vector<std::string> from_string(const std::string& key, const std::string& s);
};
template <>
struct PropertyCodec<PerformanceMode> {
  static std::string to_string(PerformanceMode v) { return performance_mode_name(v); }
  static PerformanceMode from_string(const std::string& key, const std::string& s);
};
template <>
struct PropertyCodec<NumStreams> {  // a positive count or "AUTO"
  static std::string to_string(NumStreams v);
  static NumStreams from_string(const std::string& key, const std::string& s);
};
template <>
struct PropertyCodec<ElementType> {  // "f32", "bf16"
  static std::string to_string(ElementType v);
  static ElementType from_string(const std::string& key, const std::string& s);
};

enum class PropertyMutability { kReadWrite, kReadOnly };

// A typed key: key(value) makes a (name, string) pair for a Properties map; get_property(key) returns a T.
template <typename T, PropertyMutability M = PropertyMutability::kReadWrite>
struct Property {
  const char* name;
  using value_type = T;
  static constexpr PropertyMutability mutability = M;
  std::pair<std::string, std::string> operator()(const T& v) const requires(M == PropertyMutability::kReadWrite) {
    return {name, PropertyCodec<T>::to_string(v)};
  }
  T parse(const std::string& s) const { return PropertyCodec<T>::from_string(name, s); }
  operator std::string() const { return name; }  // NOLINT: usable where a key string is expected
};

namespace hint {
inline constexpr Property<PerformanceMode> performance_mode{"performance_mode"};
// The number of requests the application will keep in flight (0: no limit); THROUGHPUT uses no more streams.
inline constexpr Property<uint32_t> num_requests{"num_requests"};
}  // namespace hint

inline constexpr Property<NumStreams> num_streams{"num_streams"};
// Threads in all (0: every CPU the process may use); with several streams they are divided among them.
inline constexpr Property<int32_t> inference_num_threads{"inference_num_threads"};
// Pin each stream's threads to its own set of CPUs (when there are enough CPUs for disjoint sets).
inline constexpr Property<bool> enable_cpu_pinning{"enable_cpu_pinning"};
inline constexpr Property<ElementType> inference_precision{"inference_precision"};
// Where compiled models are stored and looked up ("" disables the cache).
inline constexpr Property<std::string> cache_dir{"cache_dir"};
inline constexpr Property<bool> enable_fusion{"enable_fusion"};
inline constexpr Property<bool> plan_memory{"plan_memory"};
// Read-only.
inline constexpr Property<uint32_t, PropertyMutability::kReadOnly> optimal_number_of_infer_requests{
    "optimal_number_of_infer_requests"};
// The OpenMP threads of one stream the compile chose (inference_num_threads is the total over all streams).
inline constexpr Property<int32_t, PropertyMutability::kReadOnly> inference_threads_per_stream{
    "inference_threads_per_stream"};
// The devices the compiled model runs on (AUTO: the one it chose; MULTI: all).
inline constexpr Property<std::vector<std::string>, PropertyMutability::kReadOnly> execution_devices{
    "execution_devices"};
inline constexpr Property<std::vector<std::string>, PropertyMutability::kReadOnly> supported_properties{
    "supported_properties"};

}  // namespace celer
