#include "runtime/multi.hpp"

namespace celer {

namespace {
std::string available() {
  std::string names;
  for (const auto& n : device_names()) names += (names.empty() ? "" : ", ") + n;
  return names + ", AUTO, AUTO:<list>, MULTI:<list>";
}
}  // namespace

DeviceSelection select_devices(const std::string& name) {
  DeviceSelection sel;
  const size_t colon = name.find(':');
  sel.base = name.substr(0, colon);
  if (sel.base != "AUTO" && sel.base != "MULTI") {
    const Device* d = colon == std::string::npos ? find_device(name) : nullptr;
    CELER_CHECK(d, kInvalidArgument, "unknown device '", name, "' (available: ", available(), ")");
    sel.devices.push_back(d);
    return sel;
  }
  sel.kind = sel.base == "AUTO" ? DeviceSelection::Kind::kAuto : DeviceSelection::Kind::kMulti;
  if (colon == std::string::npos) {
    CELER_CHECK(sel.kind == DeviceSelection::Kind::kAuto, kInvalidArgument, "device 'MULTI' needs a device list, e.g. ",
                "'MULTI:CPU,REF'");
    for (const auto& n : device_names()) sel.devices.push_back(find_device(n));
    return sel;
  }
  const std::string list = name.substr(colon + 1);
  size_t b = 0;
  for (;;) {
    const size_t e = list.find(',', b);
    const std::string item = list.substr(b, e == std::string::npos ? std::string::npos : e - b);
    CELER_CHECK(!item.empty(), kInvalidArgument, "device '", name, "': empty entry in the device list");
    const Device* d = find_device(item);
    CELER_CHECK(
        d, kInvalidArgument, "device '", name, "': unknown device '", item, "' in the list (devices: ",
        [] {
          std::string s;
          for (const auto& n : device_names()) s += (s.empty() ? "" : ", ") + n;
          return s;
        }(),
        ")");
    for (const Device* seen : sel.devices)
      CELER_CHECK(seen != d, kInvalidArgument, "device '", name, "': '", item, "' is listed twice");
    sel.devices.push_back(d);
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return sel;
}

bool supports_graph(const Device& device, const Graph& graph, std::string* why) {
  for (const auto& n : graph.nodes)
    if (!device.supports(*n)) {
      if (why) *why = "device " + device.name() + " does not support " + n->describe();
      return false;
    }
  return true;
}

}  // namespace celer
