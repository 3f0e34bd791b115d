// Dropout. In inference (the default, and always before opset 12) the output is the input and the mask is all true.
// From opset 12, with input 'training_mode' true and 'ratio' > 0, each element is kept with probability 1 - ratio and
// scaled by 1 / (1 - ratio). The draws reproduce numpy's legacy generator (np.random.seed(seed); uniform(0, 1)), so a
// model with attribute 'seed' gives the same mask as ONNX's reference; without 'seed' every run draws anew.
#include <optional>
#include <random>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Dropout final : public OpBase<Dropout, OpKind::kDropout> {
 public:
  std::optional<int64_t> seed;
  bool mask_is_bool = true;  // opsets before 10: the mask has the input's element type
  bool may_train = false;    // the node has a 'training_mode' input (opset 12+)

  const char* type_name() const override { return "Dropout"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_optional(v, "seed", seed);
    v.on("mask_is_bool", mask_is_bool);
    v.on("may_train", may_train);
  }
  bool deterministic() const override { return !may_train || seed.has_value(); }

  void infer(InferContext& ctx) const override {
    ElementType t = ctx.input_elem(0);
    CELER_CHECK(t == ElementType::kUndefined || is_float(t), kInvalidModel, "Dropout does not accept element type ",
                element_type_name(t));
    if (ctx.has_input(1)) {
      ElementType r = ctx.input_elem(1);
      CELER_CHECK(r == ElementType::kUndefined || is_float(r), kInvalidModel, "input 'ratio' must be a float, got ",
                  element_type_name(r));
    }
    if (ctx.has_input(2)) {
      ElementType m = ctx.input_elem(2);
      CELER_CHECK(m == ElementType::kUndefined || m == ElementType::kBool, kInvalidModel,
                  "input 'training_mode' must be bool, got ", element_type_name(m));
    }
    ctx.set_output(0, t, ctx.input_shape(0));
    if (ctx.has_output(1)) ctx.set_output(1, mask_is_bool ? ElementType::kBool : t, ctx.input_shape(0));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    bool training = false;
    if (ctx.has_input(2)) {
      const Tensor& tm = ctx.input(2);
      CELER_CHECK(tm.size() == 1, kInvalidArgument, "input 'training_mode' must hold one value, got shape ",
                  dims_to_string(tm.dims()));
      training = tm.data<bool>()[0];
    }
    double ratio = 0.5;
    if (ctx.has_input(1)) {
      const Tensor& r = ctx.input(1);
      CELER_CHECK(r.size() == 1, kInvalidArgument, "input 'ratio' must hold one value, got shape ",
                  dims_to_string(r.dims()));
      ratio = r.value_as_double(0);
    }
    if (!training || ratio == 0) {
      ctx.set_output(0, x);
      if (ctx.has_output(1)) fill_mask(ctx.output(1), nullptr);
      return;
    }
    CELER_CHECK(ratio > 0 && ratio < 1, kInvalidArgument, "input 'ratio' = ", ratio, " must be in [0, 1)");
    std::mt19937 gen(seed ? uint32_t(*seed) : std::random_device{}());
    std::vector<uint8_t> keep(size_t(x.size()));
    for (auto& k : keep) {
      // numpy's random_sample: 53 random bits from two 32-bit draws.
      uint32_t a = gen() >> 5, b = gen() >> 6;
      double u = (a * 67108864.0 + b) / 9007199254740992.0;
      k = u >= ratio;
    }
    Tensor& y = ctx.output(0);
    dispatch_float(x.type(), [&]<typename T>() {
      using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
      const C scale = C(1.0 / (1.0 - ratio));
      const T* px = x.data<T>();
      T* py = y.data<T>();
      for (int64_t i = 0; i < x.size(); ++i) py[i] = T(keep[size_t(i)] ? C(px[i]) * scale : C(0));
    });
    if (ctx.has_output(1)) fill_mask(ctx.output(1), keep.data());
  }

 private:
  static void fill_mask(Tensor& mask, const uint8_t* keep) {
    dispatch_numeric(mask.type(), [&]<typename T>() {
      T* p = mask.data<T>();
      for (int64_t i = 0; i < mask.size(); ++i) p[i] = numeric_cast<T>(!keep || keep[i] ? 1 : 0);
    });
  }
};

namespace {

void import_dropout(OnnxNode& n) {
  auto op = std::make_unique<Dropout>();
  op->mask_is_bool = n.opset() >= 10;
  if (n.opset() < 12) {
    // The ratio was an attribute and the op always ran in inference mode.
    float ratio = n.attr_float("ratio", 0.5f);
    if (!(ratio >= 0 && ratio < 1)) n.fail("attribute 'ratio' = ", ratio, " must be in [0, 1)");
    std::vector<Value*> outs;
    for (size_t i = 0; i < n.num_outputs(); ++i) outs.push_back(n.output(i));
    n.emit(std::move(op), {n.input(0)}, outs);
    return;
  }
  if (n.has_attr("seed")) op->seed = n.attr_int("seed");
  op->may_train = n.input(2) != nullptr;
  n.emit(std::move(op));
}

}  // namespace

std::unique_ptr<Op> make_op_Dropout() { return std::make_unique<Dropout>(); }

void register_op_Dropout(OpRegistry& r) { r.add_onnx("Dropout", 1, kMaxOpset, import_dropout); }

}  // namespace celer
