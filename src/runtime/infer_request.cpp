// InferRequest: inputs in, inference on the compiled model's executor, outputs out.
#include "ops/conv.hpp"
#include "ops/gemm.hpp"
#include "ops/mat_mul.hpp"
#include "runtime/api_impl.hpp"

namespace celer {

// ---- InferRequest
void InferRequest::set_tensor(const std::string& name, const Tensor& t) {
  size_t i = impl_->input_index(name);
  CELER_CHECK(i != SIZE_MAX, kInvalidArgument, "the model has no input named '", name,
              "' (inputs: ", impl_->input_names(), ")");
  set_input_tensor(i, t);
}

void InferRequest::set_input_tensor(size_t index, const Tensor& t) {
  CELER_CHECK(index < impl_->inputs.size(), kInvalidArgument, "input index ", index, " out of range: the model has ",
              impl_->inputs.size(), " inputs");
  impl_->check_input(index, t);
  impl_->inputs[index] = t;
}

const Tensor& InferRequest::get_tensor(const std::string& name) const {
  size_t i = impl_->input_index(name);
  if (i != SIZE_MAX) return impl_->inputs[i];
  size_t o = impl_->output_index(name);
  CELER_CHECK(o != SIZE_MAX, kInvalidArgument, "the model has no input or output named '", name, "'");
  return impl_->outputs[o];
}

const Tensor& InferRequest::get_input_tensor(size_t index) const {
  CELER_CHECK(index < impl_->inputs.size(), kInvalidArgument, "input index ", index, " out of range");
  return impl_->inputs[index];
}

const Tensor& InferRequest::get_output_tensor(size_t index) const {
  CELER_CHECK(index < impl_->outputs.size(), kInvalidArgument, "output index ", index, " out of range");
  return impl_->outputs[index];
}

void InferRequest::infer() {
  auto& m = *impl_->model;
  std::vector<RtValue> in;
  in.reserve(impl_->inputs.size());
  for (size_t i = 0; i < impl_->inputs.size(); ++i) {
    CELER_CHECK(!impl_->inputs[i].empty(), kInvalidArgument, "input '", m.inputs[i].name, "' was not set");
    in.emplace_back(impl_->inputs[i]);
  }
  std::vector<RtValue> out = m.executor->run(*impl_->state, std::move(in));
  for (size_t i = 0; i < out.size(); ++i) {
    CELER_CHECK(out[i].is_tensor(), kUnsupported, "output '", m.outputs[i].name,
                "' is not a tensor (sequences and optionals are not returned through this API)");
    impl_->outputs[i] = out[i].tensor;
  }
}

void InferRequest::enable_profiling() { impl_->model->executor->enable_profiling(*impl_->state); }

std::vector<NodeProfile> InferRequest::profile() const {
  const auto& st = *impl_->state;
  std::vector<NodeProfile> out;
  auto kernels = impl_->model->executor->kernels();
  for (size_t i = 0; i < kernels.size() && i < st.step_ns.size(); ++i) {
    const Node* n = kernels[i].first;
    NodeProfile p;
    p.name = n->name;
    p.op = n->type_name();
    p.kernel = kernels[i].second;
    if (const auto* c = dynamic_cast<const Conv*>(n->op.get()))
      p.details = post_ops_to_string(c->post_ops);
    else if (const auto* m = dynamic_cast<const MatMul*>(n->op.get()))
      p.details = post_ops_to_string(m->post_ops);
    else if (const auto* g = dynamic_cast<const Gemm*>(n->op.get()))
      p.details = post_ops_to_string(g->post_ops);
    p.total_ms = double(st.step_ns[i]) / 1e6;
    p.runs = st.step_runs[i];
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace celer
