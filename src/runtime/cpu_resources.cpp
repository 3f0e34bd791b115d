#include "runtime/cpu_resources.hpp"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace celer {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {};
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A whole-string decimal number, or false.
bool to_double(std::string_view s, double& out) {
  std::string t(trim(s));
  if (t.empty()) return false;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end && *end == 0 && std::isfinite(out);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t b = 0;
  for (;;) {
    size_t e = s.find(sep, b);
    out.push_back(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
    if (e == std::string_view::npos) return out;
    b = e + 1;
  }
}

}  // namespace

std::vector<int> affinity_cpus() {
  std::vector<int> cpus;
  for (int size = 1024; size <= (1 << 16); size *= 4) {
    cpu_set_t* set = CPU_ALLOC(size);
    if (!set) return cpus;
    const size_t bytes = CPU_ALLOC_SIZE(size);
    CPU_ZERO_S(bytes, set);
    if (sched_getaffinity(0, bytes, set) == 0) {
      for (int c = 0; c < size; ++c)
        if (CPU_ISSET_S(c, bytes, set)) cpus.push_back(c);
      CPU_FREE(set);
      return cpus;
    }
    CPU_FREE(set);
    if (errno != EINVAL) return cpus;  // EINVAL: the mask is larger than `size` CPUs
  }
  return cpus;
}

double parse_cgroup2_cpu_max(std::string_view content) {
  std::vector<std::string_view> parts;
  for (std::string_view p : split(trim(content), ' '))
    if (!p.empty()) parts.push_back(p);
  if (parts.empty() || parts[0] == "max") return 0;
  double quota = 0, period = 100000;
  if (!to_double(parts[0], quota) || quota <= 0) return 0;
  if (parts.size() > 1 && (!to_double(parts[1], period) || period <= 0)) return 0;
  return quota / period;
}

double parse_cgroup1_quota(std::string_view quota_us, std::string_view period_us) {
  double quota = 0, period = 0;
  if (!to_double(quota_us, quota) || quota <= 0) return 0;  // -1: unlimited
  if (!to_double(period_us, period) || period <= 0) return 0;
  return quota / period;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
  // "36 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct"
  std::vector<CgroupMount> out;
  for (std::string_view line : split(mountinfo, '\n')) {
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    std::vector<std::string_view> pre, post;
    for (std::string_view f : split(line.substr(0, dash), ' '))
      if (!f.empty()) pre.push_back(f);
    for (std::string_view f : split(line.substr(dash + 3), ' '))
      if (!f.empty()) post.push_back(f);
    if (pre.size() < 5 || post.empty()) continue;
    CgroupMount m{std::string(pre[4]), std::string(pre[3]), false};
    if (post[0] == "cgroup2") {
      m.v2 = true;
      out.push_back(m);
    } else if (post[0] == "cgroup" && post.size() >= 3) {
      for (std::string_view opt : split(post[2], ','))
        if (opt == "cpu") out.push_back(m);
    }
  }
  return out;
}

std::string parse_proc_cgroup(std::string_view content, bool v2) {
  // "0::/user.slice" (v2) or "4:cpu,cpuacct:/docker/abc" (v1)
  for (std::string_view line : split(content, '\n')) {
    size_t a = line.find(':');
    if (a == std::string_view::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    std::string_view id = line.substr(0, a), controllers = line.substr(a + 1, b - a - 1);
    std::string path(trim(line.substr(b + 1)));
    if (v2) {
      if (id == "0" && controllers.empty()) return path;
    } else {
      for (std::string_view c : split(controllers, ','))
        if (c == "cpu") return path;
    }
  }
  return {};
}

double cgroup_cpu_quota() {
  const std::string mountinfo = read_file("/proc/self/mountinfo");
  const std::string self = read_file("/proc/self/cgroup");
  double best = 0;
  for (const CgroupMount& m : parse_cgroup_mounts(mountinfo)) {
    std::string path = parse_proc_cgroup(self, m.v2);
    if (path.empty()) continue;
    // The cgroup path is relative to the hierarchy's root; only the part below the mounted root is visible.
    if (m.root != "/" && path.compare(0, m.root.size(), m.root) == 0)
      path = path.substr(m.root.size());
    else if (m.root != "/")
      path = "/";
    // The cgroup and its ancestors up to the mount point: the smallest quota applies.
    for (;;) {
      const std::string dir = m.mount_point + (path == "/" ? "" : path);
      double q = m.v2
                     ? parse_cgroup2_cpu_max(read_file(dir + "/cpu.max"))
                     : parse_cgroup1_quota(read_file(dir + "/cpu.cfs_quota_us"), read_file(dir + "/cpu.cfs_period_us"));
      if (q > 0 && (best == 0 || q < best)) best = q;
      if (path.empty() || path == "/") break;
      size_t slash = path.find_last_of('/');
      path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
  }
  return best;
}

int quota_cpus(double quota) { return std::max(1, static_cast<int>(std::floor(quota + 1e-9))); }

std::vector<int> allowed_cpus() {
  std::vector<int> cpus = affinity_cpus();
  if (cpus.empty()) cpus.push_back(0);
  const double quota = cgroup_cpu_quota();
  if (quota > 0) cpus.resize(std::min(cpus.size(), static_cast<size_t>(quota_cpus(quota))));
  return cpus;
}

int allowed_cpu_count() { return static_cast<int>(allowed_cpus().size()); }

}  // namespace celer
