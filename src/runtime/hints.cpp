#include "runtime/hints.hpp"

#include <algorithm>

namespace celer {

ModelStats model_stats(const Graph& graph) {
  ModelStats s;
  auto bytes = [](const Value* v) {
    return double(element_count(v->type.shape.to_dims())) * double(element_size(v->type.elem));
  };
  for (const auto& n : graph.nodes) {
    bool static_node = true;
    for (const Value* v : n->outputs)
      if (v && v->type.is_tensor()) {
        if (!v->type.shape.is_static() || v->type.elem == ElementType::kUndefined) {
          static_node = false;
          continue;
        }
        s.activation_bytes += bytes(v);
      }
    if (static_node)
      s.flops += n->op->flops(*n);
    else
      s.dynamic = true;
    for (const Value* v : n->inputs)
      if (v && v->constant && v->type.is_tensor() && v->type.shape.is_static()) s.weight_bytes += bytes(v);
  }
  return s;
}

namespace {
// Threads per stream of the THROUGHPUT choice.
int throughput_threads_per_stream(const ModelStats& s, int cpus) {
  const double intensity = s.flops / std::max(1.0, s.weight_bytes + s.activation_bytes);
  if (s.dynamic || s.flops < kLargeModelFlops || intensity < kComputeBoundFlopsPerByte) return 1;
  if (cpus >= 2 * kWideStreamMinCpus) return 4;
  if (cpus >= kWideStreamMinCpus) return 2;
  return 1;
}
}  // namespace

StreamPlan plan_streams(const CompileOptions& o, const ModelStats& s, int cpus) {
  cpus = std::max(1, cpus);
  const int total = o.inference_num_threads > 0 ? o.inference_num_threads : cpus;
  const bool throughput = o.performance_mode == PerformanceMode::kThroughput ||
                          o.performance_mode == PerformanceMode::kCumulativeThroughput;
  StreamPlan p;
  if (o.num_streams > 0) {
    p.streams = o.num_streams;
    p.threads_per_stream = std::max(1, total / p.streams);
  } else if (o.num_streams == NumStreams::kAuto || throughput) {
    p.threads_per_stream = std::min(total, throughput_threads_per_stream(s, total));
    p.streams = std::max(1, total / p.threads_per_stream);
    if (o.num_requests > 0 && p.streams > static_cast<int>(o.num_requests)) {
      p.streams = static_cast<int>(o.num_requests);
      p.threads_per_stream = std::max(p.threads_per_stream, total / p.streams);
    }
  } else {
    p.streams = 1;
    p.threads_per_stream = total;
  }
  // Throughput: two requests per stream, so that a stream finds the next one queued when it finishes instead of
  // waiting for the application to start it again (mobilenet_v2 on 2 streams: 210 inf/s with 2 requests, 273 with
  // 4). Never more than hint::num_requests.
  p.optimal_requests = static_cast<uint32_t>(p.streams) * (throughput ? 2u : 1u);
  if (o.num_requests > 0) p.optimal_requests = std::min(p.optimal_requests, std::max(o.num_requests, 1u));
  return p;
}

}  // namespace celer
