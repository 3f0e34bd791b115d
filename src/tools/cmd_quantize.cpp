// `celer quantize MODEL --data DIR -o OUT.onnx`: post-training INT8 quantization into a QDQ ONNX model
// (src/quant/quantize.hpp), with a progress bar over calibration and a report of what was quantized.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "quant/accuracy_aware.hpp"
#include "quant/quantize.hpp"
#include "tools/cli_common.hpp"

namespace celer::cli {

namespace {

struct QuantizeCli {
  quant::QuantizeFileOptions q;
  std::string preset = "performance";
  std::string observer = quant::observer_name(quant::kDefaultObserver);
  bool no_bias_correction = false;
  std::string crop, mean, scale, channel_order = "rgb", layout = "nchw";
  std::string progress = "auto";
  std::string mode = "static";
  int64_t group_size = 128;
  bool asymmetric_weights = false;
  quant::AccuracyAwareOptions aa;
  bool accuracy_aware = false;  // --max-drop given
};

// The modes without calibration data (dynamic, weight-only).
int run_rewrite(QuantizeCli& c) {
  quant::RewriteFileOptions o;
  o.model = c.q.model;
  o.output = c.q.output;
  o.output_dir = c.q.output_dir;
  o.mode = quant::parse_mode(c.mode);
  o.group_size = c.group_size;
  o.asymmetric_weights = c.asymmetric_weights;
  o.ignored_scope = c.q.ignored_scope;
  const quant::RewriteReport r = quant::rewrite_file(o);
  std::cout << "quantized " << r.quantized.size() << " ops, kept " << r.kept.size() << " in FP32\n";
  for (const auto& q : r.quantized) std::cout << "  " << q << "\n";
  for (const auto& k : r.kept) std::cout << "  FP32: " << k << "\n";
  std::cout << r.summary << "\n";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(r.output_bytes) / double(1 << 20));
  std::cout << "wrote " << r.output << " (" << buf << ")\n";
  return 0;
}

std::vector<float> parse_floats(const std::string& text, const char* option) {
  std::vector<float> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    float v = 0;
    try {
      v = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    CELER_CHECK(used == item.size() && !item.empty() && std::isfinite(v), kInvalidArgument, "--", option, " '", text,
                "': '", item, "' is not a number");
    out.push_back(v);
  }
  CELER_CHECK(!out.empty(), kInvalidArgument, "--", option, " is empty");
  return out;
}

std::string human_bytes(int64_t n) {
  char buf[64];
  if (n >= (int64_t(1) << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(n) / double(1 << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", double(n) / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>(n));
  }
  return buf;
}

int run_quantize(QuantizeCli& c) {
  CELER_CHECK(c.accuracy_aware || c.aa.eval_dir.empty(), kInvalidArgument,
              "--eval is for the accuracy-aware mode: "
              "give --max-drop too");
  if (quant::parse_mode(c.mode) != quant::Mode::kStatic) {
    CELER_CHECK(!c.accuracy_aware, kInvalidArgument, "--max-drop works with the static mode only");
    CELER_CHECK(c.q.data.empty(), kInvalidArgument, "--mode ", c.mode, " needs no calibration data (--data)");
    return run_rewrite(c);
  }
  CELER_CHECK(!c.q.data.empty(), kInvalidArgument, "--data is required for the static mode");
  auto& o = c.q;
  o.preset = quant::parse_preset(c.preset);
  o.observer = quant::parse_observer(c.observer);
  o.bias_correction = !c.no_bias_correction;
  if (!c.crop.empty()) {
    const size_t x = c.crop.find('x');
    long long h = 0, w = 0;
    char tail = 0;
    CELER_CHECK(
        x != std::string::npos && std::sscanf(c.crop.c_str(), "%lldx%lld%c", &h, &w, &tail) == 2 && h > 0 && w > 0,
        kInvalidArgument, "--crop '", c.crop, "': expected HxW, e.g. 224x224");
    o.images.crop_h = h;
    o.images.crop_w = w;
  }
  if (!c.mean.empty()) o.images.mean = parse_floats(c.mean, "mean");
  if (!c.scale.empty()) o.images.scale = parse_floats(c.scale, "scale");
  o.images.bgr = c.channel_order == "bgr";
  o.images.nhwc = c.layout == "nhwc";

  const bool show = c.progress == "yes" || (c.progress == "auto" && isatty(STDOUT_FILENO));
  std::unique_ptr<Progress> bar;
  std::string phase;
  auto t0 = std::chrono::steady_clock::now();
  if (show) {
    o.progress = [&](const std::string& ph, int64_t done, int64_t total) {
      if (ph != phase) {
        if (bar) bar->finish();
        phase = ph;
        bar = std::make_unique<Progress>(true, total, 0.0, "samples (" + ph + ")");
        t0 = std::chrono::steady_clock::now();
      }
      bar->update(done, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    };
  }
  quant::QuantizeReport r;
  quant::AccuracyAwareReport aa;
  try {
    if (c.accuracy_aware) {
      c.aa.images = o.images;
      aa = quant::accuracy_aware_file(o, c.aa);
      r = aa.quantize;
    } else {
      r = quant::quantize_file(o);
    }
  } catch (...) {
    if (bar) bar->finish();
    throw;
  }
  if (bar) bar->finish();
  if (c.accuracy_aware) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "accuracy (%s on %lld samples): FP32 %.3f, INT8 %.3f (drop %.3f), returned %.3f "
                  "(drop %.3f; --max-drop %.3f: %s)",
                  aa.metric.c_str(), static_cast<long long>(aa.eval_samples), aa.fp32, aa.initial, aa.fp32 - aa.initial,
                  aa.final, aa.fp32 - aa.final, c.aa.max_drop,
                  aa.reached ? "met" : "NOT met: every op but one was tried in FP32");
    std::cout << buf << "\n";
    for (const auto& k : aa.kept) {
      std::snprintf(buf, sizeof buf, "  kept in FP32: %s '%s' (alone in FP32 it recovered %+.3f on the ranking subset)",
                    k.op_type.c_str(), k.name.c_str(), k.score);
      std::cout << buf << "\n";
    }
  }

  std::map<std::string, int> by_type;
  for (const auto& q : r.quantized) by_type[q.substr(0, q.find(' '))]++;
  std::string types;
  for (const auto& [t, n] : by_type) types += (types.empty() ? "" : ", ") + t + " " + std::to_string(n);
  std::cout << "quantized " << r.quantized.size() << " ops (" << types << "), kept " << r.kept.size() << " in FP32\n";
  for (const auto& k : r.kept) std::cout << "  FP32: " << k << "\n";
  std::cout << "activations: " << r.activations << " tensors with Q/DQ (" << r.residual_adds
            << " residual Adds); preset " << r.preset << ", observer " << r.observer;
  if (o.observer == quant::ObserverKind::kPercentile) std::cout << " " << o.percentile;
  std::cout << ", weights per-channel symmetric int8\n";
  if (o.bias_correction) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", r.max_bias_shift);
    std::cout << "bias correction: " << r.biases_corrected << " biases, largest shift " << buf << "\n";
  } else {
    std::cout << "bias correction: off\n";
  }
  std::cout << "calibration: " << r.samples << " samples from " << o.data << "\n";
  for (const auto& w : r.warnings) std::cerr << "celer: warning: " << w << "\n";
  std::cout << "wrote " << r.output << " (" << human_bytes(r.output_bytes) << ")\n";
  return 0;
}

}  // namespace

