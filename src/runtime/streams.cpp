#include "runtime/streams.hpp"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace celer {

struct StreamPoolShared {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<uint64_t, StreamPool::Job>> queue;
  uint64_t next_id = 1;
  bool stop = false;
  int streams = 0;         // stream threads
  int running = 0;         // jobs running on stream threads plus borrowed streams; at most `streams`
  int lend_target = -1;    // the target a borrowed stream runs (-1: streams are not lent, see StreamPool::borrow)
  bool can_run() const { return !queue.empty() && running < streams; }
};

namespace {
// The pool and target of the calling stream thread (nullptr / -1 on other threads).
thread_local const void* tls_pool = nullptr;
thread_local int tls_target = -1;

void pin_current_thread(const std::vector<int>& cpus) {
  if (cpus.empty()) return;
  int max_cpu = 0;
  for (int c : cpus) max_cpu = std::max(max_cpu, c);
  cpu_set_t* set = CPU_ALLOC(max_cpu + 1);
  if (!set) return;
  const size_t bytes = CPU_ALLOC_SIZE(max_cpu + 1);
  CPU_ZERO_S(bytes, set);
  for (int c : cpus) CPU_SET_S(c, bytes, set);
  sched_setaffinity(0, bytes, set);  // best effort: a refused pin leaves the stream unpinned
  CPU_FREE(set);
}
}  // namespace

StreamPool::StreamPool(const std::vector<StreamSpec>& streams) : shared_(std::make_shared<Shared>()) {
  shared_->streams = static_cast<int>(streams.size());
  bool lend = !streams.empty();
  for (const StreamSpec& s : streams)
    lend = lend && s.threads == 1 && s.cpus.empty() && s.target == streams.front().target;
  if (lend) shared_->lend_target = streams.front().target;
  threads_.reserve(streams.size());
  for (const StreamSpec& s : streams) threads_.emplace_back(stream_main, shared_, s);
}

StreamPool::~StreamPool() {
  std::deque<std::pair<uint64_t, Job>> dropped;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stop = true;
    dropped.swap(shared_->queue);
  }
  shared_->cv.notify_all();
  for (std::thread& t : threads_) {
    if (t.get_id() == std::this_thread::get_id())
      t.detach();
    else
      t.join();
  }
}

void StreamPool::stream_main(std::shared_ptr<Shared> shared, StreamSpec spec) {
  pin_current_thread(spec.cpus);
  omp_set_num_threads(std::max(1, spec.threads));
  // One CPU per thread of the stream's team: OpenMP keeps the team's worker threads for this thread's later parallel
  // regions, so each stays on its CPU.
  if (spec.threads > 1 && spec.cpus.size() >= size_t(spec.threads)) {
#pragma omp parallel num_threads(spec.threads)
    pin_current_thread({spec.cpus[size_t(omp_get_thread_num()) % spec.cpus.size()]});
  }
  tls_pool = shared.get();
  tls_target = spec.target;
  for (bool ran = false;; ran = true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(shared->mu);
      if (ran) --shared->running;  // the previous job's
      shared->cv.wait(lock, [&] { return shared->stop || shared->can_run(); });
      if (shared->stop) break;
      job = std::move(shared->queue.front().second);
      shared->queue.pop_front();
      ++shared->running;
    }
    try {
      job(spec.target);
    } catch (...) {
    }
    // Dropping the job may drop the last reference to the pool's owner (see ~StreamPool); `shared` stays valid.
    job = nullptr;
  }
  tls_pool = nullptr;
  tls_target = -1;
}

StreamPool::Borrowed StreamPool::borrow() {
  Borrowed b;
  if (shared_->lend_target < 0) return b;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (shared_->stop || !shared_->queue.empty() || shared_->running >= shared_->streams) return b;
    ++shared_->running;
  }
  b.shared_ = shared_;
  b.target_ = shared_->lend_target;
  b.omp_prev_ = omp_get_max_threads();
  omp_set_num_threads(1);  // lent streams have one thread
  return b;
}

StreamPool::Borrowed::~Borrowed() {
  if (!shared_) return;
  omp_set_num_threads(omp_prev_);
  bool queued;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    --shared_->running;
    queued = !shared_->queue.empty();
  }
  if (queued) shared_->cv.notify_one();  // a stream may take the job queued meanwhile
}

uint64_t StreamPool::submit(Job job) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    id = shared_->next_id++;
    shared_->queue.emplace_back(id, std::move(job));
  }
  shared_->cv.notify_one();
  return id;
}

bool StreamPool::cancel(uint64_t id) {
  Job removed;  // destroyed outside the lock
  std::lock_guard<std::mutex> lock(shared_->mu);
  for (auto it = shared_->queue.begin(); it != shared_->queue.end(); ++it)
    if (it->first == id) {
      removed = std::move(it->second);
      shared_->queue.erase(it);
      return true;
    }
  return false;
}

int StreamPool::current_target() const { return tls_pool == shared_.get() ? tls_target : -1; }

std::vector<std::vector<int>> pin_sets(const std::vector<int>& cpus, int streams, int threads) {
  std::vector<std::vector<int>> sets(static_cast<size_t>(std::max(0, streams)));
  if (streams <= 0 || threads <= 0 || static_cast<int64_t>(streams) * threads > static_cast<int64_t>(cpus.size()))
    return sets;
  for (int s = 0; s < streams; ++s)
    sets[static_cast<size_t>(s)].assign(cpus.begin() + s * threads, cpus.begin() + (s + 1) * threads);
  return sets;
}

}  // namespace celer
