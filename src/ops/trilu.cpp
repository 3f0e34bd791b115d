// Trilu: keeps the upper (upper = 1) or lower triangle of the last two dims and zeroes the rest. Diagonal k (input,
// default 0) shifts the boundary: upper keeps j - i >= k, lower keeps j - i <= k.
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Trilu final : public OpBase<Trilu, OpKind::kTrilu> {
 public:
  bool upper = true;

  const char* type_name() const override { return "Trilu"; }
  void visit_attrs(AttrVisitor& v) override { v.on("upper", upper); }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    if (in.rank_known()) CELER_CHECK(in.rank() >= 2, kShapeMismatch, "input must have rank >= 2, got ", in.to_string());
    if (ctx.has_input(1)) {
      check_index_type(ctx.input_elem(1), "input 'k'");
      if (const Tensor* k = ctx.input_value(1)) scalar_int_input(*k, "input 'k'");
    }
    ctx.set_output(0, ctx.input_type(0));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const int64_t k = ctx.has_input(1) ? scalar_int_input(ctx.input(1), "input 'k'") : 0;
    const int64_t rows = in.dim(in.rank() - 2), cols = in.dim(in.rank() - 1);
    const int64_t mats = rows * cols == 0 ? 0 : in.size() / (rows * cols);
    Tensor& out = ctx.output(0);
    dispatch_all(in.type(), [&]<typename T>() {
      const T* src = in.data<T>();
      T* dst = out.data<T>();
      for (int64_t m = 0; m < mats; ++m)
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < cols; ++j) {
            const int64_t o = (m * rows + i) * cols + j;
            const bool keep = upper ? j - i >= k : j - i <= k;
            dst[o] = keep ? src[o] : T{};
          }
    });
  }
};

namespace {
void import_trilu(OnnxNode& n) {
  auto op = std::make_unique<Trilu>();
  const int64_t upper = n.attr_int("upper", 1);
  if (upper != 0 && upper != 1) n.fail("attribute 'upper' = ", upper, " must be 0 or 1");
  op->upper = upper == 1;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Trilu() { return std::make_unique<Trilu>(); }

void register_op_Trilu(OpRegistry& r) { r.add_onnx("Trilu", 14, kMaxOpset, import_trilu); }

}  // namespace celer
