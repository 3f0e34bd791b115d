// MatMul: numpy semantics. A 1-D first operand [K] acts as [1, K] and a 1-D second operand [K] as [K, 1], and the
// added dim is removed from the result; dims before the last two broadcast.
#include "ops/mat_mul.hpp"

#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {
bool matmul_type_ok(ElementType e) {
  return is_float(e) || e == ElementType::kI32 || e == ElementType::kI64 || e == ElementType::kU32 ||
         e == ElementType::kU64;
}
}  // namespace

void MatMul::infer(InferContext& ctx) const {
  const ElementType e = ctx.input_elem(0);
  CELER_CHECK(ctx.input_elem(1) == e, kInvalidModel, "inputs have different element types ", element_type_name(e),
              " and ", element_type_name(ctx.input_elem(1)));
  CELER_CHECK(matmul_type_ok(e), kInvalidModel, "element type ", element_type_name(e), " is not allowed for MatMul");
  const PartialShape& as = ctx.input_shape(0);
  const PartialShape& bs = ctx.input_shape(1);
  CELER_CHECK(as.rank() != 0 && bs.rank() != 0, kShapeMismatch, "MatMul operands must not be scalars: A of shape ",
              as.to_string(), ", B of shape ", bs.to_string());
  if (!as.rank_known() || !bs.rank_known()) {
    ctx.set_output(0, e, PartialShape());
    return;
  }
  std::vector<Dim> a = as.dims(), b = bs.dims();
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), Dim(1));
  if (b_vec) b.push_back(Dim(1));
  const Dim& ka = a[a.size() - 1];
  const Dim& kb = b[b.size() - 2];
  CELER_CHECK(!ka.is_static() || !kb.is_static() || ka.value() == kb.value(), kShapeMismatch,
              "MatMul inner dims differ: A of shape ", as.to_string(), " has ", ka.value(), " columns but B of shape ",
              bs.to_string(), " has ", kb.value(), " rows");
  PartialShape batch_a(std::vector<Dim>(a.begin(), a.end() - 2));
  PartialShape batch_b(std::vector<Dim>(b.begin(), b.end() - 2));
  PartialShape batch;
  try {
    batch = broadcast_shapes(batch_a, batch_b);
  } catch (const Error&) {
    CELER_THROW(kShapeMismatch, "MatMul batch dims of A of shape ", as.to_string(), " and B of shape ", bs.to_string(),
                " do not broadcast");
  }
  std::vector<Dim> out = batch.dims();
  if (!a_vec) out.push_back(a[a.size() - 2]);
  if (!b_vec) out.push_back(b[b.size() - 1]);
  ctx.set_output(0, e, PartialShape(std::move(out)));
  check_post_ops(post_ops, ctx, e, ctx.output_types()[0].shape);
}

void MatMul::run(KernelContext& ctx) const {
  run_unfused(ctx);
  apply_post_ops(post_ops, ctx, ctx.output_tensor(0));
}

void MatMul::run_unfused(KernelContext& ctx) const {
  const Tensor& ta = ctx.input(0);
  const Tensor& tb = ctx.input(1);
  Tensor& ty = ctx.output(0);
  Dims a = ta.dims(), b = tb.dims();
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const int64_t M = a[a.size() - 2], K = a[a.size() - 1], N = b[b.size() - 1];
  CELER_CHECK(b[b.size() - 2] == K, kShapeMismatch, "MatMul inner dims differ: A of shape ", dims_to_string(ta.dims()),
              ", B of shape ", dims_to_string(tb.dims()));
  const Dims batch_a(a.begin(), a.end() - 2), batch_b(b.begin(), b.end() - 2);
  const Dims batch = broadcast_dims(batch_a, batch_b);
  if (ty.size() == 0) return;
  dispatch_numeric(ta.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::string>) {
      CELER_THROW(kUnsupported, "element type ", element_type_name(ta.type()));
    } else {
      using A = matmul_acc_t<T>;
      const T* pa = ta.data<T>();
      const T* pb = tb.data<T>();
      T* py = ty.data<T>();
      std::vector<A> abuf, bbuf, cbuf(size_t(M * N));
      for_each_broadcast(batch, {batch_a, batch_b}, [&](int64_t i, const int64_t* off) {
        const T* am = pa + off[0] * M * K;
        const T* bm = pb + off[1] * K * N;
        T* ym = py + i * M * N;
        const A* ap;
        const A* bp;
        if constexpr (std::is_same_v<A, T>) {
          ap = am;
          bp = bm;
        } else {
          abuf.resize(size_t(M * K));
          bbuf.resize(size_t(K * N));
          for (int64_t j = 0; j < M * K; ++j) abuf[size_t(j)] = A(am[j]);
          for (int64_t j = 0; j < K * N; ++j) bbuf[size_t(j)] = A(bm[j]);
          ap = abuf.data();
          bp = bbuf.data();
        }
        if constexpr (std::is_same_v<A, T>) {
          std::fill(ym, ym + M * N, T(0));
          matmul_accumulate<A>(M, N, K, ap, K, bp, N, ym, N);
        } else {
          std::fill(cbuf.begin(), cbuf.end(), A(0));
          matmul_accumulate<A>(M, N, K, ap, K, bp, N, cbuf.data(), N);
          for (int64_t j = 0; j < M * N; ++j) {
            if constexpr (std::is_integral_v<T>)
              ym[j] = T(cbuf[size_t(j)]);
            else
              ym[j] = T(float(cbuf[size_t(j)]));
          }
        }
      });
    }
  });
}

double MatMul::flops(const Node& node) const {
  const auto& as = node.inputs[0]->type.shape;
  const auto& ys = node.outputs[0]->type.shape;
  if (!as.is_static() || !ys.is_static() || as.rank() < 1) return 0;
  const int64_t K = as.dims().back().value();
  return 2.0 * double(element_count(ys.to_dims())) * double(K);
}

namespace {
void import_mat_mul(OnnxNode& n) { n.emit(std::make_unique<MatMul>()); }
}  // namespace

std::unique_ptr<Op> make_op_MatMul() { return std::make_unique<MatMul>(); }

void register_op_MatMul(OpRegistry& r) { r.add_onnx("MatMul", 1, kMaxOpset, import_mat_mul); }

}  // namespace celer
