// The virtual devices AUTO and MULTI, built on the device interface:
//   "AUTO" / "AUTO:CPU,REF": a priority list (AUTO alone: every device, CPU first); the model is compiled on the first
//     device that supports every node and compiles it; execution_devices names it. With the CUMULATIVE_THROUGHPUT
//     hint, AUTO works as MULTI over the devices that compile the model.
//   "MULTI:CPU,REF": compiled on every listed device; one request queue served by the streams of all of them, so
//     requests spread over the devices in proportion to their speed.
#pragma once

#include <string>
#include <vector>

#include "runtime/device.hpp"

namespace celer {

struct DeviceSelection {
  enum class Kind { kSingle, kAuto, kMulti };
  Kind kind = Kind::kSingle;
  std::string base;                    // "CPU", "REF", "AUTO" or "MULTI": the name Core::set_property defaults use
  std::vector<const Device*> devices;  // in priority order
};

// Parses a device name; an unknown device (also inside a list), an empty or repeated list entry is kInvalidArgument.
DeviceSelection select_devices(const std::string& name);

// Whether `device` supports every node of `graph`; `why` gets the first node it refuses.
bool supports_graph(const Device& device, const Graph& graph, std::string* why = nullptr);

}  // namespace celer
