#include "ops/eltwise.hpp"

#include <cmath>

#include "core/dispatch.hpp"
#include "ops/layout.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

bool eltwise_supports(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd:
    case BinaryFn::kSub:
    case BinaryFn::kMul:
    case BinaryFn::kDiv:
    case BinaryFn::kMax:
    case BinaryFn::kMin:
      return true;
    default:
      return false;
  }
}

namespace {

// The shape of inputs 0..k-1 joined along axis 1.
PartialShape concat_shape(const InferContext& ctx, size_t k) {
  CELER_CHECK(ctx.num_inputs() >= k, kInvalidModel, "concat of ", k, " inputs, but the node has ", ctx.num_inputs());
  const ElementType e = ctx.input_elem(0);
  std::vector<Dim> out;
  bool known = true;
  int64_t channels = 0;
  for (size_t i = 0; i < k; ++i) {
    CELER_CHECK(ctx.has_input(i), kInvalidModel, "concat input ", i, " is missing");
    CELER_CHECK(ctx.input_elem(i) == e, kInvalidModel, "concat input ", i, " has element type ",
                element_type_name(ctx.input_elem(i)), ", input 0 has ", element_type_name(e));
    const PartialShape& s = ctx.input_shape(i);
    if (!s.rank_known()) return PartialShape();
    CELER_CHECK(s.rank() >= 2, kShapeMismatch, "concat input ", i, " has rank ", s.rank(), "; axis 1 needs 2 or more");
    if (i == 0) out.assign(s.dims().begin(), s.dims().end());
    CELER_CHECK(s.rank() == int64_t(out.size()), kShapeMismatch, "concat input ", i, " has rank ", s.rank(),
                ", input 0 has rank ", out.size());
    for (size_t a = 0; a < out.size(); ++a) {
      if (a == 1) continue;
      CELER_CHECK(layout::merge_dim(out[a], s[a]), kShapeMismatch, "concat input ", i, " has shape ", s.to_string(),
                  ", which differs from the other inputs in dim ", a, " (concatenating on axis 1)");
    }
    if (s[1].is_static())
      channels = layout::checked_add(channels, s[1].value(), "concatenated dim");
    else
      known = false;
  }
  out[1] = known ? Dim(channels) : Dim();
  return PartialShape(std::move(out));
}

}  // namespace

void Eltwise::infer(InferContext& ctx) const {
  const ElementType e = ctx.input_elem(0);
  CELER_CHECK(is_float(e), kInvalidModel, "input 0 has element type ", element_type_name(e),
              "; Eltwise needs a float type");
  CELER_CHECK(concat == 0 || concat >= 2, kInvalidModel, "attribute 'concat' is ", concat, "; it must be 0 or >= 2");
  const size_t first_operand = chain_inputs();
  const PartialShape x = concat >= 2 ? concat_shape(ctx, size_t(concat)) : ctx.input_shape(0);
  for (const EltwiseStep& s : steps) {
    if (s.unary) continue;
    CELER_CHECK(s.input >= first_operand, kInvalidModel, "step operand input ", s.input,
                " is one of the concatenated inputs");
    CELER_CHECK(eltwise_supports(s.bfn), kInvalidModel, "step ", binary_fn_name(s.bfn), " is not supported");
    CELER_CHECK(ctx.has_input(s.input), kInvalidModel, "step operand input ", s.input, " is missing");
    CELER_CHECK(ctx.input_elem(s.input) == e, kInvalidModel, "step operand input ", s.input, " has element type ",
                element_type_name(ctx.input_elem(s.input)), ", input 0 ", element_type_name(e));
    PartialShape b = broadcast_shapes(x, ctx.input_shape(s.input));
    CELER_CHECK(!b.rank_known() || !x.rank_known() || b.rank() == x.rank(), kShapeMismatch, "step operand input ",
                s.input, " of shape ", ctx.input_shape(s.input).to_string(), " would grow input 0 of shape ",
                x.to_string());
  }
  ctx.set_output(0, e, x);
}

