// Random: tensors of random values. Never constant-folded (deterministic() is false).
//   RandomUniform / RandomNormal: shape from attribute 'shape', dtype attribute (float types, default f32).
//   RandomUniformLike / RandomNormalLike: the shape of the input, dtype attribute or else the input's type.
//   Multinomial: input [batch, classes] of unnormalized log-probabilities -> [batch, sample_size] class indices
//   (dtype i32 or i64, default i32).
// With the 'seed' attribute every run draws the same values; without it each run draws fresh ones. The values cannot
// match another implementation's generator (e.g. numpy's), only its distribution.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "onnx/onnx_tensor.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

enum class RandomKind : uint8_t { kUniform, kNormal, kUniformLike, kNormalLike, kMultinomial };

namespace {
// A generator seeded from the 'seed' attribute when given, else from the system's entropy source.
std::mt19937_64 make_generator(bool has_seed, float seed) {
  if (!has_seed) return std::mt19937_64(std::random_device{}());
  uint32_t bits;
  std::memcpy(&bits, &seed, sizeof bits);
  return std::mt19937_64(uint64_t(bits) * 0x9E3779B97F4A7C15ull + 1);
}
}  // namespace

class Random final : public OpBase<Random, OpKind::kRandom> {
 public:
  RandomKind kind = RandomKind::kUniform;
  ElementType dtype = ElementType::kUndefined;  // kUndefined: the input's type (the *Like ops)
  double a = 0, b = 1;                          // low/high (uniform) or mean/scale (normal)
  std::vector<int64_t> shape;                   // RandomUniform / RandomNormal
  int64_t sample_size = 1;                      // Multinomial
  bool has_seed = false;
  float seed = 0;

  const char* type_name() const override {
    switch (kind) {
      case RandomKind::kUniform:
        return "RandomUniform";
      case RandomKind::kNormal:
        return "RandomNormal";
      case RandomKind::kUniformLike:
        return "RandomUniformLike";
      case RandomKind::kNormalLike:
        return "RandomNormalLike";
      case RandomKind::kMultinomial:
        return "Multinomial";
    }
    return "Random";
  }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "kind", kind, RandomKind::kMultinomial);
    visit_enum(v, "dtype", dtype, ElementType::kString);
    v.on("a", a);
    v.on("b", b);
    v.on("shape", shape);
    v.on("sample_size", sample_size);
    v.on("has_seed", has_seed);
    v.on("seed", seed);
  }
  bool deterministic() const override { return false; }

  void infer(InferContext& ctx) const override {
    switch (kind) {
      case RandomKind::kUniform:
      case RandomKind::kNormal:
        ctx.set_output(0, dtype, PartialShape::of(shape));
        return;
      case RandomKind::kUniformLike:
      case RandomKind::kNormalLike: {
        ElementType t = dtype == ElementType::kUndefined ? ctx.input_elem(0) : dtype;
        CELER_CHECK(is_float(t), kInvalidModel, "the output type ", element_type_name(t),
                    " must be a float type (set attribute 'dtype')");
        ctx.set_output(0, t, ctx.input_shape(0));
        return;
      }
      case RandomKind::kMultinomial: {
        CELER_CHECK(is_float(ctx.input_elem(0)), kInvalidModel, "input 'input' has element type ",
                    element_type_name(ctx.input_elem(0)), " (a float type expected)");
        const PartialShape& s = ctx.input_shape(0);
        CELER_CHECK(!s.rank_known() || s.rank() == 2, kShapeMismatch, "input 'input' has shape ", s.to_string(),
                    " but must be [batch_size, class_size]");
        ctx.set_output(0, dtype, PartialShape{s.rank_known() ? s[0] : Dim(), Dim(sample_size)});
        return;
      }
    }
  }

  void run(KernelContext& ctx) const override {
    std::mt19937_64 gen = make_generator(has_seed, seed);
    Tensor& y = ctx.output(0);
    if (kind == RandomKind::kMultinomial) return multinomial(ctx.input(0), y, gen);
    const bool uniform = kind == RandomKind::kUniform || kind == RandomKind::kUniformLike;
    std::uniform_real_distribution<double> ud(a, b);
    std::normal_distribution<double> nd(a, b > 0 ? b : 1.0);  // scale 0 yields the mean below
    dispatch_float(y.type(), [&]<typename T>() {
      T* p = y.data<T>();
      for (int64_t i = 0; i < y.size(); ++i) p[i] = T(uniform ? ud(gen) : (b > 0 ? nd(gen) : a));
    });
  }

 private:
  void multinomial(const Tensor& x, Tensor& y, std::mt19937_64& gen) const {
    const int64_t batch = x.dim(0), classes = x.dim(1);
    CELER_CHECK(classes > 0 || batch == 0, kInvalidArgument, "input 'input' has no classes");
    std::vector<double> w(static_cast<size_t>(classes));
    for (int64_t r = 0; r < batch; ++r) {
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < classes; ++c) mx = std::max(mx, x.value_as_double(r * classes + c));
      CELER_CHECK(std::isfinite(mx), kInvalidArgument, "row ", r, " of input 'input' has no finite log-probability");
      for (int64_t c = 0; c < classes; ++c) {
        double v = x.value_as_double(r * classes + c);
        CELER_CHECK(!std::isnan(v), kInvalidArgument, "input 'input' holds NaN at row ", r);
        w[size_t(c)] = std::exp(v - mx);
      }
      std::discrete_distribution<int64_t> dist(w.begin(), w.end());
      for (int64_t s = 0; s < sample_size; ++s) {
        int64_t v = dist(gen);
        if (y.type() == ElementType::kI32)
          y.data<int32_t>()[r * sample_size + s] = int32_t(v);
        else
          y.data<int64_t>()[r * sample_size + s] = v;
      }
    }
  }
};

