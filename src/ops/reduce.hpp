// Reduce: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
// ReduceLogSumExp and ReduceSumSquare over a set of axes (from the attribute, or from input 1 when given).
#pragma once

#include <optional>
#include <vector>

#include "ops/op.hpp"

namespace celer {

enum class ReduceFn : uint8_t { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

const char* reduce_fn_name(ReduceFn fn);

class Reduce final : public OpBase<Reduce, OpKind::kReduce> {
 public:
  ReduceFn fn = ReduceFn::kSum;
  // Axes from the attribute; when input 1 is present it takes precedence. Empty: every axis (or none, with
  // noop_with_empty_axes).
  std::vector<int64_t> axes;
  bool keepdims = true;
  bool noop_with_empty_axes = false;

  const char* type_name() const override { return reduce_fn_name(fn); }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "fn", fn, ReduceFn::kSumSquare);
    v.on("axes", axes);
    v.on("keepdims", keepdims);
    v.on("noop_with_empty_axes", noop_with_empty_axes);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
  double flops(const Node& node) const override;

  // The normalised, sorted axes to reduce for an input of `rank`, given the axes input's value (nullptr when the op
  // uses its attribute). Empty with noop: nothing is reduced.
  std::vector<int64_t> resolve_axes(int64_t rank, const Tensor* axes_input) const;
};

}  // namespace celer
