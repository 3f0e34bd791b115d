// Runs the built `celer` binary (info, run, bench) on a small model written to a temporary folder.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "io/npy.hpp"
#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;
namespace fs = std::filesystem;

namespace {

struct Result {
  int status = -1;  // exit status
  bool signaled = false;
  std::string output;  // stdout and stderr
};

// Runs `celer ARGS` through the shell (arguments are not quoted: keep them free of spaces).
Result celer_cli(const std::string& args) {
  Result r;
  std::string cmd = std::string(CELER_CLI_PATH) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.signaled = WIFSIGNALED(st);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("celer_cli_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    // x: f32[batch,3]; idx: i64[2]
    //   sum = x + w;  out/flat:0 = Reshape(sum * sum, [-1]);  idx_out = Identity(idx)
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {-1, 3});
    b.graph().mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_param(
        "batch");
    b.input("idx", onnx::TensorProto::INT64, {2});
    b.initializer("w", {1, 2, 3}, {3});
    b.initializer_i64("flat_shape", {-1}, {1});
    b.node("Add", {"x", "w"}, {"sum"});
    b.node("Mul", {"sum", "sum"}, {"sq"});
    b.node("Reshape", {"sq", "flat_shape"}, {"out/flat:0"});
    b.node("Identity", {"idx"}, {"idx_out"});
    b.output("out/flat:0");
    b.output("sum");
    b.output("idx_out");
    model_ = path("model.onnx");
    std::ofstream(model_, std::ios::binary) << b.bytes();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
  std::string model_;
};

// A failure: exit status 1, no signal, a "celer: error:" message containing every fragment.
void expect_failure(const Result& r, std::initializer_list<std::string> fragments, int status = 1) {
  EXPECT_FALSE(r.signaled);
  EXPECT_EQ(r.status, status) << r.output;
  EXPECT_TRUE(contains(r.output, "celer: error:")) << r.output;
  for (const auto& f : fragments) EXPECT_TRUE(contains(r.output, f)) << "missing '" << f << "' in: " << r.output;
}

}  // namespace

TEST_F(CliTest, InfoShowsPortsOpsParametersAndFlops) {
  Result r = celer_cli("info " + model_);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"x", "f32[batch,3]", "idx", "i64[2]", "out/flat:0", "ai.onnx 13", "Add", "Mul", "Reshape",
                        "Identity", "parameters: 4", "n/a"})
    EXPECT_TRUE(contains(r.output, s)) << s << " in:\n" << r.output;
  // With a static shape the FLOP count is known: Add and Mul on [2,3].
  r = celer_cli("info " + model_ + " --shape x=[2,3]");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "f32[2,3]")) << r.output;
  EXPECT_TRUE(contains(r.output, "12 FLOP")) << r.output;
  EXPECT_FALSE(contains(r.output, "n/a")) << r.output;
}

TEST_F(CliTest, RunWritesEveryOutputWithRandomInputs) {
  for (const char* device : {"CPU", "REF"}) {
    const std::string out = path(std::string("out_") + device);
    Result r = celer_cli("run " + model_ + " --device " + device + " --output-dir " + out + " --seed 7");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "latency")) << r.output;
    EXPECT_TRUE(contains(r.output, "min=")) << r.output;
    Tensor flat = npy::read(out + "/out_flat_0.npy");  // '/' and ':' became '_'
    Tensor sum = npy::read(out + "/sum.npy");
    Tensor idx = npy::read(out + "/idx_out.npy");
    ASSERT_EQ(sum.dims(), (Dims{1, 3}));  // the dynamic dim defaults to 1
    ASSERT_EQ(flat.dims(), (Dims{3}));
    for (int i = 0; i < 3; ++i) {
      float x = sum.data<float>()[i] - float(i + 1);  // the random input
      EXPECT_GE(x, -1.0f);
      EXPECT_LT(x, 1.0f);
      EXPECT_FLOAT_EQ(flat.data<float>()[i], sum.data<float>()[i] * sum.data<float>()[i]);
    }
    ASSERT_EQ(idx.type(), ElementType::kI64);
    for (int i = 0; i < 2; ++i) {
      EXPECT_GE(idx.data<int64_t>()[i], 0);
      EXPECT_LT(idx.data<int64_t>()[i], 8);
    }
  }
  // numpy reads the outputs.
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0) {
    EXPECT_EQ(std::system(("/usr/bin/python3 -c \"import numpy; assert numpy.load('" + path("out_CPU/sum.npy") +
                           "').shape == (1, 3)\"")
                              .c_str()),
              0);
  }
}

