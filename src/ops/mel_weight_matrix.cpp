// MelWeightMatrix: the [dft_length / 2 + 1, num_mel_bins] matrix of triangular mel filters that maps a onesided
// spectrum's magnitudes to mel bands. Inputs (scalars): num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
// upper_edge_hertz. The mel scale is 2595 log10(1 + f / 700); band i rises from edge i to edge i + 1 and falls to
// edge i + 2, with the num_mel_bins + 2 edges spaced evenly in mel and mapped to spectrum bins.
#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "onnx/onnx_tensor.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class MelWeightMatrix final : public OpBase<MelWeightMatrix, OpKind::kMelWeightMatrix> {
 public:
  ElementType output_type = ElementType::kF32;

  const char* type_name() const override { return "MelWeightMatrix"; }
  void visit_attrs(AttrVisitor& v) override { visit_enum(v, "output_type", output_type, ElementType::kString); }

  void infer(InferContext& ctx) const override {
    static const char* names[] = {"num_mel_bins", "dft_length", "sample_rate"};
    for (size_t i = 0; i < 3; ++i)
      CELER_CHECK(is_integer(ctx.input_elem(i)), kInvalidModel, "input '", names[i], "' must be an integer");
    for (size_t i = 3; i < 5; ++i)
      CELER_CHECK(is_float(ctx.input_elem(i)), kInvalidModel, "input '",
                  i == 3 ? "lower_edge_hertz" : "upper_edge_hertz", "' must be a float");
    Dim rows, cols;
    if (const Tensor* t = ctx.input_value(1)) rows = positive(*t, "dft_length") / 2 + 1;
    if (const Tensor* t = ctx.input_value(0)) cols = positive(*t, "num_mel_bins");
    ctx.set_output(0, output_type, PartialShape{rows, cols});
  }

  void run(KernelContext& ctx) const override {
    const int64_t mel_bins = positive(ctx.input(0), "num_mel_bins");
    const int64_t dft_length = positive(ctx.input(1), "dft_length");
    const int64_t sample_rate = positive(ctx.input(2), "sample_rate");
    const float lower = float(scalar(ctx.input(3), "lower_edge_hertz"));
    const float upper = float(scalar(ctx.input(4), "upper_edge_hertz"));
    CELER_CHECK(lower >= 0 && upper > lower && upper <= float(sample_rate), kInvalidArgument,
                "the edges lower_edge_hertz = ", lower, " and upper_edge_hertz = ", upper,
                " must satisfy 0 <= lower < upper <= sample_rate");
    const int64_t spec_bins = dft_length / 2 + 1;
    // Edges in float like the ONNX reference, then spectrum bins floor((dft_length + 1) * hz / sample_rate).
    const float low_mel = 2595.0f * std::log10(1.0f + lower / 700.0f);
    const float high_mel = 2595.0f * std::log10(1.0f + upper / 700.0f);
    const double step = double(high_mel - low_mel) / double(mel_bins + 2);
    std::vector<int64_t> edge(size_t(mel_bins + 2));
    for (int64_t i = 0; i < mel_bins + 2; ++i) {
      double hz = 700.0 * (std::pow(10.0, (double(i) * step + double(low_mel)) / 2595.0) - 1.0);
      edge[size_t(i)] = int64_t(std::floor(double(dft_length + 1) * hz / double(sample_rate)));
      CELER_CHECK(edge[size_t(i)] >= 0 && edge[size_t(i)] < spec_bins, kInvalidArgument, "mel band edge ", hz,
                  " Hz falls outside the ", spec_bins, " spectrum bins");
    }
    std::vector<double> w(size_t(spec_bins * mel_bins), 0.0);
    for (int64_t i = 0; i < mel_bins; ++i) {
      const int64_t lo = edge[size_t(i)], center = edge[size_t(i) + 1], hi = edge[size_t(i) + 2];
      if (center == lo) {
        w[size_t(center * mel_bins + i)] = 1.0;
      } else {
        for (int64_t j = lo; j <= center; ++j) w[size_t(j * mel_bins + i)] = double(j - lo) / double(center - lo);
      }
      for (int64_t j = center; j < hi; ++j) w[size_t(j * mel_bins + i)] = double(hi - j) / double(hi - center);
    }
    Tensor& y = ctx.output(0, output_type, {spec_bins, mel_bins});
    dispatch_numeric(output_type, [&]<typename T>() {
      T* py = y.data<T>();
      for (size_t i = 0; i < w.size(); ++i) py[i] = T(w[i]);
    });
  }

 private:
  static double scalar(const Tensor& t, const char* name) {
    CELER_CHECK(t.size() == 1, kInvalidArgument, "input '", name, "' must be a scalar, got shape ",
                dims_to_string(t.dims()));
    return t.value_as_double(0);
  }
  static int64_t positive(const Tensor& t, const char* name) {
    CELER_CHECK(t.size() == 1, kInvalidArgument, "input '", name, "' must be a scalar, got shape ",
                dims_to_string(t.dims()));
    int64_t v = t.value_as_int(0);
    CELER_CHECK(v > 0, kInvalidArgument, "input '", name, "' = ", v, " must be positive");
    return v;
  }
};

namespace {
void import_mel_weight_matrix(OnnxNode& n) {
  auto op = std::make_unique<MelWeightMatrix>();
  op->output_type = onnx_element_type(int(n.attr_int("output_datatype", 1)), "attribute 'output_datatype'");
  if (op->output_type == ElementType::kString) n.fail("attribute 'output_datatype' must be a numeric type");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_MelWeightMatrix() { return std::make_unique<MelWeightMatrix>(); }

void register_op_MelWeightMatrix(OpRegistry& r) {
  r.add_onnx("MelWeightMatrix", 17, kMaxOpset, import_mel_weight_matrix);
}

}  // namespace celer
