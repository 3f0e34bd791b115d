// Loop: runs 'body' while the trip count M (optional) is not reached and the condition (optional) holds.
//   inputs:  M, cond, v_initial[N]          body inputs:  iteration number, cond, v[N]
//   outputs: v_final[N], scan_outputs[K]   body outputs: cond, v[N], scan[K]
// Loop-carried values may be tensors, sequences (opset 13+) or optionals (opset 16+). Each scan output stacks the
// body's per-iteration values along a new axis 0. A loop stops with kLimitExceeded after kMaxLoopIterations
// iterations, so that a loop whose condition never turns false ends with an error instead of hanging.
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"

namespace celer {

// The most iterations one Loop node runs (documented limit).
inline constexpr int64_t kMaxLoopIterations = 10'000'000;

class Loop final : public Op {
 public:
  std::shared_ptr<Graph> body;

  OpKind kind() const override { return OpKind::kLoop; }
  const char* type_name() const override { return "Loop"; }
  void visit_attrs(AttrVisitor& v) override { v.on("body", body); }
  std::vector<Graph*> subgraphs() const override { return {body.get()}; }
  std::unique_ptr<Op> clone(const CloneContext& ctx) const override {
    auto op = std::make_unique<Loop>();
    op->body = body->clone(ctx.values, ctx.graph);
    return op;
  }

  size_t num_carried() const { return body->inputs.size() - 2; }
  size_t num_scan() const { return body->outputs.size() - 1 - num_carried(); }

  void infer(InferContext& ctx) const override {
    if (ctx.has_input(0)) {
      const ValueType& m = ctx.input_type(0);
      CELER_CHECK(m.elem == ElementType::kI64 || m.elem == ElementType::kUndefined, kInvalidModel,
                  "input 0 'M' must be int64, got ", element_type_name(m.elem));
    }
    if (ctx.has_input(1)) {
      const ValueType& c = ctx.input_type(1);
      CELER_CHECK(c.elem == ElementType::kBool || c.elem == ElementType::kUndefined, kInvalidModel,
                  "input 1 'cond' must be bool, got ", element_type_name(c.elem));
    }
    const size_t n = num_carried();
    CELER_CHECK(ctx.num_inputs() <= 2 + n, kInvalidModel, "the node has ", ctx.num_inputs(),
                " inputs but its body takes ", n, " loop-carried values (expected ", 2 + n, " inputs)");
    for (size_t i = 0; i < n; ++i) {
      if (!ctx.has_output(i)) continue;
      // The final value is the initial one (zero iterations) or one the body produced.
      // Its optional-ness is the body's (ONNX types the final values like the body outputs).
      ValueType init = ctx.has_input(2 + i) ? ctx.input_type(2 + i) : ValueType{};
      const ValueType carried = seq::outer_view(body->outputs[1 + i]->type);
      ValueType t = seq::merge_types(init, carried);
      if (!seq::type_unknown(carried)) t.optional = carried.optional;
      ctx.set_output(i, t);
    }
    for (size_t k = 0; k < num_scan(); ++k) {
      if (!ctx.has_output(n + k)) continue;
      const ValueType item = seq::outer_view(body->outputs[1 + n + k]->type);
      PartialShape s;
      if (item.shape.rank_known()) {
        std::vector<Dim> dims = item.shape.dims();
        dims.insert(dims.begin(), Dim());
        s = PartialShape(std::move(dims));
      }
      ctx.set_output(n + k, item.elem, s);
    }
  }