TEST_F(CliTest, RunIsDeterministicForASeed) {
  auto sum_for = [&](const std::string& seed, const std::string& out) {
    Result r = celer_cli("run " + model_ + " --seed " + seed + " --output-dir " + path(out));
    EXPECT_EQ(r.status, 0) << r.output;
    return npy::read(path(out) + "/sum.npy");
  };
  Tensor a = sum_for("3", "a"), b = sum_for("3", "b"), c = sum_for("4", "c");
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.byte_size()), 0);
  EXPECT_NE(std::memcmp(a.raw(), c.raw(), a.byte_size()), 0);
}

TEST_F(CliTest, RunReadsInputsAndShapes) {
  npy::write(path("x.npy"), Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  Result r = celer_cli("run " + model_ + " --input x=" + path("x.npy") + " --output-dir " + path("o"));
  ASSERT_EQ(r.status, 0) << r.output;
  Tensor sum = npy::read(path("o/sum.npy"));
  ASSERT_EQ(sum.dims(), (Dims{2, 3}));
  const float want[] = {2, 4, 6, 5, 7, 9};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(sum.data<float>()[i], want[i]);
  // --shape sets the dynamic dim of a random input.
  r = celer_cli("run " + model_ + " --shape x=[4,3] --output-dir " + path("o2"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(npy::read(path("o2/sum.npy")).dims(), (Dims{4, 3}));
}

TEST_F(CliTest, BenchWritesTheReport) {
  Result r = celer_cli("bench " + model_ + " --niter 5 --warmup 1 --shape x=[2,3] --report " + path("r.json"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "median")) << r.output;
  EXPECT_TRUE(contains(r.output, "inferences/s")) << r.output;
  std::ifstream f(path("r.json"));
  nlohmann::json j = nlohmann::json::parse(f);
  const auto& lat = j.at("latency_ms");
  double mn = lat.at("min"), med = lat.at("median"), p90 = lat.at("p90"), p99 = lat.at("p99"), mx = lat.at("max");
  EXPECT_LE(mn, med);
  EXPECT_LE(med, p90);
  EXPECT_LE(p90, p99);
  EXPECT_LE(p99, mx);
  EXPECT_GT(j.at("throughput_fps").get<double>(), 0);
  EXPECT_EQ(j.at("count").get<int>(), 5);
  EXPECT_EQ(j.at("device").get<std::string>(), "CPU");
  EXPECT_GE(j.at("compile_ms").get<double>(), 0);
  EXPECT_GT(j.at("first_inference_ms").get<double>(), 0);
  EXPECT_GT(j.at("peak_rss_mb").get<double>(), 0);
  EXPECT_EQ(j.at("input_shapes").at("x"), nlohmann::json::array({2, 3}));
  // Defaults: the async API with the throughput hint; what it chose is reported.
  EXPECT_EQ(j.at("configuration").at("api").get<std::string>(), "async");
  EXPECT_EQ(j.at("chosen").at("performance_mode").get<std::string>(), "THROUGHPUT");
  EXPECT_GE(j.at("chosen").at("num_streams").get<int>(), 1);
  EXPECT_EQ(j.at("chosen").at("infer_requests").get<int>(),
            j.at("chosen").at("optimal_number_of_infer_requests").get<int>());
  // Timed mode, on REF, sync API with explicit settings.
  r = celer_cli("bench " + model_ + " --device REF --time 0.2 --warmup 0 --api sync --hint latency --nthreads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "sync API, hint LATENCY: 1 stream x 1 thread, 1 request")) << r.output;
  // Explicit streams and requests, a batch, per-node counters with their precision.
  r = celer_cli("bench " + model_ + " --niter 8 --hint none --nstreams 2 --nthreads 2 --nireq 3 --batch 4 --pc "
                "--report " + path("r2.json"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "2 streams x 1 thread, 3 requests")) << r.output;
  EXPECT_TRUE(contains(r.output, "per-node counters")) << r.output;
  std::ifstream f2(path("r2.json"));
  j = nlohmann::json::parse(f2);
  EXPECT_EQ(j.at("count").get<int>(), 8);
  EXPECT_EQ(j.at("input_shapes").at("x").at(0).get<int>(), 4);
  EXPECT_EQ(j.at("per_node").at(0).at("precision").get<std::string>(), "f32");
  // Two streams: throughput is over their busy time, the idle tail after the last start (shared by the 2 streams)
  // left out of the wall time.
  const double idle = j.at("streams_idle_tail_ms"), dur = j.at("duration_ms"), fps = j.at("throughput_fps");
  EXPECT_GE(idle, 0);
  EXPECT_LE(idle, dur);
  EXPECT_NEAR(fps, 8 * 4 * 1000.0 / (dur - idle / 2), 1e-6 * fps);
  // Settings that cannot work together are refused before anything runs.
  r = celer_cli("bench " + model_ + " --api sync --nireq 4");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "--nireq 4 needs --api async")) << r.output;
  r = celer_cli("bench " + model_ + " --nstreams many");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "num_streams")) << r.output;
}

