// The post-training quantizer (src/quant): observers, quantization parameters, the QDQ graph it writes, accuracy of
// the result against FP32, ignored scope, bias correction, and its errors (nothing written on any of them).
#include <gtest/gtest.h>
#include <png.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "io/npy.hpp"
#include "onnx_builder.hpp"
#include "quant/evaluate.hpp"
#include "quant/observers.hpp"
#include "quant/qdq_plan.hpp"
#include "quant/quant_params.hpp"
#include "quant/quantize.hpp"

using namespace celer;
using namespace celer::quant;
using celer::test::OnnxBuilder;
namespace fs = std::filesystem;

namespace {

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TensorStats stats_of(const std::vector<float>& v, bool absolute) {
  TensorStats s;
  s.observe_minmax(v.data(), int64_t(v.size()));
  s.start_histogram(absolute);
  s.observe_histogram(v.data(), int64_t(v.size()));
  return s;
}

// A small CNN: x[1,2,6,6] -> Conv(4) -> Relu -> Conv(4) -> Add(residual) -> Relu -> MaxPool(2) -> Flatten
// -> Gemm(3, transB) -> y. Weights are deterministic pseudo-random.
OnnxBuilder small_cnn(int64_t batch = 1) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {batch, 2, 6, 6});
  b.initializer("w1", uniform(4 * 2 * 9, 1, -0.5f, 0.5f), {4, 2, 3, 3});
  b.initializer("b1", uniform(4, 2, -0.1f, 0.1f), {4});
  b.initializer("w2", uniform(4 * 4 * 9, 3, -0.3f, 0.3f), {4, 4, 3, 3});
  b.initializer("b2", uniform(4, 4, -0.1f, 0.1f), {4});
  b.initializer("wf", uniform(3 * 36, 5, -0.4f, 0.4f), {3, 36});
  b.initializer("bf", uniform(3, 6, -0.1f, 0.1f), {3});
  auto& c1 = b.node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
  OnnxBuilder::attr(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, {"r1"}, "relu1");
  auto& c2 = b.node("Conv", {"r1", "w2", "b2"}, {"c2"}, "conv2");
  OnnxBuilder::attr(c2, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Add", {"c2", "r1"}, {"s"}, "add");
  b.node("Relu", {"s"}, {"r2"}, "relu2");
  auto& mp = b.node("MaxPool", {"r2"}, {"p"}, "pool");
  OnnxBuilder::attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(mp, "strides", std::vector<int64_t>{2, 2});
  b.node("Flatten", {"p"}, {"f"}, "flatten");
  auto& g = b.node("Gemm", {"f", "wf", "bf"}, {"y"}, "fc");
  OnnxBuilder::attr(g, "transB", int64_t(1));
  b.output("y");
  return b;
}

CalibrationSet calibration(int n, uint32_t seed = 7, Dims dims = {1, 2, 6, 6}) {
  CalibrationSet set;
  set.input_names = {"x"};
  for (int i = 0; i < n; ++i) {
    const int64_t count = element_count(dims);
    set.samples.push_back({Tensor::from_vector<float>(uniform(size_t(count), seed + uint32_t(i), -1.0f, 2.0f), dims)});
    set.sources.push_back("sample" + std::to_string(i));
  }
  return set;
}

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

int count_op(const onnx::ModelProto& m, const std::string& op) {
  int n = 0;
  for (const auto& node : m.graph().node()) n += node.op_type() == op ? 1 : 0;
  return n;
}

const onnx::NodeProto* node_named(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& n : m.graph().node())
    if (n.name() == name) return &n;
  return nullptr;
}

const onnx::NodeProto* producer_of(const onnx::ModelProto& m, const std::string& tensor) {
  for (const auto& n : m.graph().node())
    for (const auto& o : n.output())
      if (o == tensor) return &n;
  return nullptr;
}

const onnx::TensorProto* initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

std::vector<Tensor> run(const std::string& bytes, const std::string& device, const std::vector<Tensor>& in) {
  Core core;
  CompiledModel cm = core.compile_model(core.read_model_from_memory(bytes), device);
  InferRequest r = cm.create_infer_request();
  for (size_t i = 0; i < in.size(); ++i) r.set_input_tensor(i, in[i]);
  r.infer();
  std::vector<Tensor> out;
  for (size_t i = 0; i < cm.outputs().size(); ++i) out.push_back(r.get_output_tensor(i).clone());
  return out;
}

QuantizeOptions ref_options() {
  QuantizeOptions o;
  o.device = "REF";
  return o;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "celer-quant-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f << bytes;
}

}  // namespace

// ---- observers ----

TEST(QuantObservers, MinMaxIsTheObservedRange) {
  auto v = uniform(10000, 1, -2.0f, 3.0f);
  TensorStats s;
  s.observe_minmax(v.data(), int64_t(v.size()));
  const Range sym = choose_range(s, ObserverKind::kMinMax, true);
  EXPECT_FLOAT_EQ(sym.hi, s.max());
  EXPECT_FLOAT_EQ(sym.lo, -s.max());
  const Range asym = choose_range(s, ObserverKind::kMinMax, false);
  EXPECT_FLOAT_EQ(asym.lo, s.min());
  EXPECT_FLOAT_EQ(asym.hi, s.max());
}

TEST(QuantObservers, NonFiniteValuesAreLeftOut) {
  std::vector<float> v = {1.0f, NAN, -2.0f, INFINITY};
  TensorStats s;
  s.observe_minmax(v.data(), 4);
  EXPECT_EQ(s.count(), 2);
  EXPECT_EQ(s.min(), -2.0f);
  EXPECT_EQ(s.max(), 1.0f);
}

