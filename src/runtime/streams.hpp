// CPU streams: a pool of threads ("streams") that run jobs from one queue. Each stream has its own OpenMP thread
// count (omp_set_num_threads on the stream thread, so the kernels' parallel regions use that many threads) and,
// with pinning, its own CPU set: a first parallel region at the stream's start pins each thread of its OpenMP team to
// one CPU of the set (OpenMP keeps that team for the stream thread's later regions). The threads are created once per
// compiled model and reused.
//
// A synchronous caller may borrow an idle stream instead of handing its job over (StreamPool::borrow): when every
// stream has one unpinned thread, a stream thread adds nothing but two cross-thread wake-ups per inference (tens of
// microseconds on a virtual machine, a third of a tiny model's time), so the caller runs the job itself. The pool
// still runs at most one job per stream at a time: a borrowed stream takes no job from the queue until it is returned.
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

struct StreamPoolShared;

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

  // A stream lent to the calling thread: while it is held, the pool runs one job fewer in parallel. Empty (false)
  // when nothing was lent. The calling thread's OpenMP thread count is the stream's while held and restored after.
  class Borrowed {
   public:
    Borrowed() = default;
    Borrowed(Borrowed&& o) noexcept : shared_(std::move(o.shared_)), target_(o.target_), omp_prev_(o.omp_prev_) {}
    Borrowed& operator=(Borrowed&&) = delete;
    ~Borrowed();
    explicit operator bool() const { return shared_ != nullptr; }
    int target() const { return target_; }

   private:
    friend class StreamPool;
    std::shared_ptr<struct StreamPoolShared> shared_;
    int target_ = -1;
    int omp_prev_ = 0;
  };
  // Lends an idle stream to the calling thread when every stream runs one unpinned thread on the same target, no
  // job is queued (a borrower never overtakes queued jobs) and fewer jobs run than there are streams.
  Borrowed borrow();

  // Queues a job; returns its id (for cancel).
  uint64_t submit(Job job);
  // Removes a queued job; false when it already started (or is unknown).
  bool cancel(uint64_t id);
  // The target of the calling thread when it is one of this pool's streams, else -1.
  int current_target() const;
  size_t size() const { return threads_.size(); }

 private:
  using Shared = StreamPoolShared;
  static void stream_main(std::shared_ptr<Shared> shared, StreamSpec spec);
  std::shared_ptr<Shared> shared_;
  std::vector<std::thread> threads_;
};

// CPU sets for `streams` streams of `threads` threads each, taken in order from `cpus`: disjoint when there are enough
// CPUs; otherwise every set is empty (no pinning: overlapping pins would make streams compete for the same cores).
std::vector<std::vector<int>> pin_sets(const std::vector<int>& cpus, int streams, int threads);

}  // namespace celer