Command add_quantize_command(CLI::App& app) {
  auto c = std::make_shared<QuantizeCli>();
  CLI::App* sub = app.add_subcommand(
      "quantize", "Post-training quantization: static INT8 (QDQ), dynamic INT8 or weight-only compression");
  sub->add_option("model", c->q.model, "FP32 ONNX model")->required();
  sub->add_option("--data", c->q.data,
                  "Calibration folder: .npy files (one sample each, or batches split along the first dim) or images "
                  "(.png/.jpg); a model with several inputs takes DIR/<input name>/*.npy (static mode)");
  sub->add_option("-o,--output", c->q.output, "Output QDQ model (written atomically)")->required();
  sub->add_option("--mode", c->mode,
                  "static: QDQ with calibrated activations; dynamic: int8 MatMul/Gemm weights, activations quantized "
                  "per inference; weights-int8 / weights-int4: weight-only compression (com.microsoft MatMulNBits)")
      ->check(CLI::IsMember({"static", "dynamic", "weights-int8", "weights-int4"}))
      ->capture_default_str();
  sub->add_option("--group-size", c->group_size, "Weight-only modes: codes per scale along K (a power of two >= 16)")
      ->capture_default_str();
  sub->add_option("--max-drop", c->aa.max_drop,
                  "Accuracy-aware: largest metric drop allowed (points); the most harmful ops return to FP32 until "
                  "it holds")
      ->each([c](const std::string&) { c->accuracy_aware = true; });
  sub->add_option("--eval", c->aa.eval_dir,
                  "Accuracy-aware: evaluation folder (samples as for --data, labels.npy beside them for top1)");
  sub->add_option("--metric", c->aa.metric,
                  "Accuracy-aware: top1 (labels), agreement (top-1 agreement with FP32, no labels) or script:CMD "
                  "(runs 'CMD MODEL.onnx', reads the last number it prints; higher is better)")
      ->capture_default_str();
  sub->add_option("--ranking-subset", c->aa.ranking_subset, "Accuracy-aware: evaluation samples used to rank ops")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_flag("--asymmetric-weights", c->asymmetric_weights, "Weight-only modes: a zero point per group");
  sub->add_option("--output-dir", c->q.output_dir, "Folder the output must stay inside (-o is relative to it)");
  sub->add_option("--preset", c->preset,
                  "performance: symmetric activations; mixed: asymmetric uint8 activations (weights: symmetric "
                  "per-channel int8 in both)")
      ->check(CLI::IsMember({"performance", "mixed"}))
      ->capture_default_str();
  sub->add_option("--observer", c->observer, "Activation ranges: minmax, percentile, mse or entropy")
      ->check(CLI::IsMember({"minmax", "percentile", "mse", "entropy"}))
      ->capture_default_str();
  sub->add_option("--percentile", c->q.percentile, "Percentile kept by the percentile observer")
      ->check(CLI::Range(1e-9, 100.0))
      ->capture_default_str();
  sub->add_option("--subset", c->q.subset, "Calibration samples (in sorted file order; 0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--ignored-scope", c->q.ignored_scope,
                  "Nodes kept in FP32: name:NODE, type:OP or pattern:REGEX (comma-separated or repeated)")
      ->allow_extra_args(false);
  sub->add_flag("--no-bias-correction", c->no_bias_correction, "Turn fast bias correction off");
  sub->add_option("--device,-d", c->q.device, "Device running the calibration")->capture_default_str();
  sub->add_option("--resize", c->q.images.resize, "Images: resize the shorter side to N pixels")
      ->check(CLI::PositiveNumber);
  sub->add_option("--crop", c->crop, "Images: centre crop HxW");
  sub->add_option("--mean", c->mean, "Images: per-channel mean a,b,c (x = (pixel - mean) / scale; pixel in 0..255)");
  sub->add_option("--scale", c->scale, "Images: per-channel scale a,b,c");
  sub->add_option("--channel-order", c->channel_order, "Images: channel order of the model's input")
      ->check(CLI::IsMember({"rgb", "bgr"}))
      ->capture_default_str();
  sub->add_option("--layout", c->layout, "Images: layout of the model's input")
      ->check(CLI::IsMember({"nchw", "nhwc"}))
      ->capture_default_str();
  sub->add_option("--progress", c->progress, "Progress bar: auto (when stdout is a terminal), yes or no")
      ->check(CLI::IsMember({"auto", "yes", "no"}))
      ->capture_default_str();
  return {sub, [c] { return run_quantize(*c); }};
}

}  // namespace celer::cli