TEST(QuantObservers, PercentileOfAGaussian) {
  auto v = gaussian(400000, 2);
  v.push_back(50.0f);  // an outlier
  const TensorStats s = stats_of(v, true);
  const Range r = choose_range(s, ObserverKind::kPercentile, true, 99.0);
  // 99% of |x| for N(0,1) lies below 2.576.
  EXPECT_NEAR(r.hi, 2.576f, 0.1f);
  EXPECT_FLOAT_EQ(r.lo, -r.hi);
  // Asymmetric: 0.5% clipped at each end.
  const TensorStats a = stats_of(v, false);
  const Range ra = choose_range(a, ObserverKind::kPercentile, false, 99.0);
  EXPECT_NEAR(ra.hi, 2.576f, 0.1f);
  EXPECT_NEAR(ra.lo, -2.576f, 0.1f);
}

std::vector<float> laplace(size_t n, uint32_t seed, bool one_sided) {
  std::mt19937 rng(seed);
  std::exponential_distribution<float> e(1.0f);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (one_sided || (rng() & 1)) ? e(rng) : -e(rng);
  return v;
}

TEST(QuantObservers, MseAndEntropyClipOutliers) {
  // MSE: for a Laplace distribution (b = 1) at 8 bits the best clipping is near 10b, inside the sample maximum (~13).
  auto l = laplace(400000, 3, false);
  const TensorStats ls = stats_of(l, true);
  const Range mse = choose_range(ls, ObserverKind::kMse, true);
  EXPECT_GT(mse.hi, 6.0f);
  EXPECT_LT(mse.hi, std::max(-ls.min(), ls.max()) - 0.5f);
  // Entropy: a Gaussian with a few far outliers is clipped far inside them, keeping most of the Gaussian.
  auto v = gaussian(200000, 3);
  for (int i = 0; i < 5; ++i) v.push_back(40.0f);
  const Range ent = choose_range(stats_of(v, true), ObserverKind::kEntropy, true);
  EXPECT_GT(ent.hi, 2.0f);
  EXPECT_LT(ent.hi, 12.0f);
  // Without outliers, uniform data keeps (nearly) its whole range under MSE.
  auto u = uniform(100000, 4, -1.0f, 1.0f);
  const Range mu = choose_range(stats_of(u, true), ObserverKind::kMse, true);
  EXPECT_GT(mu.hi, 0.95f);
  EXPECT_LE(mu.hi, 1.0f);
}

TEST(QuantObservers, AsymmetricMseKeepsZeroAndNonNegativeRanges) {
  auto v = laplace(400000, 5, true);  // non-negative, long tail (like a Relu output)
  const TensorStats s = stats_of(v, false);
  const Range r = choose_range(s, ObserverKind::kMse, false);
  EXPECT_EQ(r.lo, 0.0f);
  EXPECT_GT(r.hi, 5.0f);
  EXPECT_LT(r.hi, s.max() - 0.5f);
  // A range around zero keeps zero inside.
  auto g = gaussian(100000, 6);
  const Range rg = choose_range(stats_of(g, false), ObserverKind::kMse, false);
  EXPECT_LT(rg.lo, -2.0f);
  EXPECT_GT(rg.hi, 2.0f);
}

TEST(QuantObservers, DegenerateTensorsGetValidParameters) {
  std::vector<float> zeros(100, 0.0f), consts(100, 3.0f);
  for (auto kind : {ObserverKind::kMinMax, ObserverKind::kPercentile, ObserverKind::kMse, ObserverKind::kEntropy}) {
    for (bool sym : {true, false}) {
      for (Preset p : {Preset::kPerformance, Preset::kMixed}) {
        const ActParams z = activation_params(choose_range(stats_of(zeros, sym), kind, sym), p);
        EXPECT_GT(z.scale, 0.0f);
        EXPECT_TRUE(std::isfinite(z.scale));
        EXPECT_EQ(z.quantize_dequantize(0.0f), 0.0f);
        const ActParams c = activation_params(choose_range(stats_of(consts, sym), kind, sym), p);
        EXPECT_GT(c.scale, 0.0f);
        EXPECT_NEAR(c.quantize_dequantize(3.0f), 3.0f, 0.02f) << observer_name(kind);
      }
    }
  }
  TensorStats never;
  const ActParams n = activation_params(choose_range(never, ObserverKind::kMse, true), Preset::kPerformance);
  EXPECT_EQ(n.scale, 1.0f);
}

TEST(QuantObservers, ParsesNames) {
  EXPECT_EQ(parse_observer("entropy"), ObserverKind::kEntropy);
  EXPECT_THROW(parse_observer("kl"), Error);
  EXPECT_EQ(parse_preset("mixed"), Preset::kMixed);
  EXPECT_THROW(parse_preset("fast"), Error);
}

// ---- parameters ----

TEST(QuantParams, SymmetricAndAsymmetricActivations) {
  const ActParams u = activation_params({0.0f, 5.1f}, Preset::kPerformance);
  EXPECT_FALSE(u.is_signed);
  EXPECT_EQ(u.zero_point, 0);
  EXPECT_FLOAT_EQ(u.scale, 5.1f / 255.0f);
  const ActParams s = activation_params({-2.0f, 1.27f}, Preset::kPerformance);
  EXPECT_TRUE(s.is_signed);
  EXPECT_EQ(s.zero_point, 0);
  EXPECT_FLOAT_EQ(s.scale, 2.0f / 127.0f);
  const ActParams a = activation_params({-1.0f, 3.0f}, Preset::kMixed);
  EXPECT_FALSE(a.is_signed);
  EXPECT_FLOAT_EQ(a.scale, 4.0f / 255.0f);
  EXPECT_EQ(a.zero_point, 64);  // round(1 / (4/255)) = round(63.75)
  EXPECT_NEAR(a.quantize_dequantize(-1.0f), -1.0f, a.scale);
  EXPECT_NEAR(a.quantize_dequantize(3.0f), 3.0f, a.scale);
  EXPECT_EQ(a.quantize_dequantize(0.0f), 0.0f);  // zero is exact
}

