// The table of known properties (include/celer/properties.hpp): one entry per key with its mutability, what it
// accepts, and how it is parsed into CompileOptions and read back. Compile options, CompiledModel::get_property,
// Core::set_property / get_property and supported_properties all use this one table.
#pragma once

#include <string>
#include <vector>

#include "celer/properties.hpp"
#include "runtime/device.hpp"

namespace celer {

// Upper bounds of inference_num_threads and num_streams, and of hint::num_requests.
inline constexpr int32_t kMaxThreads = 4096;
inline constexpr uint32_t kMaxRequests = 1u << 20;

struct PropertySpec {
  const char* name;
  PropertyMutability mutability;
  const char* accepts;  // the values it takes, for error messages
  // Read-write keys: parses `value` into `o` (throws kInvalidArgument naming the key and what it accepts).
  void (*apply)(CompileOptions& o, const std::string& value);
  // Read-write keys: the value in `o`.
  std::string (*read)(const CompileOptions& o);
};

const std::vector<PropertySpec>& property_table();
// The entry for `key`; an unknown key is kInvalidArgument naming it and listing the supported keys.
const PropertySpec& find_property(const std::string& key);
std::vector<std::string> supported_property_names();
// Applies properties to options: unknown keys, ill-typed values and read-only keys are kInvalidArgument.
void apply_properties(CompileOptions& o, const Properties& properties);

}  // namespace celer
