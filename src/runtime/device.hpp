// A device is a small interface: a name, which nodes it supports, its graph passes, and the kernels it uses in place
// of the reference ones. The executor does the rest. REF (reference kernels only) doubles as the template for a new
// device.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "celer/celer.hpp"
#include "core/weight_arena.hpp"
#include "ir/graph.hpp"
#include "ops/op.hpp"
#include "runtime/packed_weights.hpp"

namespace celer {

// A kernel created for one node at compile time (weights packed, implementation chosen); run() may be called from
// several threads at once.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(KernelContext& ctx) const = 0;
  // Short description of the implementation, e.g. "onednn:conv" or "ref".
  virtual const char* name() const = 0;
  // False when the kernel copied constant input i into its own form at creation (packed weights) and will not read
  // it again: the executor then releases the original tensor (peak memory). Such a kernel must not keep a reference.
  virtual bool reads_constant_input(size_t /*i*/) const { return true; }
  // The explicit input whose memory output 0 would best be written into (a convolution adding a residual reads and
  // overwrites it in one pass), or -1. The memory plan places output 0 there when this node is that memory's last
  // reader and the sizes match; run() must be correct either way (it finds out by comparing the two addresses).
  virtual int output_overwrites_input() const { return -1; }
};

struct CompileOptions {
  // OpenMP threads of one stream, which the kernels use (0: all the process may use). compile_model sets it from the
  // streams and threads the hint chose (runtime/hints.hpp); parse_compile_options sets it to inference_num_threads.
  int num_threads = 0;
  bool plan_memory = true;  // one liveness-planned arena for intermediates (property "plan_memory")
  // "inference_precision": f32 (default) or bf16: conv/matmul weights and activations in bf16 where the device
  // supports it, FP32 where accuracy needs it (softmax, normalisation, accumulation); outputs keep the model's types.
  ElementType inference_precision = ElementType::kF32;
  bool enable_fusion = true;  // device graph passes fuse ops (property "enable_fusion"; cleanup passes always run)
  // Streams and threads (the properties of include/celer/properties.hpp; runtime/hints.hpp turns them into a plan).
  PerformanceMode performance_mode = PerformanceMode::kNone;
  uint32_t num_requests = 0;          // hint::num_requests (0: no limit)
  int32_t num_streams = 0;            // 0: not set (the hint decides), NumStreams::kAuto, or a count
  int32_t inference_num_threads = 0;  // threads in all streams together (0: every CPU the process may use)
  bool enable_cpu_pinning = false;
  std::string cache_dir;  // where compiled models are cached ("" disables the cache)
  // Threads creating the kernels of a graph (runtime/executor.cpp): 0 = one per CPU the process may use, at most 4
  // (the environment variable CELER_COMPILE_THREADS overrides that default); 1 = the compiling thread alone.
  int compile_threads = 0;
  // With the model cache: kernels record the weights they pack (cold compile) or find them there (warm start).
  std::shared_ptr<PackedWeights> packed;
  // Where kernels put the weights they pack while they are created (core/weight_arena.hpp; null: each its own).
  std::shared_ptr<WeightArena> weight_arena;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string name() const = 0;
  // Whether this device can run the node (a device that can't run a whole model is not chosen for it).
  virtual bool supports(const Node& /*node*/) const { return true; }
  // Device-specific graph rewrites (fusions, layouts), run on the device's own copy of the graph.
  virtual void run_passes(Graph& /*graph*/, const CompileOptions& /*options*/) const {}
  // A fast kernel for the node, or nullptr to use the op's reference kernel.
  virtual std::unique_ptr<Kernel> create_kernel(const Node& /*node*/, const CompileOptions& /*options*/) const {
    return nullptr;
  }
};

// Devices by name ("CPU", "REF").
const Device* find_device(const std::string& name);
std::vector<std::string> device_names();

// Parses compile properties into options (runtime/properties.cpp), rejecting unknown keys, ill-typed values and
// read-only keys with kInvalidArgument.
CompileOptions parse_compile_options(const Properties& properties);

}  // namespace celer
