#include "runtime/memory_plan.hpp"

#include <algorithm>
#include <numeric>

namespace celer {

MemoryPlan plan_buffers(const std::vector<BufferRequest>& requests) {
  constexpr int64_t kAlign = 64;
  MemoryPlan plan;
  plan.offsets.assign(requests.size(), -1);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return requests[a].bytes > requests[b].bytes; });
  struct Placed {
    int64_t begin, end;
    int first, last;
  };
  std::vector<Placed> placed;
  for (size_t idx : order) {
    const BufferRequest& r = requests[idx];
    const int64_t size = (std::max<int64_t>(r.bytes, 1) + kAlign - 1) / kAlign * kAlign;
    // Intervals of memory taken by buffers alive at the same time, sorted by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (const Placed& p : placed)
      if (p.first <= r.last && r.first <= p.last) busy.emplace_back(p.begin, p.end);
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (const auto& [b, e] : busy) {
      if (offset + size <= b) break;
      offset = std::max(offset, e);
    }
    plan.offsets[idx] = offset;
    placed.push_back({offset, offset + size, r.first, r.last});
    plan.total_bytes = std::max(plan.total_bytes, offset + size);
  }
  return plan;
}

}  // namespace celer
