// Properties (typed keys, codecs, errors), Core defaults, performance hints (with a fake CPU count), the CPU resource
// parsers, and the AUTO / MULTI devices.
#include <gtest/gtest.h>
#include <omp.h>
#include <sched.h>
#include <unistd.h>
#include <filesystem>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "onnx_builder.hpp"
#include "runtime/cpu_resources.hpp"
#include "runtime/hints.hpp"
#include "runtime/multi.hpp"
#include "runtime/properties.hpp"
#include "runtime/streams.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

// x [2, 8] -> MatMul (8x8 weights) -> Relu -> y
Model small_model() {
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {2, 8});
  std::vector<float> w(64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 7) - 3) * 0.25f;
  b.initializer("w", w, {8, 8});
  b.node("MatMul", {"x", "w"}, {"h"});
  b.node("Relu", {"h"}, {"y"});
  b.output("y");
  return b.read();
}

Tensor small_input(float seed) {
  std::vector<float> v(16);
  for (size_t i = 0; i < v.size(); ++i) v[i] = seed + float(i) * 0.5f - 3.0f;
  return Tensor::from_vector<float>(v, {2, 8});
}

std::vector<float> run_once(const CompiledModel& cm, const Tensor& x) {
  InferRequest r = cm.create_infer_request();
  r.set_input_tensor(0, x);
  r.infer();
  const Tensor& y = r.get_output_tensor(0);
  return std::vector<float>(y.data<float>(), y.data<float>() + y.size());
}

// Runs f, expects a celer::Error with `code` whose message contains every string of `parts`.
template <typename F>
void expect_error(F&& f, ErrorCode code, std::initializer_list<const char*> parts) {
  try {
    f();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << p << " in " << e.what();
  }
}

}  // namespace

TEST(Properties, CodecsRoundTrip) {
  EXPECT_TRUE(enable_cpu_pinning.parse("YES"));
  EXPECT_TRUE(enable_cpu_pinning.parse("true"));
  EXPECT_FALSE(enable_cpu_pinning.parse("0"));
  EXPECT_EQ(num_streams.parse("AUTO").value, NumStreams::kAuto);
  EXPECT_EQ(num_streams.parse("auto").value, NumStreams::kAuto);
  EXPECT_EQ(num_streams.parse("3").value, 3);
  EXPECT_EQ(hint::performance_mode.parse("throughput"), PerformanceMode::kThroughput);
  EXPECT_EQ(hint::num_requests.parse("4"), 4u);
  EXPECT_EQ(inference_precision.parse("bf16"), ElementType::kBF16);
  EXPECT_EQ(execution_devices.parse("CPU, REF"), (std::vector<std::string>{"CPU", "REF"}));
  EXPECT_EQ(hint::performance_mode(PerformanceMode::kCumulativeThroughput).second, "CUMULATIVE_THROUGHPUT");
  EXPECT_EQ(num_streams(NumStreams::kAuto).second, "AUTO");
  EXPECT_EQ(num_streams(2).second, "2");
  EXPECT_EQ(enable_cpu_pinning(true).second, "true");
}

TEST(Properties, IllTypedValuesNameTheKeyAndWhatItAccepts) {
  expect_error([] { num_streams.parse("0"); }, ErrorCode::kInvalidArgument, {"'num_streams'", "AUTO", "'0'"});
  expect_error([] { num_streams.parse("two"); }, ErrorCode::kInvalidArgument, {"'num_streams'", "'two'"});
  expect_error([] { hint::num_requests.parse("-1"); }, ErrorCode::kInvalidArgument, {"'num_requests'", "non-negative"});
  expect_error([] { inference_num_threads.parse("1.5"); }, ErrorCode::kInvalidArgument, {"inference_num_threads"});
  expect_error([] { enable_cpu_pinning.parse("maybe"); }, ErrorCode::kInvalidArgument, {"enable_cpu_pinning", "true"});
  expect_error([] { hint::performance_mode.parse("FAST"); }, ErrorCode::kInvalidArgument,
               {"performance_mode", "LATENCY", "THROUGHPUT", "'FAST'"});
  Core core;
  Model m = small_model();
  expect_error(
      [&] {
        core.compile_model(m, "CPU", {{"num_streams", "-3"}});
      },
      ErrorCode::kInvalidArgument, {"'num_streams'", "'-3'"});
  expect_error(
      [&] {
        core.compile_model(m, "CPU", {{"inference_num_threads", "99999"}});
      },
      ErrorCode::kInvalidArgument, {"'inference_num_threads'", "4096"});
}

