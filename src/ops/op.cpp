#include "ops/op.hpp"

namespace celer {

const ValueType& InferContext::input_type(size_t i) const {
  CELER_CHECK(has_input(i), kInvalidModel, "input ", i, " is required but missing");
  return *in_types_[i];
}

void InferContext::set_output(size_t i, ValueType t) {
  CELER_CHECK(i < out_types_.size(), kInternal, "output ", i, " out of range (", out_types_.size(), " outputs)");
  out_types_[i] = std::move(t);
}

void InferContext::set_output_value(size_t i, Tensor value) {
  CELER_CHECK(i < out_values_.size(), kInternal, "output ", i, " out of range (", out_values_.size(), " outputs)");
  out_types_[i] = ValueType::tensor(value.type(), PartialShape::of(value.dims()));
  out_values_[i] = std::move(value);
}

const Tensor& KernelContext::input(size_t i) const {
  CELER_CHECK(has_input(i), kInvalidArgument, "input ", i, " is required but missing");
  CELER_CHECK(inputs_[i]->is_tensor(), kInvalidArgument, "input ", i, " must be a tensor");
  return inputs_[i]->tensor;
}

const RtValue& KernelContext::input_value(size_t i) const {
  static const RtValue kNone;
  if (i >= num_inputs() || inputs_[i] == nullptr) return kNone;
  return *inputs_[i];
}

Tensor& KernelContext::output(size_t i) {
  const ValueType* t = inferred_type(i);
  CELER_CHECK(t && t->elem != ElementType::kUndefined && t->shape.is_static(), kInternal,
              "output ", i, " has no static inferred shape at run time");
  return output(i, t->elem, t->shape.to_dims());
}

Tensor& KernelContext::output(size_t i, ElementType type, Dims dims) {
  CELER_CHECK(i < outputs_->size(), kInternal, "output ", i, " out of range");
  if (planned_ && planned_[i] && type != ElementType::kString) {
    int64_t count = element_count(dims);
    if (count * int64_t(element_size(type)) == planned_bytes_[i]) {
      (*outputs_)[i] = RtValue(Tensor::wrap(type, std::move(dims), planned_[i]));
      return (*outputs_)[i].tensor;
    }
  }
  (*outputs_)[i] = RtValue(Tensor(type, std::move(dims)));
  return (*outputs_)[i].tensor;
}

Tensor& KernelContext::output_tensor(size_t i) {
  CELER_CHECK(i < outputs_->size() && (*outputs_)[i].is_tensor(), kInternal, "output ", i, " is not set");
  return (*outputs_)[i].tensor;
}

void KernelContext::set_output(size_t i, RtValue v) {
  CELER_CHECK(i < outputs_->size(), kInternal, "output ", i, " out of range");
  (*outputs_)[i] = std::move(v);
}

}  // namespace celer