TEST(QuantParams, PerChannelWeights) {
  // [O=3, I=2]: channel 0 max 1.27, channel 1 all zero, channel 2 max 0.5 (negative).
  Tensor w = Tensor::from_vector<float>({1.27f, -0.635f, 0.0f, 0.0f, 0.25f, -0.5f}, {3, 2});
  WeightQuant q = quantize_weight(w, 0);
  ASSERT_EQ(q.scales.size(), 3u);
  EXPECT_FLOAT_EQ(q.scales[0], 0.01f);
  EXPECT_FLOAT_EQ(q.scales[1], 1.0f);  // an all-zero channel
  EXPECT_FLOAT_EQ(q.scales[2], 0.5f / 127.0f);
  const int8_t* d = q.q.data<int8_t>();
  EXPECT_EQ(d[0], 127);
  EXPECT_EQ(d[1], -64);  // -63.5 rounds to even
  EXPECT_EQ(d[5], -127);
  // Along axis 1 ([K, N] MatMul weights): one scale per column.
  WeightQuant q1 = quantize_weight(w, 1);
  ASSERT_EQ(q1.scales.size(), 2u);
  EXPECT_FLOAT_EQ(q1.scales[0], 1.27f / 127.0f);
  EXPECT_FLOAT_EQ(q1.scales[1], 0.635f / 127.0f);
  for (int64_t i = 0; i < q1.q.size(); ++i) EXPECT_GE(q1.q.data<int8_t>()[i], -127);
  const Tensor back = q.dequantized();
  for (int64_t i = 0; i < w.size(); ++i)
    EXPECT_NEAR(back.data<float>()[i], w.data<float>()[i], q.scales[size_t(i / 2)]);
}

TEST(QuantParams, BiasToInt32Saturates) {
  Tensor b = Tensor::from_vector<float>({1.0f, -3e9f, 0.5f}, {3});
  Tensor q = quantize_bias(b, {0.25f, 1.0f, 1e-3f});
  EXPECT_EQ(q.data<int32_t>()[0], 4);
  EXPECT_EQ(q.data<int32_t>()[1], -2147483647);
  EXPECT_EQ(q.data<int32_t>()[2], 500);
}

// ---- the written graph ----

TEST(QuantWriter, WritesTheContractQdqForm) {
  OnnxBuilder b = small_cnn();
  QuantizeReport rep;
  const std::string out = quantize_bytes(b.bytes(), "", calibration(8), ref_options(), &rep);
  const onnx::ModelProto m = parse(out);
  EXPECT_EQ(rep.quantized.size(), 3u);  // conv1, conv2, fc
  EXPECT_TRUE(rep.kept.empty());
  EXPECT_EQ(rep.residual_adds, 1);
  // Conv weights: int8 initializer -> DequantizeLinear(axis 0) -> Conv.
  const onnx::NodeProto* conv1 = node_named(m, "conv1");
  ASSERT_TRUE(conv1);
  const onnx::NodeProto* wdq = producer_of(m, conv1->input(1));
  ASSERT_TRUE(wdq);
  EXPECT_EQ(wdq->op_type(), "DequantizeLinear");
  const onnx::TensorProto* wq = initializer(m, wdq->input(0));
  ASSERT_TRUE(wq);
  EXPECT_EQ(wq->data_type(), onnx::TensorProto::INT8);
  ASSERT_EQ(wdq->attribute_size(), 1);
  EXPECT_EQ(wdq->attribute(0).i(), 0);
  EXPECT_EQ(initializer(m, wdq->input(1))->dims(0), 4);  // one scale per output channel
  EXPECT_EQ(initializer(m, wdq->input(2))->data_type(), onnx::TensorProto::INT8);
  EXPECT_FALSE(initializer(m, "w1"));  // the float weight is gone
  // Bias: int32 -> DequantizeLinear -> Conv, with scale x_scale * w_scale.
  const onnx::NodeProto* bdq = producer_of(m, conv1->input(2));
  ASSERT_TRUE(bdq);
  EXPECT_EQ(bdq->op_type(), "DequantizeLinear");
  EXPECT_EQ(initializer(m, bdq->input(0))->data_type(), onnx::TensorProto::INT32);
  // Activation: x -> QuantizeLinear -> DequantizeLinear -> conv1 (scalar f32 scale; x has negatives: int8 zp 0).
  const onnx::NodeProto* xdq = producer_of(m, conv1->input(0));
  ASSERT_TRUE(xdq);
  EXPECT_EQ(xdq->op_type(), "DequantizeLinear");
  const onnx::NodeProto* xq = producer_of(m, xdq->input(0));
  ASSERT_TRUE(xq);
  EXPECT_EQ(xq->op_type(), "QuantizeLinear");
  EXPECT_EQ(xq->input(0), "x");
  EXPECT_EQ(initializer(m, xq->input(1))->dims_size(), 0);
  EXPECT_EQ(initializer(m, xq->input(2))->data_type(), onnx::TensorProto::INT8);
  // r1 (Relu output, non-negative) is read by conv2 and the residual Add through one shared pair, uint8.
  const onnx::NodeProto* conv2 = node_named(m, "conv2");
  const onnx::NodeProto* add = node_named(m, "add");
  EXPECT_EQ(conv2->input(0), add->input(1));
  const onnx::NodeProto* r1q = producer_of(m, producer_of(m, conv2->input(0))->input(0));
  EXPECT_EQ(initializer(m, r1q->input(2))->data_type(), onnx::TensorProto::UINT8);
  // The residual Add's other input (conv2's output) is quantized too.
  EXPECT_EQ(producer_of(m, add->input(0))->op_type(), "DequantizeLinear");
  // Gemm with transB: weight axis 0. MaxPool and Flatten sit between DQ and Q with the same parameters.
  const onnx::NodeProto* fc = node_named(m, "fc");
  EXPECT_EQ(producer_of(m, fc->input(1))->attribute(0).i(), 0);
  const onnx::NodeProto* fdq = producer_of(m, fc->input(0));
  const onnx::NodeProto* pool = node_named(m, "pool");
  const onnx::NodeProto* pdq = producer_of(m, pool->input(0));
  ASSERT_EQ(pdq->op_type(), "DequantizeLinear");
  EXPECT_EQ(initializer(m, fdq->input(1))->float_data_size() + initializer(m, fdq->input(1))->raw_data().size(),
            initializer(m, pdq->input(1))->raw_data().size());
  EXPECT_EQ(initializer(m, fdq->input(1))->raw_data(), initializer(m, pdq->input(1))->raw_data());
  // The model output stays float: y is still made by the Gemm.
  EXPECT_EQ(m.graph().output(0).name(), "y");
  EXPECT_EQ(producer_of(m, "y")->op_type(), "Gemm");
  // Opset unchanged (>= 13).
  EXPECT_EQ(m.opset_import(0).version(), 13);
}

