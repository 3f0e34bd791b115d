// Bernoulli: out[i] = 1 with probability p[i], else 0. Input: probabilities (float types, each in [0, 1]); attribute
// dtype (the output type, default the input's), seed (every run draws the same values when given). Never
// constant-folded.
#include <cstring>
#include <random>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "onnx/onnx_tensor.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

class Bernoulli final : public OpBase<Bernoulli, OpKind::kBernoulli> {
 public:
  ElementType dtype = ElementType::kUndefined;  // kUndefined: the input's type
  bool has_seed = false;
  float seed = 0;

  const char* type_name() const override { return "Bernoulli"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "dtype", dtype, ElementType::kString);
    v.on("has_seed", has_seed);
    v.on("seed", seed);
  }
  bool deterministic() const override { return false; }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(is_float(ctx.input_elem(0)), kInvalidModel, "input 'input' has element type ",
                element_type_name(ctx.input_elem(0)), " (a float type expected)");
    ctx.set_output(0, dtype == ElementType::kUndefined ? ctx.input_elem(0) : dtype, ctx.input_shape(0));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    std::mt19937_64 gen;
    if (has_seed) {
      uint32_t bits;
      std::memcpy(&bits, &seed, sizeof bits);
      gen.seed(uint64_t(bits) * 0x9E3779B97F4A7C15ull + 1);
    } else {
      gen.seed(std::random_device{}());
    }
    std::uniform_real_distribution<double> u(0.0, 1.0);
    Tensor& y = ctx.output(0);
    dispatch_numeric(y.type(), [&]<typename T>() {
      T* py = y.data<T>();
      for (int64_t i = 0; i < x.size(); ++i) {
        double p = x.value_as_double(i);
        CELER_CHECK(p >= 0.0 && p <= 1.0, kInvalidArgument, "input 'input' holds ", p, " at index ", i,
                    ": a probability must be in [0, 1]");
        py[i] = T(u(gen) < p ? 1 : 0);
      }
    });
  }
};

namespace {
void import_bernoulli(OnnxNode& n) {
  auto op = std::make_unique<Bernoulli>();
  if (n.has_attr("dtype")) {
    op->dtype = onnx_element_type(int(n.attr_int("dtype")), "attribute 'dtype'");
    if (op->dtype == ElementType::kString) n.fail("attribute 'dtype' must be a numeric or bool type");
  }
  op->has_seed = n.has_attr("seed");
  if (op->has_seed) op->seed = n.attr_float("seed");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Bernoulli() { return std::make_unique<Bernoulli>(); }

void register_op_Bernoulli(OpRegistry& r) { r.add_onnx("Bernoulli", 15, kMaxOpset, import_bernoulli); }

}  // namespace celer
