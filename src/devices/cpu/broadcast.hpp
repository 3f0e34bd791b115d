// Broadcasting for the CPU device's kernels: operands broadcast (numpy rules) onto a contiguous output, reduced to
// runs a vectorised primitive can take (each operand contiguous or constant along the run).
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "celer/tensor.hpp"
#include "devices/cpu/parallel.hpp"

namespace celer::cpu {

// Operands broadcast onto a contiguous output, reduced to: an inner run of `inner` elements where operand k steps by
// step[k] (0 or 1), repeated over the outer dims (adjacent dims with the same broadcast pattern merged, size-1 dims
// dropped); stride[k][g] is operand k's element stride along outer dim g.
struct BroadcastPlan {
  static constexpr size_t kMaxOuter = 16, kMaxOperands = 8;
  int64_t inner = 1, rows = 1;
  size_t num_outer = 0, num_operands = 0;
  std::array<int64_t, kMaxOuter> size{};
  std::array<int64_t, kMaxOperands> step{};
  std::array<std::array<int64_t, kMaxOuter>, kMaxOperands> stride{};

  // Offsets of row r's first element in each operand.
  void row_offsets(int64_t r, std::array<int64_t, kMaxOuter>& idx, int64_t* off) const {
    for (size_t k = 0; k < num_operands; ++k) off[k] = 0;
    for (size_t g = num_outer; g-- > 0;) {
      idx[g] = r % size[g];
      r /= size[g];
      for (size_t k = 0; k < num_operands; ++k) off[k] += idx[g] * stride[k][g];
    }
  }
  // Moves the offsets to the next row.
  void next_row(std::array<int64_t, kMaxOuter>& idx, int64_t* off) const {
    for (size_t g = num_outer; g-- > 0;) {
      for (size_t k = 0; k < num_operands; ++k) off[k] += stride[k][g];
      if (++idx[g] < size[g]) return;
      for (size_t k = 0; k < num_operands; ++k) off[k] -= stride[k][g] * size[g];
      idx[g] = 0;
    }
  }
};

// False when the shapes need more outer dims or operands than the plan holds (the reference runs then).
inline bool plan_broadcast(const Dims& out, const std::vector<const Dims*>& ins, BroadcastPlan& p) {
  const size_t rank = out.size(), n = ins.size();
  if (n > BroadcastPlan::kMaxOperands) return false;
  p.num_operands = n;
  std::vector<std::pair<int64_t, uint32_t>> groups;  // size, mask of the operands broadcast along it
  for (size_t i = 0; i < rank; ++i) {
    const int64_t od = out[i];
    if (od == 1) continue;
    uint32_t mask = 0;
    for (size_t k = 0; k < n; ++k) {
      const Dims& d = *ins[k];
      const int64_t kd = i + d.size() >= rank ? d[i + d.size() - rank] : 1;
      if (kd != od) mask |= 1u << k;
    }
    if (!groups.empty() && groups.back().second == mask)
      groups.back().first *= od;
    else
      groups.emplace_back(od, mask);
  }
  for (size_t k = 0; k < n; ++k) p.step[k] = 1;
  if (groups.empty()) return true;  // one element
  if (groups.size() - 1 > BroadcastPlan::kMaxOuter) return false;
  p.inner = groups.back().first;
  p.num_outer = groups.size() - 1;
  for (size_t k = 0; k < n; ++k) {
    const bool bc = groups.back().second >> k & 1u;
    p.step[k] = bc ? 0 : 1;
    int64_t run = bc ? 1 : p.inner;
    for (size_t g = p.num_outer; g-- > 0;) {
      const bool gbc = groups[g].second >> k & 1u;
      p.stride[k][g] = gbc ? 0 : run;
      if (!gbc) run *= groups[g].first;
    }
  }
  for (size_t g = 0; g < p.num_outer; ++g) {
    p.size[g] = groups[g].first;
    p.rows *= groups[g].first;
  }
  return true;
}

// Runs body(row_offsets, out_offset, begin, end) over the plan's output: rows split among threads, or the inner run
// when there is a single row.
template <typename F>
void for_each_run(const BroadcastPlan& p, int threads, F&& body) {
  if (p.rows == 1) {
    const std::array<int64_t, BroadcastPlan::kMaxOperands> zero{};
    parallel_for(p.inner, threads, 64, [&](int64_t s, int64_t e) { body(zero.data(), int64_t(0), s, e); });
    return;
  }
  parallel_for(p.rows, threads, 1, [&](int64_t rb, int64_t re) {
    std::array<int64_t, BroadcastPlan::kMaxOuter> idx{};
    std::array<int64_t, BroadcastPlan::kMaxOperands> off{};
    p.row_offsets(rb, idx, off.data());
    for (int64_t r = rb; r < re; ++r) {
      body(off.data(), r * p.inner, int64_t(0), p.inner);
      p.next_row(idx, off.data());
    }
  });
}

}  // namespace celer::cpu
