// Slice: for each listed axis, the elements start, start + step, ... before end (inputs 'starts', 'ends', 'axes',
// 'steps'; the attributes of opsets < 10 become those inputs at import). Negative starts/ends count from the back;
// out-of-range values (INT64_MAX, INT64_MIN) are clamped as the spec says; negative steps walk backwards.
#include "ops/slice.hpp"

#include <algorithm>

#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

// Clamps start/end for a dim of size `dim` and counts the elements, per the ONNX spec (opset 10+).
AxisSlice slice_axis(int64_t axis, int64_t dim, int64_t start, int64_t end, int64_t step) {
  AxisSlice s;
  s.axis = axis;
  s.step = step;
  if (dim == 0) return s;
  if (start < 0) start += dim;  // cannot overflow: dim >= 0
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    s.count = end > start ? int64_t((__int128(end) - start + step - 1) / step) : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    __int128 st = -__int128(step);
    s.count = start > end ? int64_t((__int128(start) - end + st - 1) / st) : 0;
  }
  s.start = s.count > 0 ? start : 0;
  return s;
}

// The slicing inputs, validated; axes normalised for `rank`.
struct SliceArgs {
  std::vector<int64_t> starts, ends, axes, steps;
};

SliceArgs read_args(const Tensor& starts, const Tensor& ends, const Tensor* axes, const Tensor* steps, int64_t rank) {
  SliceArgs a;
  CELER_CHECK(starts.rank() == 1 && ends.rank() == 1, kInvalidModel, "inputs 'starts' and 'ends' must be 1-D");
  a.starts = starts.to_int_vector();
  a.ends = ends.to_int_vector();
  CELER_CHECK(a.starts.size() == a.ends.size(), kInvalidModel, "'starts' has ", a.starts.size(),
              " values but 'ends' has ", a.ends.size());
  const size_t n = a.starts.size();
  if (axes) {
    CELER_CHECK(axes->rank() == 1 && size_t(axes->size()) == n, kInvalidModel, "'axes' must have ", n,
                " values like 'starts', got shape ", dims_to_string(axes->dims()));
    a.axes = normalize_axes(axes->to_int_vector(), rank, "'axes'");
  } else {
    CELER_CHECK(int64_t(n) <= rank, kInvalidModel, "'starts' has ", n, " values for an input of rank ", rank);
    for (size_t i = 0; i < n; ++i) a.axes.push_back(int64_t(i));
  }
  if (steps) {
    CELER_CHECK(steps->rank() == 1 && size_t(steps->size()) == n, kInvalidModel, "'steps' must have ", n,
                " values like 'starts', got shape ", dims_to_string(steps->dims()));
    a.steps = steps->to_int_vector();
    for (int64_t s : a.steps) CELER_CHECK(s != 0, kInvalidModel, "'steps' must not contain 0");
  } else {
    a.steps.assign(n, 1);
  }
  return a;
}

}  // namespace

std::vector<AxisSlice> plan_slice(const Dims& in, const Tensor& starts, const Tensor& ends, const Tensor* axes,
                                  const Tensor* steps) {
  const int64_t rank = int64_t(in.size());
  const SliceArgs args = read_args(starts, ends, axes, steps, rank);
  std::vector<AxisSlice> per_axis(in.size());
  for (int64_t k = 0; k < rank; ++k) per_axis[size_t(k)] = AxisSlice{k, 0, 1, in[size_t(k)]};
  for (size_t i = 0; i < args.axes.size(); ++i) {
    const int64_t a = args.axes[i];
    per_axis[size_t(a)] = slice_axis(a, in[size_t(a)], args.starts[i], args.ends[i], args.steps[i]);
  }
  return per_axis;
}

class Slice final : public OpBase<Slice, OpKind::kSlice> {
 public:
  const char* type_name() const override { return "Slice"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    const ElementType elem = ctx.input_elem(0);
    if (!in.rank_known()) return ctx.set_output(0, elem, PartialShape());
    const Tensor* starts = ctx.input_value(1);
    const Tensor* ends = ctx.input_value(2);
    const Tensor* axes = ctx.input_value(3);
    const Tensor* steps = ctx.input_value(4);
    const bool known = starts && ends && (!ctx.has_input(3) || axes) && (!ctx.has_input(4) || steps);
    if (!known) {
      // Axes known but bounds not: only the sliced dims are unknown.
      std::vector<int64_t> sliced;
      bool axes_known = false;
      if (ctx.has_input(3)) {
        if (axes) {
          sliced = normalize_axes(axes->to_int_vector(), in.rank(), "'axes'");
          axes_known = true;
        }
      } else {
        const PartialShape& ss = ctx.input_shape(1);
        if (ss.rank() == 1 && ss[0].is_static() && ss[0].value() <= in.rank()) {
          for (int64_t i = 0; i < ss[0].value(); ++i) sliced.push_back(i);
          axes_known = true;
        }
      }
      PartialShape out = axes_known ? in : PartialShape::unknown_dims(in.rank());
      for (int64_t a : sliced) out[size_t(a)] = Dim();
      return ctx.set_output(0, elem, std::move(out));
    }
    SliceArgs args = read_args(*starts, *ends, axes, steps, in.rank());
    PartialShape out = in;
    for (size_t i = 0; i < args.axes.size(); ++i) {
      const size_t a = size_t(args.axes[i]);
      const Dim& d = in[a];
      if (d.is_static()) {
        out[a] = Dim(slice_axis(int64_t(a), d.value(), args.starts[i], args.ends[i], args.steps[i]).count);
      } else if (args.starts[i] == 0 && args.steps[i] == 1 && args.ends[i] >= (int64_t(1) << 62)) {
        out[a] = d;  // the whole (symbolic) dim
      } else {
        out[a] = Dim();
      }
    }
    ctx.set_output(0, elem, std::move(out));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const std::vector<AxisSlice> per_axis =
        plan_slice(in.dims(), ctx.input(1), ctx.input(2), ctx.has_input(3) ? &ctx.input(3) : nullptr,
                   ctx.has_input(4) ? &ctx.input(4) : nullptr);
    Dims out_dims(per_axis.size());
    for (size_t k = 0; k < per_axis.size(); ++k) out_dims[k] = per_axis[k].count;
    Tensor& out = ctx.output(0, in.type(), out_dims);
    if (out.size() == 0) return;
    Dims strides = strides_of(in.dims());
    std::vector<std::vector<int64_t>> tables(per_axis.size());
    for (size_t k = 0; k < per_axis.size(); ++k) {
      const AxisSlice& s = per_axis[k];
      for (int64_t o = 0; o < s.count; ++o) tables[k].push_back((s.start + o * s.step) * strides[k]);
    }
    layout::gather_axes(in, out, tables);
  }
};

namespace {
void import_slice(OnnxNode& n) {
  if (n.opset() >= 10) {
    n.emit(std::make_unique<Slice>());
    return;
  }
  std::vector<int64_t> starts = n.attr_ints("starts"), ends = n.attr_ints("ends");
  auto vec = [&](const std::vector<int64_t>& v) { return n.constant(Tensor::from_vector(v, {int64_t(v.size())})); };
  std::vector<Value*> in = {n.input(0), vec(starts), vec(ends)};
  if (n.has_attr("axes")) in.push_back(vec(n.attr_ints("axes")));
  n.emit(std::make_unique<Slice>(), in, {n.output(0)});
}
}  // namespace

std::unique_ptr<Op> make_op_Slice() { return std::make_unique<Slice>(); }

void register_op_Slice(OpRegistry& r) { r.add_onnx("Slice", 1, kMaxOpset, import_slice); }

}  // namespace celer