TEST(QuantWriter, MixedPresetUsesAsymmetricUint8) {
  OnnxBuilder b = small_cnn();
  QuantizeOptions o = ref_options();
  o.preset = Preset::kMixed;
  const onnx::ModelProto m = parse(quantize_bytes(b.bytes(), "", calibration(4), o));
  int u8 = 0, nonzero_zp = 0;
  for (const auto& n : m.graph().node()) {
    if (n.op_type() != "QuantizeLinear") continue;
    const onnx::TensorProto* zp = initializer(m, n.input(2));
    u8 += zp->data_type() == onnx::TensorProto::UINT8 ? 1 : 0;
    nonzero_zp += zp->raw_data()[0] != 0 ? 1 : 0;
  }
  EXPECT_EQ(u8, count_op(m, "QuantizeLinear"));
  EXPECT_GE(nonzero_zp, 1);  // x spans [-1, 2]: zero point inside
}

TEST(QuantWriter, OutputsCloseToFp32OnRefAndCpu) {
  OnnxBuilder b = small_cnn();
  for (Preset p : {Preset::kPerformance, Preset::kMixed}) {
    for (ObserverKind k : {ObserverKind::kMinMax, ObserverKind::kMse}) {
      QuantizeOptions o = ref_options();
      o.preset = p;
      o.observer = k;
      const std::string q = quantize_bytes(b.bytes(), "", calibration(16), o);
      const CalibrationSet test = calibration(4, 1000);
      for (const auto& s : test.samples) {
        const Tensor ref = run(b.bytes(), "REF", s)[0];
        for (const char* dev : {"REF", "CPU"}) {
          const Tensor got = run(q, dev, s)[0];
          double amax = 0;
          for (int64_t i = 0; i < ref.size(); ++i) amax = std::max(amax, std::fabs(double(ref.data<float>()[i])));
          for (int64_t i = 0; i < ref.size(); ++i)
            EXPECT_NEAR(got.data<float>()[i], ref.data<float>()[i], 0.05 * amax + 0.02)
                << dev << " " << preset_name(p) << " " << observer_name(k);
        }
      }
    }
  }
}

TEST(QuantWriter, IgnoredScopeKeepsNodesFp32) {
  OnnxBuilder b = small_cnn();
  QuantizeOptions o = ref_options();
  o.ignored_scope = {"name:conv2", "type:Gemm"};
  QuantizeReport rep;
  const onnx::ModelProto m = parse(quantize_bytes(b.bytes(), "", calibration(4), o, &rep));
  EXPECT_EQ(rep.quantized.size(), 1u);
  ASSERT_EQ(rep.kept.size(), 2u);
  EXPECT_NE(rep.kept[0].find("ignored scope (name:conv2)"), std::string::npos);
  const onnx::NodeProto* conv2 = node_named(m, "conv2");
  EXPECT_EQ(conv2->input(0), "r1");  // reads the float tensor
  EXPECT_EQ(conv2->input(1), "w2");  // float weight
  EXPECT_TRUE(initializer(m, "w2"));
  EXPECT_EQ(node_named(m, "fc")->input(1), "wf");
  // Patterns match whole node names.
  QuantizeOptions p = ref_options();
  p.ignored_scope = {"pattern:conv[0-9]"};
  QuantizeReport rp;
  quantize_bytes(b.bytes(), "", calibration(2), p, &rp);
  EXPECT_EQ(rp.quantized.size(), 1u);
  QuantizeOptions bad = ref_options();
  bad.ignored_scope = {"kind:x"};
  EXPECT_THROW(quantize_bytes(b.bytes(), "", calibration(2), bad), Error);
  bad.ignored_scope = {"pattern:("};
  EXPECT_THROW(quantize_bytes(b.bytes(), "", calibration(2), bad), Error);
  // Everything ignored: nothing to quantize.
  bad.ignored_scope = {"type:Conv,type:Gemm"};
  EXPECT_THROW(quantize_bytes(b.bytes(), "", calibration(2), bad), Error);
}

TEST(QuantWriter, BiasCorrectionReducesMeanError) {
  // A 1x1 conv over a positive input whose weights all round the same way: a systematic output shift that bias
  // correction removes. Weights 0.2 + k*0.0101 with channel max 1.27 (scale 0.01): rounding errors do not cancel.
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {1, 16, 4, 4});
  std::vector<float> w(2 * 16);
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 16; ++i) w[size_t(o * 16 + i)] = i == 0 ? 1.27f : 0.0046f + 0.01f * float(i % 3);
  b.initializer("w", w, {2, 16, 1, 1});
  b.initializer("b", {0.0f, 0.0f}, {2});
  b.node("Conv", {"x", "w", "b"}, {"y"}, "conv");
  b.output("y");
  CalibrationSet set;
  set.input_names = {"x"};
  for (int i = 0; i < 16; ++i) {
    auto v = uniform(256, 100 + uint32_t(i), 0.5f, 1.0f);
    set.samples.push_back({Tensor::from_vector<float>(v, {1, 16, 4, 4})});
    set.sources.push_back("s");
  }
  auto mean_error = [&](const std::string& q) {
    double err = 0;
    int64_t n = 0;
    for (const auto& s : set.samples) {
      const Tensor a = run(b.bytes(), "REF", s)[0], c = run(q, "REF", s)[0];
      for (int64_t i = 0; i < a.size(); ++i, ++n) err += double(c.data<float>()[i]) - double(a.data<float>()[i]);
    }
    return std::fabs(err / double(n));
  };
  QuantizeOptions off = ref_options();
  off.bias_correction = false;
  QuantizeReport rep;
  const double before = mean_error(quantize_bytes(b.bytes(), "", set, off));
  const double after = mean_error(quantize_bytes(b.bytes(), "", set, ref_options(), &rep));
  EXPECT_EQ(rep.biases_corrected, 1);
  EXPECT_GT(before, 0.01);
  EXPECT_LT(after, before * 0.25);
}

