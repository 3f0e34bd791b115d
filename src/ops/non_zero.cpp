// NonZero: the indices of the non-zero elements, as an int64 tensor [rank, count] in row-major order. The count
// depends on the data. A scalar input is treated as a 1-element 1-D tensor (like numpy).
#include <algorithm>
#include <string>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class NonZero final : public OpBase<NonZero, OpKind::kNonZero> {
 public:
  const char* type_name() const override { return "NonZero"; }
  void visit_attrs(AttrVisitor&) override {}

  void infer(InferContext& ctx) const override {
    CELER_CHECK(ctx.input_elem(0) != ElementType::kString, kInvalidModel, "string inputs are not allowed");
    const PartialShape& in = ctx.input_shape(0);
    const Dim rows = in.rank_known() ? Dim(std::max<int64_t>(in.rank(), 1)) : Dim();
    ctx.set_output(0, ElementType::kI64, PartialShape({rows, Dim()}));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    std::vector<int64_t> hits;  // flat positions of the non-zero elements
    dispatch_numeric(in.type(), [&]<typename T>() {
      const T* p = in.data<T>();
      for (int64_t i = 0; i < in.size(); ++i)
        if (p[i] != T(0)) hits.push_back(i);
    });
    const Dims dims = in.rank() == 0 ? Dims{1} : in.dims();
    const int64_t rank = int64_t(dims.size()), count = int64_t(hits.size());
    Tensor& out = ctx.output(0, ElementType::kI64, {rank, count});
    int64_t* o = out.data<int64_t>();
    const Dims strides = strides_of(dims);
    for (int64_t j = 0; j < count; ++j) {
      int64_t rest = hits[size_t(j)];
      for (int64_t d = 0; d < rank; ++d) {
        o[d * count + j] = rest / strides[size_t(d)];
        rest %= strides[size_t(d)];
      }
    }
  }
};

namespace {
void import_non_zero(OnnxNode& n) { n.emit(std::make_unique<NonZero>()); }
}  // namespace

std::unique_ptr<Op> make_op_NonZero() { return std::make_unique<NonZero>(); }

void register_op_NonZero(OpRegistry& r) { r.add_onnx("NonZero", 9, kMaxOpset, import_non_zero); }

}  // namespace celer
