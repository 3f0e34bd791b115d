// REF: every op through its reference kernel. The oracle in tests, and the template for a new device.
#include "devices/ref/ref_device.hpp"

namespace celer {

const Device& ref_device() {
  static const RefDevice device;
  return device;
}

}  // namespace celer