TEST(Properties, UnknownAndReadOnlyKeysAreErrors) {
  Core core;
  Model m = small_model();
  expect_error(
      [&] {
        core.compile_model(m, "CPU", {{"num_stream", "2"}});
      },
      ErrorCode::kInvalidArgument, {"unknown property 'num_stream'", "num_streams", "performance_mode"});
  expect_error(
      [&] {
        core.compile_model(m, "CPU", {{"optimal_number_of_infer_requests", "2"}});
      },
      ErrorCode::kInvalidArgument, {"'optimal_number_of_infer_requests'", "read-only"});
  expect_error(
      [&] {
        core.set_property("CPU", {{"execution_devices", "CPU"}});
      },
      ErrorCode::kInvalidArgument, {"'execution_devices'", "read-only"});
  expect_error(
      [&] {
        core.set_property("GPU", {{"num_streams", "2"}});
      },
      ErrorCode::kInvalidArgument, {"unknown device 'GPU'"});
  expect_error([&] { core.get_property("CPU", "bogus"); }, ErrorCode::kInvalidArgument, {"'bogus'"});
  CompiledModel cm = core.compile_model(m, "REF");
  expect_error([&] { cm.get_property("bogus"); }, ErrorCode::kInvalidArgument, {"unknown property 'bogus'"});
  expect_error([] { parse_compile_options({{"plan_memory", "2"}}); }, ErrorCode::kInvalidArgument, {"plan_memory"});
}

