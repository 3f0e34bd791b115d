// Concat (see concat.hpp): shape inference, reference kernel and ONNX mapping.
#include "ops/concat.hpp"

#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

void Concat::infer(InferContext& ctx) const {
  const size_t n = ctx.num_inputs();
  CELER_CHECK(n >= 1, kInvalidModel, "needs at least one input");
  const ElementType elem = ctx.input_elem(0);
  int64_t rank = -1;
  for (size_t i = 0; i < n; ++i) {
    CELER_CHECK(ctx.input_elem(i) == elem, kInvalidModel, "input ", i, " has element type ",
                element_type_name(ctx.input_elem(i)), ", input 0 has ", element_type_name(elem));
    const PartialShape& s = ctx.input_shape(i);
    if (!s.rank_known()) continue;
    CELER_CHECK(rank < 0 || s.rank() == rank, kShapeMismatch, "input ", i, " has rank ", s.rank(),
                ", other inputs have rank ", rank);
    rank = s.rank();
  }
  if (rank < 0) return ctx.set_output(0, elem, PartialShape());
  const size_t a = size_t(normalize_axis(axis, rank));
  std::vector<Dim> out(static_cast<size_t>(rank));
  std::vector<Dim> along;
  bool first = true;
  for (size_t i = 0; i < n; ++i) {
    const PartialShape& s = ctx.input_shape(i);
    if (!s.rank_known()) {
      along.push_back(Dim());
      continue;
    }
    for (size_t k = 0; k < size_t(rank); ++k) {
      if (k == a) continue;
      if (first) {
        out[k] = s[k];
      } else {
        CELER_CHECK(layout::merge_dim(out[k], s[k]), kShapeMismatch, "input ", i, " has shape ", s.to_string(),
                    ", which differs from the other inputs in dim ", k, " (concatenating on axis ", a, ")");
      }
    }
    first = false;
    along.push_back(s[a]);
  }
  int64_t sum = 0;
  bool known = true;
  for (const Dim& d : along) {
    if (!d.is_static()) {
      known = false;
      break;
    }
    sum = layout::checked_add(sum, d.value(), "concatenated dim");
  }
  out[a] = known ? Dim(sum) : (along.size() == 1 ? along[0] : Dim());
  ctx.set_output(0, elem, PartialShape(std::move(out)));
}

void Concat::run(KernelContext& ctx) const {
  Tensor& out = ctx.output(0);
  const size_t a = size_t(normalize_axis(axis, out.rank()));
  int64_t outer = 1;
  for (size_t k = 0; k < a; ++k) outer *= out.dims()[k];
  if (out.size() == 0) return;
  const int64_t out_block = out.size() / outer;
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& in = ctx.input(i);
    const int64_t block = in.size() / outer;
    for (int64_t o = 0; o < outer; ++o) layout::copy_elements(in, o * block, out, o * out_block + offset, block);
    offset += block;
  }
}

namespace {
void import_concat(OnnxNode& n) {
  auto op = std::make_unique<Concat>();
  if (n.opset() < 4) {
    op->axis = n.attr_int("axis", 1);
  } else {
    if (!n.has_attr("axis")) n.fail("attribute 'axis' is required");
    op->axis = n.attr_int("axis");
  }
  for (size_t i = 0; i < n.num_inputs(); ++i)
    if (!n.input(i)) n.fail("input ", i, " is missing");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Concat() { return std::make_unique<Concat>(); }

void register_op_Concat(OpRegistry& r) { r.add_onnx("Concat", 1, kMaxOpset, import_concat); }

}  // namespace celer
