// `celer evaluate MODEL --data SAMPLES.npy --labels LABELS.npy`: top-1 accuracy of a classifier
// (src/quant/evaluate.hpp).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "quant/evaluate.hpp"
#include "tools/cli_common.hpp"

namespace celer::cli {

namespace {

struct EvaluateOptions {
  std::string model, data, labels, device = "CPU", progress = "auto";
  int64_t batch = 100;
};

int run_evaluate(const EvaluateOptions& o) {
  const bool show = o.progress == "yes" || (o.progress == "auto" && isatty(STDOUT_FILENO));
  const auto t0 = std::chrono::steady_clock::now();
  auto ms = [&] { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(); };
  std::unique_ptr<Progress> p;
  const quant::EvalResult r =
      quant::evaluate_top1_files(o.model, o.data, o.labels, o.device, o.batch, [&](int64_t done, int64_t total) {
        if (!p) p = std::make_unique<Progress>(show, total, 1.0, "samples");
        p->update(done, ms());
      });
  if (p) p->finish();
  char buf[128];
  std::snprintf(buf, sizeof buf, "top-1 %.2f%% (%lld of %lld)", 100.0 * r.top1(), static_cast<long long>(r.correct),
                static_cast<long long>(r.total));
  std::cout << buf << "\n";
  return 0;
}

}  // namespace

Command add_evaluate_command(CLI::App& app) {
  auto o = std::make_shared<EvaluateOptions>();
  CLI::App* sub = app.add_subcommand("evaluate", "Top-1 accuracy of a classifier on labelled .npy samples");
  sub->add_option("model", o->model, "ONNX model (one input; first output: scores [N, classes])")->required();
  sub->add_option("--data", o->data, "Samples: one .npy file [N, ...]")->required();
  sub->add_option("--labels", o->labels, "Labels: one .npy file [N] of integers")->required();
  sub->add_option("--device,-d", o->device, "Device")->capture_default_str();
  sub->add_option("--batch,-b", o->batch, "Batch size (when the model's batch dim is dynamic)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--progress", o->progress, "Progress bar: auto (when stdout is a terminal), yes or no")
      ->check(CLI::IsMember({"auto", "yes", "no"}))
      ->capture_default_str();
  return {sub, [o] { return run_evaluate(*o); }};
}

}  // namespace celer::cli
