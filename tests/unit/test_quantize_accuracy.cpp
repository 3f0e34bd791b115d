// Accuracy-aware quantization (quant/accuracy_aware.hpp): the loop's guarantees on a small CNN whose calibration
// data covers a narrower range than its evaluation data (so quantization costs agreement), the metrics, and errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include "io/npy.hpp"
#include "onnx_builder.hpp"
#include "quant/accuracy_aware.hpp"

using namespace celer;
using namespace celer::quant;
using celer::test::OnnxBuilder;
namespace fs = std::filesystem;

namespace {

std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::string small_cnn() {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {1, 2, 6, 6});
  b.initializer("w1", uniform(6 * 2 * 9, 1, -0.5f, 0.5f), {6, 2, 3, 3});
  b.initializer("b1", uniform(6, 2, -0.1f, 0.1f), {6});
  b.initializer("w2", uniform(6 * 6 * 9, 3, -0.3f, 0.3f), {6, 6, 3, 3});
  b.initializer("b2", uniform(6, 4, -0.1f, 0.1f), {6});
  b.initializer("wf", uniform(5 * 216, 5, -0.2f, 0.2f), {5, 216});
  b.initializer("bf", uniform(5, 6, -0.01f, 0.01f), {5});
  auto& c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
  OnnxBuilder::attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, {"r1"}, "relu1");
  auto& c2 = b.node("Conv", {"r1", "w2", "b2"}, {"c2"}, "conv2");
  OnnxBuilder::attr(c2, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c2"}, {"r2"}, "relu2");
  b.node("Flatten", {"r2"}, {"f"}, "flatten");
  auto& g = b.node("Gemm", {"f", "wf", "bf"}, {"y"}, "fc");
  OnnxBuilder::attr(g, "transB", int64_t(1));
  b.output("y");
  return b.bytes();
}

// Calibration on [-0.2, 0.2]: evaluation samples up to 3 saturate, so INT8 top-1 disagrees with FP32 on some.
CalibrationSet calibration() {
  CalibrationSet set;
  set.input_names = {"x"};
  for (int i = 0; i < 4; ++i) {
    set.samples.push_back({Tensor::from_vector<float>(uniform(72, 100 + uint32_t(i), -0.2f, 0.2f), {1, 2, 6, 6})});
    set.sources.push_back("s" + std::to_string(i));
  }
  return set;
}

struct EvalDir {
  fs::path path;
  explicit EvalDir(int n, bool labels_from_fp32) {
    std::string tmpl = (fs::temp_directory_path() / "celer-aa-test-XXXXXX").string();
    path = mkdtemp(tmpl.data());
    std::vector<float> all;
    for (int i = 0; i < n; ++i) {
      const std::vector<float> v = uniform(72, 500 + uint32_t(i), -3.0f, 3.0f);
      all.insert(all.end(), v.begin(), v.end());
    }
    npy::write((path / "samples.npy").string(), Tensor::from_vector<float>(all, {n, 2, 6, 6}));
    if (labels_from_fp32) {
      // Labels = the FP32 model's own predictions: its top-1 is 100%.
      std::vector<int64_t> ref;
      std::vector<int64_t> none;
      CalibrationSet s;
      s.input_names = {"x"};
      for (int i = 0; i < n; ++i)
        s.samples.push_back({Tensor::from_vector<float>(
            std::vector<float>(all.begin() + i * 72, all.begin() + (i + 1) * 72), {1, 2, 6, 6})});
      evaluate_metric(small_cnn(), "agreement", s, none, ref, s.samples.size());
      npy::write((path / "labels.npy").string(), Tensor::from_vector<int64_t>(ref, {int64_t(ref.size())}));
    }
  }
  ~EvalDir() { fs::remove_all(path); }
};