TEST(QuantWriter, MatMulBiasInAFollowingAddIsCorrected) {
  // x[8,16] x w[16,2] + b[2]: the same systematic rounding as above, on a MatMul whose bias is a following Add.
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {8, 16});
  std::vector<float> w(16 * 2);
  for (int i = 0; i < 16; ++i)
    for (int o = 0; o < 2; ++o) w[size_t(i * 2 + o)] = i == 0 ? 1.27f : 0.0046f + 0.01f * float(i % 3);
  b.initializer("w", w, {16, 2});
  b.initializer("b", {0.5f, -0.5f}, {2});
  b.node("MatMul", {"x", "w"}, {"m"}, "mm");
  b.node("Add", {"m", "b"}, {"y"}, "bias_add");
  b.output("y");
  CalibrationSet set;
  set.input_names = {"x"};
  for (int i = 0; i < 8; ++i) {
    set.samples.push_back({Tensor::from_vector<float>(uniform(128, 200 + uint32_t(i), 0.5f, 1.0f), {8, 16})});
    set.sources.push_back("s");
  }
  auto mean_error = [&](const std::string& q) {
    double err = 0;
    int64_t n = 0;
    for (const auto& s : set.samples) {
      const Tensor a = run(b.bytes(), "REF", s)[0], c = run(q, "REF", s)[0];
      for (int64_t i = 0; i < a.size(); ++i, ++n) err += double(c.data<float>()[i]) - double(a.data<float>()[i]);
    }
    return std::fabs(err / double(n));
  };
  QuantizeOptions off = ref_options();
  off.bias_correction = false;
  QuantizeReport rep;
  const double before = mean_error(quantize_bytes(b.bytes(), "", set, off));
  const std::string q = quantize_bytes(b.bytes(), "", set, ref_options(), &rep);
  EXPECT_EQ(rep.biases_corrected, 1);
  EXPECT_LT(mean_error(q), before * 0.25);
  const onnx::ModelProto m = parse(q);
  EXPECT_EQ(node_named(m, "bias_add")->input(1), "b_corrected");
  EXPECT_FALSE(initializer(m, "b"));
}

TEST(QuantWriter, ChainedConvsWithBiasCorrection) {
  // conv1's output feeds conv2 directly: the bias-correction shadow names of both must not collide.
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {1, 2, 5, 5});
  b.initializer("w1", uniform(3 * 2, 51, -1.0f, 1.0f), {3, 2, 1, 1});
  b.initializer("b1", {0.1f, 0.2f, 0.3f}, {3});
  b.initializer("w2", uniform(2 * 3, 52, -1.0f, 1.0f), {2, 3, 1, 1});
  b.initializer("b2", {0.1f, -0.1f}, {2});
  b.node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
  b.node("Conv", {"c1", "w2", "b2"}, {"y"}, "conv2");
  b.output("y");
  QuantizeReport rep;
  EXPECT_NO_THROW(quantize_bytes(b.bytes(), "", calibration(4, 5, {1, 2, 5, 5}), ref_options(), &rep));
  EXPECT_EQ(rep.biases_corrected, 2);
}

TEST(QuantWriter, MatMulOfTwoActivationsAndConstantFoldedWeights) {
  // a[2,4] x Constant-node weight [4,3] -> MatMul; then MatMul(m, transpose of itself) with two activations.
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::FLOAT, {2, 4});
  auto& c = b.node("Constant", {}, {"w"}, "const_w");
  auto* at = c.add_attribute();
  at->set_name("value");
  at->set_type(onnx::AttributeProto::TENSOR);
  auto* t = at->mutable_t();
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(4);
  t->add_dims(3);
  for (float v : uniform(12, 9, -1.0f, 1.0f)) t->add_float_data(v);
  b.node("MatMul", {"a", "w"}, {"m"}, "mm1");
  auto& tr = b.node("Transpose", {"m"}, {"mt"}, "tr");
  OnnxBuilder::attr(tr, "perm", std::vector<int64_t>{1, 0});
  b.node("MatMul", {"m", "mt"}, {"y"}, "mm2");
  b.output("y");
  CalibrationSet set = calibration(4, 3, {2, 4});
  set.input_names = {"a"};
  QuantizeReport rep;
  const onnx::ModelProto m = parse(quantize_bytes(b.bytes(), "", set, ref_options(), &rep));
  EXPECT_EQ(rep.quantized.size(), 2u);
  EXPECT_FALSE(node_named(m, "const_w"));  // the Constant node was replaced by an int8 initializer
  const onnx::NodeProto* wdq = producer_of(m, node_named(m, "mm1")->input(1));
  EXPECT_EQ(wdq->attribute(0).i(), 1);  // MatMul [K, N]: axis 1
  EXPECT_EQ(producer_of(m, node_named(m, "mm2")->input(1))->op_type(), "DequantizeLinear");
}

