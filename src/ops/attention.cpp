// Attention reference kernel: per batch matrix, the same steps as the decomposed graph (MatMul's i-k-j product,
// scaling in the element type's compute precision, mask add, Softmax in double, MatMul with V).
#include "ops/attention.hpp"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/dispatch.hpp"
#include "ops/indexing.hpp"
#include "ops/mat_mul.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {
const char* const kInputNames[] = {"Q", "Kt", "V", "mask"};

PartialShape batch_of(const PartialShape& s) {
  if (!s.rank_known()) return {};
  return PartialShape(std::vector<Dim>(s.dims().begin(), s.dims().end() - 2));
}

// A stored "heads inner" shape as its logical shape and back: axes -3 and -2 swapped.
PartialShape swap_rows_heads(PartialShape s) {
  if (s.rank_known() && s.rank() >= 3) {
    std::vector<Dim> d = s.dims();
    std::swap(d[d.size() - 3], d[d.size() - 2]);
    s = PartialShape(std::move(d));
  }
  return s;
}

// A contiguous copy of `t` with axes -3 and -2 swapped (rank >= 3).
Tensor swapped_copy(const Tensor& t) {
  Dims d = t.dims();
  const size_t r = d.size();
  const int64_t outer = dims_range_product(d, 0, r - 3), a = d[r - 3], b = d[r - 2], inner = d[r - 1];
  std::swap(d[r - 3], d[r - 2]);
  Tensor out(t.type(), d);
  const size_t es = element_size(t.type());
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < a; ++i)
      for (int64_t j = 0; j < b; ++j)
        std::memcpy(dst + size_t(((o * b + j) * a + i) * inner) * es, src + size_t(((o * a + i) * b + j) * inner) * es,
                    size_t(inner) * es);
  return out;
}
}  // namespace

void Attention::infer(InferContext& ctx) const {
  const ElementType e = ctx.input_elem(0);
  CELER_CHECK(is_float(e), kInvalidModel, "input Q has element type ", element_type_name(e),
              "; Attention needs a float type");
  for (size_t i = 0; i < 4; ++i) {
    if (i == 3 && !ctx.has_input(3)) continue;
    CELER_CHECK(ctx.has_input(i), kInvalidModel, "input ", kInputNames[i], " is required");
    CELER_CHECK(ctx.input_elem(i) == e, kInvalidModel, "input ", kInputNames[i], " has element type ",
                element_type_name(ctx.input_elem(i)), " but Q has ", element_type_name(e));
    const PartialShape& s = ctx.input_shape(i);
    CELER_CHECK(i == 3 || !s.rank_known() || s.rank() >= 2, kShapeMismatch, "input ", kInputNames[i], " of shape ",
                s.to_string(), " needs rank >= 2");
  }
  const bool swapped[3] = {q_heads_inner, false, v_heads_inner};
  for (size_t i = 0; i < 3; ++i) {
    const PartialShape& s = ctx.input_shape(i);
    CELER_CHECK(!swapped[i] || !s.rank_known() || s.rank() >= 3, kShapeMismatch, "input ", kInputNames[i], " of shape ",
                s.to_string(), " is stored heads inner and needs rank >= 3");
  }
  const PartialShape q = q_heads_inner ? swap_rows_heads(ctx.input_shape(0)) : ctx.input_shape(0);
  const PartialShape& kt = ctx.input_shape(1);
  const PartialShape v = v_heads_inner ? swap_rows_heads(ctx.input_shape(2)) : ctx.input_shape(2);
  if (!q.rank_known() || !kt.rank_known() || !v.rank_known()) return ctx.set_output(0, e, PartialShape());
  const Dim& k1 = q.dims().back();
  const Dim& k2 = kt[size_t(kt.rank() - 2)];
  CELER_CHECK(!k1.is_static() || !k2.is_static() || k1.value() == k2.value(), kShapeMismatch, "inputs Q of shape ",
              q.to_string(), " and Kt of shape ", kt.to_string(), " have different inner dims");
  const Dim& n1 = kt.dims().back();
  const Dim& n2 = v[size_t(v.rank() - 2)];
  CELER_CHECK(!n1.is_static() || !n2.is_static() || n1.value() == n2.value(), kShapeMismatch, "inputs Kt of shape ",
              kt.to_string(), " and V of shape ", v.to_string(), " have different key counts");
  PartialShape batch = broadcast_shapes(broadcast_shapes(batch_of(q), batch_of(kt)), batch_of(v));
  std::vector<Dim> scores = batch.dims();
  scores.push_back(q[size_t(q.rank() - 2)]);
  scores.push_back(n1);
  if (ctx.has_input(3)) {
    PartialShape b = broadcast_shapes(PartialShape(scores), ctx.input_shape(3));
    CELER_CHECK(b.rank() == int64_t(scores.size()), kShapeMismatch, "input mask of shape ",
                ctx.input_shape(3).to_string(), " would grow the scores of shape ", PartialShape(scores).to_string());
  }
  std::vector<Dim> out = batch.dims();
  out.push_back(q[size_t(q.rank() - 2)]);
  out.push_back(v.dims().back());
  CELER_CHECK(!y_heads_inner || out.size() >= 3, kShapeMismatch, "the output of shape ", PartialShape(out).to_string(),
              " is stored heads inner and needs rank >= 3");
  ctx.set_output(0, e, y_heads_inner ? swap_rows_heads(PartialShape(std::move(out))) : PartialShape(std::move(out)));
}

