// Split: cuts a tensor along one axis into consecutive parts, of the sizes given by input 'split' (the attribute of
// opsets < 13 becomes that input at import) or, without sizes, into equal parts (one per output).
#include <numeric>

#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Split final : public OpBase<Split, OpKind::kSplit> {
 public:
  int64_t axis = 0;

  const char* type_name() const override { return "Split"; }
  void visit_attrs(AttrVisitor& v) override { v.on("axis", axis); }

  // The size of every output along the axis for a dim of `dim` (may be -1: unknown); empty when not known yet.
  std::vector<int64_t> sizes(const InferContext& ctx, int64_t dim) const {
    const int64_t n = int64_t(ctx.num_outputs());
    if (ctx.has_input(1)) {
      const Tensor* t = ctx.input_value(1);
      if (!t) return {};
      CELER_CHECK(t->rank() == 1, kInvalidModel, "input 'split' must be 1-D, got rank ", t->rank());
      std::vector<int64_t> s = t->to_int_vector();
      CELER_CHECK(int64_t(s.size()) == n, kInvalidModel, "'split' has ", s.size(), " sizes for ", n, " outputs");
      int64_t sum = 0;
      for (int64_t v : s) {
        CELER_CHECK(v >= 0, kInvalidModel, "'split' = ", dims_to_string(s), " has a negative size");
        sum = layout::checked_add(sum, v, "sum of 'split'");
      }
      CELER_CHECK(dim < 0 || sum == dim, kShapeMismatch, "'split' = ", dims_to_string(s), " adds up to ", sum,
                  ", but the dim being split is ", dim);
      return s;
    }
    if (dim < 0) return {};
    CELER_CHECK(n > 0 && dim % n == 0, kShapeMismatch, "without 'split', dim ", dim, " cannot be split into ", n,
                " equal parts");
    return std::vector<int64_t>(size_t(n), dim / n);
  }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    const ElementType elem = ctx.input_elem(0);
    if (!in.rank_known()) {
      sizes(ctx, -1);  // validates 'split' alone
      for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.set_output(i, elem, PartialShape());
      return;
    }
    const size_t a = size_t(normalize_axis(axis, in.rank()));
    std::vector<int64_t> s = sizes(ctx, in[a].is_static() ? in[a].value() : -1);
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      PartialShape out = in;
      out[a] = s.empty() ? Dim() : Dim(s[i]);
      ctx.set_output(i, elem, std::move(out));
    }
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const size_t a = size_t(normalize_axis(axis, in.rank()));
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < a; ++k) outer *= in.dims()[k];
    for (size_t k = a + 1; k < size_t(in.rank()); ++k) inner *= in.dims()[k];
    const int64_t in_block = in.dims()[a] * inner;
    int64_t offset = 0;
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      const ValueType* t = ctx.inferred_type(i);
      CELER_CHECK(t && t->shape.is_static(), kInternal, "output ", i, " has no static shape");
      Dims dims = t->shape.to_dims();
      const int64_t block = dims[a] * inner;
      if (ctx.has_output(i)) {
        Tensor& out = ctx.output(i);
        if (out.size() > 0)
          for (int64_t o = 0; o < outer; ++o) layout::copy_elements(in, o * in_block + offset, out, o * block, block);
      }
      offset += block;
    }
  }
};

namespace {
void import_split(OnnxNode& n) {
  auto op = std::make_unique<Split>();
  op->axis = n.attr_int("axis", 0);
  if (n.opset() < 11 && op->axis < 0) n.fail("attribute 'axis' = ", op->axis, " must not be negative before opset 11");
  std::vector<Value*> outs;
  for (size_t i = 0; i < n.num_outputs(); ++i) outs.push_back(n.output(i));
  if (n.opset() >= 13 || !n.has_attr("split")) {
    if (n.opset() >= 2 && n.opset() < 13 && n.num_inputs() > 1 && n.input(1))
      n.fail("takes one input in opset ", n.opset());
    n.emit(std::move(op));
    return;
  }
  std::vector<int64_t> s = n.attr_ints("split");
  Value* split_v = n.constant(Tensor::from_vector(s, {int64_t(s.size())}));
  n.emit(std::move(op), {n.input(0), split_v}, outs);
}
}  // namespace

std::unique_ptr<Op> make_op_Split() { return std::make_unique<Split>(); }

void register_op_Split(OpRegistry& r) { r.add_onnx("Split", 1, kMaxOpset, import_split); }

}  // namespace celer
