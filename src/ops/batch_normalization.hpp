// BatchNormalization (class shared with graph passes, which fold it into Conv/Gemm).
#pragma once

#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "ops/op.hpp"
#include "ops/util.hpp"

namespace celer {

class BatchNormalization final : public OpBase<BatchNormalization, OpKind::kBatchNormalization> {
 public:
  float epsilon = 1e-5f;
  float momentum = 0.9f;
  bool training = false;

  const char* type_name() const override { return "BatchNormalization"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("epsilon", epsilon);
    v.on("momentum", momentum);
    v.on("training", training);
  }

  void infer(InferContext& ctx) const override {
    const ElementType e = ctx.input_elem(0);
    CELER_CHECK(is_float(e), kInvalidModel, "input X has element type ", element_type_name(e),
                "; BatchNormalization needs a float type");
    const PartialShape& xs = ctx.input_shape(0);
    CELER_CHECK(!xs.rank_known() || xs.rank() >= 2, kShapeMismatch, "input X of shape ", xs.to_string(),
                " needs rank >= 2 (N, C, ...)");
    const Dim c = xs.rank_known() ? xs[1] : Dim();
    static const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
    for (size_t i = 1; i < 5; ++i) {
      CELER_CHECK(ctx.has_input(i), kInvalidModel, "input '", names[i], "' is required");
      CELER_CHECK(is_float(ctx.input_elem(i)), kInvalidModel, "input '", names[i], "' has element type ",
                  element_type_name(ctx.input_elem(i)), "; a float type is required");
      const PartialShape& s = ctx.input_shape(i);
      if (!s.rank_known()) continue;
      CELER_CHECK(s.rank() == 1 && (!s[0].is_static() || !c.is_static() || s[0].value() == c.value()), kShapeMismatch,
                  "input '", names[i], "' of shape ", s.to_string(), " must be [C] for input X of shape ",
                  xs.to_string());
    }
    ctx.set_output(0, e, xs);
    for (size_t i = 1; i < 3; ++i)
      if (ctx.has_output(i)) ctx.set_output(i, ctx.input_elem(2 + i), PartialShape({c}));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const int64_t N = x.dim(0), C = x.dim(1);
    const int64_t inner = N * C > 0 ? x.size() / (N * C) : 0;
    auto load = [&](size_t i) {
      const Tensor& t = ctx.input(i);
      CELER_CHECK(t.size() == C, kShapeMismatch, "input ", i, " of shape ", dims_to_string(t.dims()), " must have ", C,
                  " values (the channels of X)");
      std::vector<double> v(static_cast<size_t>(C));
      for (int64_t j = 0; j < C; ++j) v[size_t(j)] = t.value_as_double(j);
      return v;
    };
    const std::vector<double> scale = load(1), bias = load(2);
    std::vector<double> mean = load(3), var = load(4);
    dispatch_float(x.type(), [&]<typename T>() {
      const T* px = x.data<T>();
      T* py = y.data<T>();
      if (training) {
        std::vector<double> bmean(size_t(C), 0.0), bvar(size_t(C), 0.0);
        const double count = double(N * inner);
        for (int64_t c = 0; c < C; ++c) {
          double s = 0, ss = 0;
          for (int64_t n = 0; n < N; ++n) {
            const T* p = px + (n * C + c) * inner;
            for (int64_t i = 0; i < inner; ++i) s += double(p[i]);
          }
          const double m = count > 0 ? s / count : 0.0;
          for (int64_t n = 0; n < N; ++n) {
            const T* p = px + (n * C + c) * inner;
            for (int64_t i = 0; i < inner; ++i) ss += (double(p[i]) - m) * (double(p[i]) - m);
          }
          bmean[size_t(c)] = m;
          bvar[size_t(c)] = count > 0 ? ss / count : 0.0;
        }
        for (size_t o = 1; o < 3; ++o) {
          if (!ctx.has_output(o)) continue;
          Tensor& t = ctx.output(o);
          const std::vector<double>& in = o == 1 ? mean : var;
          const std::vector<double>& cur = o == 1 ? bmean : bvar;
          dispatch_float(t.type(), [&]<typename U>() {
            U* pt = t.data<U>();
            for (int64_t c = 0; c < C; ++c)
              pt[c] = U(in[size_t(c)] * momentum + cur[size_t(c)] * (1.0 - double(momentum)));
          });
        }
        mean = bmean;
        var = bvar;
      }
      using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
      for (int64_t c = 0; c < C; ++c) {
        const double a = scale[size_t(c)] / std::sqrt(var[size_t(c)] + double(epsilon));
        const A sa = A(a), sb = A(bias[size_t(c)] - mean[size_t(c)] * a);
        for (int64_t n = 0; n < N; ++n) {
          const T* p = px + (n * C + c) * inner;
          T* q = py + (n * C + c) * inner;
          for (int64_t i = 0; i < inner; ++i) q[i] = T(A(p[i]) * sa + sb);
        }
      }
    });
  }
};

}  // namespace celer
