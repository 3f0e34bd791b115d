#include "runtime/executor.hpp"

#include "ir/infer.hpp"

namespace celer {

struct Executor::Step {
  const Node* node;
  std::vector<int> in;      // slot per input (-1 when omitted)
  std::vector<int> out;     // slot per output (-1 when omitted)
  std::vector<int> release; // slots whose last reader is this step
  std::unique_ptr<Kernel> kernel;
};

Executor::Executor(std::shared_ptr<const Graph> graph, const Device& device, const CompileOptions& options)
    : keep_(std::move(graph)), graph_(*keep_) {
  build(device, options);
}

Executor::Executor(const Graph& graph, const Device& device, const CompileOptions& options) : graph_(graph) {
  build(device, options);
}

Executor::~Executor() = default;

void Executor::build(const Device& device, const CompileOptions& options) {
  auto slot = [&](const Value* v) -> int {
    if (!v) return -1;
    auto it = slot_of_.find(v);
    if (it != slot_of_.end()) return it->second;
    int s = num_slots_++;
    slot_of_[v] = s;
    constants_.emplace_back(v->constant ? RtValue(*v->constant) : RtValue());
    return s;
  };
  for (const Value* v : graph_.inputs) input_slots_.push_back(slot(v));
  for (const Value* v : graph_.captures) capture_slots_.push_back(slot(v));
  std::vector<int> last_use;
  for (const auto& n : graph_.nodes) {
    Step step;
    step.node = n.get();
    for (const Value* v : n->inputs) step.in.push_back(slot(v));
    for (const Value* v : n->outputs) step.out.push_back(slot(v));
    step.kernel = device.create_kernel(*n, options);
    steps_.push_back(std::move(step));
    for (Graph* sub : n->op->subgraphs())
      subgraphs_[sub] = std::make_unique<Executor>(*sub, device, options);
  }
  for (const Value* v : graph_.outputs) output_slots_.push_back(slot(v));
  // Free each intermediate after its last reader (never graph outputs, inputs or constants).
  std::vector<int> last(size_t(num_slots_), -1);
  for (size_t i = 0; i < steps_.size(); ++i)
    for (int s : steps_[i].in)
      if (s >= 0) last[size_t(s)] = int(i);
  std::vector<bool> keep(size_t(num_slots_), false);
  for (int s : output_slots_) keep[size_t(s)] = true;
  for (int s = 0; s < num_slots_; ++s)
    if (!constants_[size_t(s)].is_none()) keep[size_t(s)] = true;
  for (int s = 0; s < num_slots_; ++s)
    if (last[size_t(s)] >= 0 && !keep[size_t(s)]) steps_[size_t(last[size_t(s)])].release.push_back(s);
}

std::vector<RtValue> Executor::run_subgraph(const Graph& sub, const Node& owner, std::vector<RtValue> inputs,
                                            const std::vector<RtValue>& slots) const {
  auto it = subgraphs_.find(&sub);
  CELER_CHECK(it != subgraphs_.end(), kInternal, owner.describe(), ": unknown subgraph");
  // Captures are implicit inputs of the owner with the same names.
  std::vector<RtValue> captures;
  for (const Value* cap : sub.captures) {
    const RtValue* found = nullptr;
    for (size_t i = owner.num_explicit_inputs; i < owner.inputs.size(); ++i)
      if (owner.inputs[i] && owner.inputs[i]->name == cap->name) {
        found = &slots[size_t(slot_of_.at(owner.inputs[i]))];
        break;
      }
    CELER_CHECK(found, kInternal, owner.describe(), ": capture '", cap->name, "' is not bound");
    captures.push_back(*found);
  }
  return it->second->run(std::move(inputs), captures);
}

std::vector<RtValue> Executor::run(std::vector<RtValue> inputs, const std::vector<RtValue>& captures) const {
  CELER_CHECK(inputs.size() == input_slots_.size(), kInvalidArgument, "graph '", graph_.name, "' takes ",
              input_slots_.size(), " inputs, got ", inputs.size());
  std::vector<RtValue> slots = constants_;
  for (size_t i = 0; i < inputs.size(); ++i) slots[size_t(input_slots_[i])] = std::move(inputs[i]);
  for (size_t i = 0; i < capture_slots_.size() && i < captures.size(); ++i)
    slots[size_t(capture_slots_[i])] = captures[i];

  std::vector<ValueType> in_types;
  for (const Step& step : steps_) {
    const Node& n = *step.node;
    try {
      std::vector<const RtValue*> in(step.in.size(), nullptr);
      std::vector<const ValueType*> type_ptrs(n.num_explicit_inputs, nullptr);
      std::vector<const Tensor*> value_ptrs(n.num_explicit_inputs, nullptr);
      in_types.assign(n.num_explicit_inputs, ValueType{});
      for (size_t i = 0; i < step.in.size(); ++i) {
        if (step.in[i] < 0) continue;
        const RtValue& v = slots[size_t(step.in[i])];
        in[i] = &v;
        if (i >= n.num_explicit_inputs) continue;
        if (v.is_tensor()) {
          in_types[i] = type_of(v.tensor);
          value_ptrs[i] = &v.tensor;
        } else if (v.is_sequence()) {
          ElementType e = v.sequence.empty() ? v.sequence_elem : v.sequence.front().type();
          in_types[i] = ValueType::sequence(e);
        } else {
          in_types[i] = n.inputs[i]->type;
          in_types[i].optional = true;
        }
        type_ptrs[i] = &in_types[i];
      }
      InferContext ictx(n, type_ptrs, value_ptrs);
      n.op->infer(ictx);
      std::vector<RtValue> outs(n.outputs.size());
      KernelContext kctx(n, std::move(in), &outs, &ictx.output_types(),
                         [&](const Graph& sub, std::vector<RtValue> sub_in) {
                           return run_subgraph(sub, n, std::move(sub_in), slots);
                         });
      if (step.kernel) step.kernel->run(kctx);
      else n.op->run(kctx);
      for (size_t i = 0; i < step.out.size(); ++i)
        if (step.out[i] >= 0) slots[size_t(step.out[i])] = std::move(outs[i]);
      for (int s : step.release) slots[size_t(s)] = RtValue();
    } catch (const Error& e) {
      if (e.message().rfind("node '", 0) == 0) throw;
      throw Error(e.code(), n.describe() + ": " + e.message());
    }
  }
  std::vector<RtValue> out;
  out.reserve(output_slots_.size());
  for (int s : output_slots_) out.push_back(slots[size_t(s)]);
  return out;
}

}  // namespace celer
