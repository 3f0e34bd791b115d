// MatMulNBits: see mat_mul_n_bits.hpp. The reference kernel dequantizes all of B, then multiplies in float.
#include "ops/mat_mul_n_bits.hpp"

#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

bool valid_bits(int64_t b) { return b == 2 || b == 4 || b == 8; }
bool valid_block(int64_t b) { return b >= 16 && (b & (b - 1)) == 0; }

std::vector<float> as_floats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.size()));
  dispatch_float(t.type(), [&]<typename T>() {
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(t.data<T>()[i]);
  });
  return v;
}

// Code i of a row of codes packed `bits` at a time, low bits first.
inline uint32_t code_at(const uint8_t* p, int64_t i, int64_t bits) {
  const int64_t bit = i * bits;
  return (uint32_t(p[bit >> 3]) >> (bit & 7)) & ((1u << bits) - 1);
}

}  // namespace

NBitsWeights::NBitsWeights(const MatMulNBits& op, const Tensor& b, const Tensor& scales, const Tensor* zero_points)
    : K_(op.K), N_(op.N), bits_(op.bits), block_(op.block_size), kb_(op.k_blocks()), blob_(op.blob_bytes()) {
  CELER_CHECK(b.type() == ElementType::kU8 && b.dims() == Dims({N_, kb_, blob_}), kInvalidArgument,
              "input 'B' must be u8 [N, k_blocks, blob] = [", N_, ", ", kb_, ", ", blob_, "], got ",
              element_type_name(b.type()), dims_to_string(b.dims()));
  CELER_CHECK(is_float(scales.type()) && scales.size() == N_ * kb_, kInvalidArgument,
              "input 'scales' must hold N * k_blocks = ", N_ * kb_, " floats, got ", element_type_name(scales.type()),
              dims_to_string(scales.dims()));
  codes_ = b.data<uint8_t>();
  scales_ = as_floats(scales);
  for (size_t i = 0; i < scales_.size(); ++i)
    CELER_CHECK(std::isfinite(scales_[i]), kInvalidArgument, "input 'scales' has the value ", scales_[i], " at index ",
                i, ": a scale must be finite");
  zero_.assign(static_cast<size_t>(N_ * kb_), float(1 << (bits_ - 1)));
  if (!zero_points) return;
  if (zero_points->type() == ElementType::kU8) {
    const int64_t row_bytes = (kb_ * bits_ + 7) / 8;
    CELER_CHECK(zero_points->size() == N_ * row_bytes, kInvalidArgument, "input 'zero_points' (u8, packed ", bits_,
                " bits) must hold N * ceil(k_blocks * bits / 8) = ", N_ * row_bytes, " bytes, got ",
                zero_points->size());
    const uint8_t* z = zero_points->data<uint8_t>();
    for (int64_t n = 0; n < N_; ++n)
      for (int64_t j = 0; j < kb_; ++j) zero_[size_t(n * kb_ + j)] = float(code_at(z + n * row_bytes, j, bits_));
  } else {
    CELER_CHECK(is_float(zero_points->type()) && zero_points->size() == N_ * kb_, kInvalidArgument,
                "input 'zero_points' must be packed u8 codes or N * k_blocks = ", N_ * kb_, " floats, got ",
                element_type_name(zero_points->type()), dims_to_string(zero_points->dims()));
    zero_ = as_floats(*zero_points);
  }
}

void NBitsWeights::row(int64_t n, float* out) const {
  const uint8_t* r = codes_ + n * kb_ * blob_;
  for (int64_t j = 0; j < kb_; ++j) {
    const float s = scales_[size_t(n * kb_ + j)], z = zero_[size_t(n * kb_ + j)];
    const uint8_t* blk = r + j * blob_;
    const int64_t k0 = j * block_, len = std::min(block_, K_ - k0);
    if (bits_ == 8) {
      for (int64_t i = 0; i < len; ++i) out[k0 + i] = (float(blk[i]) - z) * s;
    } else if (bits_ == 4) {
      for (int64_t i = 0; i < len; ++i) out[k0 + i] = (float((blk[i >> 1] >> ((i & 1) * 4)) & 15) - z) * s;
    } else {
      for (int64_t i = 0; i < len; ++i) out[k0 + i] = (float(code_at(blk, i, bits_)) - z) * s;
    }
  }
}

