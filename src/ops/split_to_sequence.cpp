// SplitToSequence: splits a tensor along 'axis' into a sequence. 'split' absent: pieces of length 1 (the axis is
// removed when keepdims = 0); a scalar: pieces of that length (the last may be shorter); 1-D: the pieces' lengths.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"
#include "ops/util.hpp"

namespace celer {

class SplitToSequence final : public OpBase<SplitToSequence, OpKind::kSplitToSequence> {
 public:
  int64_t axis = 0;
  bool keepdims = true;

  const char* type_name() const override { return "SplitToSequence"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("axis", axis);
    v.on("keepdims", keepdims);
  }

  void infer(InferContext& ctx) const override {
    const ValueType& in = ctx.input_type(0);
    CELER_CHECK(in.kind == ValueKind::kTensor && !in.optional, kInvalidModel, "input 0 'input' must be a tensor");
    if (ctx.has_input(1)) {
      ElementType se = ctx.input_elem(1);
      CELER_CHECK(se == ElementType::kI32 || se == ElementType::kI64 || se == ElementType::kUndefined, kInvalidModel,
                  "input 1 'split' must be int32 or int64, got ", element_type_name(se));
      const PartialShape& ss = ctx.input_shape(1);
      CELER_CHECK(!ss.rank_known() || ss.rank() <= 1, kInvalidModel, "input 1 'split' must be a scalar or 1-D, got ",
                  ss.to_string());
    }
    if (!in.shape.rank_known()) {
      ctx.set_output(0, ValueType::sequence(in.elem));
      return;
    }
    const int64_t a = normalize_axis(axis, in.shape.rank());
    std::vector<Dim> dims = in.shape.dims();
    if (!ctx.has_input(1)) {
      if (keepdims)
        dims[size_t(a)] = Dim(1);
      else
        dims.erase(dims.begin() + a);
    } else {
      dims[size_t(a)] = Dim();
      const Tensor* split = ctx.input_value(1);
      if (split && split->size() > 0) {
        // Known lengths: the item shape is exact when every piece has the same length.
        std::vector<int64_t> lens = split->to_int_vector();
        bool same = true;
        for (int64_t l : lens) same = same && l == lens[0];
        const Dim& d = in.shape[size_t(a)];
        if (split->rank() == 1 && same) dims[size_t(a)] = Dim(lens[0]);
        if (split->rank() == 0 && d.is_static() && lens[0] > 0 && d.value() % lens[0] == 0)
          dims[size_t(a)] = Dim(lens[0]);
      }
    }
    ctx.set_output(0, ValueType::sequence(in.elem, PartialShape(std::move(dims))));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const int64_t a = normalize_axis(axis, in.rank());
    const int64_t dim = in.dim(a);
    std::vector<int64_t> lens;
    if (!ctx.has_input(1)) {
      lens.assign(size_t(dim), 1);
    } else {
      const Tensor& split = ctx.input(1);
      CELER_CHECK(split.rank() <= 1, kInvalidArgument, "input 1 'split' must be a scalar or 1-D, got shape ",
                  dims_to_string(split.dims()));
      std::vector<int64_t> v = split.to_int_vector();
      if (split.rank() == 0) {
        CELER_CHECK(v[0] > 0, kInvalidArgument, "input 1 'split' = ", v[0], " must be positive");
        for (int64_t start = 0; start < dim; start += v[0]) lens.push_back(std::min(v[0], dim - start));
      } else {
        int64_t sum = 0;
        for (int64_t l : v) {
          CELER_CHECK(l >= 0, kInvalidArgument, "input 1 'split' ", dims_to_string(v), " has a negative length");
          sum += l;
        }
        CELER_CHECK(sum == dim, kShapeMismatch, "input 1 'split' ", dims_to_string(v), " sums to ", sum, ", but axis ",
                    a, " of the input ", dims_to_string(in.dims()), " has length ", dim);
        lens = v;
      }
    }
    std::vector<Tensor> items;
    int64_t start = 0;
    for (int64_t l : lens) {
      Tensor piece = seq::slice_axis(in, a, start, l);
      if (!ctx.has_input(1) && !keepdims) {
        Dims d = piece.dims();
        d.erase(d.begin() + a);
        piece = piece.reshaped(d);
      }
      items.push_back(std::move(piece));
      start += l;
    }
    ctx.set_output(0, RtValue::make_sequence(std::move(items), in.type()));
  }
};

namespace {
void import_split_to_sequence(OnnxNode& n) {
  auto op = std::make_unique<SplitToSequence>();
  op->axis = n.attr_int("axis", 0);
  op->keepdims = n.attr_int("keepdims", 1) != 0;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_SplitToSequence() { return std::make_unique<SplitToSequence>(); }

void register_op_SplitToSequence(OpRegistry& r) {
  r.add_onnx("SplitToSequence", 11, kMaxOpset, import_split_to_sequence);
}

}  // namespace celer
