// `celer bench MODEL`: warm-up, then latency statistics and throughput, printed and optionally written as JSON.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "tools/cli_common.hpp"

namespace celer::cli {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kMaxSamples = 10'000'000;

struct BenchOptions {
  std::string model;
  std::string device = "CPU";
  int64_t niter = 0;   // 0: run for `seconds`
  double seconds = 0;  // 0 with niter 0: the default duration
  int64_t warmup = 5;
  int nthreads = 0;              // 0: all the process may use
  std::string precision = "f32";
  bool per_layer = false;        // --pc: per-node counters
  std::string report;
  InputOptions inputs;
};

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// The q-quantile of sorted samples, interpolating linearly between neighbours (as numpy.percentile does).
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * double(sorted.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
}

// A CLI11 check for numbers > 0 (>= 0 with `allow_zero`) with a readable message.
CLI::Validator positive(bool allow_zero = false) {
  return CLI::Validator(
      [allow_zero](std::string& s) -> std::string {
        double v = 0;
        try {
          v = std::stod(s);
        } catch (const std::exception&) {
          return "'" + s + "' is not a number";
        }
        if (allow_zero ? v >= 0 : v > 0) return "";
        return std::string("must be ") + (allow_zero ? "0 or more" : "positive") + ", got " + s;
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}

// Throws unless `path` can be created or overwritten (without creating it).
void check_writable(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p = fs::absolute(path, ec);
  CELER_CHECK(!ec, kIo, "cannot write the report '", path, "': ", ec.message());
  CELER_CHECK(!fs::is_directory(p, ec), kIo, "cannot write the report '", path, "': it is a directory");
  if (fs::exists(p, ec)) {
    CELER_CHECK(access(p.c_str(), W_OK) == 0, kIo, "cannot write the report '", path, "': ", std::strerror(errno));
  } else {
    const fs::path dir = p.parent_path();
    CELER_CHECK(fs::is_directory(dir, ec), kIo, "cannot write the report '", path, "': the folder '", dir.string(),
                "' does not exist");
    CELER_CHECK(access(dir.c_str(), W_OK) == 0, kIo, "cannot write the report '", path, "': ", std::strerror(errno));
  }
}

double peak_rss_mb() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return double(ru.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

int run_bench(const BenchOptions& opts) {
  CELER_CHECK(opts.niter >= 0 && opts.niter <= kMaxSamples, kInvalidArgument, "--niter must be in [1, ", kMaxSamples,
              "], got ", opts.niter);
  CELER_CHECK(opts.seconds >= 0 && std::isfinite(opts.seconds), kInvalidArgument, "--time must be positive, got ",
              opts.seconds);
  CELER_CHECK(opts.warmup >= 0, kInvalidArgument, "--warmup must not be negative, got ", opts.warmup);
  const double seconds = opts.niter == 0 && opts.seconds == 0 ? 5.0 : opts.seconds;
  // Fail early rather than after a long benchmark when the report cannot be written.
  if (!opts.report.empty()) check_writable(opts.report);

  Core core;
  auto t_load = Clock::now();
  Model model = core.read_model(opts.model);
  const double load_ms = ms_since(t_load);
  PreparedInputs in = prepare_inputs(model, opts.inputs);
  Properties props;
  if (opts.nthreads > 0) props["inference_num_threads"] = std::to_string(opts.nthreads);
  props["inference_precision"] = opts.precision;
  CompiledModel cm = core.compile_model(in.model, opts.device, props);
  // Only the compiled model is needed from here: the original weights go (the kernels packed their own copies).
  model = Model();
  in.model = Model();
  InferRequest request = cm.create_infer_request();
  for (size_t i = 0; i < in.tensors.size(); ++i) request.set_input_tensor(i, in.tensors[i]);
  if (opts.per_layer) request.enable_profiling();

  auto t0 = Clock::now();
  request.infer();
  const double first_ms = ms_since(t0);
  for (int64_t i = 0; i < opts.warmup; ++i) request.infer();

  std::vector<double> samples;
  const auto start = Clock::now();
  const double budget_ms = seconds * 1000.0;
  while (true) {
    if (opts.niter > 0 ? int64_t(samples.size()) >= opts.niter
                       : (!samples.empty() && ms_since(start) >= budget_ms) || int64_t(samples.size()) >= kMaxSamples)
      break;
    auto t = Clock::now();
    request.infer();
    samples.push_back(ms_since(t));
  }
  const double total_ms = ms_since(start);

  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  const double median = quantile(sorted, 0.5), p90 = quantile(sorted, 0.9), p99 = quantile(sorted, 0.99);
  const double fps = total_ms > 0 ? double(samples.size()) * 1000.0 / total_ms : 0;

  nlohmann::ordered_json j;
  j["latency_ms"] = {{"median", median}, {"p90", p90}, {"p99", p99}, {"min", sorted.front()}, {"max", sorted.back()}};
  j["throughput_fps"] = fps;
  j["iterations"] = samples.size();
  j["device"] = cm.device();
  j["load_ms"] = load_ms;
  j["compile_ms"] = cm.compile_ms();
  j["nthreads"] = opts.nthreads;
  j["precision"] = opts.precision;
  j["first_inference_ms"] = first_ms;
  j["warmup"] = opts.warmup;
  j["model"] = opts.model;
  nlohmann::ordered_json shapes = nlohmann::ordered_json::object();
  for (size_t i = 0; i < in.tensors.size(); ++i) shapes[cm.inputs()[i].name] = in.tensors[i].dims();
  j["input_shapes"] = shapes;
  j["peak_rss_mb"] = peak_rss_mb();

  std::ostream& os = std::cout;
  os << "model:        " << opts.model << " on " << cm.device() << "\n";
  for (size_t i = 0; i < in.tensors.size(); ++i)
    os << "input         " << cm.inputs()[i].name << ": " << element_type_name(in.tensors[i].type())
       << dims_to_string(in.tensors[i].dims()) << (in.sources[i] == "random" ? " random" : " from " + in.sources[i])
       << "\n";
  os << "load:         " << format_ms(load_ms) << " ms\n";
  os << "compile:      " << format_ms(cm.compile_ms()) << " ms (" << (opts.nthreads > 0 ? std::to_string(opts.nthreads) : "all")
     << " threads, " << opts.precision << ")\n";
  os << "first infer:  " << format_ms(first_ms) << " ms\n";
  os << "iterations:   " << samples.size() << " (after " << opts.warmup << " warm-up)\n";
  os << "latency (ms): median " << format_ms(median) << ", p90 " << format_ms(p90) << ", p99 " << format_ms(p99)
     << ", min " << format_ms(sorted.front()) << ", max " << format_ms(sorted.back()) << "\n";
  char fps_text[32];
  std::snprintf(fps_text, sizeof fps_text, "%.2f", fps);
  os << "throughput:   " << fps_text << " inferences/s\n";
  os << "peak RSS:     " << static_cast<long long>(std::lround(peak_rss_mb())) << " MB\n";
  if (opts.per_layer) {
    // Sorted by time; the first inferences (first and warm-up) are included in the totals, so shares are what count.
    std::vector<NodeProfile> prof = request.profile();
    double total = 0;
    for (const auto& p : prof) total += p.total_ms;
    std::vector<NodeProfile> sorted_prof = prof;
    std::sort(sorted_prof.begin(), sorted_prof.end(),
              [](const NodeProfile& a, const NodeProfile& b) { return a.total_ms > b.total_ms; });
    os << "per-node counters (" << prof.size() << " nodes, ms per inference, share of node time):\n";
    nlohmann::ordered_json pc = nlohmann::ordered_json::array();
    for (const auto& p : sorted_prof) {
      double per_run = p.runs ? p.total_ms / double(p.runs) : 0;
      char line[512];
      std::snprintf(line, sizeof line, "  %8.3f ms %5.1f%%  %-18s %-22s %s%s%s\n", per_run,
                    total > 0 ? 100.0 * p.total_ms / total : 0.0, p.op.c_str(), p.kernel.c_str(), p.name.c_str(),
                    p.details.empty() ? "" : "  +", p.details.c_str());
      os << line;
      pc.push_back({{"node", p.name}, {"op", p.op}, {"kernel", p.kernel}, {"fused", p.details}, {"ms", per_run},
                    {"share", total > 0 ? p.total_ms / total : 0.0}});
    }
    j["per_node"] = pc;
  }
  if (!opts.report.empty()) {
    std::ofstream report(opts.report, std::ios::trunc);
    report << j.dump(2) << "\n";
    report.close();
    CELER_CHECK(!report.fail(), kIo, "cannot write the report '", opts.report, "'");
    os << "report:       " << opts.report << "\n";
  }
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto opts = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand("bench", "Measure a model's latency and throughput");
  sub->add_option("model", opts->model, "ONNX model file")->required();
  sub->add_option("--device,-d", opts->device, "Device: CPU or REF")->capture_default_str();
  auto* niter = sub->add_option("--niter,-n", opts->niter, "Number of measured inferences")->check(positive());
  auto* time =
      sub->add_option("--time,-t", opts->seconds, "Measure for this many seconds (default 5)")->check(positive());
  niter->excludes(time);
  sub->add_option("--warmup", opts->warmup, "Warm-up inferences before measuring")
      ->check(positive(true))
      ->capture_default_str();
  sub->add_option("--report", opts->report, "Write the results as JSON to this file");
  sub->add_flag("--pc", opts->per_layer, "Print per-node counters (op, kernel, time, share), sorted by time");
  sub->add_option("--nthreads", opts->nthreads, "Threads for inference (0: all the process may use)")
      ->check(positive(true));
  sub->add_option("--precision", opts->precision, "Inference precision: f32 or bf16")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
  add_input_options(*sub, opts->inputs);
  return {sub, [opts] { return run_bench(*opts); }};
}

}  // namespace celer::cli
