// Gemm: Y[M, N] = alpha * A'[M, K] * B'[K, N] + beta * C. The kernel brings A' and B' into row-major accumulator
// buffers (transposing or widening only when needed) and runs the shared i-k-j product loop.
#include "ops/gemm.hpp"

#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/mat_mul.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

void Gemm::infer(InferContext& ctx) const {
  const ElementType e = ctx.input_elem(0);
  CELER_CHECK(ctx.input_elem(1) == e, kInvalidModel, "inputs A and B have different element types ",
              element_type_name(e), " and ", element_type_name(ctx.input_elem(1)));
  CELER_CHECK(is_float(e) || e == ElementType::kI32 || e == ElementType::kI64 || e == ElementType::kU32 ||
                  e == ElementType::kU64,
              kInvalidModel, "element type ", element_type_name(e), " is not allowed for Gemm");
  const PartialShape& as = ctx.input_shape(0);
  const PartialShape& bs = ctx.input_shape(1);
  CELER_CHECK(!as.rank_known() || as.rank() == 2, kShapeMismatch, "input A of shape ", as.to_string(), " must be 2-D");
  CELER_CHECK(!bs.rank_known() || bs.rank() == 2, kShapeMismatch, "input B of shape ", bs.to_string(), " must be 2-D");
  Dim m = as.rank_known() ? as[trans_a ? 1 : 0] : Dim();
  Dim ka = as.rank_known() ? as[trans_a ? 0 : 1] : Dim();
  Dim kb = bs.rank_known() ? bs[trans_b ? 1 : 0] : Dim();
  Dim n = bs.rank_known() ? bs[trans_b ? 0 : 1] : Dim();
  CELER_CHECK(!ka.is_static() || !kb.is_static() || ka.value() == kb.value(), kShapeMismatch,
              "inner dims differ: A of shape ", as.to_string(), (trans_a ? " (transA)" : ""), " and B of shape ",
              bs.to_string(), (trans_b ? " (transB)" : ""));
  if (ctx.has_input(2)) {
    CELER_CHECK(ctx.input_elem(2) == e, kInvalidModel, "input C has element type ",
                element_type_name(ctx.input_elem(2)), " but A has ", element_type_name(e));
    const PartialShape& cs = ctx.input_shape(2);
    if (cs.rank_known()) {
      CELER_CHECK(cs.rank() <= 2, kShapeMismatch, "input C of shape ", cs.to_string(), " has rank > 2");
      const Dim* target[2] = {&m, &n};
      for (int64_t i = 0; i < cs.rank(); ++i) {
        const Dim& c = cs[size_t(i)];
        const Dim& t = *target[2 - cs.rank() + i];
        CELER_CHECK(!c.is_static() || !t.is_static() || c.value() == 1 || c.value() == t.value(), kShapeMismatch,
                    "input C of shape ", cs.to_string(), " does not broadcast to [M, N] = [", m.to_string(), ",",
                    n.to_string(), "]");
      }
    }
  }
  ctx.set_output(0, e, PartialShape({m, n}));
  check_post_ops(post_ops, ctx, e, ctx.output_types()[0].shape);
}

void Gemm::run(KernelContext& ctx) const {
  run_unfused(ctx);
  apply_post_ops(post_ops, ctx, ctx.output_tensor(0));
}

void Gemm::run_unfused(KernelContext& ctx) const {
  const Tensor& ta = ctx.input(0);
  const Tensor& tb = ctx.input(1);
  Tensor& ty = ctx.output(0);
  const int64_t M = ty.dim(0), N = ty.dim(1), K = trans_a ? ta.dim(0) : ta.dim(1);
  const Tensor* tc = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Dims c_strides(2, 0);
  if (tc) {
    CELER_CHECK(tc->rank() <= 2, kShapeMismatch, "input C of shape ", dims_to_string(tc->dims()), " has rank > 2");
    for (int64_t i = 0; i < tc->rank(); ++i) {
      int64_t d = tc->dim(i), want = i + 2 - tc->rank() == 0 ? M : N;
      CELER_CHECK(d == 1 || d == want, kShapeMismatch, "input C of shape ", dims_to_string(tc->dims()),
                  " does not broadcast to [", M, ",", N, "]");
    }
    c_strides = broadcast_strides(tc->dims(), Dims{M, N});
  }
  if (ty.size() == 0) return;
  dispatch_numeric(ta.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      CELER_THROW(kUnsupported, "bool inputs");
    } else {
      using A = matmul_acc_t<T>;
      const T* pa = ta.data<T>();
      const T* pb = tb.data<T>();
      std::vector<A> abuf, bbuf, acc(size_t(M * N), A(0));
      const A* ap;
      const A* bp;
      if (std::is_same_v<A, T> && !trans_a) {
        ap = reinterpret_cast<const A*>(pa);
      } else {
        abuf.resize(size_t(M * K));
        for (int64_t i = 0; i < M; ++i)
          for (int64_t k = 0; k < K; ++k) abuf[size_t(i * K + k)] = A(trans_a ? pa[k * M + i] : pa[i * K + k]);
        ap = abuf.data();
      }
      if (std::is_same_v<A, T> && !trans_b) {
        bp = reinterpret_cast<const A*>(pb);
      } else {
        bbuf.resize(size_t(K * N));
        for (int64_t k = 0; k < K; ++k)
          for (int64_t j = 0; j < N; ++j) bbuf[size_t(k * N + j)] = A(trans_b ? pb[j * K + k] : pb[k * N + j]);
        bp = bbuf.data();
      }
      matmul_accumulate<A>(M, N, K, ap, K, bp, N, acc.data(), N);
      T* py = ty.data<T>();
      const T* pc = tc ? tc->data<T>() : nullptr;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          const A v = acc[size_t(i * N + j)];
          if constexpr (std::is_integral_v<T>) {
            // Integer Gemm: alpha and beta apply through double (exact for the usual alpha = beta = 1).
            double r = double(alpha) * double(T(v));
            if (pc && beta != 0) r += double(beta) * double(pc[i * c_strides[0] + j * c_strides[1]]);
            py[i * N + j] = T(r);
          } else {
            A r = A(alpha) * v;
            if (pc && beta != 0) r += A(beta) * A(pc[i * c_strides[0] + j * c_strides[1]]);
            py[i * N + j] = T(r);
          }
        }
    }
  });
}

double Gemm::flops(const Node& node) const {
  const auto& as = node.inputs[0]->type.shape;
  const auto& ys = node.outputs[0]->type.shape;
  if (!as.is_static() || !ys.is_static()) return 0;
  const int64_t K = as[trans_a ? 0 : 1].value();
  return 2.0 * double(element_count(ys.to_dims())) * double(K);
}

namespace {
void import_gemm(OnnxNode& n) {
  auto op = std::make_unique<Gemm>();
  op->alpha = n.attr_float("alpha", 1.0f);
  op->beta = n.attr_float("beta", 1.0f);
  op->trans_a = n.attr_int("transA", 0) != 0;
  op->trans_b = n.attr_int("transB", 0) != 0;
  if (n.opset() < 11 && !n.input(2)) n.fail("input C is required before opset 11");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Gemm() { return std::make_unique<Gemm>(); }

void register_op_Gemm(OpRegistry& r) { r.add_onnx("Gemm", 1, kMaxOpset, import_gemm); }

}  // namespace celer