AccuracyAwareOptions options(const EvalDir& d, const std::string& metric, double max_drop) {
  AccuracyAwareOptions aa;
  aa.eval_dir = d.path.string();
  aa.metric = metric;
  aa.max_drop = max_drop;
  aa.ranking_subset = 40;
  return aa;
}

TEST(QuantAccuracyAware, ReachesTheBoundOrSaysItCannot) {
  const EvalDir d(120, false);
  const CalibrationSet cal = calibration();
  AccuracyAwareReport rep;
  const std::string out =
      quantize_accuracy_aware(small_cnn(), "", cal, QuantizeOptions{}, options(d, "agreement", 0.0), &rep);
  EXPECT_EQ(rep.fp32, 100.0);
  EXPECT_LT(rep.initial, 100.0) << "the test needs a quantization loss to work on";
  EXPECT_EQ(rep.eval_samples, 120);
  EXPECT_EQ(rep.tried.size(), 3u);  // every quantized op was ranked
  const std::set<std::string> ops{"conv1", "conv2", "fc"};
  for (const KeptLayer& k : rep.kept) EXPECT_TRUE(ops.count(k.name)) << k.name;
  if (rep.reached) {
    EXPECT_LE(rep.fp32 - rep.final, 0.0);
  } else {
    EXPECT_EQ(rep.kept.size(), 2u);  // all but one op tried in FP32
  }
  EXPECT_GE(rep.final, rep.initial);
  EXPECT_NO_THROW(Core().read_model_from_memory(out));
}

TEST(QuantAccuracyAware, ALooseBoundKeepsEverythingQuantized) {
  const EvalDir d(60, true);
  AccuracyAwareReport rep;
  quantize_accuracy_aware(small_cnn(), "", calibration(), QuantizeOptions{}, options(d, "top1", 100.0), &rep);
  EXPECT_EQ(rep.fp32, 100.0);  // labels are the FP32 predictions
  EXPECT_TRUE(rep.reached);
  EXPECT_TRUE(rep.kept.empty());
  EXPECT_TRUE(rep.tried.empty());
  EXPECT_EQ(rep.quantize.quantized.size(), 3u);
}

TEST(QuantAccuracyAware, Top1AgainstLabels) {
  const EvalDir d(120, true);
  AccuracyAwareReport rep;
  quantize_accuracy_aware(small_cnn(), "", calibration(), QuantizeOptions{}, options(d, "top1", 1.0), &rep);
  EXPECT_EQ(rep.fp32, 100.0);
  EXPECT_TRUE(rep.reached || rep.kept.size() == 2u);
  if (rep.reached) EXPECT_LE(rep.fp32 - rep.final, 1.0);
}

TEST(QuantAccuracyAware, ScriptMetric) {
  const EvalDir d(10, false);
  AccuracyAwareReport rep;
  // `echo 42 MODEL` prints 42 and the model's path: the last number is 42, for every model, so nothing is lost.
  quantize_accuracy_aware(small_cnn(), "", calibration(), QuantizeOptions{}, options(d, "script:echo 42", 0.0), &rep);
  EXPECT_EQ(rep.fp32, 42.0);
  EXPECT_EQ(rep.final, 42.0);
  EXPECT_TRUE(rep.reached);
}

TEST(QuantAccuracyAware, ErrorsNameTheProblem) {
  const EvalDir d(10, false);
  auto fails_with = [&](const AccuracyAwareOptions& aa, const std::string& needle) {
    try {
      quantize_accuracy_aware(small_cnn(), "", calibration(), QuantizeOptions{}, aa, nullptr);
      ADD_FAILURE() << "no error, expected " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  fails_with(options(d, "bleu", 1.0), "--metric 'bleu'");
  fails_with(options(d, "top1", 1.0), "labels.npy");  // no labels in the folder
  fails_with(options(d, "script:false", 1.0), "failed");
  fails_with(options(d, "script:true", 1.0), "printed no number");
  fails_with(options(d, "agreement", -1.0), "--max-drop");
}

}  // namespace
