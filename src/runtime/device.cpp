#include "runtime/device.hpp"

#include <cstdlib>

#include "devices/cpu/cpu_device.hpp"
#include "devices/ref/ref_device.hpp"

namespace celer {

const Device* find_device(const std::string& name) {
  if (name == "CPU") return &cpu_device();
  if (name == "REF") return &ref_device();
  return nullptr;
}

std::vector<std::string> device_names() { return {"CPU", "REF"}; }

CompileOptions parse_compile_options(const Properties& properties) {
  CompileOptions o;
  for (const auto& [key, value] : properties) {
    if (key == "inference_num_threads") {
      char* end = nullptr;
      long v = std::strtol(value.c_str(), &end, 10);
      CELER_CHECK(end && *end == 0 && !value.empty() && v >= 0 && v <= 4096, kInvalidArgument,
                  "property 'inference_num_threads' must be a non-negative integer, got '", value, "'");
      o.num_threads = int(v);
    } else if (key == "plan_memory") {
      CELER_CHECK(value == "0" || value == "1" || value == "true" || value == "false", kInvalidArgument,
                  "property 'plan_memory' must be 0/1/true/false, got '", value, "'");
      o.plan_memory = value == "1" || value == "true";
    } else if (key == "enable_fusion") {
      CELER_CHECK(value == "0" || value == "1" || value == "true" || value == "false", kInvalidArgument,
                  "property 'enable_fusion' must be 0/1/true/false, got '", value, "'");
      o.enable_fusion = value == "1" || value == "true";
    } else if (key == "inference_precision") {
      CELER_CHECK(value == "f32" || value == "bf16", kInvalidArgument,
                  "property 'inference_precision' must be f32 or bf16, got '", value, "'");
      o.inference_precision = value == "bf16" ? ElementType::kBF16 : ElementType::kF32;
    } else {
      CELER_THROW(kInvalidArgument, "unknown property '", key,
                  "' (known: inference_num_threads, inference_precision, plan_memory, enable_fusion)");
    }
  }
  return o;
}

}  // namespace celer
