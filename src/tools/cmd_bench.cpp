// `celer bench MODEL`: latency and throughput of a model as a user would run it: a performance hint (or explicit
// streams, threads and requests), the sync or async API, warm-up, then latency percentiles, throughput, compile and
// first-inference time, peak memory and optionally per-node counters, printed and written as JSON.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
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
  std::string hint;      // latency, throughput, cumulative_throughput, none; "": throughput (async) or latency (sync)
  std::string nstreams;  // a count or AUTO; "": the hint decides
  int64_t nireq = 0;     // 0: the compiled model's optimal number (1 with the sync API)
  int nthreads = 0;      // 0: the hint decides (all the process may use)
  std::string pin;       // yes/no; "": the device's default
  std::string api = "async";
  int64_t batch = 0;  // 0: the model's own batch
  std::string cache_dir;
  std::string precision = "f32";
  bool per_layer = false;  // --pc: per-node counters
  std::string progress = "auto";
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

struct Measured {
  std::vector<double> latencies;  // per inference, ms
  double total_ms = 0;            // wall time of the measured part
  double idle_tail_ms = 0;        // async: stream time left idle after the last request was started (see run_async)
  double busy_ms = 0;             // the wall time throughput is computed over: total_ms less idle_tail_ms / streams
};

// Sync API: one request, one inference after another.
Measured run_sync(InferRequest& request, const BenchOptions& opts, double budget_ms, Progress& progress) {
  for (int64_t i = 0; i < opts.warmup; ++i) request.infer();
  Measured m;
  const auto start = Clock::now();
  while (true) {
    const int64_t done = int64_t(m.latencies.size());
    const double elapsed = ms_since(start);
    if (opts.niter > 0 ? done >= opts.niter : (done > 0 && elapsed >= budget_ms) || done >= kMaxSamples) break;
    progress.update(done, elapsed);
    auto t = Clock::now();
    request.infer();
    m.latencies.push_back(ms_since(t));
  }
  m.total_ms = ms_since(start);
  m.busy_ms = m.total_ms;
  return m;
}

// Async API: `queue`'s requests kept in flight; a request's latency runs from its start to its completion.
//
// Throughput is steady-state: every stream starts busy (the queue is idle before the measured part and fills at
// once), but once the last request is started the streams run dry one by one, and a stream that finishes its last
// inference early sits idle until the slowest one ends. With S streams, the last S completions are each stream's
// last (a stream only goes idle when nothing is queued, and nothing is queued after the last start), so that idle
// time is known exactly: the sum of (last completion - completion) over them. Throughput counts inferences per
// stream-busy time, i.e. over total_ms - idle / S. (A 2-stream vit_b_16 at 370 ms per inference lost ~5% in a 2 s
// run to that tail; a continuously loaded server never has it.)
Measured run_async(AsyncInferQueue& queue, const std::vector<Tensor>& inputs, const BenchOptions& opts,
                   double budget_ms, Progress& progress, size_t streams) {
  std::mutex mu;
  Measured m;
  std::vector<Clock::time_point> completed;  // completion times of the measured inferences
  std::exception_ptr failure;
  bool measuring = false;
  queue.set_callback([&](InferRequest&, void* user_data, std::exception_ptr error) {
    auto* started = static_cast<Clock::time_point*>(user_data);
    const auto now = Clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - *started).count();
    std::lock_guard<std::mutex> lock(mu);
    if (error && !failure) failure = error;
    if (measuring && !error && int64_t(m.latencies.size()) < kMaxSamples) {
      m.latencies.push_back(ms);
      completed.push_back(now);
    }
    delete started;
  });
  auto check = [&] {
    std::lock_guard<std::mutex> lock(mu);
    if (failure) std::rethrow_exception(failure);
  };
  // Warm-up: every request runs at least once (first runs allocate), then `warmup` more inferences in all.
  const int64_t warm = std::max<int64_t>(opts.warmup, int64_t(queue.size()));
  for (int64_t i = 0; i < warm; ++i) {
    queue.wait_ready();
    queue.start_async(inputs, new Clock::time_point(Clock::now()));
  }
  queue.wait_all();
  check();
  {
    std::lock_guard<std::mutex> lock(mu);
    measuring = true;
  }
  const auto start = Clock::now();
  int64_t started = 0;
  while (true) {
    const double elapsed = ms_since(start);
    if (opts.niter > 0 ? started >= opts.niter : elapsed >= budget_ms || started >= kMaxSamples) break;
    int64_t done;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (failure) break;
      done = int64_t(m.latencies.size());
    }
    progress.update(done, elapsed);
    // The latency starts when a request is free to start, not while this thread waits for one.
    queue.wait_ready();
    queue.start_async(inputs, new Clock::time_point(Clock::now()));
    ++started;
  }
  queue.wait_all();
  m.total_ms = ms_since(start);
  check();
  const size_t s = std::min(streams, queue.size());
  if (s > 1 && completed.size() >= s) {
    std::sort(completed.begin(), completed.end());
    const auto last = completed.back();
    for (size_t i = completed.size() - s; i < completed.size(); ++i)
      m.idle_tail_ms += std::chrono::duration<double, std::milli>(last - completed[i]).count();
  }
  m.busy_ms = m.total_ms - (s > 1 ? m.idle_tail_ms / double(s) : 0.0);
  return m;
}