void MatMulNBits::infer(InferContext& ctx) const {
  const ElementType e = ctx.input_elem(0);
  CELER_CHECK(is_float(e), kInvalidModel, "input 'A' must be a float tensor, got ", element_type_name(e));
  CELER_CHECK(ctx.input_elem(1) == ElementType::kU8, kInvalidModel, "input 'B' must be u8, got ",
              element_type_name(ctx.input_elem(1)));
  CELER_CHECK(is_float(ctx.input_elem(2)), kInvalidModel, "input 'scales' must be a float tensor, got ",
              element_type_name(ctx.input_elem(2)));
  CELER_CHECK(!ctx.has_input(4), kUnsupported, "input 'g_idx' (deprecated act-order indices) is not supported");
  if (ctx.has_input(5)) {
    CELER_CHECK(is_float(ctx.input_elem(5)), kInvalidModel, "input 'bias' must be a float tensor");
    const PartialShape& bs = ctx.input_shape(5);
    CELER_CHECK(!bs.is_static() || element_count(bs.to_dims()) == N, kShapeMismatch, "input 'bias' of shape ",
                bs.to_string(), " must hold N = ", N, " values");
  }
  const PartialShape& bs = ctx.input_shape(1);
  CELER_CHECK(!bs.is_static() || bs.to_dims() == Dims({N, k_blocks(), blob_bytes()}), kShapeMismatch,
              "input 'B' of shape ", bs.to_string(), " must be [N, k_blocks, blob] = [", N, ", ", k_blocks(), ", ",
              blob_bytes(), "]");
  const PartialShape& as = ctx.input_shape(0);
  if (!as.rank_known()) {
    ctx.set_output(0, e, PartialShape());
    return;
  }
  CELER_CHECK(as.rank() >= 1, kShapeMismatch, "input 'A' must not be a scalar");
  std::vector<Dim> dims = as.dims();
  CELER_CHECK(!dims.back().is_static() || dims.back().value() == K, kShapeMismatch, "input 'A' of shape ",
              as.to_string(), " must end with K = ", K);
  dims.back() = Dim(N);
  ctx.set_output(0, e, PartialShape(std::move(dims)));
}

void MatMulNBits::run(KernelContext& ctx) const {
  const Tensor& a = ctx.input(0);
  const NBitsWeights w(*this, ctx.input(1), ctx.input(2), ctx.has_input(3) ? &ctx.input(3) : nullptr);
  Tensor& y = ctx.output(0);
  const int64_t M = K > 0 ? a.size() / K : 0;
  std::vector<float> wt(static_cast<size_t>(N * K)), av(static_cast<size_t>(a.size())), bias;
  for (int64_t n = 0; n < N; ++n) w.row(n, wt.data() + n * K);
  dispatch_float(a.type(), [&]<typename T>() {
    for (size_t i = 0; i < av.size(); ++i) av[i] = float(a.data<T>()[i]);
  });
  if (ctx.has_input(5)) bias = as_floats(ctx.input(5));
  dispatch_float(y.type(), [&]<typename T>() {
    T* out = y.data<T>();
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        const float* ar = av.data() + m * K;
        const float* wr = wt.data() + n * K;
        double acc = bias.empty() ? 0.0 : bias[size_t(n)];
        for (int64_t k = 0; k < K; ++k) acc += double(ar[k]) * double(wr[k]);
        out[m * N + n] = T(float(acc));
      }
  });
}

double MatMulNBits::flops(const Node& node) const {
  const PartialShape& ys = node.outputs[0]->type.shape;
  if (!ys.is_static()) return 0;
  return 2.0 * double(element_count(ys.to_dims())) * double(K);
}

namespace {
void import_mat_mul_n_bits(OnnxNode& n) {
  auto op = std::make_unique<MatMulNBits>();
  op->K = n.attr_int("K");
  op->N = n.attr_int("N");
  op->bits = n.attr_int("bits", 4);
  op->block_size = n.attr_int("block_size");
  if (op->K <= 0 || op->N <= 0) n.fail("attributes 'K' = ", op->K, " and 'N' = ", op->N, " must be positive");
  if (!valid_bits(op->bits)) n.fail("attribute 'bits' = ", op->bits, " must be 2, 4 or 8");
  if (!valid_block(op->block_size))
    n.fail("attribute 'block_size' = ", op->block_size, " must be a power of two, at least 16");
  if (n.input(4)) n.unsupported("input 'g_idx' (deprecated act-order indices) is not supported");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_MatMulNBits() { return std::make_unique<MatMulNBits>(); }

void register_op_MatMulNBits(OpRegistry& r) { r.add_onnx("MatMulNBits", 1, 1, import_mat_mul_n_bits, "com.microsoft"); }

}  // namespace celer