TEST(QuantWriter, ConvTransposeAndGemmAxes) {
  // ConvTranspose (group 2, weight [I=4, O/g=3, 2, 2], bias of 6) -> Flatten -> Gemm (transB = 0, weight [K, N]).
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {1, 4, 3, 3});
  b.initializer("wt", uniform(4 * 3 * 4, 31, -0.5f, 0.5f), {4, 3, 2, 2});
  b.initializer("bt", uniform(6, 32, -0.2f, 0.2f), {6});
  b.initializer("wg", uniform(6 * 16 * 5, 33, -0.2f, 0.2f), {96, 5});
  b.initializer("bg", uniform(5, 34, -0.2f, 0.2f), {5});
  auto& ct = b.node("ConvTranspose", {"x", "wt", "bt"}, {"t"}, "deconv");
  OnnxBuilder::attr(ct, "group", int64_t(2));
  b.node("Flatten", {"t"}, {"f"}, "flatten");
  b.node("Gemm", {"f", "wg", "bg"}, {"y"}, "fc");
  b.output("y");
  CalibrationSet set = calibration(8, 40, {1, 4, 3, 3});
  QuantizeReport rep;
  const std::string q = quantize_bytes(b.bytes(), "", set, ref_options(), &rep);
  const onnx::ModelProto m = parse(q);
  EXPECT_EQ(rep.quantized.size(), 2u);
  EXPECT_EQ(rep.biases_corrected, 2);
  EXPECT_EQ(producer_of(m, node_named(m, "deconv")->input(1))->attribute(0).i(), 1);
  EXPECT_EQ(producer_of(m, node_named(m, "fc")->input(1))->attribute(0).i(), 1);
  EXPECT_EQ(initializer(m, producer_of(m, node_named(m, "deconv")->input(2))->input(1))->dims(0), 6);
  for (const auto& s : calibration(3, 90, {1, 4, 3, 3}).samples) {
    const Tensor ref = run(b.bytes(), "REF", s)[0];
    for (const char* dev : {"REF", "CPU"}) {
      const Tensor got = run(q, dev, s)[0];
      for (int64_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(got.data<float>()[i], ref.data<float>()[i], 0.05) << dev;
    }
  }
}

// ---- files and errors ----

class QuantFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = tmp_.path / "model.onnx";
    write_bytes(model_, small_cnn(-1).bytes());  // dynamic batch
    data_ = tmp_.path / "calib";
    fs::create_directories(data_);
    std::vector<float> batch = uniform(5 * 72, 11, -1.0f, 1.0f);
    npy::write((data_ / "a.npy").string(), Tensor::from_vector<float>(batch, {5, 2, 6, 6}));  // a batch of 5
    npy::write((data_ / "b.npy").string(), Tensor::from_vector<float>(uniform(72, 12, 0, 1), {2, 6, 6}));  // one
    out_ = tmp_.path / "out";
    fs::create_directories(out_);
  }
  QuantizeFileOptions options() const {
    QuantizeFileOptions o;
    o.device = "REF";
    o.model = model_.string();
    o.data = data_.string();
    o.output = (out_ / "q.onnx").string();
    return o;
  }
  // Runs and expects an error containing `what`, with nothing written to the output folder.
  void expect_error(const QuantizeFileOptions& o, const std::string& what) {
    try {
      quantize_file(o);
      ADD_FAILURE() << "no error, expected: " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
    EXPECT_TRUE(fs::is_empty(out_)) << "something was written";
  }
  TempDir tmp_;
  fs::path model_, data_, out_;
};

TEST_F(QuantFiles, QuantizesFromAFolderAndWritesAtomically) {
  QuantizeFileOptions o = options();
  const QuantizeReport r = quantize_file(o);
  EXPECT_EQ(r.samples, 6);  // 5 from the batch file + 1
  EXPECT_GT(r.output_bytes, 0);
  EXPECT_EQ(int64_t(fs::file_size(o.output)), r.output_bytes);
  EXPECT_EQ(std::distance(fs::directory_iterator(out_), fs::directory_iterator()), 1);  // no temporary left
  o.subset = 2;
  EXPECT_EQ(quantize_file(o).samples, 2);
  // The result loads on REF and CPU.
  Core core;
  for (const char* dev : {"REF", "CPU"}) EXPECT_NO_THROW(core.compile_model(o.output, dev));
}

TEST_F(QuantFiles, ImagesWithPreprocessing) {
  // PNG files written with libpng: 20x16 (w x h) solid colours; resized (shorter side 8 -> 10x8), centre-cropped 8x8.
  auto write_png = [&](const fs::path& p, int channels, std::vector<uint8_t> colour) {
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = 20;
    img.height = 16;
    img.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    std::vector<uint8_t> px(size_t(20 * 16 * channels));
    for (size_t i = 0; i < px.size(); ++i) px[i] = colour[i % size_t(channels)];
    ASSERT_TRUE(png_image_write_to_file(&img, p.c_str(), 0, px.data(), 0, nullptr)) << img.message;
  };
  const fs::path imgs = tmp_.path / "imgs";
  fs::create_directories(imgs);
  write_png(imgs / "b.png", 3, {10, 20, 30});
  write_png(imgs / "a.png", 3, {255, 0, 128});
  ImagePreprocess pre;
  pre.resize = 8;
  pre.crop_h = 8;
  pre.crop_w = 8;
  pre.mean = {0.0f, 0.0f, 0.0f};
  pre.scale = {1.0f, 2.0f, 4.0f};
  pre.bgr = true;
  std::vector<PortInfo> ports = {{"x", ElementType::kF32, PartialShape{Dim(), Dim(3), Dim(8), Dim(8)}}};
  CalibrationSet set = load_calibration(imgs.string(), ports, pre, 0);
  ASSERT_EQ(set.samples.size(), 2u);
  EXPECT_NE(set.sources[0].find("a.png"), std::string::npos);  // sorted order
  const Tensor& t = set.samples[1][0];                         // b.png
  EXPECT_EQ(t.dims(), (Dims{1, 3, 8, 8}));
  // BGR: model channel 0 = blue (30 / 1), channel 1 = green (20 / 2), channel 2 = red (10 / 4).
  EXPECT_FLOAT_EQ(t.data<float>()[0], 30.0f);
  EXPECT_FLOAT_EQ(t.data<float>()[64 + 5], 10.0f);
  EXPECT_FLOAT_EQ(t.data<float>()[128 + 63], 2.5f);
  // NHWC, gray: a 1-channel input reads the image as gray.
  pre.nhwc = true;
  pre.bgr = false;
  pre.mean = {127.5f};
  pre.scale = {127.5f};
  write_png(imgs / "a.png", 1, {255});
  write_png(imgs / "b.png", 1, {0});
  ports = {{"x", ElementType::kF32, PartialShape{Dim(1), Dim(8), Dim(8), Dim(1)}}};
  set = load_calibration(imgs.string(), ports, pre, 1);
  ASSERT_EQ(set.samples.size(), 1u);  // --subset
  EXPECT_FLOAT_EQ(set.samples[0][0].data<float>()[10], 1.0f);
  // Images whose crop does not fit the model's input, and a crop larger than the image, are errors.
  ports = {{"x", ElementType::kF32, PartialShape{Dim(1), Dim(7), Dim(7), Dim(1)}}};
  EXPECT_THROW(load_calibration(imgs.string(), ports, pre, 0), Error);
  pre.crop_h = 9;
  pre.crop_w = 20;
  ports = {{"x", ElementType::kF32, PartialShape{Dim(1), Dim(), Dim(), Dim(1)}}};
  EXPECT_THROW(load_calibration(imgs.string(), ports, pre, 0), Error);
  // A corrupt image names the file.
  write_bytes(imgs / "c.png", "not a png");
  pre.crop_h = pre.crop_w = 0;
  try {
    load_calibration(imgs.string(), ports, pre, 0);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("c.png"), std::string::npos) << e.what();
  }
}