// Per-node counters summed over several requests (same nodes, same order).
std::vector<NodeProfile> merge_profiles(const std::vector<std::vector<NodeProfile>>& all) {
  std::vector<NodeProfile> out;
  for (const auto& prof : all) {
    if (out.empty()) {
      out = prof;
      continue;
    }
    for (size_t i = 0; i < prof.size() && i < out.size(); ++i) {
      out[i].total_ms += prof[i].total_ms;
      out[i].runs += prof[i].runs;
    }
  }
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

int run_bench(const BenchOptions& opts) {
  CELER_CHECK(opts.niter >= 0 && opts.niter <= kMaxSamples, kInvalidArgument, "--niter must be in [1, ", kMaxSamples,
              "], got ", opts.niter);
  CELER_CHECK(opts.seconds >= 0 && std::isfinite(opts.seconds), kInvalidArgument, "--time must be positive, got ",
              opts.seconds);
  CELER_CHECK(opts.warmup >= 0, kInvalidArgument, "--warmup must not be negative, got ", opts.warmup);
  const bool sync = opts.api == "sync";
  CELER_CHECK(!sync || opts.nireq <= 1, kInvalidArgument, "--nireq ", opts.nireq,
              " needs --api async (the sync API runs one request)");
  const double seconds = opts.niter == 0 && opts.seconds == 0 ? 5.0 : opts.seconds;
  // Fail early rather than after a long benchmark when the report cannot be written.
  if (!opts.report.empty()) check_writable(opts.report);

  Core core;
  const std::string hint = opts.hint.empty() ? (sync ? "latency" : "throughput") : opts.hint;
  Properties props;
  props[hint::performance_mode.name] = upper(hint);
  if (!opts.nstreams.empty()) props[num_streams.name] = opts.nstreams;
  if (opts.nthreads > 0) props[inference_num_threads.name] = std::to_string(opts.nthreads);
  if (!opts.pin.empty()) props[enable_cpu_pinning.name] = opts.pin == "yes" ? "true" : "false";
  if (!opts.cache_dir.empty()) props[cache_dir.name] = opts.cache_dir;
  props[inference_precision.name] = opts.precision;

  CompiledModel cm;
  PreparedInputs in;
  double load_ms = 0;
  // With the model cache and the model's own shapes, the model is compiled from its file, so that a cache hit skips
  // reading it (compile time then includes reading the model or the cache entry).
  bool from_path = !opts.cache_dir.empty() && opts.batch == 0 && opts.inputs.shapes.empty();
  if (from_path) {
    cm = core.compile_model(opts.model, opts.device, props);
    for (const PortInfo& p : cm.inputs()) from_path = from_path && p.shape.is_static();
    if (from_path) in = prepare_input_tensors(cm.inputs(), opts.inputs, nullptr);
  }
  if (!from_path) {
    auto t_load = Clock::now();
    Model model = core.read_model(opts.model);
    load_ms = ms_since(t_load);
    if (opts.batch > 0) {
      // The first dim of every input becomes the batch.
      std::map<std::string, PartialShape> shapes;
      for (const PortInfo& p : model.inputs()) {
        CELER_CHECK(p.shape.rank_known() && p.shape.rank() >= 1, kInvalidArgument, "--batch: input '", p.name, "' has ",
                    p.shape.rank_known() ? "no dims" : "an unknown rank", "; give its shape with --shape");
        std::vector<Dim> dims;
        for (int64_t k = 0; k < p.shape.rank(); ++k) dims.push_back(p.shape[size_t(k)]);
        dims[0] = Dim(opts.batch);
        shapes[p.name] = PartialShape(dims);
      }
      model.reshape(shapes);
    }
    in = prepare_inputs(std::move(model), opts.inputs);
    // Given up: the original weights are freed as the kernels pack their own copies.
    cm = core.compile_model(std::move(in.model), opts.device, props);
  }

  // What the hint chose.
  const int32_t streams = cm.get_property(num_streams);
  const int32_t threads = cm.get_property(inference_threads_per_stream);
  const int32_t total_threads = cm.get_property(inference_num_threads);
  const uint32_t optimal = cm.get_property(optimal_number_of_infer_requests);
  const std::vector<std::string> exec_devices = cm.get_property(execution_devices);
  const bool pinned = cm.get_property(enable_cpu_pinning);
  const size_t nireq = sync ? 1 : size_t(opts.nireq > 0 ? opts.nireq : int64_t(std::max<uint32_t>(optimal, 1)));

  const bool show_progress = opts.progress == "yes" || (opts.progress == "auto" && isatty(STDOUT_FILENO));
  Progress progress(show_progress, opts.niter, seconds * 1000.0);
  Measured m;
  double first_ms = 0;
  std::vector<NodeProfile> prof;
  if (sync) {
    InferRequest request = cm.create_infer_request();
    for (size_t i = 0; i < in.tensors.size(); ++i) request.set_input_tensor(i, in.tensors[i]);
    if (opts.per_layer) request.enable_profiling();
    auto t0 = Clock::now();
    request.infer();
    first_ms = ms_since(t0);
    m = run_sync(request, opts, seconds * 1000.0, progress);
    if (opts.per_layer) prof = request.profile();
  } else {
    AsyncInferQueue queue(cm, nireq);
    if (opts.per_layer)
      for (size_t r = 0; r < queue.size(); ++r) queue[r].enable_profiling();
    // The first inference alone: the cold start a user sees.
    InferRequest& first = queue[0];
    for (size_t i = 0; i < in.tensors.size(); ++i) first.set_input_tensor(i, in.tensors[i]);
    auto t0 = Clock::now();
    first.infer();
    first_ms = ms_since(t0);
    m = run_async(queue, in.tensors, opts, seconds * 1000.0, progress, size_t(std::max(streams, 1)));
    if (opts.per_layer) {
      std::vector<std::vector<NodeProfile>> all;
      for (size_t r = 0; r < queue.size(); ++r) all.push_back(queue[r].profile());
      prof = merge_profiles(all);
    }
  }
  progress.finish();
  CELER_CHECK(!m.latencies.empty(), kRuntime, "no inference completed");

  std::vector<double> sorted = m.latencies;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : sorted) sum += v;
  const double median = quantile(sorted, 0.5), p90 = quantile(sorted, 0.9), p99 = quantile(sorted, 0.99);
  const double avg = sum / double(sorted.size());
  const int64_t per_inference = opts.batch > 0 ? opts.batch : 1;
  const double fps = m.busy_ms > 0 ? double(m.latencies.size()) * 1000.0 / m.busy_ms : 0;

  nlohmann::ordered_json j;
  j["model"] = opts.model;
  j["device"] = cm.device();
  j["configuration"] = {{"api", opts.api},
                        {"hint", hint},
                        {"nstreams", opts.nstreams.empty() ? "" : opts.nstreams},
                        {"nireq", opts.nireq},
                        {"nthreads", opts.nthreads},
                        {"pin", opts.pin},
                        {"batch", opts.batch},
                        {"precision", opts.precision},
                        {"cache_dir", opts.cache_dir},
                        {"warmup", opts.warmup}};
  j["chosen"] = {{"performance_mode", cm.get_property(hint::performance_mode.name)},
                 {"num_streams", streams},
                 {"inference_num_threads", total_threads},
                 {"inference_threads_per_stream", threads},
                 {"enable_cpu_pinning", pinned},
                 {"optimal_number_of_infer_requests", optimal},
                 {"infer_requests", nireq},
                 {"execution_devices", exec_devices}};
  nlohmann::ordered_json shapes = nlohmann::ordered_json::object();
  for (size_t i = 0; i < in.tensors.size(); ++i) shapes[cm.inputs()[i].name] = in.tensors[i].dims();
  j["input_shapes"] = shapes;
  j["count"] = m.latencies.size();
  j["duration_ms"] = m.total_ms;
  j["streams_idle_tail_ms"] = m.idle_tail_ms;
  j["latency_ms"] = {{"median", median},     {"avg", avg}, {"min", sorted.front()},
                     {"max", sorted.back()}, {"p90", p90}, {"p99", p99}};
  j["throughput_fps"] = fps * double(per_inference);
  j["load_ms"] = load_ms;
  j["compile_ms"] = cm.compile_ms();
  j["first_inference_ms"] = first_ms;
  j["peak_rss_mb"] = peak_rss_mb();

  std::ostream& os = std::cout;
  os << "model:        " << opts.model << " on " << cm.device();
  if (exec_devices.size() > 1 || (exec_devices.size() == 1 && exec_devices[0] != cm.device())) {
    os << " (running on ";
    for (size_t i = 0; i < exec_devices.size(); ++i) os << (i ? ", " : "") << exec_devices[i];
    os << ")";
  }
  os << "\n";
  for (size_t i = 0; i < in.tensors.size(); ++i)
    os << "input         " << cm.inputs()[i].name << ": " << element_type_name(in.tensors[i].type())
       << dims_to_string(in.tensors[i].dims()) << (in.sources[i] == "random" ? " random" : " from " + in.sources[i])
       << "\n";
  os << "config:       " << opts.api << " API, hint " << cm.get_property(hint::performance_mode.name) << ": " << streams
     << (streams == 1 ? " stream" : " streams") << " x " << threads << (threads == 1 ? " thread" : " threads")
     << (pinned ? " (pinned)" : "") << ", " << nireq << (nireq == 1 ? " request" : " requests") << ", "
     << opts.precision << "\n";
  os << "load:         " << format_ms(load_ms) << " ms\n";
  os << "compile:      " << format_ms(cm.compile_ms()) << " ms"
     << (opts.cache_dir.empty() ? ""
         : from_path            ? " (model cache on; includes reading the model or the cache entry)"
                                : " (model cache on)")
     << "\n";
  os << "first infer:  " << format_ms(first_ms) << " ms\n";
  os << "count:        " << m.latencies.size() << " inferences in " << format_ms(m.total_ms) << " ms (after "
     << std::max<int64_t>(opts.warmup, sync ? opts.warmup : int64_t(nireq)) << " warm-up)";
  if (m.idle_tail_ms > 0)
    os << "; throughput over " << format_ms(m.busy_ms) << " ms: the streams' idle tail after the last start ("
       << format_ms(m.idle_tail_ms) << " ms in all) excluded";
  os << "\n";
  os << "latency (ms): median " << format_ms(median) << ", avg " << format_ms(avg) << ", p90 " << format_ms(p90)
     << ", p99 " << format_ms(p99) << ", min " << format_ms(sorted.front()) << ", max " << format_ms(sorted.back())
     << "\n";
  char fps_text[32];
  std::snprintf(fps_text, sizeof fps_text, "%.2f", fps * double(per_inference));
  os << "throughput:   " << fps_text << (per_inference > 1 ? " samples/s" : " inferences/s") << "\n";
  os << "peak RSS:     " << static_cast<long long>(std::lround(peak_rss_mb())) << " MB\n";
  if (opts.per_layer) {
    // Sorted by time; the first inferences (first and warm-up) are included in the totals, so shares are what count.
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
      std::snprintf(line, sizeof line, "  %8.3f ms %5.1f%%  %-18s %-22s %-5s %s%s%s\n", per_run,
                    total > 0 ? 100.0 * p.total_ms / total : 0.0, p.op.c_str(), p.kernel.c_str(), p.precision.c_str(),
                    p.name.c_str(), p.details.empty() ? "" : "  +", p.details.c_str());
      os << line;
      pc.push_back({{"node", p.name},
                    {"op", p.op},
                    {"kernel", p.kernel},
                    {"precision", p.precision},
                    {"fused", p.details},
                    {"ms", per_run},
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
  sub->add_option("--device,-d", opts->device, "Device: CPU, REF, AUTO[:list] or MULTI:list")->capture_default_str();
  sub->add_option("--hint", opts->hint,
                  "Performance hint: latency, throughput, cumulative_throughput or none (default: throughput with "
                  "the async API, latency with the sync API)")
      ->check(CLI::IsMember({"latency", "throughput", "cumulative_throughput", "none"}));
  sub->add_option("--api", opts->api, "sync: one request, one inference after another; async: several in flight")
      ->check(CLI::IsMember({"sync", "async"}))
      ->capture_default_str();
  sub->add_option("--nstreams", opts->nstreams, "Streams (a number or AUTO; default: the hint decides)");
  sub->add_option("--nireq", opts->nireq, "Infer requests in flight (async; default: the optimal number)")
      ->check(positive());
  sub->add_option("--nthreads", opts->nthreads, "Threads in all (default: the hint decides)")->check(positive(true));
  sub->add_option("--pin", opts->pin, "Pin stream threads to CPUs: yes or no (default: the device decides)")
      ->check(CLI::IsMember({"yes", "no"}));
  auto* niter = sub->add_option("--niter,-n", opts->niter, "Number of measured inferences")->check(positive());
  auto* time =
      sub->add_option("--time,-t", opts->seconds, "Measure for this many seconds (default 5)")->check(positive());
  niter->excludes(time);
  sub->add_option("--warmup", opts->warmup, "Warm-up inferences before measuring")
      ->check(positive(true))
      ->capture_default_str();
  sub->add_option("--batch,-b", opts->batch, "Batch size: the first dim of every input")->check(positive());
  sub->add_option("--cache-dir", opts->cache_dir, "Model cache folder (compiled models are stored and reused)");
  sub->add_option("--precision", opts->precision, "Inference precision: f32 or bf16")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
  sub->add_flag("--pc", opts->per_layer,
                "Print per-node counters (op, kernel, precision, time, share), sorted by time");
  sub->add_option("--report", opts->report,
                  "Write configuration, chosen settings and results (latency percentiles, throughput, compile and "
                  "first-inference time, peak RSS) as JSON to this file");
  sub->add_option("--progress", opts->progress, "Progress bar: auto (when stdout is a terminal), yes or no")
      ->check(CLI::IsMember({"auto", "yes", "no"}))
      ->capture_default_str();
  add_input_options(*sub, opts->inputs);
  return {sub, [opts] { return run_bench(*opts); }};
}

}  // namespace celer::cli