void Attention::run(KernelContext& ctx) const {
  // Inputs stored heads inner are copied into their logical layout first; so is the output afterwards.
  const Tensor tq = q_heads_inner ? swapped_copy(ctx.input(0)) : ctx.input(0);
  const Tensor& tk = ctx.input(1);
  const Tensor tv = v_heads_inner ? swapped_copy(ctx.input(2)) : ctx.input(2);
  const Tensor* tm = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  Tensor& stored_y = ctx.output(0);
  Dims logical_y = stored_y.dims();
  if (y_heads_inner) std::swap(logical_y[logical_y.size() - 3], logical_y[logical_y.size() - 2]);
  Tensor ty = y_heads_inner ? Tensor(stored_y.type(), logical_y) : stored_y;
  const Dims& q = tq.dims();
  const Dims& k = tk.dims();
  const Dims& v = tv.dims();
  const int64_t M = q[q.size() - 2], K = q.back(), N = k.back(), D = v.back();
  CELER_CHECK(k[k.size() - 2] == K && v[v.size() - 2] == N, kShapeMismatch, "Attention inputs Q ", dims_to_string(q),
              ", Kt ", dims_to_string(k), ", V ", dims_to_string(v), " do not chain");
  const Dims bq(q.begin(), q.end() - 2), bk(k.begin(), k.end() - 2), bv(v.begin(), v.end() - 2);
  const Dims batch = broadcast_dims(broadcast_dims(bq, bk), bv);
  Dims score_dims = batch;
  score_dims.push_back(M);
  score_dims.push_back(N);
  Dims mask_dims;
  if (tm) {
    CELER_CHECK(broadcast_dims(score_dims, tm->dims()) == score_dims, kShapeMismatch, "input mask of shape ",
                dims_to_string(tm->dims()), " does not broadcast to the scores ", dims_to_string(score_dims));
    // The mask aligned to the scores' rank, then split into batch and matrix parts.
    mask_dims = Dims(score_dims.size() - tm->dims().size(), 1);
    mask_dims.insert(mask_dims.end(), tm->dims().begin(), tm->dims().end());
  }
  const Dims bm = tm ? Dims(mask_dims.begin(), mask_dims.end() - 2) : Dims(batch.size(), 1);
  const int64_t mask_rows = tm ? mask_dims[mask_dims.size() - 2] : 1, mask_cols = tm ? mask_dims.back() : 1;
  if (ty.size() == 0) return;
  dispatch_float(tq.type(), [&]<typename T>() {
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const A s = A(scale);
    std::vector<A> qa(size_t(M * K)), ka(size_t(K * N)), va(size_t(N * D)), sc(size_t(M * N)), out(size_t(M * D));
    auto load = [](const T* p, int64_t n, std::vector<A>& dst) {
      for (int64_t j = 0; j < n; ++j) dst[size_t(j)] = A(p[j]);
    };
    const T* mp = tm ? tm->data<T>() : nullptr;
    for_each_broadcast(batch, {bq, bk, bv, bm}, [&](int64_t i, const int64_t* off) {
      load(tq.data<T>() + off[0] * M * K, M * K, qa);
      load(tk.data<T>() + off[1] * K * N, K * N, ka);
      load(tv.data<T>() + off[2] * N * D, N * D, va);
      // Values round to T after each step, as the separate ops store them.
      auto round = [](A x) { return A(T(x)); };
      if (scale_mode == Scale::kMulQ || scale_mode == Scale::kDivQ)
        for (A& x : qa) x = round(scale_mode == Scale::kMulQ ? x * s : x / s);
      std::fill(sc.begin(), sc.end(), A(0));
      matmul_accumulate<A>(M, N, K, qa.data(), K, ka.data(), N, sc.data(), N);
      for (int64_t r = 0; r < M; ++r) {
        A* row = sc.data() + r * N;
        for (int64_t c = 0; c < N; ++c) {
          A x = round(row[c]);
          if (scale_mode == Scale::kMulScores) x = round(x * s);
          if (scale_mode == Scale::kDivScores) x = round(x / s);
          if (mp) {
            const int64_t mo =
                off[3] * mask_rows * mask_cols + (mask_rows == 1 ? 0 : r) * mask_cols + (mask_cols == 1 ? 0 : c);
            x = round(x + A(mp[mo]));
          }
          row[c] = x;
        }
        // Softmax in double, as the Softmax reference does.
        double mx = double(row[0]);
        for (int64_t c = 1; c < N; ++c) mx = std::max(mx, double(row[c]));
        double sum = 0;
        for (int64_t c = 0; c < N; ++c) sum += std::exp(double(row[c]) - mx);
        for (int64_t c = 0; c < N; ++c) row[c] = round(A(std::exp(double(row[c]) - mx) / sum));
      }
      std::fill(out.begin(), out.end(), A(0));
      matmul_accumulate<A>(M, D, N, sc.data(), N, va.data(), D, out.data(), D);
      T* py = ty.data<T>() + i * M * D;
      for (int64_t j = 0; j < M * D; ++j) py[j] = T(out[size_t(j)]);
    });
  });
  if (y_heads_inner) {
    const Tensor y = swapped_copy(ty);
    std::memcpy(stored_y.raw(), y.raw(), y.byte_size());
  }
}

double Attention::flops(const Node& node) const {
  const auto& q = node.inputs[0]->type.shape;
  const auto& y = node.outputs[0]->type.shape;
  const auto& kt = node.inputs[1]->type.shape;
  if (!q.is_static() || !y.is_static() || !kt.is_static()) return 0;
  const double K = double(q.dims().back().value()), N = double(kt.dims().back().value());
  const double rows =
      double(element_count(y.to_dims())) / double(y.dims().back().value() ? y.dims().back().value() : 1);
  return 2.0 * rows * N * K + 2.0 * double(element_count(y.to_dims())) * N;
}

std::unique_ptr<Op> make_op_Attention() { return std::make_unique<Attention>(); }

// Made by graph passes only: no ONNX mapping.
void register_op_Attention(OpRegistry&) {}

}  // namespace celer
