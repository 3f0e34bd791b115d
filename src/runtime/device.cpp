#include "runtime/device.hpp"

#include "devices/cpu/cpu_device.hpp"
#include "devices/ref/ref_device.hpp"

namespace celer {

const Device* find_device(const std::string& name) {
  if (name == "CPU") return &cpu_device();
  if (name == "REF") return &ref_device();
  return nullptr;
}

std::vector<std::string> device_names() { return {"CPU", "REF"}; }

}  // namespace celer
