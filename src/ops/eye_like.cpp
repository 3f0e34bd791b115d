// EyeLike: a 2-D tensor of the input's shape with ones on diagonal k (k > 0 above the main diagonal, k < 0 below)
// and zeros elsewhere; element type from attribute 'dtype', else the input's.
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "onnx/onnx_tensor.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class EyeLike final : public OpBase<EyeLike, OpKind::kEyeLike> {
 public:
  ElementType dtype = ElementType::kUndefined;  // kUndefined: the input's type
  int64_t k = 0;

  const char* type_name() const override { return "EyeLike"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "dtype", dtype, ElementType::kString);
    v.on("k", k);
  }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    if (in.rank_known()) CELER_CHECK(in.rank() == 2, kShapeMismatch, "input must be 2-D, got ", in.to_string());
    const ElementType out = dtype == ElementType::kUndefined ? ctx.input_elem(0) : dtype;
    CELER_CHECK(out != ElementType::kString, kInvalidModel, "the output element type must not be string");
    ctx.set_output(0, out, in.rank_known() ? in : PartialShape::unknown_dims(2));
  }

  void run(KernelContext& ctx) const override {
    Tensor& out = ctx.output(0);
    const int64_t rows = out.dim(0), cols = out.dim(1);
    if (k <= -rows || k >= cols) return;  // the diagonal lies outside (and i + k cannot overflow below)
    dispatch_numeric(out.type(), [&]<typename T>() {
      T* o = out.data<T>();
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t j = i + k;
        if (j >= 0 && j < cols) o[i * cols + j] = T(1);
      }
    });
  }
};

namespace {
void import_eye_like(OnnxNode& n) {
  auto op = std::make_unique<EyeLike>();
  if (n.has_attr("dtype")) op->dtype = onnx_element_type(int(n.attr_int("dtype")), "attribute 'dtype'");
  op->k = n.attr_int("k", 0);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_EyeLike() { return std::make_unique<EyeLike>(); }

void register_op_EyeLike(OpRegistry& r) { r.add_onnx("EyeLike", 9, kMaxOpset, import_eye_like); }

}  // namespace celer