  void run(KernelContext& ctx) const override {
    const size_t n = num_carried(), k_scan = num_scan();
    int64_t max_trips = INT64_MAX;
    if (ctx.has_input(0)) {
      const Tensor& m = ctx.input(0);
      CELER_CHECK(m.size() == 1, kInvalidArgument, "input 0 'M' must hold one value, got shape ",
                  dims_to_string(m.dims()));
      max_trips = m.value_as_int(0);
    }
    bool cond = true;
    if (ctx.has_input(1)) {
      const Tensor& c = ctx.input(1);
      CELER_CHECK(c.size() == 1, kInvalidArgument, "input 1 'cond' must hold one value, got shape ",
                  dims_to_string(c.dims()));
      cond = c.value_as_int(0) != 0;
    }
    std::vector<RtValue> carried(n);
    for (size_t i = 0; i < n; ++i) carried[i] = ctx.input_value(2 + i);
    std::vector<std::vector<Tensor>> scans(k_scan);
    int64_t iter = 0, scan_bytes = 0;
    for (; iter < max_trips && cond; ++iter) {
      CELER_CHECK(iter < kMaxLoopIterations, kLimitExceeded, "the loop reached the limit of ", kMaxLoopIterations,
                  " iterations for one Loop node (kMaxLoopIterations) with its trip count not reached and its "
                  "condition still true");
      std::vector<RtValue> in;
      in.reserve(2 + n);
      in.emplace_back(Tensor::scalar<int64_t>(iter));
      in.emplace_back(Tensor::scalar<bool>(cond));
      for (auto& v : carried) in.push_back(std::move(v));  // replaced by the body outputs below
      std::vector<RtValue> out = ctx.run_subgraph(*body, std::move(in));
      CELER_CHECK(out.size() == 1 + n + k_scan, kInternal, "the body gave ", out.size(), " outputs");
      const RtValue& c = out[0];
      CELER_CHECK(c.is_tensor() && c.tensor.size() == 1 && c.tensor.type() == ElementType::kBool, kInvalidArgument,
                  "the body's condition output must be one bool value");
      cond = c.tensor.value_as_int(0) != 0;
      for (size_t i = 0; i < n; ++i) carried[i] = std::move(out[1 + i]);
      for (size_t k = 0; k < k_scan; ++k) {
        RtValue& s = out[1 + n + k];
        CELER_CHECK(s.is_tensor(), kInvalidArgument, "scan output ", k, " of the body must be a tensor");
        if (!scans[k].empty())
          CELER_CHECK(s.tensor.dims() == scans[k].front().dims() && s.tensor.type() == scans[k].front().type(),
                      kShapeMismatch, "scan output ", k, " has shape ", dims_to_string(s.tensor.dims()),
                      " in iteration ", iter, " but ", dims_to_string(scans[k].front().dims()),
                      " before (scan outputs must keep their shape)");
        // Bound the memory the scan outputs take before they are stacked (the items and their bookkeeping).
        scan_bytes += int64_t(s.tensor.byte_size()) + int64_t(sizeof(Tensor));
        CELER_CHECK(scan_bytes <= kMaxTensorBytes, kLimitExceeded,
                    "the scan outputs of the loop exceed the tensor size limit of ", kMaxTensorBytes, " bytes after ",
                    iter + 1, " iterations");
        scans[k].push_back(std::move(s.tensor));
      }
    }
    for (size_t i = 0; i < n; ++i)
      if (ctx.has_output(i)) ctx.set_output(i, std::move(carried[i]));
    for (size_t k = 0; k < k_scan; ++k) {
      if (!ctx.has_output(n + k)) continue;
      if (scans[k].empty()) {
        ctx.set_output(n + k, seq::empty_stack(body->outputs[1 + n + k]->type, 0));
      } else {
        ctx.set_output(n + k, seq::stack(scans[k], 0, "Loop scan output"));
      }
    }
  }
};

namespace {
void import_loop(OnnxNode& n) {
  auto op = std::make_unique<Loop>();
  op->body = n.attr_graph("body");
  const size_t bin = op->body->inputs.size(), bout = op->body->outputs.size();
  if (bin < 2) n.fail("the body has ", bin, " inputs; it needs at least 2 (iteration number and condition)");
  const size_t carried = bin - 2;
  if (n.num_inputs() > 2 + carried)
    n.fail("the node has ", n.num_inputs(), " inputs; its body takes ", carried, " loop-carried values, so ",
           2 + carried, " inputs (M, cond, values) are needed");
  if (bout < 1 + carried)
    n.fail("the body has ", bout, " outputs; it needs at least ", 1 + carried, " (condition and loop-carried values)");
  if (n.num_outputs() > bout - 1) n.fail("the node has ", n.num_outputs(), " outputs; its body gives only ", bout - 1);
  for (size_t i = 0; i < carried; ++i)
    if (!n.input(2 + i)) n.fail("loop-carried input ", 2 + i, " is missing");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Loop() { return std::make_unique<Loop>(); }

void register_op_Loop(OpRegistry& r) { r.add_onnx("Loop", 1, kMaxOpset, import_loop); }

}  // namespace celer
