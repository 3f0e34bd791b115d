// Pad (ops/pad.hpp): input 'pads' and optional 'constant_value' (opset 11); the attributes of older opsets
// ('paddings'/'pads' and 'value') become an input and the `value` field at import.
#include <string>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/pad.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

std::vector<int64_t> Pad::read_pads(const Tensor& t, int64_t rank) {
  CELER_CHECK(t.rank() == 1, kInvalidModel, "input 'pads' must be 1-D, got rank ", t.rank());
  std::vector<int64_t> p = t.to_int_vector();
  CELER_CHECK(int64_t(p.size()) == 2 * rank, kInvalidModel, "'pads' has ", p.size(), " values for an input of rank ",
              rank, " (needs ", 2 * rank, ")");
  return p;
}

int64_t Pad::padded(int64_t dim, int64_t before, int64_t after, const std::vector<int64_t>& pads) {
  int64_t d = layout::checked_add(layout::checked_add(dim, before, "padded dim"), after, "padded dim");
  CELER_CHECK(d >= 0, kInvalidModel, "'pads' = ", dims_to_string(pads), " crops a dim of ", dim, " below zero");
  return d;
}

void Pad::infer(InferContext& ctx) const {
  const PartialShape& in = ctx.input_shape(0);
  const ElementType elem = ctx.input_elem(0);
  if (ctx.has_input(2)) {
    CELER_CHECK(ctx.input_elem(2) == elem, kInvalidModel, "input 'constant_value' has element type ",
                element_type_name(ctx.input_elem(2)), ", the data has ", element_type_name(elem));
  }
  if (!in.rank_known()) return ctx.set_output(0, elem, PartialShape());
  const Tensor* pads_t = ctx.input_value(1);
  if (!pads_t) return ctx.set_output(0, elem, PartialShape::unknown_dims(in.rank()));
  const int64_t rank = in.rank();
  std::vector<int64_t> pads = read_pads(*pads_t, rank);
  std::vector<Dim> out;
  for (int64_t k = 0; k < rank; ++k) {
    const Dim& d = in[size_t(k)];
    const int64_t b = pads[size_t(k)], e = pads[size_t(k + rank)];
    if (d.is_static()) {
      CELER_CHECK(mode == PadMode::kConstant || d.value() > 0 || (b <= 0 && e <= 0), kInvalidModel,
                  "cannot pad the empty dim ", k, " in mode '", mode == PadMode::kEdge ? "edge" : "reflect", "'");
      out.push_back(Dim(padded(d.value(), b, e, pads)));
    } else {
      out.push_back(b == 0 && e == 0 ? d : Dim());
    }
  }
  ctx.set_output(0, elem, PartialShape(std::move(out)));
}

int64_t Pad::source(int64_t o, int64_t dim, int64_t before) const {
  const int64_t i = o - before;
  if (i >= 0 && i < dim) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return i < 0 ? 0 : dim - 1;
    case PadMode::kReflect: {
      if (dim == 1) return 0;
      const int64_t period = 2 * (dim - 1);
      int64_t m = i % period;
      if (m < 0) m += period;
      return m < dim ? m : period - m;
    }
  }
  return -1;
}

Tensor Pad::fill_value(const KernelContext& ctx, ElementType elem) const {
  if (ctx.has_input(2) && ctx.input(2).size() > 0) {
    const Tensor& c = ctx.input(2);
    CELER_CHECK(c.size() == 1, kInvalidModel, "input 'constant_value' must hold one value, got shape ",
                dims_to_string(c.dims()));
    return c.reshaped({1});
  }
  Tensor t(elem, {1});
  if (elem == ElementType::kString) return t;
  dispatch_numeric(elem, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      t.data<T>()[0] = value != 0;
    } else {
      t.data<T>()[0] = T(value);
    }
  });
  return t;
}

void Pad::run(KernelContext& ctx) const {
  const Tensor& in = ctx.input(0);
  const int64_t rank = in.rank();
  std::vector<int64_t> pads = read_pads(ctx.input(1), rank);
  Dims out_dims(static_cast<size_t>(rank));
  for (int64_t k = 0; k < rank; ++k) {
    out_dims[size_t(k)] = padded(in.dim(k), pads[size_t(k)], pads[size_t(k + rank)], pads);
    CELER_CHECK(mode == PadMode::kConstant || in.dim(k) > 0 || out_dims[size_t(k)] == 0, kInvalidModel,
                "cannot pad the empty dim ", k, " in mode '", mode == PadMode::kEdge ? "edge" : "reflect", "'");
  }
  Tensor& out = ctx.output(0, in.type(), out_dims);
  if (out.size() == 0) return;
  Tensor fill = fill_value(ctx, in.type());
  Dims strides = strides_of(in.dims());
  std::vector<std::vector<int64_t>> tables(static_cast<size_t>(rank));
  for (int64_t k = 0; k < rank; ++k) {
    for (int64_t o = 0; o < out_dims[size_t(k)]; ++o) {
      int64_t i = source(o, in.dim(k), pads[size_t(k)]);
      tables[size_t(k)].push_back(i < 0 ? -1 : i * strides[size_t(k)]);
    }
  }
  layout::gather_axes(in, out, tables, &fill);
}

namespace {
void import_pad(OnnxNode& n) {
  auto op = std::make_unique<Pad>();
  std::string mode = n.attr_string("mode", std::string("constant"));
  if (mode == "constant") {
    op->mode = PadMode::kConstant;
  } else if (mode == "reflect") {
    op->mode = PadMode::kReflect;
  } else if (mode == "edge") {
    op->mode = PadMode::kEdge;
  } else {
    n.fail("attribute 'mode' = '", mode, "' must be 'constant', 'reflect' or 'edge'");
  }
  if (n.opset() >= 11) {
    if (!n.input(1)) n.fail("input 'pads' is required");
    n.emit(std::move(op));
    return;
  }
  const char* attr = n.opset() < 2 ? "paddings" : "pads";
  std::vector<int64_t> pads = n.attr_ints(attr);
  op->value = n.attr_float("value", 0.0f);
  Value* pads_v = n.constant(Tensor::from_vector(pads, {int64_t(pads.size())}));
  n.emit(std::move(op), {n.input(0), pads_v}, {n.output(0)});
}
}  // namespace

std::unique_ptr<Op> make_op_Pad() { return std::make_unique<Pad>(); }

void register_op_Pad(OpRegistry& r) { r.add_onnx("Pad", 1, kMaxOpset, import_pad); }

}  // namespace celer