namespace {
template <RandomKind K>
void import_random(OnnxNode& n) {
  auto op = std::make_unique<Random>();
  op->kind = K;
  op->has_seed = n.has_attr("seed");
  if (op->has_seed) op->seed = n.attr_float("seed");
  const bool like = K == RandomKind::kUniformLike || K == RandomKind::kNormalLike;
  if (K == RandomKind::kMultinomial) {
    op->dtype = onnx_element_type(int(n.attr_int("dtype", 6)), "attribute 'dtype'");
    if (op->dtype != ElementType::kI32 && op->dtype != ElementType::kI64)
      n.fail("attribute 'dtype' must be int32 or int64, got ", element_type_name(op->dtype));
    op->sample_size = n.attr_int("sample_size", 1);
    if (op->sample_size < 1) n.fail("attribute 'sample_size' = ", op->sample_size, " must be positive");
    n.emit(std::move(op));
    return;
  }
  if (!like || n.has_attr("dtype")) {
    op->dtype = onnx_element_type(int(n.attr_int("dtype", 1)), "attribute 'dtype'");
    if (!is_float(op->dtype)) n.fail("attribute 'dtype' must be a float type, got ", element_type_name(op->dtype));
  }
  if (!like) {
    op->shape = n.attr_ints("shape");
    for (int64_t d : op->shape)
      if (d < 0) n.fail("attribute 'shape' ", dims_to_string(op->shape), " has a negative dim");
    element_count(op->shape);  // throws on overflow
  }
  if (K == RandomKind::kUniform || K == RandomKind::kUniformLike) {
    op->a = n.attr_float("low", 0.0f);
    op->b = n.attr_float("high", 1.0f);
    if (!(op->a <= op->b) || !std::isfinite(op->a) || !std::isfinite(op->b))
      n.fail("attributes 'low' = ", op->a, " and 'high' = ", op->b, " must be finite with low <= high");
  } else {
    op->a = n.attr_float("mean", 0.0f);
    op->b = n.attr_float("scale", 1.0f);
    if (!(op->b >= 0) || !std::isfinite(op->a) || !std::isfinite(op->b))
      n.fail("attributes 'mean' = ", op->a, " and 'scale' = ", op->b, " must be finite with scale >= 0");
  }
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Random() { return std::make_unique<Random>(); }

void register_op_Random(OpRegistry& r) {
  r.add_onnx("RandomUniform", 1, kMaxOpset, import_random<RandomKind::kUniform>);
  r.add_onnx("RandomNormal", 1, kMaxOpset, import_random<RandomKind::kNormal>);
  r.add_onnx("RandomUniformLike", 1, kMaxOpset, import_random<RandomKind::kUniformLike>);
  r.add_onnx("RandomNormalLike", 1, kMaxOpset, import_random<RandomKind::kNormalLike>);
  r.add_onnx("Multinomial", 7, kMaxOpset, import_random<RandomKind::kMultinomial>);
}

}  // namespace celer