TEST_F(CliTest, FailuresExitWithOneAndAMessage) {
  expect_failure(celer_cli("info " + path("missing.onnx")), {"missing.onnx"});
  expect_failure(celer_cli("run " + path("missing.onnx")), {"missing.onnx"});
  { std::ofstream(path("garbage.onnx")) << "not a model"; }
  expect_failure(celer_cli("bench " + path("garbage.onnx") + " --niter 1"), {"garbage.onnx"});
  npy::write(path("x.npy"), Tensor::from_vector<float>({1, 2, 3}, {1, 3}));
  expect_failure(celer_cli("run " + model_ + " --input nosuch=" + path("x.npy")), {"nosuch", "'x'"});
  npy::write(path("x64.npy"), Tensor::from_vector<int64_t>({1, 2, 3}, {1, 3}));
  expect_failure(celer_cli("run " + model_ + " --input x=" + path("x64.npy")), {"'x'", "f32", "i64", "x64.npy"});
  npy::write(path("x4.npy"), Tensor::from_vector<float>({1, 2, 3, 4}, {1, 4}));
  expect_failure(celer_cli("run " + model_ + " --input x=" + path("x4.npy")), {"'x'", "[1,4]"});
  { std::ofstream(path("bad.npy")) << "garbage"; }
  expect_failure(celer_cli("run " + model_ + " --input x=" + path("bad.npy")), {"bad.npy"});
  expect_failure(celer_cli("run " + model_ + " --input x=" + path("none.npy")), {"none.npy"});
  expect_failure(celer_cli("run " + model_ + " --device NOPE"), {"NOPE"});
  expect_failure(celer_cli("run " + model_ + " --shape x=[2,b]"), {"x=[2,b]"});
  expect_failure(celer_cli("run " + model_ + " --shape x=[2,4]"), {"'x'"});
  expect_failure(celer_cli("bench " + model_ + " --niter 1 --report " + path("no/such/dir/r.json")), {"r.json"});
  // Usage errors: status 2.
  expect_failure(celer_cli(""), {}, 2);
  expect_failure(celer_cli("frobnicate"), {}, 2);
  expect_failure(celer_cli("bench " + model_ + " --niter 2 --time 1"), {}, 2);
  expect_failure(celer_cli("bench " + model_ + " --niter 0"), {}, 2);
  EXPECT_EQ(celer_cli("--help").status, 0);
}

TEST_F(CliTest, RunRefusesToWriteThroughSymlinks) {
  fs::create_directories(path("out"));
  fs::create_symlink(path("elsewhere.npy"), path("out/sum.npy"));
  expect_failure(celer_cli("run " + model_ + " --output-dir " + path("out")), {"symbolic link", "sum"});
  EXPECT_FALSE(fs::exists(path("elsewhere.npy")));
}

TEST_F(CliTest, SymbolicDimsTakeTheValueGivenForAnotherInput) {
  // a, b: f32[batch,2]; c = a + b. Fixing "batch" through a fixes it for b.
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::FLOAT, {-1, 2});
  b.input("b", onnx::TensorProto::FLOAT, {-1, 2});
  for (int i = 0; i < 2; ++i)
    b.graph().mutable_input(i)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_param(
        "batch");
  b.node("Add", {"a", "b"}, {"c"});
  b.output("c");
  const std::string model = path("two.onnx");
  std::ofstream(model, std::ios::binary) << b.bytes();
  Result r = celer_cli("run " + model + " --shape a=[4,2] --output-dir " + path("o"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(npy::read(path("o/c.npy")).dims(), (Dims{4, 2}));
  npy::write(path("b.npy"), Tensor(ElementType::kF32, {3, 2}));
  r = celer_cli("bench " + model + " --niter 2 --input b=" + path("b.npy"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "a: f32[3,2]")) << r.output;
}
