// Accuracy-aware quantization: see accuracy_aware.hpp.
#include "quant/accuracy_aware.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/npy.hpp"
#include "quant/calibrated.hpp"
#include "quant/onnx_io.hpp"

namespace celer::quant {

namespace {

// Top-1 class of row r of scores [..., classes].
int64_t argmax_row(const Tensor& t, int64_t row, int64_t classes) {
  int64_t best = 0;
  for (int64_t j = 1; j < classes; ++j)
    if (t.value_as_double(row * classes + j) > t.value_as_double(row * classes + best)) best = j;
  return best;
}

// Runs `command` through /bin/sh and returns the last number it printed on stdout.
double script_metric(const std::string& command, const std::string& model_bytes) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "celer-metric-model-XXXXXX.onnx").string();
  char* path = tmpl.data();
  const int fd = mkstemps(path, 5);
  CELER_CHECK(fd >= 0, kIo, "cannot create a temporary model file for the metric script");
  close(fd);
  struct Remove {
    const char* p;
    ~Remove() { std::remove(p); }
  } remove_later{path};
  {
    std::ofstream f(path, std::ios::binary);
    f.write(model_bytes.data(), std::streamsize(model_bytes.size()));
    CELER_CHECK(f.good(), kIo, "cannot write the temporary model file '", path, "'");
  }
  const std::string cmd = command + " '" + path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  CELER_CHECK(p, kIo, "--metric script: cannot run '", cmd, "'");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  CELER_CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, kInvalidArgument, "--metric script: '",
              cmd, "' failed (exit status ", WIFEXITED(status) ? WEXITSTATUS(status) : -1, ")");
  // The last token that parses completely as a finite number.
  double value = NAN;
  size_t i = 0;
  while (i < out.size()) {
    while (i < out.size() && std::isspace(static_cast<unsigned char>(out[i]))) ++i;
    size_t j = i;
    while (j < out.size() && !std::isspace(static_cast<unsigned char>(out[j]))) ++j;
    if (j > i) {
      const std::string tok = out.substr(i, j - i);
      char* end = nullptr;
      const double v = std::strtod(tok.c_str(), &end);
      if (end && *end == '\0' && std::isfinite(v)) value = v;
    }
    i = j;
  }
  CELER_CHECK(std::isfinite(value), kInvalidArgument, "--metric script: '", cmd, "' printed no number");
  return value;
}

// "Conv 'name'" -> "name" ("" for unnamed nodes, which the ignored scope cannot name).
std::string node_name_of(const std::string& entry) {
  const size_t a = entry.find('\''), b = entry.rfind('\'');
  if (a == std::string::npos || b <= a || entry.find("(unnamed") != std::string::npos) return "";
  return entry.substr(a + 1, b - a - 1);
}

}  // namespace

double evaluate_metric(const std::string& model_bytes, const std::string& metric, const CalibrationSet& samples,
                       const std::vector<int64_t>& labels, std::vector<int64_t>& reference, size_t count) {
  if (metric.rfind("script:", 0) == 0) return script_metric(metric.substr(7), model_bytes);
  const bool top1 = metric == "top1";
  Core core;
  CompiledModel cm = core.compile_model(core.read_model_from_memory(model_bytes), "CPU");
  InferRequest r = cm.create_infer_request();
  int64_t right = 0, rows = 0;
  const bool fill = reference.empty();
  for (size_t s = 0; s < count && s < samples.samples.size(); ++s) {
    for (size_t i = 0; i < samples.samples[s].size(); ++i) r.set_input_tensor(i, samples.samples[s][i]);
    r.infer();
    const Tensor& y = r.get_output_tensor(0);
    CELER_CHECK(y.rank() >= 1 && y.dim(y.rank() - 1) >= 2, kInvalidArgument, "--metric ", metric,
                ": the model's first output must hold class scores [..., classes], got ", dims_to_string(y.dims()));
    const int64_t classes = y.dim(y.rank() - 1);
    for (int64_t row = 0; row < y.size() / classes; ++row, ++rows) {
      const int64_t c = argmax_row(y, row, classes);
      if (top1) {
        CELER_CHECK(size_t(rows) < labels.size(), kInvalidArgument, "--eval: ", labels.size(),
                    " labels in labels.npy, but the samples give more predictions");
        right += c == labels[size_t(rows)];
      } else if (fill) {
        reference.push_back(c);
      } else {
        right += size_t(rows) < reference.size() && c == reference[size_t(rows)];
      }
    }
  }
  if (!top1 && fill) return 100.0;
  return rows ? 100.0 * double(right) / double(rows) : 0.0;
}

