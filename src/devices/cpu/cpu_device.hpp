// CPU: the default device. Fast kernels (oneDNN-backed or our own) override the reference kernels op by op; any op
// without one runs its reference kernel, so every model runs.
#pragma once

#include <functional>
#include <unordered_map>

#include "runtime/device.hpp"

namespace celer {

using KernelFactory = std::unique_ptr<Kernel> (*)(const Node& node, const CompileOptions& options);

class CpuDevice final : public Device {
 public:
  CpuDevice();
  std::string name() const override { return "CPU"; }
  // Cleanup and fusion passes (src/passes/); fusion off with the compile property "enable_fusion" = "0".
  void run_passes(Graph& graph, const CompileOptions& options) const override;
  std::unique_ptr<Kernel> create_kernel(const Node& node, const CompileOptions& options) const override;

 private:
  std::unordered_multimap<OpKind, KernelFactory> factories_;
};

const Device& cpu_device();

// Keeps activations channel-blocked across chains of oneDNN nodes (layout_pass.cpp); runs after fusion.
void run_layout_pass(Graph& graph, const CompileOptions& options);
// Keeps int8 activations channels-last across chains of int8 convolutions (int8_layout_pass.cpp); runs after it.
void run_int8_layout_pass(Graph& graph, const CompileOptions& options);

// Fast kernel factories, one per file under src/devices/cpu/, listed in cpu_kernels.def. A factory returns nullptr
// when the node has shapes or types it does not handle.
#define CELER_CPU_KERNEL(op, factory) std::unique_ptr<Kernel> factory(const Node& node, const CompileOptions& options);
#include "devices/cpu/cpu_kernels.def"
#undef CELER_CPU_KERNEL

namespace cpu {
// out = transpose(in) for a dense row-major tensor of `dims` with elements of `elem_size` bytes (1, 2, 4 or 8):
// output axis k reads input axis perm[k] (data_kernels.cpp: the Transpose kernel's engine, also used by Reorder).
// False when it cannot.
bool transpose_dense(const void* in, void* out, size_t elem_size, const Dims& dims, const std::vector<int64_t>& perm,
                     int threads);
// dst[i * ds + j] = src[j * ss + i] for i, j < 16, 4-byte elements. AVX-512 only (simd().isa == Isa::kAvx512).
void transpose16x16_avx512(const uint32_t* src, int64_t ss, uint32_t* dst, int64_t ds);
}  // namespace cpu

}  // namespace celer
