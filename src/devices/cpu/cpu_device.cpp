#include "devices/cpu/cpu_device.hpp"

#include "passes/pass.hpp"

namespace celer {

CpuDevice::CpuDevice() {
#define CELER_CPU_KERNEL(op, factory) factories_.emplace(OpKind::k##op, &factory);
#include "devices/cpu/cpu_kernels.def"
#undef CELER_CPU_KERNEL
}

void CpuDevice::run_passes(Graph& graph, const CompileOptions& options) const {
  passes::run_cpu_pipeline(graph, options.enable_fusion);
  run_layout_pass(graph, options);
  run_int8_layout_pass(graph, options);
}

std::unique_ptr<Kernel> CpuDevice::create_kernel(const Node& node, const CompileOptions& options) const {
  auto [begin, end] = factories_.equal_range(node.op->kind());
  for (auto it = begin; it != end; ++it)
    if (auto k = it->second(node, options)) return k;
  return nullptr;
}

const Device& cpu_device() {
  static const CpuDevice device;
  return device;
}

}  // namespace celer
