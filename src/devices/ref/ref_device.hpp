#pragma once

#include "runtime/device.hpp"

namespace celer {

class RefDevice final : public Device {
 public:
  std::string name() const override { return "REF"; }
};

const Device& ref_device();

}  // namespace celer
