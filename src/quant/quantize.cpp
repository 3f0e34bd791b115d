#include "quant/quantize.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "quant/bias_correction.hpp"
#include "quant/calibrated.hpp"
#include "quant/dynamic_quant.hpp"
#include "quant/onnx_io.hpp"
#include "quant/qdq_plan.hpp"
#include "quant/qdq_writer.hpp"
#include "quant/weight_compression.hpp"

namespace celer::quant {

namespace {

// Parameters of every quantized activation: each shared-parameter group quantizes over the union of its members'
// ranges. Model inputs take their min/max range whatever the observer: they are often discrete (image pixels), where
// histogram searches go wrong (the KL search clips Fashion-MNIST images at 40% of their range), and clipping input
// data is rarely wanted.
std::map<std::string, ActParams> activation_parameters(const QdqPlan& plan,
                                                       const std::map<std::string, TensorStats>& stats,
                                                       const std::set<std::string>& model_inputs,
                                                       const QuantizeOptions& opts) {
  const bool symmetric = opts.preset == Preset::kPerformance;
  std::map<std::string, Range> group;
  for (const auto& t : plan.tensors) {
    const ObserverKind kind = model_inputs.count(t) ? ObserverKind::kMinMax : opts.observer;
    const Range r = choose_range(stats.at(t), kind, symmetric, opts.percentile);
    const std::string& g = plan.group_of.at(t);
    auto it = group.find(g);
    if (it == group.end()) {
      group[g] = r;
    } else {
      it->second.lo = std::min(it->second.lo, r.lo);
      it->second.hi = std::max(it->second.hi, r.hi);
    }
  }
  std::map<std::string, ActParams> out;
  for (const auto& t : plan.tensors) out[t] = activation_params(group.at(plan.group_of.at(t)), opts.preset);
  return out;
}

}  // namespace

Calibrated calibrate(const std::string& model_bytes, const std::string& weights_dir, const CalibrationSet& set,
                     const QuantizeOptions& opts, QuantizeReport* report) {
  QuantizeReport local;
  QuantizeReport& rep = report ? *report : local;
  rep.preset = preset_name(opts.preset);
  rep.observer = observer_name(opts.observer);
  CELER_CHECK(opts.percentile > 0 && opts.percentile <= 100, kInvalidArgument, "--percentile ", opts.percentile,
              " must be in (0, 100]");
  CELER_CHECK(!set.samples.empty(), kInvalidArgument, "the calibration set is empty");
  rep.samples = int64_t(set.samples.size());

  Calibrated c;
  c.opts = opts;
  c.set = &set;
  // celer validates the model (and its external data) and gives element types and constants.
  Core core;
  c.fp32 = core.read_model_from_memory(model_bytes, weights_dir);
  const Graph& inferred = c.fp32.graph();
  c.model = parse_model_inline(model_bytes, weights_dir, "<model>");
  onnx::ModelProto& m = c.model;
  const int64_t opset = default_opset(m);
  CELER_CHECK(opset >= 13, kUnsupported, "the model imports opset ", opset,
              " of the default domain; the QDQ form needs opset 13 or newer (per-channel DequantizeLinear): "
              "convert the model to opset 13+ first");
  CELER_CHECK(set.input_names.size() == c.fp32.inputs().size(), kInvalidArgument, "the calibration data has ",
              set.input_names.size(), " inputs, the model ", c.fp32.inputs().size());
  for (size_t i = 0; i < set.input_names.size(); ++i)
    CELER_CHECK(set.input_names[i] == c.fp32.inputs()[i].name, kInvalidArgument, "calibration input ", i, " is '",
                set.input_names[i], "', the model's is '", c.fp32.inputs()[i].name, "'");

  for (const auto& n : m.graph().node()) {
    static const std::set<std::string> kQuantized = {"QuantizeLinear",       "DequantizeLinear", "QLinearConv",
                                                     "QLinearMatMul",        "ConvInteger",      "MatMulInteger",
                                                     "DynamicQuantizeLinear"};
    CELER_CHECK(!kQuantized.count(n.op_type()), kInvalidArgument, "the model is already quantized: node '", n.name(),
                "' is a ", n.op_type(), "; quantize the FP32 model instead");
  }
  IgnoredScope scope;
  for (const auto& e : opts.ignored_scope) scope.add(e);
  for (const auto& u : scope.unmatched(m.graph()))
    rep.warnings.push_back(detail::concat("--ignored-scope '", u, "' matches no node"));
  for (const auto& p : c.fp32.inputs()) c.model_inputs.insert(p.name);
  const QdqPlan plan = plan_qdq(m, inferred, scope);

  const bool histogram = opts.observer != ObserverKind::kMinMax;
  c.stats =
      collect_stats(m, plan.tensors, set, histogram, opts.preset == Preset::kPerformance, opts.device, opts.progress);
  if (opts.bias_correction) {
    const auto act = activation_parameters(plan, c.stats, c.model_inputs, opts);
    const auto weights = quantize_weights(m.graph(), plan, inferred, act);
    BiasCorrection bc = correct_biases(m, plan, inferred, act, weights, set, opts.device, opts.progress);
    c.biases = std::move(bc.biases);
    c.max_bias_shift = bc.max_shift;
  }
  return c;
}

std::string emit_qdq(const Calibrated& c, const std::vector<std::string>& keep_fp32, QuantizeReport* report) {
  QuantizeReport local;
  QuantizeReport& rep = report ? *report : local;
  const QuantizeOptions& opts = c.opts;
  const Graph& inferred = c.fp32.graph();
  onnx::ModelProto m = c.model;
  IgnoredScope scope;
  for (const auto& e : opts.ignored_scope) scope.add(e);
  for (const auto& name : keep_fp32) scope.add("name:" + name);
  const QdqPlan plan = plan_qdq(m, inferred, scope);
  // Ops kept in FP32 here may leave tensors the full plan did not observe (rare: a pass-through now quantized on
  // its own); they are calibrated now.
  std::vector<std::string> missing;
  for (const auto& t : plan.tensors)
    if (!c.stats.count(t)) missing.push_back(t);
  std::map<std::string, TensorStats> more;
  if (!missing.empty())
    more = collect_stats(m, missing, *c.set, opts.observer != ObserverKind::kMinMax,
                         opts.preset == Preset::kPerformance, opts.device, opts.progress);
  std::map<std::string, TensorStats> stats = c.stats;
  stats.insert(more.begin(), more.end());
  const auto act = activation_parameters(plan, stats, c.model_inputs, opts);
  // Corrected biases of the ops that stay quantized (an op kept in FP32 keeps its own bias).
  std::map<int, Tensor> biases;
  for (const auto& q : plan.ops) {
    auto it = c.biases.find(q.node);
    if (it != c.biases.end()) biases.insert(*it);
  }
  const bool corrected = opts.bias_correction;
  const auto weights = quantize_weights(m.graph(), plan, inferred, act, corrected ? &biases : nullptr);
  rep.quantized.clear();
  rep.kept.clear();
  for (const auto& q : plan.ops) {
    const auto& n = m.graph().node(q.node);
    rep.quantized.push_back(detail::concat(n.op_type(), " ", display_name(n)));
  }
  for (const auto& k : plan.kept) rep.kept.push_back(detail::concat(k.op_type, " ", k.name, ": ", k.reason));
  rep.activations = int64_t(plan.tensors.size());
  rep.residual_adds = plan.residual_adds;
  rep.biases_corrected = int64_t(biases.size());
  rep.max_bias_shift = c.max_bias_shift;

  write_qdq(m, plan, inferred, act, weights, corrected ? &biases : nullptr);
  std::string out = serialize_model(m);
  // The result must load in celer; a failure here is a quantizer bug, reported before anything is written.
  try {
    Core().read_model_from_memory(out);
  } catch (const Error& e) {
    CELER_THROW(kInternal, "the quantized model does not load (a quantizer bug): ", e.what());
  }
  return out;
}

std::string quantize_bytes(const std::string& model_bytes, const std::string& weights_dir, const CalibrationSet& set,
                           const QuantizeOptions& opts, QuantizeReport* report) {
  const Calibrated c = calibrate(model_bytes, weights_dir, set, opts, report);
  return emit_qdq(c, {}, report);
}

QuantizeReport quantize_file(const QuantizeFileOptions& opts) {
  namespace fs = std::filesystem;
  CELER_CHECK(opts.subset >= 0, kInvalidArgument, "--subset must be 0 (all) or positive");
  const std::string output = resolve_output_path(opts.output, opts.output_dir, opts.model);
  const std::string bytes = read_file(opts.model);
  const fs::path parent = fs::path(opts.model).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  Core core;
  const Model model = core.read_model_from_memory(bytes, dir);
  const CalibrationSet set = load_calibration(opts.data, model.inputs(), opts.images, opts.subset);
  QuantizeReport rep;
  const std::string out = quantize_bytes(bytes, dir, set, opts, &rep);
  write_file_atomically(output, out);
  rep.output = output;
  rep.output_bytes = int64_t(out.size());
  return rep;
}

Mode parse_mode(const std::string& name) {
  if (name == "static") return Mode::kStatic;
  if (name == "dynamic") return Mode::kDynamic;
  if (name == "weights-int8") return Mode::kWeightsInt8;
  if (name == "weights-int4") return Mode::kWeightsInt4;
  CELER_THROW(kInvalidArgument, "--mode '", name, "': expected static, dynamic, weights-int8 or weights-int4");
}

RewriteReport rewrite_file(const RewriteFileOptions& opts) {
  namespace fs = std::filesystem;
  CELER_CHECK(opts.mode != Mode::kStatic, kInternal, "rewrite_file: the static mode needs calibration data");
  const std::string output = resolve_output_path(opts.output, opts.output_dir, opts.model);
  // celer validates the model first (its errors name the node), then the protobuf is rewritten.
  std::string dir = fs::path(opts.model).parent_path().string();
  if (dir.empty()) dir = ".";
  const std::string bytes = read_file(opts.model);
  Core core;
  core.read_model_from_memory(bytes, dir);
  onnx::ModelProto m = parse_model_inline(bytes, dir, opts.model);
  RewriteReport rep;
  char buf[160];
  if (opts.mode == Mode::kDynamic) {
    DynamicQuantOptions o;
    o.ignored_scope = opts.ignored_scope;
    DynamicQuantReport r = quantize_dynamic(m, o);
    rep.quantized = std::move(r.quantized);
    rep.kept = std::move(r.kept);
    rep.summary = "dynamic: int8 weights (symmetric, per output column), activations quantized to uint8 per inference";
  } else {
    WeightCompressionOptions o;
    o.bits = opts.mode == Mode::kWeightsInt4 ? 4 : 8;
    o.group_size = opts.group_size;
    o.symmetric = !opts.asymmetric_weights;
    o.ignored_scope = opts.ignored_scope;
    WeightCompressionReport r = compress_weights(m, o);
    rep.quantized = std::move(r.compressed);
    rep.kept = std::move(r.kept);
    std::snprintf(buf, sizeof buf,
                  "weight-only: int%d codes in groups of %lld (%s), weights %.1f MiB -> %.1f MiB, largest error %.3g "
                  "of a group's max |w|",
                  o.bits, static_cast<long long>(o.group_size), o.symmetric ? "symmetric" : "asymmetric",
                  double(r.float_bytes) / double(1 << 20), double(r.compressed_bytes) / double(1 << 20),
                  r.max_relative_error);
    rep.summary = buf;
  }
  std::string out = serialize_model(m);
  try {
    core.read_model_from_memory(out);
  } catch (const Error& e) {
    CELER_THROW(kInternal, "the rewritten model does not load (a quantizer bug): ", e.what());
  }
  write_file_atomically(output, out);
  rep.output = output;
  rep.output_bytes = int64_t(out.size());
  return rep;
}

}  // namespace celer::quant