TEST_F(QuantFiles, SeveralInputsReadSubfolders) {
  std::vector<PortInfo> ports = {{"a", ElementType::kF32, PartialShape{Dim(), Dim(2)}},
                                 {"b", ElementType::kF32, PartialShape{Dim(), Dim(3)}}};
  const fs::path d = tmp_.path / "multi";
  fs::create_directories(d / "a");
  fs::create_directories(d / "b");
  npy::write((d / "a" / "0.npy").string(), Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}));
  npy::write((d / "b" / "0.npy").string(), Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  CalibrationSet set = load_calibration(d.string(), ports, {}, 0);
  ASSERT_EQ(set.samples.size(), 2u);
  EXPECT_EQ(set.samples[1][0].data<float>()[0], 3.0f);
  EXPECT_EQ(set.samples[1][1].data<float>()[2], 6.0f);
  npy::write((d / "b" / "1.npy").string(), Tensor::from_vector<float>({1, 2, 3}, {3}));
  EXPECT_THROW(load_calibration(d.string(), ports, {}, 0), Error);  // counts disagree
}

TEST_F(QuantFiles, NanInCalibrationDataIsAnError) {
  std::vector<float> v(72, 0.5f);
  v[7] = NAN;
  npy::write((data_ / "c.npy").string(), Tensor::from_vector<float>(v, {2, 6, 6}));
  expect_error(options(), "NaN and Inf are not allowed");
}

TEST_F(QuantFiles, InfInCalibrationDataIsAnError) {
  std::vector<float> v(72, 0.5f);
  v[3] = -INFINITY;
  npy::write((data_ / "c.npy").string(), Tensor::from_vector<float>(v, {2, 6, 6}));
  expect_error(options(), "NaN and Inf");
}

TEST_F(QuantFiles, EmptyCalibrationSetIsAnError) {
  fs::remove_all(data_);
  fs::create_directories(data_);
  expect_error(options(), "calibration set is empty");
  QuantizeFileOptions o = options();
  o.data = (tmp_.path / "missing").string();
  expect_error(o, "is not a folder");
}

TEST_F(QuantFiles, ShapesThatDoNotFitAreAnError) {
  npy::write((data_ / "c.npy").string(), Tensor::from_vector<float>(std::vector<float>(50, 0.f), {2, 5, 5}));
  expect_error(options(), "does not accept");
  fs::remove(data_ / "c.npy");
  npy::write((data_ / "c.npy").string(), Tensor::from_vector<float>(std::vector<float>(6, 0.f), {6}));
  expect_error(options(), "rank");
  fs::remove(data_ / "c.npy");
  npy::write((data_ / "c.npy").string(), Tensor::from_vector<int64_t>(std::vector<int64_t>(72, 0), {2, 6, 6}));
  expect_error(options(), "expects f32");
}

TEST_F(QuantFiles, ModelWithoutQuantizableOpsIsAnError) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {-1, 2, 6, 6});
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  write_bytes(model_, b.bytes());
  expect_error(options(), "no quantizable ops");
}

TEST_F(QuantFiles, QuantizedOrBadQuantizationParametersAreErrors) {
  // BAD-INPUTS row 20: a DequantizeLinear with scale 0 names the tensor; an already quantized model is refused.
  OnnxBuilder b = small_cnn(-1);
  auto* w = b.graph().add_initializer();
  w->set_name("wq");
  w->set_data_type(onnx::TensorProto::INT8);
  for (int64_t d : {4, 2, 3, 3}) w->add_dims(d);
  w->set_raw_data(std::string(72, '\1'));
  b.initializer("ws", {0.0f}, {});
  b.node("DequantizeLinear", {"wq", "ws"}, {"w1"}, "dq_w1");
  for (auto& t : *b.graph().mutable_initializer())
    if (t.name() == "w1") t.set_name("unused");
  write_bytes(model_, b.bytes());
  expect_error(options(), "'ws'");
  b.graph().mutable_initializer(b.graph().initializer_size() - 1)->set_float_data(0, 0.5f);
  write_bytes(model_, b.bytes());
  expect_error(options(), "already quantized");
}

TEST_F(QuantFiles, OldOpsetIsAnError) {
  OnnxBuilder b = small_cnn(-1);
  b.model().mutable_opset_import(0)->set_version(11);
  write_bytes(model_, b.bytes());
  expect_error(options(), "opset 13");
}

