// MaxUnpool: the partial inverse of MaxPool. The output (zeros) receives every X value at the flat position its index
// in I names. Output shape: the 'output_shape' input, else (in - 1) * stride + kernel - pad_begin - pad_end per
// spatial axis.
#include <algorithm>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/conv.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class MaxUnpool final : public OpBase<MaxUnpool, OpKind::kMaxUnpool> {
 public:
  WindowAttrs window;

  const char* type_name() const override { return "MaxUnpool"; }
  void visit_attrs(AttrVisitor& v) override { visit_window(v, window); }

  void infer(InferContext& ctx) const override {
    const ElementType e = ctx.input_elem(0);
    CELER_CHECK(is_float(e), kInvalidModel, "input X has element type ", element_type_name(e),
                "; MaxUnpool needs a float type");
    CELER_CHECK(ctx.input_elem(1) == ElementType::kI64, kInvalidModel, "input I has element type ",
                element_type_name(ctx.input_elem(1)), "; int64 is required");
    const PartialShape& xs = ctx.input_shape(0);
    const PartialShape& is = ctx.input_shape(1);
    if (xs.rank_known() && is.rank_known()) {
      CELER_CHECK(xs.rank() == is.rank(), kShapeMismatch, "input I of shape ", is.to_string(),
                  " must have the shape of input X of shape ", xs.to_string());
      for (size_t i = 0; i < xs.dims().size(); ++i)
        CELER_CHECK(!xs[i].is_static() || !is[i].is_static() || xs[i].value() == is[i].value(), kShapeMismatch,
                    "input I of shape ", is.to_string(), " must have the shape of input X of shape ", xs.to_string());
    }
    if (ctx.has_input(2)) {
      const Tensor* shape = ctx.input_value(2);
      if (!shape) {
        ctx.set_output(0, e, xs.rank_known() ? PartialShape::unknown_dims(xs.rank()) : PartialShape());
        return;
      }
      std::vector<int64_t> d = shape->to_int_vector();
      CELER_CHECK(!xs.rank_known() || int64_t(d.size()) == xs.rank(), kShapeMismatch,
                  "input output_shape = ", dims_to_string(d), " must have the rank of input X of shape ",
                  xs.to_string());
      for (int64_t v : d)
        CELER_CHECK(v >= 0, kInvalidModel, "input output_shape = ", dims_to_string(d), " has a negative dim");
      ctx.set_output(0, e, PartialShape::of(d));
      return;
    }
    if (!xs.rank_known()) {
      ctx.set_output(0, e, PartialShape());
      return;
    }
    CELER_CHECK(xs.rank() >= 3, kShapeMismatch, "input X of shape ", xs.to_string(),
                " needs rank >= 3 (N, C, spatial axes...)");
    const size_t spatial = size_t(xs.rank() - 2);
    window.check_rank(spatial);
    CELER_CHECK(window.kernel_shape.size() == spatial, kInvalidModel, "attribute 'kernel_shape' is required");
    std::vector<Dim> out = xs.dims();
    for (size_t i = 0; i < spatial; ++i) {
      if (!out[2 + i].is_static()) continue;
      const int64_t o = (out[2 + i].value() - 1) * window.stride(i) + window.kernel_shape[i] - window.pad_begin(i) -
                        window.pad_end(i, spatial);
      CELER_CHECK(o >= 0, kShapeMismatch, "output spatial axis ", i, " would have length ", o);
      out[2 + i] = Dim(o);
    }
    ctx.set_output(0, e, PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    Tensor& y = ctx.output(0);
    CELER_CHECK(ind.dims() == x.dims(), kShapeMismatch, "input I of shape ", dims_to_string(ind.dims()),
                " must have the shape of input X of shape ", dims_to_string(x.dims()));
    CELER_CHECK(x.rank() >= 3 && y.rank() == x.rank(), kShapeMismatch, "input X of shape ", dims_to_string(x.dims()),
                " and output of shape ", dims_to_string(y.dims()), " need the same rank >= 3");
    // Indices address the unpooled shape the attributes imply; a larger 'output_shape' holds it at its origin.
    const size_t spatial = size_t(x.rank() - 2);
    Dims inferred = x.dims();
    for (size_t i = 0; i < spatial; ++i)
      inferred[2 + i] = (x.dims()[2 + i] - 1) * window.stride(i) + window.kernel_shape[i] - window.pad_begin(i) -
                        window.pad_end(i, spatial);
    for (size_t i = 0; i < inferred.size(); ++i)
      CELER_CHECK(inferred[i] <= y.dims()[i], kShapeMismatch, "input output_shape = ", dims_to_string(y.dims()),
                  " is smaller than the unpooled shape ", dims_to_string(inferred));
    const int64_t inferred_size = element_count(inferred);
    const bool same = inferred == y.dims();
    const Dims in_strides = strides_of(inferred), out_strides = strides_of(y.dims());
    const int64_t* pi = ind.data<int64_t>();
    dispatch_float(x.type(), [&]<typename T>() {
      const T* px = x.data<T>();
      T* py = y.data<T>();
      for (int64_t i = 0; i < x.size(); ++i) {
        const int64_t at = pi[i];
        CELER_CHECK(at >= 0 && at < inferred_size, kOutOfRange, "index ", at, " in input I (element ", i,
                    ") is out of range for the unpooled shape ", dims_to_string(inferred));
        int64_t dst = at;
        if (!same) {
          dst = 0;
          int64_t rest = at;
          for (size_t a = 0; a < inferred.size(); ++a) {
            dst += rest / in_strides[a] * out_strides[a];
            rest %= in_strides[a];
          }
        }
        py[dst] = px[i];
      }
    });
  }
};

namespace {
void import_max_unpool(OnnxNode& n) {
  auto op = std::make_unique<MaxUnpool>();
  op->window = read_window_attrs(n);
  if (op->window.kernel_shape.empty()) n.fail("attribute 'kernel_shape' is required");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_MaxUnpool() { return std::make_unique<MaxUnpool>(); }

void register_op_MaxUnpool(OpRegistry& r) { r.add_onnx("MaxUnpool", 9, kMaxOpset, import_max_unpool); }

}  // namespace celer
