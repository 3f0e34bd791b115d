// ReverseSequence: for every batch entry b, reverses the first sequence_lens[b] elements along the time axis and
// copies the rest. batch_axis and time_axis are 0 and 1 (either way round).
#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/indexing.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class ReverseSequence final : public OpBase<ReverseSequence, OpKind::kReverseSequence> {
 public:
  int64_t batch_axis = 1;
  int64_t time_axis = 0;

  const char* type_name() const override { return "ReverseSequence"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("batch_axis", batch_axis);
    v.on("time_axis", time_axis);
  }

  void infer(InferContext& ctx) const override {
    check_index_type(ctx.input_elem(1), "input 'sequence_lens'");
    const PartialShape& in = ctx.input_shape(0);
    const PartialShape& lens = ctx.input_shape(1);
    if (in.rank_known()) CELER_CHECK(in.rank() >= 2, kShapeMismatch, "input must have rank >= 2, got ", in.to_string());
    if (lens.rank_known()) {
      CELER_CHECK(lens.rank() == 1, kShapeMismatch, "input 'sequence_lens' must be 1-D, got ", lens.to_string());
      if (in.rank_known()) {
        const Dim& b = in[size_t(batch_axis)];
        CELER_CHECK(!b.is_static() || !lens[0].is_static() || b.value() == lens[0].value(), kShapeMismatch,
                    "input 'sequence_lens' ", lens.to_string(), " must have one entry per batch entry of input ",
                    in.to_string(), " (batch_axis ", batch_axis, ")");
      }
    }
    ctx.set_output(0, ctx.input_type(0));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    const std::vector<int64_t> lens = ctx.input(1).to_int_vector();
    const int64_t batch = in.dim(batch_axis), time = in.dim(time_axis);
    CELER_CHECK(int64_t(lens.size()) == batch, kShapeMismatch, "input 'sequence_lens' has ", lens.size(),
                " entries for a batch of ", batch);
    for (size_t b = 0; b < lens.size(); ++b)
      CELER_CHECK(lens[b] >= 0 && lens[b] <= time, kOutOfRange, "input 'sequence_lens' has length ", lens[b],
                  " at position ", b, ", out of range for a time axis of size ", time, " (valid range [0, ", time,
                  "])");
    const int64_t inner = dims_range_product(in.dims(), 2, in.dims().size());
    const Dims strides = strides_of(in.dims());
    const int64_t bs = strides[size_t(batch_axis)], ts = strides[size_t(time_axis)];
    Tensor& out = ctx.output(0);
    dispatch_all(in.type(), [&]<typename T>() {
      const T* src = in.data<T>();
      T* dst = out.data<T>();
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < time; ++t) {
          const int64_t len = lens[size_t(b)];
          const int64_t from = t < len ? len - 1 - t : t;
          for (int64_t i = 0; i < inner; ++i) dst[b * bs + t * ts + i] = src[b * bs + from * ts + i];
        }
    });
  }
};

namespace {
void import_reverse_sequence(OnnxNode& n) {
  auto op = std::make_unique<ReverseSequence>();
  op->batch_axis = n.attr_int("batch_axis", 1);
  op->time_axis = n.attr_int("time_axis", 0);
  const bool ok = (op->batch_axis == 0 && op->time_axis == 1) || (op->batch_axis == 1 && op->time_axis == 0);
  if (!ok)
    n.fail("attributes 'batch_axis' = ", op->batch_axis, " and 'time_axis' = ", op->time_axis,
           " must be 0 and 1 or 1 and 0");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_ReverseSequence() { return std::make_unique<ReverseSequence>(); }

void register_op_ReverseSequence(OpRegistry& r) {
  r.add_onnx("ReverseSequence", 10, kMaxOpset, import_reverse_sequence);
}

}  // namespace celer
