// Scan: runs 'body' once per slice of the scan inputs, carrying state values from one iteration to the next.
//   inputs:  [sequence_lens (opset 8)], initial states[N], scan inputs[M]
//   body:    states[N], scan input slices[M] -> states[N], scan output slices[K]
//   outputs: final states[N], scan outputs[K] (the slices stacked along a new axis)
// Opset 9+: scan inputs are sliced along scan_input_axes (default 0), in scan_input_directions (0 forward,
// 1 reverse); scan outputs stack along scan_output_axes, in scan_output_directions. Opset 8: every input has a batch
// axis 0 and is scanned along axis 1 ('directions'), optionally only up to sequence_lens[b] (the rest of the scan
// outputs stays zero).
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/sequence_util.hpp"
#include "ops/util.hpp"

namespace celer {

class Scan final : public Op {
 public:
  std::shared_ptr<Graph> body;
  int64_t num_scan_inputs = 0;
  bool batched = false;  // opset 8: batch axis 0, sequence_lens input
  std::vector<int64_t> input_axes, input_reverse, output_axes, output_reverse;

  OpKind kind() const override { return OpKind::kScan; }
  const char* type_name() const override { return "Scan"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("body", body);
    v.on("num_scan_inputs", num_scan_inputs);
    v.on("batched", batched);
    v.on("input_axes", input_axes);
    v.on("input_reverse", input_reverse);
    v.on("output_axes", output_axes);
    v.on("output_reverse", output_reverse);
  }
  std::vector<Graph*> subgraphs() const override { return {body.get()}; }
  std::unique_ptr<Op> clone(const CloneContext& ctx) const override {
    auto op = std::make_unique<Scan>(*this);
    op->body = body->clone(ctx.values, ctx.graph);
    return op;
  }
  Scan() = default;
  Scan(const Scan&) = default;

  size_t first_state() const { return batched ? 1 : 0; }
  size_t num_states() const { return body->inputs.size() - size_t(num_scan_inputs); }
  size_t num_scan_outputs() const { return body->outputs.size() - num_states(); }
  int64_t input_axis(size_t j, int64_t rank) const {
    return batched ? 1 : normalize_axis(j < input_axes.size() ? input_axes[j] : 0, rank, "attribute 'scan_input_axes'");
  }
  int64_t output_axis(size_t k, int64_t item_rank) const {
    return normalize_axis_inclusive(k < output_axes.size() ? output_axes[k] : 0, item_rank,
                                    "attribute 'scan_output_axes'");
  }

