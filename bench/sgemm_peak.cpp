// Measures the machine's practical FP32 peak for bench/run: times oneDNN's SGEMM (dnnl_sgemm, row-major,
// C = A * B) on an N x N x N problem at each requested OpenMP thread count and prints one line per count:
//
//   threads <t> gflops <best GFLOP/s> median <median GFLOP/s> reps <r>
//
// Usage: sgemm_peak [--size N] [--threads 1,2] [--seconds S]   (defaults: 2048, 1,2 and 2 s per thread count)
// Built by bench/run: g++ -O3 -fopenmp bench/sgemm_peak.cpp -ldnnl.
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "sgemm_peak: error: %s\n", msg.c_str());
  return 1;
}

bool parse_threads(const char* text, std::vector<int>* out) {
  std::string s(text);
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    const std::string item = s.substr(pos, comma - pos);
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1 || v > 1024) return false;
    out->push_back(static_cast<int>(v));
    pos = comma + 1;
  }
  return !out->empty();
}

}  // namespace

int main(int argc, char** argv) {
  long n = 2048;
  double seconds = 2.0;
  std::vector<int> threads;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--size") == 0 && has_value) {
      n = std::strtol(argv[++i], nullptr, 10);
      if (n < 16 || n > 16384) return fail("--size must be in [16, 16384]");
    } else if (std::strcmp(argv[i], "--threads") == 0 && has_value) {
      if (!parse_threads(argv[++i], &threads)) return fail("--threads needs a list like 1,2");
    } else if (std::strcmp(argv[i], "--seconds") == 0 && has_value) {
      seconds = std::strtod(argv[++i], nullptr);
      if (!(seconds > 0 && seconds < 600)) return fail("--seconds must be in (0, 600)");
    } else {
      return fail(std::string("unknown or incomplete option '") + argv[i] + "'");
    }
  }
  if (threads.empty()) threads = {1, 2};

  const size_t count = static_cast<size_t>(n) * static_cast<size_t>(n);
  std::vector<float> a(count), b(count), c(count);
  for (size_t i = 0; i < count; ++i) {
    a[i] = static_cast<float>((i * 7) % 13) * 0.01f - 0.06f;
    b[i] = static_cast<float>((i * 5) % 11) * 0.01f - 0.05f;
  }
  const double flop = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  using Clock = std::chrono::steady_clock;

  for (int t : threads) {
    omp_set_num_threads(t);
    auto gemm = [&] { return dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); };
    for (int w = 0; w < 2; ++w) {
      if (gemm() != dnnl_success) return fail("dnnl_sgemm failed");
    }
    std::vector<double> rates;
    const auto start = Clock::now();
    while (rates.size() < 3 || std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
      const auto t0 = Clock::now();
      if (gemm() != dnnl_success) return fail("dnnl_sgemm failed");
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      rates.push_back(flop / s / 1e9);
      if (rates.size() >= 1000) break;
    }
    std::sort(rates.begin(), rates.end());
    std::printf("threads %d gflops %.2f median %.2f reps %zu\n", t, rates.back(), rates[rates.size() / 2],
                rates.size());
    std::fflush(stdout);
  }
  return 0;
}
