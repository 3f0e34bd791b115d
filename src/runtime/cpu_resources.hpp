// The CPUs this process may use: its affinity mask (sched_getaffinity), limited by the CPU quota of its cgroup
// (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us, on the process's own cgroup and its ancestors), never
// the host's core count. Thread and stream counts are chosen from these. The parsers work on strings (unit-tested).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace celer {

// The CPU ids of the calling thread's affinity mask, ascending (empty if it cannot be read).
std::vector<int> affinity_cpus();

// cgroup v2 "cpu.max" ("max 100000" or "200000 100000"): the quota in CPUs (quota / period), 0 when unlimited or
// unreadable.
double parse_cgroup2_cpu_max(std::string_view content);
// cgroup v1 cpu.cfs_quota_us ("-1" unlimited) and cpu.cfs_period_us: the quota in CPUs, 0 when unlimited.
double parse_cgroup1_quota(std::string_view quota_us, std::string_view period_us);

struct CgroupMount {
  std::string mount_point;  // where the hierarchy is mounted ("/sys/fs/cgroup/cpu")
  std::string root;         // the hierarchy's folder mounted there ("/" unless only a part is mounted)
  bool v2 = false;          // the unified hierarchy
};
// /proc/self/mountinfo: the cgroup2 mount and the cgroup v1 mounts holding the "cpu" controller.
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);
// /proc/self/cgroup: the process's cgroup path in the v2 hierarchy ("0::/path") when v2, else in the v1 hierarchy
// holding the "cpu" controller ("4:cpu,cpuacct:/path"); "" when absent.
std::string parse_proc_cgroup(std::string_view content, bool v2);

// The CPU quota of the process's cgroup (the smallest over the cgroup and its ancestors), in CPUs; 0: none.
double cgroup_cpu_quota();

// CPUs a quota allows: floor(quota), at least 1 (a fractional CPU would be throttled, hurting latency).
int quota_cpus(double quota);

// The CPUs the process may use: the affinity list, truncated to the cgroup quota. Never empty (CPU 0 when nothing can
// be read). Read on every call (the mask may change at run time; reading costs microseconds).
std::vector<int> allowed_cpus();
int allowed_cpu_count();

}  // namespace celer
