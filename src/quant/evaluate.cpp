#include "quant/evaluate.hpp"

#include <algorithm>
#include <cstring>

#include "io/npy.hpp"

namespace celer::quant {

EvalResult evaluate_top1(Model model, const std::string& device, const Tensor& samples, const Tensor& labels,
                         int64_t batch, const std::function<void(int64_t, int64_t)>& progress) {
  CELER_CHECK(model.inputs().size() == 1, kInvalidArgument, "top-1 evaluation needs a model with one input, not ",
              model.inputs().size());
  const PortInfo in = model.inputs()[0];
  CELER_CHECK(samples.rank() >= 1 && samples.type() != ElementType::kString, kInvalidArgument,
              "evaluation samples must be a numeric array with a batch dim, got shape ",
              dims_to_string(samples.dims()));
  CELER_CHECK(in.type == ElementType::kUndefined || samples.type() == in.type, kInvalidArgument,
              "evaluation samples are ", element_type_name(samples.type()), ", input '", in.name, "' expects ",
              element_type_name(in.type));
  CELER_CHECK(labels.rank() == 1 && labels.dim(0) == samples.dim(0), kInvalidArgument, "labels of shape ",
              dims_to_string(labels.dims()), " do not match ", samples.dim(0), " samples");
  CELER_CHECK(
      labels.type() == ElementType::kI64 || labels.type() == ElementType::kI32 || labels.type() == ElementType::kU8,
      kInvalidArgument, "labels must be integers, got ", element_type_name(labels.type()));
  const int64_t n = samples.dim(0);
  CELER_CHECK(batch > 0, kInvalidArgument, "evaluation batch must be positive");
  if (in.shape.rank() > 0 && in.shape[0].is_static()) {
    batch = in.shape[0].value();
  } else {
    // A static batch: kernels are built once for it (dynamic shapes would be re-planned on every change).
    Dims d = samples.dims();
    d[0] = batch;
    CELER_CHECK(in.shape.accepts(d), kInvalidArgument, "input '", in.name, "' (", in.shape.to_string(),
                ") does not accept samples of shape ", dims_to_string(samples.dims()));
    model.reshape({{in.name, PartialShape::of(d)}});
  }
  CompiledModel cm = Core().compile_model(model, device);
  const size_t row_bytes = n ? samples.byte_size() / size_t(n) : 0;
  InferRequest req = cm.create_infer_request();
  EvalResult r;
  Dims dims = samples.dims();
  dims[0] = batch;
  Tensor x(samples.type(), dims);  // the last batch is padded with zeros
  for (int64_t b = 0; b < n; b += batch) {
    if (progress) progress(b, n);
    const int64_t m = std::min(batch, n - b);
    std::memcpy(x.raw(), static_cast<const char*>(samples.raw()) + size_t(b) * row_bytes, size_t(m) * row_bytes);
    req.set_input_tensor(0, x);
    req.infer();
    const Tensor& y = req.get_output_tensor(0);
    CELER_CHECK(y.rank() >= 1 && y.dim(0) == batch && y.size() > 0, kInvalidArgument, "output '", cm.outputs()[0].name,
                "' has shape ", dims_to_string(y.dims()), ": expected scores [", batch, ", classes]");
    const int64_t classes = y.size() / batch;
    for (int64_t i = 0; i < m; ++i) {
      int64_t best = 0;
      double best_v = y.value_as_double(i * classes);
      for (int64_t c = 1; c < classes; ++c) {
        const double v = y.value_as_double(i * classes + c);
        if (v > best_v) best_v = v, best = c;
      }
      r.correct += best == labels.value_as_int(b + i) ? 1 : 0;
      ++r.total;
    }
  }
  if (progress) progress(n, n);
  return r;
}

EvalResult evaluate_top1_files(const std::string& model, const std::string& samples_npy, const std::string& labels_npy,
                               const std::string& device, int64_t batch,
                               const std::function<void(int64_t, int64_t)>& progress) {
  return evaluate_top1(Core().read_model(model), device, npy::read(samples_npy), npy::read(labels_npy), batch,
                       progress);
}

}  // namespace celer::quant
