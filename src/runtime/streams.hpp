// CPU streams: a pool of threads ("streams") that run jobs from one queue. Each stream has its own OpenMP thread
// count (omp_set_num_threads on the stream thread, so the kernels' parallel regions use that many threads) and,
// with pinning, its own CPU set: a first parallel region at the stream's start pins each thread of its OpenMP team to
// one CPU of the set (OpenMP keeps that team for the stream thread's later regions). The threads are created once per
// compiled model and reused.
//
// A stream serves one "target" (one device's executor). Several targets may serve the same queue: a free stream takes
// the next job whatever its target, so faster targets take more jobs. That is MULTI: requests spread over the
// devices in proportion to their speed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace celer {

struct StreamSpec {
  int target = 0;         // the target (executor) this stream runs jobs on
  int threads = 1;        // OpenMP threads of the stream
  std::vector<int> cpus;  // CPUs its threads are pinned to (empty: not pinned)
};

class StreamPool {
 public:
  // A job runs on a stream thread with the stream's target. It must not throw (exceptions are swallowed).
  using Job = std::function<void(int target)>;

  explicit StreamPool(const std::vector<StreamSpec>& streams);
  // Stops the streams (queued jobs are dropped) and joins them. May run on one of its own stream threads (when a job
  // held the last reference to the pool's owner): that thread is detached and ends after its job.
  ~StreamPool();
  StreamPool(const StreamPool&) = delete;
  StreamPool& operator=(const StreamPool&) = delete;

  // Queues a job; returns its id (for cancel).
  uint64_t submit(Job job);
  // Removes a queued job; false when it already started (or is unknown).
  bool cancel(uint64_t id);
  // The target of the calling thread when it is one of this pool's streams, else -1.
  int current_target() const;
  size_t size() const { return threads_.size(); }

 private:
  struct Shared;
  static void stream_main(std::shared_ptr<Shared> shared, StreamSpec spec);
  std::shared_ptr<Shared> shared_;
  std::vector<std::thread> threads_;
};

// CPU sets for `streams` streams of `threads` threads each, taken in order from `cpus`: disjoint when there are enough
// CPUs; otherwise every set is empty (no pinning: overlapping pins would make streams compete for the same cores).
std::vector<std::vector<int>> pin_sets(const std::vector<int>& cpus, int streams, int threads);

}  // namespace celer