TEST_F(QuantFiles, OutputEqualToInputIsRefused) {
  QuantizeFileOptions o = options();
  o.output = o.model;
  const std::string before = [&] {
    std::ifstream f(o.model, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }();
  EXPECT_THROW(quantize_file(o), Error);
  fs::create_hard_link(model_, tmp_.path / "link.onnx");
  o.output = (tmp_.path / "link.onnx").string();
  EXPECT_THROW(quantize_file(o), Error);
  std::ifstream f(o.model, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), before);
}

TEST_F(QuantFiles, OutputEscapingOutputDirIsRefused) {
  QuantizeFileOptions o = options();
  o.output_dir = out_.string();
  o.output = "../x.onnx";
  expect_error(o, "outside --output-dir");
  o.output = (tmp_.path / "x.onnx").string();  // absolute, outside
  expect_error(o, "outside --output-dir");
  fs::create_directory_symlink(tmp_.path, out_ / "up");  // a symlinked folder pointing out
  o.output = "up/x.onnx";
  try {
    quantize_file(o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("outside --output-dir"), std::string::npos) << e.what();
  }
  fs::remove(out_ / "up");
  EXPECT_FALSE(fs::exists(tmp_.path / "x.onnx"));
  fs::create_symlink(tmp_.path / "elsewhere.onnx", out_ / "ln.onnx");  // a symlink as the output file
  o.output = "ln.onnx";
  EXPECT_THROW(quantize_file(o), Error);
  fs::remove(out_ / "ln.onnx");
  // Inside is fine, relative to the folder.
  o.output = "sub.onnx";
  EXPECT_NO_THROW(quantize_file(o));
  EXPECT_TRUE(fs::exists(out_ / "sub.onnx"));
}

TEST_F(QuantFiles, ExternalDataIsWrittenInline) {
  OnnxBuilder b = small_cnn(-1);
  // Move w2 to an external file beside the model.
  for (auto& t : *b.graph().mutable_initializer()) {
    if (t.name() != "w2") continue;
    std::string raw(reinterpret_cast<const char*>(t.float_data().data()), size_t(t.float_data_size()) * 4);
    t.clear_float_data();
    write_bytes(tmp_.path / "weights.bin", raw);
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t.add_external_data();
    kv->set_key("location");
    kv->set_value("weights.bin");
  }
  write_bytes(model_, b.bytes());
  QuantizeFileOptions o = options();
  quantize_file(o);
  const onnx::ModelProto m = [&] {
    std::ifstream f(o.output, std::ios::binary);
    return parse(std::string(std::istreambuf_iterator<char>(f), {}));
  }();
  for (const auto& t : m.graph().initializer()) EXPECT_NE(t.data_location(), onnx::TensorProto::EXTERNAL) << t.name();
  // Loads from a folder without the weights file.
  EXPECT_NO_THROW(Core().read_model(o.output));
}

TEST_F(QuantFiles, EvaluateTop1) {
  // Labels = the FP32 model's own argmax: FP32 top-1 is 100%, the quantized model's close to it.
  const int64_t n = 40;
  Tensor x = Tensor::from_vector<float>(uniform(size_t(n) * 72, 21, -1.0f, 1.0f), {n, 2, 6, 6});
  Core core;
  Model fp = core.read_model(model_.string());
  Tensor labels(ElementType::kI64, {n});
  {
    fp.reshape({{"x", PartialShape::of({n, 2, 6, 6})}});
    CompiledModel cm = core.compile_model(fp, "REF");
    InferRequest r = cm.create_infer_request();
    r.set_input_tensor(0, x);
    r.infer();
    const Tensor& y = r.get_output_tensor(0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < 3; ++c)
        if (y.data<float>()[i * 3 + c] > y.data<float>()[i * 3 + best]) best = c;
      labels.data<int64_t>()[i] = best;
    }
  }
  EXPECT_EQ(evaluate_top1(core.read_model(model_.string()), "CPU", x, labels, 16).correct, n);  // padded last batch
  quantize_file(options());
  const EvalResult q = evaluate_top1(core.read_model(options().output), "CPU", x, labels, 16);
  EXPECT_EQ(q.total, n);
  EXPECT_GE(q.top1(), 0.8);
  EXPECT_THROW(evaluate_top1(core.read_model(model_.string()), "CPU", x, Tensor(ElementType::kI64, {n - 1})), Error);
}

// ---- the command line ----

namespace {

struct CliResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

CliResult celer_cli(const std::string& args) {
  CliResult r;
  FILE* p = popen((std::string(CELER_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace

TEST_F(QuantFiles, CliQuantizesAndReports) {
  const std::string base = "quantize " + model_.string() + " --data " + data_.string() + " -d REF ";
  CliResult r = celer_cli(base + "-o " + (out_ / "q.onnx").string() + " --observer entropy --preset mixed " +
                          "--ignored-scope type:Gemm --progress no");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("quantized 2 ops (Conv 2), kept 1 in FP32"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Gemm 'fc': ignored scope (type:Gemm)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("observer entropy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("wrote "), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(out_ / "q.onnx"));
  // Bad inputs (BAD-INPUTS rows 23, 24): exit status 1, a message on stderr, nothing written.
  fs::remove(out_ / "q.onnx");
  r = celer_cli(base + "--output-dir " + out_.string() + " -o ../x.onnx");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("outside --output-dir"), std::string::npos) << r.output;
  r = celer_cli(base + "-o " + model_.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("is the input model"), std::string::npos) << r.output;
  std::vector<float> v(72, 1.0f);
  v[0] = NAN;
  npy::write((data_ / "z.npy").string(), Tensor::from_vector<float>(v, {2, 6, 6}));
  r = celer_cli(base + "-o " + (out_ / "q.onnx").string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("z.npy"), std::string::npos) << r.output;
  r = celer_cli(base + "-o " + (out_ / "q.onnx").string() + " --preset fast");
  EXPECT_EQ(r.status, 2) << r.output;  // usage error
  EXPECT_TRUE(fs::is_empty(out_));
  EXPECT_FALSE(fs::exists(tmp_.path / "x.onnx"));
}
