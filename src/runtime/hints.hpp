// Performance hints: how many streams and how many threads per stream a compiled model runs, from the properties, the
// model and the CPUs the process may use.
//
//   LATENCY (and no hint): one stream with every allowed CPU.
//   THROUGHPUT (and num_streams AUTO): streams x threads per stream from the model: small or memory-bound models
//     (little arithmetic per byte of weights and activations) get one thread per stream and as many streams as CPUs,
//     since a parallel region does not pay for itself on their small nodes; large compute-bound models get wider
//     streams on big machines (shorter per-request latency and fewer arenas in cache at the same throughput). Never
//     more streams than hint::num_requests when it is set (the threads then go to fewer, wider streams).
//   Explicit num_streams / inference_num_threads override what the hint would choose.
#pragma once

#include <cstdint>

#include "ir/graph.hpp"
#include "runtime/device.hpp"

namespace celer {

struct ModelStats {
  double flops = 0;             // Op::flops over the nodes (static shapes)
  double weight_bytes = 0;      // constant tensors
  double activation_bytes = 0;  // node outputs with static shapes
  bool dynamic = false;         // some node output has an unknown shape: the figures are lower bounds
};
ModelStats model_stats(const Graph& graph);

struct StreamPlan {
  int streams = 1;
  int threads_per_stream = 1;
  uint32_t optimal_requests = 1;  // optimal_number_of_infer_requests: streams, or 2 per stream with THROUGHPUT
};

// The thresholds of the THROUGHPUT choice (named so tests and docs can refer to them).
inline constexpr double kLargeModelFlops = 4e9;          // below: one thread per stream
inline constexpr double kComputeBoundFlopsPerByte = 20;  // below: memory-bound, one thread per stream
inline constexpr int kWideStreamMinCpus = 16;            // wider streams only on machines this big

// `cpus`: the CPUs the process may use (allowed_cpu_count(); a parameter so tests can fake a machine).
StreamPlan plan_streams(const CompileOptions& options, const ModelStats& stats, int cpus);

}  // namespace celer