void Eltwise::run(KernelContext& ctx) const {
  Tensor& y = ctx.output(0);
  // The chain's input: input 0, or inputs 0..concat-1 joined along axis 1 (the output has the joined shape).
  Tensor joined;
  if (concat >= 2) {
    joined = Tensor(y.type(), y.dims());
    const int64_t outer = y.rank() > 0 ? y.dim(0) : 1;
    const int64_t out_block = outer > 0 ? y.size() / outer : 0;
    int64_t offset = 0;
    for (size_t i = 0; i < size_t(concat); ++i) {
      const Tensor& in = ctx.input(i);
      CELER_CHECK(in.type() == y.type() && in.rank() == y.rank(), kInvalidArgument, "concat input ", i, " has type ",
                  element_type_name(in.type()), " and shape ", dims_to_string(in.dims()));
      const int64_t block = outer > 0 ? in.size() / outer : 0;
      for (int64_t o = 0; o < outer; ++o) layout::copy_elements(in, o * block, joined, o * out_block + offset, block);
      offset += block;
    }
  }
  const Tensor& x = concat >= 2 ? joined : ctx.input(0);
  std::vector<Dims> operand_dims;
  std::vector<size_t> slot(ctx.num_inputs(), 0);  // input index -> position in operand_dims
  std::vector<const Tensor*> operands;
  for (const EltwiseStep& s : steps) {
    if (s.unary) continue;
    const Tensor& t = ctx.input(s.input);
    CELER_CHECK(t.type() == x.type(), kInvalidArgument, "step operand input ", s.input, " has element type ",
                element_type_name(t.type()));
    CELER_CHECK(broadcast_dims(x.dims(), t.dims()) == x.dims(), kShapeMismatch, "step operand input ", s.input,
                " of shape ", dims_to_string(t.dims()), " does not broadcast to ", dims_to_string(x.dims()));
    slot[s.input] = operands.size();
    operands.push_back(&t);
    operand_dims.push_back(t.dims());
  }
  std::vector<Unary> unaries;
  for (const EltwiseStep& s : steps) unaries.emplace_back(s.ufn, s.alpha, s.beta, s.gamma);
  if (y.size() == 0) return;
  dispatch_float(x.type(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::vector<const T*> ops;
    for (const Tensor* t : operands) ops.push_back(t->data<T>());
    for_each_broadcast(x.dims(), operand_dims, [&](int64_t i, const int64_t* off) {
      float v = float(px[i]);
      for (size_t k = 0; k < steps.size(); ++k) {
        const EltwiseStep& s = steps[k];
        if (s.unary) {
          v = float(T(unary_eval(unaries[k], v)));
          continue;
        }
        const size_t j = slot[s.input];
        float o = float(ops[j][off[j]]);
        float a = s.operand_first ? o : v, b = s.operand_first ? v : o;
        float r = 0;
        switch (s.bfn) {
          case BinaryFn::kAdd:
            r = a + b;
            break;
          case BinaryFn::kSub:
            r = a - b;
            break;
          case BinaryFn::kMul:
            r = a * b;
            break;
          case BinaryFn::kDiv:
            r = a / b;
            break;
          case BinaryFn::kMax:
            r = std::isnan(a) ? a : (std::isnan(b) ? b : std::max(a, b));
            break;
          case BinaryFn::kMin:
            r = std::isnan(a) ? a : (std::isnan(b) ? b : std::min(a, b));
            break;
          default:
            CELER_THROW(kInternal, "Eltwise step ", binary_fn_name(s.bfn));
        }
        v = float(T(r));
      }
      py[i] = T(v);
    });
  });
}

double Eltwise::flops(const Node& node) const {
  const auto& s = node.outputs[0]->type.shape;
  return s.is_static() ? double(element_count(s.to_dims())) * double(steps.size()) : 0.0;
}

std::unique_ptr<Op> make_op_Eltwise() { return std::make_unique<Eltwise>(); }

// Made by graph passes only: no ONNX mapping.
void register_op_Eltwise(OpRegistry&) {}

}  // namespace celer