  void infer(InferContext& ctx) const override {
    const size_t n = num_states(), m = size_t(num_scan_inputs), s0 = first_state();
    CELER_CHECK(ctx.num_inputs() == s0 + n + m, kInvalidModel, "the node has ", ctx.num_inputs(), " inputs; ", n,
                " states and ", m, " scan inputs need ", s0 + n + m);
    Dim seq_len, batch;
    if (m > 0) {
      const PartialShape& s = ctx.input_shape(s0 + n);
      if (s.rank_known() && s.rank() >= (batched ? 2 : 1)) {
        seq_len = s[size_t(input_axis(0, s.rank()))];
        if (batched) batch = s[0];
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (!ctx.has_output(i)) continue;
      ValueType t = ctx.input_type(s0 + i);
      if (!batched) t = seq::merge_types(t, seq::outer_view(body->outputs[i]->type));
      ctx.set_output(i, t);
    }
    for (size_t k = 0; k < num_scan_outputs(); ++k) {
      if (!ctx.has_output(n + k)) continue;
      const ValueType item = seq::outer_view(body->outputs[n + k]->type);
      PartialShape s;
      if (item.shape.rank_known()) {
        std::vector<Dim> dims = item.shape.dims();
        if (batched) {
          dims.insert(dims.begin(), seq_len);
          dims.insert(dims.begin(), batch);
        } else {
          dims.insert(dims.begin() + output_axis(k, int64_t(dims.size())), seq_len);
        }
        s = PartialShape(std::move(dims));
      }
      ctx.set_output(n + k, item.elem, s);
    }
  }

  // One unbatched scan over `len` slices: updates `states`, returns the stacked scan outputs.
  std::vector<Tensor> scan(const KernelContext& ctx, std::vector<RtValue>& states, const std::vector<Tensor>& inputs,
                           const std::vector<int64_t>& axes, int64_t len) const {
    const size_t n = states.size(), k_out = num_scan_outputs();
    std::vector<std::vector<Tensor>> items(k_out);
    for (int64_t t = 0; t < len; ++t) {
      std::vector<RtValue> in = states;
      for (size_t j = 0; j < inputs.size(); ++j) {
        bool rev = j < input_reverse.size() && input_reverse[j] != 0;
        in.emplace_back(seq::take_axis(inputs[j], axes[j], rev ? len - 1 - t : t));
      }
      std::vector<RtValue> out = ctx.run_subgraph(*body, std::move(in));
      CELER_CHECK(out.size() == n + k_out, kInternal, "the body gave ", out.size(), " outputs");
      for (size_t i = 0; i < n; ++i) states[i] = std::move(out[i]);
      for (size_t k = 0; k < k_out; ++k) {
        CELER_CHECK(out[n + k].is_tensor(), kInvalidArgument, "scan output ", k, " of the body must be a tensor");
        items[k].push_back(std::move(out[n + k].tensor));
      }
    }
    std::vector<Tensor> result(k_out);
    for (size_t k = 0; k < k_out; ++k) {
      if (k < output_reverse.size() && output_reverse[k] != 0) std::reverse(items[k].begin(), items[k].end());
      if (items[k].empty()) {
        const ValueType& it = body->outputs[n + k]->type;
        result[k] = seq::empty_stack(it, batched ? 0 : output_axis(k, it.shape.rank_known() ? it.shape.rank() : 0));
      } else {
        result[k] = seq::stack(items[k], batched ? 0 : output_axis(k, items[k][0].rank()), "Scan output");
      }
    }
    return result;
  }

  void run(KernelContext& ctx) const override {
    const size_t n = num_states(), m = size_t(num_scan_inputs), s0 = first_state();
    std::vector<Tensor> inputs;
    std::vector<int64_t> axes;
    int64_t len = -1;
    for (size_t j = 0; j < m; ++j) {
      const Tensor& t = ctx.input(s0 + n + j);
      CELER_CHECK(t.rank() >= (batched ? 2 : 1), kInvalidArgument, "scan input ", j, " has shape ",
                  dims_to_string(t.dims()), ", too few dims to scan");
      int64_t a = input_axis(j, t.rank());
      CELER_CHECK(len < 0 || t.dim(a) == len, kShapeMismatch, "scan input ", j, " has length ", t.dim(a),
                  " along its scan axis ", a, ", scan input 0 has ", len);
      len = t.dim(a);
      inputs.push_back(t);
      axes.push_back(a);
    }
    if (len < 0) len = 0;
    if (!batched) {
      std::vector<RtValue> states;
      for (size_t i = 0; i < n; ++i) states.push_back(ctx.input_value(i));
      std::vector<Tensor> outs = scan(ctx, states, inputs, axes, len);
      for (size_t i = 0; i < n; ++i)
        if (ctx.has_output(i)) ctx.set_output(i, std::move(states[i]));
      for (size_t k = 0; k < outs.size(); ++k)
        if (ctx.has_output(n + k)) ctx.set_output(n + k, std::move(outs[k]));
      return;
    }
    // Opset 8: one scan per batch entry.
    const int64_t batch = m > 0 ? inputs[0].dim(0) : (n > 0 ? ctx.input(1).dim(0) : 0);
    if (batch == 0) {  // an empty batch: the states as given, empty scan outputs [0, len, item dims]
      for (size_t i = 0; i < n; ++i)
        if (ctx.has_output(i)) ctx.set_output(i, ctx.input_value(s0 + i));
      for (size_t k = 0; k < num_scan_outputs(); ++k) {
        if (!ctx.has_output(n + k)) continue;
        Tensor e = seq::empty_stack(body->outputs[n + k]->type, 0);
        Dims d = e.dims();
        d.insert(d.begin() + 1, len);
        ctx.set_output(n + k, e.reshaped(d));
      }
      return;
    }
    std::vector<int64_t> lens(size_t(batch), len);
    if (ctx.has_input(0)) {
      const Tensor& sl = ctx.input(0);
      CELER_CHECK(sl.size() == batch, kShapeMismatch, "input 0 'sequence_lens' has ", sl.size(),
                  " values for a batch of ", batch);
      for (int64_t b = 0; b < batch; ++b) {
        lens[size_t(b)] = sl.value_as_int(b);
        CELER_CHECK(lens[size_t(b)] >= 0 && lens[size_t(b)] <= len, kOutOfRange, "sequence_lens[", b,
                    "] = ", lens[size_t(b)], " is out of range [0, ", len, "]");
      }
    }
    std::vector<std::vector<Tensor>> final_states(n), scan_outs(num_scan_outputs());
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<RtValue> states;
      for (size_t i = 0; i < n; ++i) states.emplace_back(seq::take_axis(ctx.input(s0 + i), 0, b));
      std::vector<Tensor> in_b;
      for (size_t j = 0; j < m; ++j) {
        Tensor t = seq::take_axis(inputs[j], 0, b);
        in_b.push_back(lens[size_t(b)] == len ? t : seq::slice_axis(t, 0, 0, lens[size_t(b)]));
      }
      std::vector<int64_t> axes_b(m, 0);
      std::vector<Tensor> outs = scan(ctx, states, in_b, axes_b, lens[size_t(b)]);
      for (size_t i = 0; i < n; ++i) {
        CELER_CHECK(states[i].is_tensor(), kInvalidArgument, "state ", i, " must be a tensor");
        final_states[i].push_back(states[i].tensor);
      }
      for (size_t k = 0; k < outs.size(); ++k) {
        Tensor o = outs[k];
        if (o.dim(0) < len) {  // zero-pad to the full sequence length
          Dims d = o.dims();
          d[0] = len - o.dim(0);
          o = seq::concat({o, Tensor(o.type(), d)}, 0, "Scan output");
        }
        scan_outs[k].push_back(std::move(o));
      }
    }
    for (size_t i = 0; i < n; ++i)
      if (ctx.has_output(i) && batch > 0) ctx.set_output(i, seq::stack(final_states[i], 0, "Scan state"));
    for (size_t k = 0; k < scan_outs.size(); ++k)
      if (ctx.has_output(n + k) && batch > 0) ctx.set_output(n + k, seq::stack(scan_outs[k], 0, "Scan output"));
  }
};

namespace {
void import_scan(OnnxNode& n) {
  auto op = std::make_unique<Scan>();
  op->body = n.attr_graph("body");
  op->num_scan_inputs = n.attr_int("num_scan_inputs");
  op->batched = n.opset() < 9;
  const int64_t m = op->num_scan_inputs;
  const int64_t bin = int64_t(op->body->inputs.size()), bout = int64_t(op->body->outputs.size());
  if (m < 1) n.fail("attribute 'num_scan_inputs' = ", m, " must be positive");
  if (m > bin) n.fail("attribute 'num_scan_inputs' = ", m, " exceeds the body's ", bin, " inputs");
  const int64_t states = bin - m;
  if (bout < states) n.fail("the body has ", bout, " outputs, fewer than its ", states, " states");
  const int64_t k = bout - states;
  auto check_list = [&](const char* name, std::vector<int64_t>& v, int64_t count, bool is_direction) {
    if (!n.has_attr(name)) return;
    v = n.attr_ints(name);
    if (int64_t(v.size()) != count) n.fail("attribute '", name, "' has ", v.size(), " values; expected ", count);
    if (is_direction)
      for (int64_t d : v)
        if (d != 0 && d != 1) n.fail("attribute '", name, "' holds ", d, "; directions are 0 or 1");
  };
  if (op->batched) {
    check_list("directions", op->input_reverse, m, true);
  } else {
    check_list("scan_input_axes", op->input_axes, m, false);
    check_list("scan_input_directions", op->input_reverse, m, true);
    check_list("scan_output_axes", op->output_axes, k, false);
    check_list("scan_output_directions", op->output_reverse, k, true);
  }
  if (int64_t(n.num_outputs()) > bout) n.fail("the node has ", n.num_outputs(), " outputs; its body gives only ", bout);
  const size_t expected = size_t(bin) + (op->batched ? 1 : 0);
  if (n.num_inputs() != expected) n.fail("the node has ", n.num_inputs(), " inputs; its body needs ", expected);
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Scan() { return std::make_unique<Scan>(); }

void register_op_Scan(OpRegistry& r) { r.add_onnx("Scan", 8, kMaxOpset, import_scan); }

}  // namespace celer
