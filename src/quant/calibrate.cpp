#include "quant/calibrate.hpp"

#include <set>

#include "quant/onnx_io.hpp"

namespace celer::quant {

std::string with_outputs(const onnx::ModelProto& model, const std::vector<std::string>& names) {
  onnx::ModelProto m = model;
  std::set<std::string> have;
  for (const auto& o : m.graph().output()) have.insert(o.name());
  for (const auto& n : names)
    if (have.insert(n).second) m.mutable_graph()->add_output()->set_name(n);
  return serialize_model(m);
}

void run_samples(const std::string& model_bytes, const CalibrationSet& set, const std::string& device,
                 const std::string& phase, const ProgressFn& progress,
                 const std::function<void(size_t, const std::map<std::string, const Tensor*>&)>& f) {
  Core core;
  Model model = core.read_model_from_memory(model_bytes);
  // When every sample has the same shapes, the model is compiled for them (static shapes: kernels built once).
  std::map<std::string, PartialShape> shapes;
  for (size_t i = 0; i < set.input_names.size() && !set.samples.empty(); ++i) {
    bool same = true;
    for (const auto& s : set.samples) same = same && s[i].dims() == set.samples[0][i].dims();
    if (same) shapes[set.input_names[i]] = PartialShape::of(set.samples[0][i].dims());
  }
  if (!shapes.empty()) model.reshape(shapes);
  CompiledModel cm = core.compile_model(model, device);
  InferRequest req = cm.create_infer_request();
  const auto& ins = cm.inputs();
  CELER_CHECK(ins.size() == set.input_names.size(), kInternal, "calibration: ", ins.size(), " inputs, ",
              set.input_names.size(), " in the data");
  const int64_t total = int64_t(set.samples.size());
  for (size_t s = 0; s < set.samples.size(); ++s) {
    if (progress) progress(phase, int64_t(s), total);
    for (size_t i = 0; i < ins.size(); ++i) req.set_tensor(set.input_names[i], set.samples[s][i]);
    try {
      req.infer();
    } catch (const Error& e) {
      CELER_THROW(kRuntime, "calibration sample ", set.sources[s], ": ", e.what());
    }
    std::map<std::string, const Tensor*> outs;
    for (size_t o = 0; o < cm.outputs().size(); ++o) outs[cm.outputs()[o].name] = &req.get_output_tensor(o);
    f(s, outs);
  }
  if (progress) progress(phase, total, total);
}

std::map<std::string, TensorStats> collect_stats(const onnx::ModelProto& model, const std::vector<std::string>& tensors,
                                                 const CalibrationSet& set, bool histogram, bool symmetric,
                                                 const std::string& device, const ProgressFn& progress) {
  std::map<std::string, TensorStats> stats;
  for (const auto& t : tensors) stats[t];
  const std::string bytes = with_outputs(model, tensors);
  auto each = [&](bool hist) {
    return [&stats, hist](size_t, const std::map<std::string, const Tensor*>& outs) {
      for (auto& [name, st] : stats) {
        auto it = outs.find(name);
        if (it == outs.end() || it->second->type() != ElementType::kF32) continue;
        const Tensor& t = *it->second;
        if (hist) {
          st.observe_histogram(t.data<float>(), t.size());
        } else {
          st.observe_minmax(t.data<float>(), t.size());
        }
      }
    };
  };
  run_samples(bytes, set, device, histogram ? "calibration 1/2" : "calibration", progress, each(false));
  if (histogram) {
    for (auto& [name, st] : stats) st.start_histogram(symmetric);
    run_samples(bytes, set, device, "calibration 2/2", progress, each(true));
  }
  return stats;
}

}  // namespace celer::quant