std::string quantize_accuracy_aware(const std::string& model_bytes, const std::string& weights_dir,
                                    const CalibrationSet& calibration, const QuantizeOptions& opts,
                                    const AccuracyAwareOptions& aa, AccuracyAwareReport* report) {
  AccuracyAwareReport local;
  AccuracyAwareReport& rep = report ? *report : local;
  CELER_CHECK(aa.metric == "top1" || aa.metric == "agreement" || aa.metric.rfind("script:", 0) == 0, kInvalidArgument,
              "--metric '", aa.metric, "': expected top1, agreement or script:COMMAND");
  CELER_CHECK(std::isfinite(aa.max_drop) && aa.max_drop >= 0, kInvalidArgument, "--max-drop ", aa.max_drop,
              " must be a number >= 0");
  rep.metric = aa.metric;
  const Calibrated cal = calibrate(model_bytes, weights_dir, calibration, opts, &rep.quantize);

  const bool script = aa.metric.rfind("script:", 0) == 0;
  CalibrationSet eval;
  std::vector<int64_t> labels, reference;
  if (!script) {
    CELER_CHECK(!aa.eval_dir.empty(), kInvalidArgument, "--metric ", aa.metric, " needs --eval DIR");
    eval = load_calibration(aa.eval_dir, cal.fp32.inputs(), aa.images, aa.max_samples);
    for (const auto& s : eval.samples)
      for (const Tensor& t : s) check_finite(t, "evaluation data in '" + aa.eval_dir + "'");
    if (aa.metric == "top1") {
      const std::string file = aa.eval_dir + "/" + kLabelsFile;
      const Tensor l = npy::read(file);
      CELER_CHECK(l.rank() == 1 && !is_float(l.type()), kInvalidArgument, "'", file,
                  "' must be a 1-D integer array (one label per sample), got ", element_type_name(l.type()),
                  dims_to_string(l.dims()));
      for (int64_t i = 0; i < l.size(); ++i) labels.push_back(int64_t(l.value_as_double(i)));
    }
  }
  const size_t all = eval.samples.size();
  const size_t ranked = aa.ranking_subset > 0 ? std::min(all, size_t(aa.ranking_subset)) : all;
  rep.eval_samples = int64_t(all);
  auto progress = [&](const std::string& phase, int64_t done, int64_t total) {
    if (opts.progress) opts.progress(phase, done, total);
  };

  std::vector<int64_t> ref_ranked;  // agreement on the ranking subset needs its own reference
  rep.fp32 = evaluate_metric(model_bytes, aa.metric, eval, labels, reference, all);
  if (aa.metric == "agreement") evaluate_metric(model_bytes, aa.metric, eval, labels, ref_ranked, ranked);
  std::vector<int64_t>& rank_ref = aa.metric == "agreement" ? ref_ranked : reference;
  QuantizeReport qrep;
  std::string best = emit_qdq(cal, {}, &qrep);
  rep.initial = rep.final = evaluate_metric(best, aa.metric, eval, labels, reference, all);
  rep.quantize.quantized = qrep.quantized;
  rep.quantize.kept = qrep.kept;
  if (rep.fp32 - rep.initial <= aa.max_drop) {
    rep.reached = true;
    return best;
  }

  // Rank the quantized ops by the metric recovered when each alone stays in FP32.
  std::vector<std::string> names;
  for (const auto& q : qrep.quantized)
    if (const std::string n = node_name_of(q); !n.empty()) names.push_back(n);
  CELER_CHECK(!names.empty(), kInvalidArgument, "the drop ", rep.fp32 - rep.initial,
              " exceeds --max-drop, and no quantized op has a name to keep it in FP32 by");
  const double base = evaluate_metric(best, aa.metric, eval, labels, rank_ref, ranked);
  std::vector<std::pair<double, size_t>> order;
  for (size_t i = 0; i < names.size(); ++i) {
    progress("ranking ops", int64_t(i), int64_t(names.size()));
    const double v = evaluate_metric(emit_qdq(cal, {names[i]}), aa.metric, eval, labels, rank_ref, ranked);
    order.push_back({v - base, i});
    rep.tried.push_back(names[i] + ": " + std::to_string(v));
  }
  progress("ranking ops", int64_t(names.size()), int64_t(names.size()));
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });

  // Return ops to FP32 in that order until the drop is within the bound (at least one op stays quantized).
  std::vector<std::string> keep;
  for (size_t k = 0; k + 1 < order.size(); ++k) {
    const size_t i = order[k].second;
    keep.push_back(names[i]);
    QuantizeReport r;
    std::string bytes = emit_qdq(cal, keep, &r);
    const double v = evaluate_metric(bytes, aa.metric, eval, labels, reference, all);
    KeptLayer kl;
    kl.name = names[i];
    kl.score = order[k].first;
    for (const auto& q : qrep.quantized)
      if (node_name_of(q) == names[i]) kl.op_type = q.substr(0, q.find(' '));
    rep.kept.push_back(kl);
    best = std::move(bytes);
    rep.final = v;
    rep.quantize.quantized = r.quantized;
    rep.quantize.kept = r.kept;
    if (rep.fp32 - v <= aa.max_drop) {
      rep.reached = true;
      break;
    }
  }
  return best;
}

AccuracyAwareReport accuracy_aware_file(const QuantizeFileOptions& opts, const AccuracyAwareOptions& aa) {
  namespace fs = std::filesystem;
  CELER_CHECK(opts.subset >= 0, kInvalidArgument, "--subset must be 0 (all) or positive");
  const std::string output = resolve_output_path(opts.output, opts.output_dir, opts.model);
  const std::string bytes = read_file(opts.model);
  std::string dir = fs::path(opts.model).parent_path().string();
  if (dir.empty()) dir = ".";
  const Model model = Core().read_model_from_memory(bytes, dir);
  const CalibrationSet set = load_calibration(opts.data, model.inputs(), opts.images, opts.subset);
  AccuracyAwareReport rep;
  const std::string out = quantize_accuracy_aware(bytes, dir, set, opts, aa, &rep);
  write_file_atomically(output, out);
  rep.quantize.output = output;
  rep.quantize.output_bytes = int64_t(out.size());
  return rep;
}

}  // namespace celer::quant