// A cache folder under the system's temp directory, removed at the end of the test.
struct TempCache {
  std::string path;
  TempCache() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "celer-cache-XXXXXX").string();
    path = mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempCache() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST(Properties, CompiledModelReportsValuesInEffect) {
  Core core;
  TempCache cache;
  ASSERT_FALSE(cache.path.empty());
  CompiledModel cm = core.compile_model(
      small_model(), "CPU",
      {hint::performance_mode(PerformanceMode::kLatency), enable_cpu_pinning(false), cache_dir(cache.path),
       inference_precision(ElementType::kF32), enable_fusion(true), plan_memory(false), hint::num_requests(3)});
  EXPECT_EQ(cm.get_property(hint::performance_mode), PerformanceMode::kLatency);
  EXPECT_EQ(cm.get_property(num_streams).value, 1);
  EXPECT_EQ(cm.get_property(inference_num_threads), allowed_cpu_count());
  EXPECT_EQ(cm.get_property(inference_threads_per_stream), allowed_cpu_count());
  EXPECT_EQ(cm.get_property(optimal_number_of_infer_requests), 1u);
  EXPECT_EQ(cm.get_property(cache_dir), cache.path);
  EXPECT_FALSE(cm.get_property(enable_cpu_pinning));
  EXPECT_FALSE(cm.get_property(plan_memory));
  EXPECT_TRUE(cm.get_property(enable_fusion));
  EXPECT_EQ(cm.get_property(hint::num_requests), 3u);
  EXPECT_EQ(cm.get_property(inference_precision), ElementType::kF32);
  EXPECT_EQ(cm.get_property(execution_devices), std::vector<std::string>{"CPU"});
  // Every supported key can be read; the list is the table's.
  std::vector<std::string> keys = cm.get_property(supported_properties);
  EXPECT_EQ(keys, supported_property_names());
  for (const std::string& k : keys) EXPECT_NO_THROW(cm.get_property(k)) << k;
  for (const char* k :
       {"performance_mode", "num_requests", "num_streams", "inference_num_threads", "enable_cpu_pinning",
        "optimal_number_of_infer_requests", "cache_dir", "execution_devices", "supported_properties"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
}

TEST(Properties, ThroughputHintChoosesStreamsOnThisMachine) {
  Core core;
  const int cpus = allowed_cpu_count();
  CompiledModel cm = core.compile_model(small_model(), "CPU", {hint::performance_mode(PerformanceMode::kThroughput)});
  EXPECT_EQ(cm.get_property(num_streams).value, cpus);  // a small model: one thread per stream
  EXPECT_EQ(cm.get_property(inference_threads_per_stream), 1);
  EXPECT_EQ(cm.get_property(optimal_number_of_infer_requests), uint32_t(2 * cpus));  // two per stream
  // Explicit settings override the hint.
  CompiledModel cm2 = core.compile_model(
      small_model(), "CPU",
      {hint::performance_mode(PerformanceMode::kThroughput), num_streams(3), inference_num_threads(6)});
  EXPECT_EQ(cm2.get_property(num_streams).value, 3);
  EXPECT_EQ(cm2.get_property(inference_threads_per_stream), 2);
  EXPECT_EQ(cm2.get_property(inference_num_threads), 6);
  EXPECT_EQ(run_once(cm2, small_input(1)), run_once(core.compile_model(small_model(), "REF"), small_input(1)));
}

TEST(Properties, CoreDefaultsApplyAndCompilePropertiesOverrideThem) {
  Core core;
  EXPECT_EQ(core.get_property("CPU", num_streams).value, 1);
  core.set_property({hint::performance_mode(PerformanceMode::kThroughput)});
  EXPECT_EQ(core.get_property("CPU", hint::performance_mode), PerformanceMode::kThroughput);
  EXPECT_EQ(core.get_property("CPU", num_streams).value, NumStreams::kAuto);
  TempCache cache;
  ASSERT_FALSE(cache.path.empty());
  core.set_property("CPU", {num_streams(2), cache_dir(cache.path)});
  EXPECT_EQ(core.get_property("CPU", num_streams).value, 2);
  EXPECT_EQ(core.get_property("CPU", cache_dir), cache.path);
  EXPECT_EQ(core.get_property("REF", cache_dir), "");  // per-device defaults stay on their device
  EXPECT_EQ(core.get_property("", hint::performance_mode), PerformanceMode::kThroughput);
  EXPECT_EQ(core.get_property("CPU", supported_properties), supported_property_names());
  EXPECT_EQ(core.get_property("MULTI:CPU,REF", execution_devices), (std::vector<std::string>{"CPU", "REF"}));
  EXPECT_EQ(core.get_property("AUTO:REF,CPU", execution_devices), std::vector<std::string>{"REF"});
  EXPECT_GE(core.get_property("CPU", optimal_number_of_infer_requests), 1u);
  CompiledModel cm = core.compile_model(small_model(), "CPU");
  EXPECT_EQ(cm.get_property(num_streams).value, 2);
  EXPECT_EQ(cm.get_property(hint::performance_mode), PerformanceMode::kThroughput);
  CompiledModel cm2 = core.compile_model(small_model(), "CPU", {num_streams(1)});
  EXPECT_EQ(cm2.get_property(num_streams).value, 1);
  // A copy of the Core shares its defaults.
  Core copy = core;
  EXPECT_EQ(copy.get_property("CPU", num_streams).value, 2);
}

// ---- Hints with a fake machine
namespace {
ModelStats small_stats() { return {600e6, 14e6, 50e6, false}; }  // mobilenet-like
ModelStats large_stats() { return {8e9, 100e6, 100e6, false}; }  // resnet50-like: compute-bound
ModelStats memory_stats() { return {8e9, 2e9, 100e6, false}; }   // huge weights: memory-bound
CompileOptions with(PerformanceMode m, int32_t streams = 0, int32_t threads = 0, uint32_t requests = 0) {
  CompileOptions o;
  o.performance_mode = m;
  o.num_streams = streams;
  o.inference_num_threads = threads;
  o.num_requests = requests;
  return o;
}
// requests: the optimal number of requests (default: one per stream; THROUGHPUT plans two per stream).
void expect_plan(const StreamPlan& p, int streams, int threads, int requests = 0) {
  EXPECT_EQ(p.streams, streams);
  EXPECT_EQ(p.threads_per_stream, threads);
  EXPECT_EQ(p.optimal_requests, uint32_t(requests > 0 ? requests : streams));
}
}  // namespace

TEST(Hints, LatencyAndNoHintUseOneStreamWithEveryCpu) {
  expect_plan(plan_streams(with(PerformanceMode::kLatency), large_stats(), 2), 1, 2);
  expect_plan(plan_streams(with(PerformanceMode::kLatency), small_stats(), 64), 1, 64);
  expect_plan(plan_streams(with(PerformanceMode::kNone), small_stats(), 8), 1, 8);
  expect_plan(plan_streams(with(PerformanceMode::kLatency, 0, 3), small_stats(), 8), 1, 3);
}

TEST(Hints, ThroughputFromModelAndMachine) {
  // Two CPUs: two 1-thread streams for every model, two requests per stream.
  for (const ModelStats& s : {small_stats(), large_stats(), memory_stats()})
    expect_plan(plan_streams(with(PerformanceMode::kThroughput), s, 2), 2, 1, 4);
  // Small and memory-bound models: one thread per stream on any machine.
  expect_plan(plan_streams(with(PerformanceMode::kThroughput), small_stats(), 64), 64, 1, 128);
  expect_plan(plan_streams(with(PerformanceMode::kThroughput), memory_stats(), 64), 64, 1, 128);
  // Large compute-bound models: wider streams on big machines.
  expect_plan(plan_streams(with(PerformanceMode::kThroughput), large_stats(), 8), 8, 1, 16);
  expect_plan(plan_streams(with(PerformanceMode::kThroughput), large_stats(), 16), 8, 2, 16);
  expect_plan(plan_streams(with(PerformanceMode::kThroughput), large_stats(), 64), 16, 4, 32);
  // Dynamic shapes: unknown work, treated as small.
  ModelStats dyn = large_stats();
  dyn.dynamic = true;
  expect_plan(plan_streams(with(PerformanceMode::kThroughput), dyn, 64), 64, 1, 128);
  // CUMULATIVE_THROUGHPUT plans each device as THROUGHPUT.
  expect_plan(plan_streams(with(PerformanceMode::kCumulativeThroughput), small_stats(), 4), 4, 1, 8);
}

TEST(Hints, NumRequestsCapsStreamsAndExplicitSettingsOverride) {
  // hint::num_requests caps the streams and the requests.
  expect_plan(plan_streams(with(PerformanceMode::kThroughput, 0, 0, 2), small_stats(), 8), 2, 4, 2);
  expect_plan(plan_streams(with(PerformanceMode::kThroughput, 0, 0, 3), small_stats(), 8), 3, 2, 3);
  expect_plan(plan_streams(with(PerformanceMode::kThroughput, 0, 0, 16), small_stats(), 8), 8, 1, 16);
  expect_plan(plan_streams(with(PerformanceMode::kThroughput, 4), small_stats(), 8), 4, 2, 8);
  expect_plan(plan_streams(with(PerformanceMode::kThroughput, 0, 4), small_stats(), 8), 4, 1, 8);
  expect_plan(plan_streams(with(PerformanceMode::kLatency, 3), small_stats(), 8), 3, 2);
  expect_plan(plan_streams(with(PerformanceMode::kNone, 8), small_stats(), 2), 8, 1);
  // num_streams AUTO without a hint: the THROUGHPUT choice of streams; one request per stream (no hint).
  expect_plan(plan_streams(with(PerformanceMode::kNone, NumStreams::kAuto), small_stats(), 4), 4, 1);
}

TEST(Hints, ModelStatsCountFlopsAndWeights) {
  ModelStats s = model_stats(small_model().graph());
  EXPECT_GT(s.flops, 0);
  EXPECT_EQ(s.weight_bytes, 64 * 4);
  EXPECT_EQ(s.activation_bytes, 2 * 16 * 4);
  EXPECT_FALSE(s.dynamic);
}

// ---- CPU resources
TEST(CpuResources, CgroupParsers) {
  EXPECT_EQ(parse_cgroup2_cpu_max("max 100000\n"), 0);
  EXPECT_EQ(parse_cgroup2_cpu_max("200000 100000\n"), 2);
  EXPECT_EQ(parse_cgroup2_cpu_max("150000 100000"), 1.5);
  EXPECT_EQ(parse_cgroup2_cpu_max("50000"), 0.5);  // period defaults to 100 ms
  EXPECT_EQ(parse_cgroup2_cpu_max(""), 0);
  EXPECT_EQ(parse_cgroup2_cpu_max("garbage 1"), 0);
  EXPECT_EQ(parse_cgroup2_cpu_max("100000 0"), 0);
  EXPECT_EQ(parse_cgroup1_quota("-1\n", "100000\n"), 0);
  EXPECT_EQ(parse_cgroup1_quota("400000\n", "100000\n"), 4);
  EXPECT_EQ(parse_cgroup1_quota("50000", ""), 0);
  EXPECT_EQ(quota_cpus(0.5), 1);
  EXPECT_EQ(quota_cpus(1.5), 1);
  EXPECT_EQ(quota_cpus(4), 4);
}

TEST(CpuResources, ProcFilesParsers) {
  const char* mountinfo =
      "25 30 0:23 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "33 31 0:30 /docker/abc /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
      "34 31 0:31 /kube /mnt/cpu rw - cgroup cgroup rw,cpu\n"
      "garbage line\n";
  std::vector<CgroupMount> m = parse_cgroup_mounts(mountinfo);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_TRUE(m[0].v2);
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup");
  EXPECT_FALSE(m[1].v2);
  EXPECT_EQ(m[1].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m[2].root, "/kube");
  const char* cgroup = "12:cpuset:/x\n4:cpu,cpuacct:/docker/abc\n0::/user.slice/session-1.scope\n";
  EXPECT_EQ(parse_proc_cgroup(cgroup, true), "/user.slice/session-1.scope");
  EXPECT_EQ(parse_proc_cgroup(cgroup, false), "/docker/abc");
  EXPECT_EQ(parse_proc_cgroup("1:cpuacct:/a\n", false), "");
  EXPECT_EQ(parse_proc_cgroup("", true), "");
}

TEST(CpuResources, AllowedCpusRespectAffinity) {
  std::vector<int> cpus = allowed_cpus();
  ASSERT_FALSE(cpus.empty());
  std::vector<int> aff = affinity_cpus();
  EXPECT_LE(cpus.size(), std::max<size_t>(1, aff.size()));
  for (int c : cpus) EXPECT_NE(std::find(aff.begin(), aff.end(), c), aff.end());
  const double q = cgroup_cpu_quota();
  if (q > 0) {
    EXPECT_LE(int(cpus.size()), quota_cpus(q));
  }
}

TEST(Streams, PinSetsAreDisjointOrNone) {
  EXPECT_EQ(pin_sets({0, 1, 2, 3}, 2, 2), (std::vector<std::vector<int>>{{0, 1}, {2, 3}}));
  EXPECT_EQ(pin_sets({4, 6}, 2, 1), (std::vector<std::vector<int>>{{4}, {6}}));
  EXPECT_EQ(pin_sets({0, 1}, 2, 2), (std::vector<std::vector<int>>{{}, {}}));
}

TEST(Streams, PinnedStreamGivesEachOpenMpThreadItsOwnCpu) {
  const std::vector<int> cpus = allowed_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "needs 2 CPUs";
  StreamPool pool({StreamSpec{0, 2, {cpus[0], cpus[1]}}});
  std::promise<std::vector<int>> seen;
  pool.submit([&](int) {
    std::vector<int> where(2, -1);
#pragma omp parallel num_threads(2)
    {
      cpu_set_t set;
      CPU_ZERO(&set);
      if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1)
        for (int c = 0; c < CPU_SETSIZE; ++c)
          if (CPU_ISSET(c, &set)) where[size_t(omp_get_thread_num())] = c;
    }
    seen.set_value(where);
  });
  const std::vector<int> where = seen.get_future().get();
  EXPECT_EQ(where, (std::vector<int>{cpus[0], cpus[1]}));
}

TEST(Streams, OneThreadStreamsAreLentToSynchronousCallers) {
  StreamPool pool({StreamSpec{0, 1, {}}});
  const int before = omp_get_max_threads();
  std::atomic<bool> ran{false};
  {
    StreamPool::Borrowed lent = pool.borrow();
    ASSERT_TRUE(lent);
    EXPECT_EQ(lent.target(), 0);
    EXPECT_EQ(omp_get_max_threads(), 1);  // the stream's thread count while the caller runs its job
    // The pool's only stream is lent: nothing more runs, and there is nothing more to lend.
    EXPECT_FALSE(pool.borrow());
    pool.submit([&](int) { ran = true; });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(ran.load());
  }
  EXPECT_EQ(omp_get_max_threads(), before);
  // Returned: the queued job runs, and while it waits in the queue no stream is lent (no overtaking).
  for (int i = 0; i < 500 && !ran.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_TRUE(ran.load());
}

TEST(Streams, StreamsOfSeveralThreadsOrPinnedAreNotLent) {
  EXPECT_FALSE(StreamPool({StreamSpec{0, 2, {}}}).borrow());
  EXPECT_FALSE(StreamPool({StreamSpec{0, 1, {0}}}).borrow());
  EXPECT_FALSE(StreamPool({StreamSpec{0, 1, {}}, StreamSpec{1, 1, {}}}).borrow());  // MULTI: two targets
  StreamPool two({StreamSpec{0, 1, {}}, StreamSpec{0, 1, {}}});
  StreamPool::Borrowed a = two.borrow(), b = two.borrow();
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_FALSE(two.borrow());
}

TEST(Streams, BusyStreamsAreNotLent) {
  StreamPool pool({StreamSpec{0, 1, {}}});
  std::promise<void> started, release;
  std::shared_future<void> go = release.get_future().share();
  pool.submit([&](int) {
    started.set_value();
    go.wait();
  });
  started.get_future().wait();
  EXPECT_FALSE(pool.borrow());  // its one stream runs a job
  release.set_value();
  for (int i = 0; i < 500; ++i) {
    StreamPool::Borrowed b = pool.borrow();
    if (b) {
      EXPECT_EQ(b.target(), 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ADD_FAILURE() << "the stream was never lent after its job ended";
}

// ---- AUTO and MULTI
TEST(AutoMulti, DeviceNamesParse) {
  EXPECT_EQ(select_devices("CPU").kind, DeviceSelection::Kind::kSingle);
  DeviceSelection a = select_devices("AUTO");
  EXPECT_EQ(a.kind, DeviceSelection::Kind::kAuto);
  ASSERT_EQ(a.devices.size(), 2u);
  EXPECT_EQ(a.devices[0]->name(), "CPU");
  DeviceSelection m = select_devices("MULTI:REF,CPU");
  EXPECT_EQ(m.kind, DeviceSelection::Kind::kMulti);
  EXPECT_EQ(m.devices[0]->name(), "REF");
  expect_error([] { select_devices("AUTO:NOPE"); }, ErrorCode::kInvalidArgument, {"unknown device 'NOPE'", "CPU"});
  expect_error([] { select_devices("MULTI"); }, ErrorCode::kInvalidArgument, {"MULTI:CPU,REF"});
  expect_error([] { select_devices("MULTI:CPU,,REF"); }, ErrorCode::kInvalidArgument, {"empty entry"});
  expect_error([] { select_devices("MULTI:CPU,CPU"); }, ErrorCode::kInvalidArgument, {"listed twice"});
  expect_error([] { select_devices("CPU:REF"); }, ErrorCode::kInvalidArgument, {"unknown device 'CPU:REF'"});
}

TEST(AutoMulti, AutoPicksTheFirstDeviceThatCompiles) {
  Core core;
  Model m = small_model();
  const std::vector<float> want = run_once(core.compile_model(m, "REF"), small_input(2));
  for (const char* dev : {"AUTO", "AUTO:CPU,REF"}) {
    CompiledModel cm = core.compile_model(m, dev);
    EXPECT_EQ(cm.device(), dev);
    EXPECT_EQ(cm.get_property(execution_devices), std::vector<std::string>{"CPU"}) << dev;
    EXPECT_EQ(run_once(cm, small_input(2)), want);
  }
  CompiledModel ref_first = core.compile_model(m, "AUTO:REF,CPU");
  EXPECT_EQ(ref_first.get_property(execution_devices), std::vector<std::string>{"REF"});
  expect_error([&] { core.compile_model(m, "AUTO:NOPE"); }, ErrorCode::kInvalidArgument, {"'NOPE'"});
  // A bad property is the caller's error, not a device failure: AUTO reports it instead of trying the next device.
  expect_error(
      [&] {
        core.compile_model(m, "AUTO:CPU,REF", {{"num_streams", "x"}});
      },
      ErrorCode::kInvalidArgument, {"num_streams"});
}

TEST(AutoMulti, MultiCompilesOnEveryDevice) {
  Core core;
  Model m = small_model();
  CompiledModel cm = core.compile_model(m, "MULTI:CPU,REF", {num_streams(2)});
  EXPECT_EQ(cm.device(), "MULTI:CPU,REF");
  EXPECT_EQ(cm.get_property(execution_devices), (std::vector<std::string>{"CPU", "REF"}));
  EXPECT_EQ(cm.get_property(num_streams).value, 4);
  EXPECT_EQ(cm.get_property(optimal_number_of_infer_requests), 4u);
  CompiledModel cumulative =
      core.compile_model(m, "AUTO:CPU,REF", {hint::performance_mode(PerformanceMode::kCumulativeThroughput)});
  EXPECT_EQ(cumulative.get_property(execution_devices), (std::vector<std::string>{"CPU", "REF"}));
  EXPECT_EQ(run_once(cumulative, small_input(3)), run_once(core.compile_model(m, "REF"), small_input(3)));
}
