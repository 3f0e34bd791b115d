// INT8 rules (selector + action): quantized graphs become the canonical int8 ops QLinearConv / QLinearMatMul (with
// post-ops, i32 bias and an f32 or u8/i8 output), whose reference kernels define what the fused graph computes and
// whose CPU kernels run on oneDNN's int8 primitives. Standard QDQ models (from `celer quantize`, ONNX Runtime's
// quantizer or other tools) and the ONNX integer ops take the same path:
//   - DQ(x) -> Conv / MatMul / Gemm (constant weights, float or DQ of int8; post-ops already fused) becomes a
//     QLinearConv / QLinearMatMul with an f32 output (weights that load-time folding turned into f32 constants are
//     quantized again per output channel, symmetric: exact for weights that were int8 with scale max|w| / 127);
//   - an f32-output int8 op takes a following activation, Add/Mul (a quantized operand - the output of a DQ - is read
//     as int8 with its scale and zero point) and finally a Q (it then writes u8/i8);
//   - an int8 op whose output only goes through a DQ into an Add/Mul or activation gives its requantization up (f32
//     output) so that the residual block Conv -> Q -> DQ -> Add(DQ(r)) -> Relu -> Q becomes one node;
//   - MaxPool / Reshape / Flatten / Transpose / Squeeze / Unsqueeze between a DQ and a Q with equal parameters (and a
//     Concat of such DQs) run on the int8 tensors; Q(DQ(x)) with equal parameters is x;
//   - DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scale) (ONNX Runtime's dynamic quantization) and
//     ConvInteger / MatMulInteger followed by Cast -> Mul become f32-output int8 ops with runtime scales.
#include <cmath>
#include <limits>

#include "ops/cast.hpp"
#include "ops/clip.hpp"
#include "ops/conv.hpp"
#include "ops/conv_integer.hpp"
#include "ops/dequantize_linear.hpp"
#include "ops/gemm.hpp"
#include "ops/mat_mul.hpp"
#include "ops/mat_mul_integer.hpp"
#include "ops/pool.hpp"
#include "ops/q_linear_conv.hpp"
#include "ops/q_linear_mat_mul.hpp"
#include "ops/quant_util.hpp"
#include "ops/quantize_linear.hpp"
#include "passes/pass.hpp"

namespace celer::passes {

namespace {

// Per-tensor quantization parameters of a Q or DQ node (constant scalar scale, constant or omitted zero point).
struct QParams {
  float scale = 1.0f;
  int32_t zero = 0;
  ElementType type = ElementType::kU8;  // of the quantized tensor
  bool operator==(const QParams& o) const { return scale == o.scale && zero == o.zero && type == o.type; }
};

std::optional<QParams> per_tensor_params(const Node* n, ElementType qtype) {
  if (!n || n->num_explicit_inputs < 2 || !n->inputs[1] || !n->inputs[1]->constant) return std::nullopt;
  const Tensor& s = *n->inputs[1]->constant;
  if (s.size() != 1 || s.type() != ElementType::kF32) return std::nullopt;
  QParams p;
  p.scale = s.data<float>()[0];
  if (!std::isfinite(p.scale) || p.scale <= 0.0f) return std::nullopt;
  p.type = qtype;
  if (n->num_explicit_inputs > 2 && n->inputs[2]) {
    const Value* z = n->inputs[2];
    if (!z->constant || z->constant->size() != 1 || z->constant->type() != qtype) return std::nullopt;
    p.zero = int32_t(z->constant->value_as_int(0));
  }
  return p;
}

// The DQ node producing `v` from an 8-bit tensor with per-tensor parameters.
Node* dq_producer(const Rewriter& rw, const Value* v, QParams* params = nullptr) {
  Node* d = rw.producer(v);
  if (!op_as<DequantizeLinear>(d) || !d->inputs[0] || !quant::is_q8(d->inputs[0]->type.elem) || !is_f32(v))
    return nullptr;
  std::optional<QParams> p = per_tensor_params(d, d->inputs[0]->type.elem);
  if (!p) return nullptr;
  if (params) *params = *p;
  return d;
}

// A Q node reading `v` (f32) with per-tensor parameters.
std::optional<QParams> q_params(const Node* q) {
  if (!op_as<QuantizeLinear>(q) || q->outputs.empty() || !q->outputs[0]) return std::nullopt;
  return per_tensor_params(q, q->outputs[0]->type.elem);
}

Tensor scalar_f32(float v) {
  Tensor t(ElementType::kF32, {});
  t.data<float>()[0] = v;
  return t;
}

Tensor scalar_q(ElementType type, int32_t v) {
  Tensor t(type, {});
  if (type == ElementType::kU8)
    t.data<uint8_t>()[0] = uint8_t(v);
  else
    t.data<int8_t>()[0] = int8_t(v);
  return t;
}

// Constant weights as int8 with per-channel scales: from DQ(constant i8, constant scale [C] or scalar, zero points 0)
// exactly, or from an f32 constant quantized symmetrically (scale max|w| / 127 per channel). `rows` x `cols` is the
// weight viewed as a matrix and `per_row` tells whether the channels are its rows (Conv [M, ...], transposed Gemm B)
// or its columns (MatMul / Gemm B [K, N]).
struct QWeights {
  Tensor q;                   // i8, the weight's shape
  std::vector<float> scales;  // one per channel
};

std::optional<QWeights> quantized_weights(const Rewriter& rw, const Value* w, int64_t rows, int64_t cols,
                                          bool per_row) {
  const int64_t channels = per_row ? rows : cols;
  auto channel_of = [&](int64_t i) { return per_row ? i / cols : i % cols; };
  QWeights r;
  if (Node* d = rw.producer(w); op_as<DequantizeLinear>(d)) {
    const Value* q = d->inputs[0];
    if (!q || !q->constant || q->constant->type() != ElementType::kI8 || !d->inputs[1] || !d->inputs[1]->constant)
      return std::nullopt;
    const Tensor& s = *d->inputs[1]->constant;
    if (s.type() != ElementType::kF32 || (s.size() != 1 && s.size() != channels)) return std::nullopt;
    if (s.size() != 1) {  // the per-axis scale must run along the channels
      const int64_t axis = normalize_axis(op_as<DequantizeLinear>(d)->axis, q->constant->rank());
      if (axis != (per_row ? 0 : q->constant->rank() - 1)) return std::nullopt;
    }
    if (d->num_explicit_inputs > 2 && d->inputs[2]) {
      const Value* z = d->inputs[2];
      if (!z->constant) return std::nullopt;
      for (int64_t i = 0; i < z->constant->size(); ++i)
        if (z->constant->value_as_int(i) != 0) return std::nullopt;
    }
    r.q = *q->constant;
    r.scales.resize(size_t(channels));
    for (int64_t c = 0; c < channels; ++c) r.scales[size_t(c)] = s.data<float>()[s.size() == 1 ? 0 : c];
    for (float v : r.scales)
      if (!std::isfinite(v) || v <= 0.0f) return std::nullopt;
    return r;
  }
  if (!w->constant || w->constant->type() != ElementType::kF32 || w->constant->size() != rows * cols)
    return std::nullopt;
  const float* f = w->constant->data<float>();
  std::vector<float> amax(size_t(channels), 0.0f);
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (!std::isfinite(f[i])) return std::nullopt;
    float& m = amax[size_t(channel_of(i))];
    m = std::max(m, std::fabs(f[i]));
  }
  r.scales.resize(size_t(channels));
  for (int64_t c = 0; c < channels; ++c) r.scales[size_t(c)] = amax[size_t(c)] > 0 ? amax[size_t(c)] / 127.0f : 1.0f;
  r.q = Tensor(ElementType::kI8, w->constant->dims());
  int8_t* qp = r.q.data<int8_t>();
  for (int64_t i = 0; i < rows * cols; ++i)
    qp[i] = quant::saturate_round<int8_t>(f[i] / r.scales[size_t(channel_of(i))], 0);
  return r;
}

// A constant f32 bias of `channels` values (f32 constant or DQ of a constant), as i32 in units of x_scale * w_scale.
std::optional<Tensor> quantized_bias(const Rewriter& rw, const Value* b, int64_t channels, float x_scale,
                                     const std::vector<float>& w_scales) {
  std::vector<float> v;
  if (b->constant && b->constant->type() == ElementType::kF32) {
    v = quant::float_values(*b->constant, "bias");
  } else if (Node* d = rw.producer(b); op_as<DequantizeLinear>(d) && d->inputs[0]->constant && d->inputs[1]->constant) {
    const Tensor& q = *d->inputs[0]->constant;
    const Tensor& s = *d->inputs[1]->constant;
    const Tensor* z = d->num_explicit_inputs > 2 && d->inputs[2] ? d->inputs[2]->constant.get() : nullptr;
    if ((d->num_explicit_inputs > 2 && d->inputs[2] && !z) || s.type() != ElementType::kF32 || q.rank() != 1 ||
        (s.size() != 1 && s.size() != q.size()))
      return std::nullopt;
    for (int64_t i = 0; i < q.size(); ++i)
      v.push_back(float(q.value_as_double(i) - (z ? z->value_as_double(z->size() == 1 ? 0 : i) : 0.0)) *
                  s.data<float>()[s.size() == 1 ? 0 : i]);
  } else {
    return std::nullopt;
  }
  if (int64_t(v.size()) != channels) return std::nullopt;
  Tensor t(ElementType::kI32, {channels});
  for (int64_t c = 0; c < channels; ++c) {
    const double q = std::nearbyint(double(v[size_t(c)]) / (double(x_scale) * double(w_scales[size_t(c)])));
    if (!std::isfinite(q) || std::fabs(q) > 2e9) return std::nullopt;
    t.data<int32_t>()[c] = int32_t(q);
  }
  return t;
}

Tensor f32_vector(const std::vector<float>& v) {
  Tensor t(ElementType::kF32, {int64_t(v.size())});
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

// Shifts the operand indices of binary post-ops (moved from `from` on the float op to 9 on the int8 op).
PostOps moved_post_ops(const PostOps& ops, size_t from) {
  PostOps r = ops;
  for (PostOp& p : r)
    if (p.kind != PostOp::Kind::kUnary) p.input = p.input - from + 9;
  return r;
}

// The new explicit inputs of an int8 op: x, its scale and zero point (from the DQ), weights, their scales, zero points,
// no y parameters (f32 output), the bias, then the float op's post-op operands.
std::vector<Value*> int8_inputs(Rewriter& rw, const Node& n, Node* dqx, const QParams& px, QWeights& w, Value* bias,
                                size_t first_operand) {
  const std::string& base = n.name;
  Value* xzp = dqx->num_explicit_inputs > 2 && dqx->inputs[2]
                   ? dqx->inputs[2]
                   : rw.add_constant(base + "/x_zero_point", scalar_q(px.type, px.zero));
  Tensor wz(ElementType::kI8, {int64_t(w.scales.size())});
  std::fill(wz.data<int8_t>(), wz.data<int8_t>() + wz.size(), int8_t(0));
  std::vector<Value*> in{dqx->inputs[0],
                         dqx->inputs[1],
                         xzp,
                         rw.add_constant(base + "/w_int8", std::move(w.q)),
                         rw.add_constant(base + "/w_scale", f32_vector(w.scales)),
                         rw.add_constant(base + "/w_zero_point", std::move(wz)),
                         nullptr,
                         nullptr,
                         bias};
  for (size_t i = first_operand; i < n.num_explicit_inputs; ++i) in.push_back(n.inputs[i]);
  return in;
}

void replace_op(Node& n, std::unique_ptr<Op> op, std::vector<Value*> inputs) {
  n.op = std::move(op);
  n.inputs = std::move(inputs);
  n.num_explicit_inputs = n.inputs.size();
}

// DQ(x) -> Conv (constant weights) => QLinearConv with an f32 output.
bool quantize_conv(Rewriter& rw, Node& n) {
  Conv* conv = op_as<Conv>(n);
  if (!conv || n.num_explicit_inputs < 2 || !is_f32(n.outputs[0])) return false;
  QParams px;
  Node* dqx = dq_producer(rw, n.inputs[0], &px);
  if (!dqx || !n.inputs[1]) return false;
  const PartialShape& ws = n.inputs[1]->type.shape;
  if (!ws.is_static() || ws.rank() < 3) return false;
  const Dims wd = ws.to_dims();
  const int64_t M = wd[0], per = element_count(wd) / std::max<int64_t>(M, 1);
  std::optional<QWeights> w = quantized_weights(rw, n.inputs[1], M, per, true);
  if (!w) return false;
  Value* bias = nullptr;
  if (n.num_explicit_inputs > 2 && n.inputs[2]) {
    std::optional<Tensor> b = quantized_bias(rw, n.inputs[2], M, px.scale, w->scales);
    if (!b) return false;
    bias = rw.add_constant(n.name + "/bias_int32", std::move(*b));
  }
  auto q = std::make_unique<QLinearConv>();
  q->window = conv->window;
  q->group = conv->group;
  q->post_ops = moved_post_ops(conv->post_ops, 3);
  q->float_output = true;
  replace_op(n, std::move(q), int8_inputs(rw, n, dqx, px, *w, bias, 3));
  return true;
}

// DQ(a) -> MatMul (constant 2-D B) or Gemm (constant B, no transposed A, alpha = beta = 1, C a constant row) =>
// QLinearMatMul with an f32 output.
bool quantize_matmul(Rewriter& rw, Node& n) {
  MatMul* mm = op_as<MatMul>(n);
  Gemm* gemm = op_as<Gemm>(n);
  if ((!mm && !gemm) || n.num_explicit_inputs < 2 || !n.inputs[1] || !is_f32(n.outputs[0])) return false;
  QParams pa;
  Node* dqa = dq_producer(rw, n.inputs[0], &pa);
  if (!dqa) return false;
  const PartialShape& bs = n.inputs[1]->type.shape;
  if (!bs.is_static() || bs.rank() != 2) return false;
  const PartialShape& as = n.inputs[0]->type.shape;
  if (!as.rank_known() || as.rank() < 2 || (gemm && (gemm->trans_a || gemm->alpha != 1.0f || as.rank() != 2)))
    return false;
  const Dims bd = bs.to_dims();
  const bool transposed = gemm && gemm->trans_b;  // B is [N, K]
  const int64_t N = transposed ? bd[0] : bd[1];
  std::optional<QWeights> w = quantized_weights(rw, n.inputs[1], bd[0], bd[1], transposed);
  if (!w) return false;
  Value* bias = nullptr;
  if (gemm && n.num_explicit_inputs > 2 && n.inputs[2]) {
    const PartialShape& cs = n.inputs[2]->type.shape;
    const bool row = cs.is_static() && (cs.rank() == 1 || (cs.rank() == 2 && cs[0].value() == 1)) &&
                     cs[size_t(cs.rank() - 1)].value() == N;
    if (!row || gemm->beta != 1.0f) return false;
    std::optional<Tensor> b = quantized_bias(rw, n.inputs[2], N, pa.scale, w->scales);
    if (!b) return false;
    bias = rw.add_constant(n.name + "/bias_int32", std::move(*b));
  }
  if (transposed) {  // B as [K, N]
    const int64_t K = bd[1];
    Tensor t(ElementType::kI8, {K, N});
    const int8_t* s = w->q.data<int8_t>();
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) t.data<int8_t>()[k * N + j] = s[j * K + k];
    w->q = std::move(t);
  }
  auto q = std::make_unique<QLinearMatMul>();
  q->post_ops = moved_post_ops(mm ? mm->post_ops : gemm->post_ops, mm ? 2 : 3);
  q->float_output = true;
  replace_op(n, std::move(q), int8_inputs(rw, n, dqa, pa, *w, bias, mm ? 2 : 3));
  return true;
}

// The post-ops and float_output flag of an int8 op.
struct Int8Head {
  PostOps* post_ops = nullptr;
  bool* float_output = nullptr;
};
Int8Head int8_head(Node& n) {
  if (QLinearConv* c = op_as<QLinearConv>(n)) return {&c->post_ops, &c->float_output};
  if (QLinearMatMul* m = op_as<QLinearMatMul>(n)) return {&m->post_ops, &m->float_output};
  return {};
}

// An f32-output int8 op -> Q => the op writes the quantized tensor.
bool fuse_int8_quantize(Rewriter& rw, Node& n) {
  Int8Head h = int8_head(n);
  if (!h.post_ops || !*h.float_output) return false;
  Node* q = rw.sole_reader(n.outputs[0]);
  std::optional<QParams> p = q_params(q);
  if (!p || q->inputs[0] != n.outputs[0]) return false;
  n.inputs[6] = q->inputs[1];
  n.inputs[7] = q->num_explicit_inputs > 2 && q->inputs[2]
                    ? q->inputs[2]
                    : rw.add_constant(n.name + "/y_zero_point", scalar_q(p->type, p->zero));
  *h.float_output = false;
  rw.take_output(&n, q);
  return true;
}

// The post-op an activation node computes, among those the int8 kernels run fused.
std::optional<PostOp> activation_post_op(const Node* a) {
  std::optional<PostOp> p = activation_of(a);
  if (!p) return std::nullopt;
  switch (p->fn) {
    case UnaryFn::kRelu:
    case UnaryFn::kLeakyRelu:
    case UnaryFn::kSigmoid:
    case UnaryFn::kTanh:
    case UnaryFn::kHardSigmoid:
    case UnaryFn::kHardSwish:
    case UnaryFn::kElu:
    case UnaryFn::kGelu:
    case UnaryFn::kSilu:
    case UnaryFn::kClip:
      return p;
    default:
      return std::nullopt;
  }
}

// An f32-output int8 op -> activation => post-op.
bool fuse_int8_activation(Rewriter& rw, Node& n) {
  Int8Head h = int8_head(n);
  if (!h.post_ops || !*h.float_output) return false;
  Node* a = rw.sole_reader(n.outputs[0]);
  if (!a || a->inputs[0] != n.outputs[0]) return false;
  std::optional<PostOp> p = activation_post_op(a);
  if (!p) return false;
  h.post_ops->push_back(*p);
  rw.take_output(&n, a);
  return true;
}

// An f32-output int8 op -> Add/Mul with an operand that broadcasts onto it => post-op; an operand made by a DQ is read
// as int8 (the residual branch of a quantized network).
bool fuse_int8_binary(Rewriter& rw, Node& n) {
  Int8Head h = int8_head(n);
  if (!h.post_ops || !*h.float_output) return false;
  Value* y = n.outputs[0];
  Node* b = rw.sole_reader(y);
  const bool add = binary_of(b, BinaryFn::kAdd) != nullptr;
  if (!add && !binary_of(b, BinaryFn::kMul)) return false;
  Value* other = other_input(b, y);
  if (!other || !is_f32(other) || !broadcasts_onto(other->type.shape, y->type.shape) ||
      !same_shape(b->outputs[0]->type.shape, y->type.shape))
    return false;
  PostOp p = PostOp::binary(add ? PostOp::Kind::kAdd : PostOp::Kind::kMul, 0);
  QParams po;
  if (Node* d = dq_producer(rw, other, &po)) {
    other = d->inputs[0];
    p.alpha = po.scale;
    p.beta = float(po.zero);
  }
  p.input = rw.add_operand(&n, other, 9);
  h.post_ops->push_back(p);
  rw.take_output(&n, b);
  return true;
}

// An int8 op -> DQ (its only reader, same parameters) -> an Add/Mul or activation => the op gives its requantization
// up for a Clip to the quantized range (its saturation stays, its rounding goes) and the DQ goes (the Add/activation
// then fuse as post-ops, and the next Q as its output).
bool drop_int8_requantize(Rewriter& rw, Node& n) {
  Int8Head h = int8_head(n);
  if (!h.post_ops || *h.float_output || !n.inputs[6]) return false;
  Node* d = rw.sole_reader(n.outputs[0]);
  QParams pd;
  if (!d || dq_producer(rw, d->outputs[0], &pd) != d) return false;
  const Tensor* ys = n.inputs[6]->constant.get();
  const Tensor* yz = n.inputs[7] ? n.inputs[7]->constant.get() : nullptr;
  if (!ys || ys->size() != 1 || ys->value_as_double(0) != double(pd.scale) || !yz || yz->size() != 1 ||
      yz->value_as_int(0) != pd.zero)
    return false;
  Node* next = rw.sole_reader(d->outputs[0]);
  if (!next) return false;
  const bool binary = binary_of(next, BinaryFn::kAdd) || binary_of(next, BinaryFn::kMul);
  if (!binary && !(activation_post_op(next) && next->inputs[0] == d->outputs[0])) return false;
  if (binary) {  // only when the Add/Mul can be fused (see fuse_int8_binary)
    Value* other = other_input(next, d->outputs[0]);
    if (!other || !is_f32(other) || !broadcasts_onto(other->type.shape, d->outputs[0]->type.shape) ||
        !same_shape(next->outputs[0]->type.shape, d->outputs[0]->type.shape))
      return false;
  }
  // The value keeps the saturation of the dropped requantization (only its rounding goes).
  const ElementType qt = n.outputs[0]->type.elem;
  const float qmin = qt == ElementType::kU8 ? 0.0f : -128.0f, qmax = qt == ElementType::kU8 ? 255.0f : 127.0f;
  h.post_ops->push_back(
      PostOp::unary(UnaryFn::kClip, (qmin - float(pd.zero)) * pd.scale, (qmax - float(pd.zero)) * pd.scale));
  n.inputs[6] = n.inputs[7] = nullptr;
  *h.float_output = true;
  rw.take_output(&n, d);
  return true;
}

// DQ(x) -> MaxPool / Reshape / Flatten / Transpose / Squeeze / Unsqueeze -> Q with equal parameters => the op on x;
// likewise a Concat of DQs whose parameters all equal the Q's.
bool int8_data_movement(Rewriter& rw, Node& n) {
  const OpKind k = n.op->kind();
  const bool movement = k == OpKind::kReshape || k == OpKind::kFlatten || k == OpKind::kTranspose ||
                        k == OpKind::kSqueeze || k == OpKind::kUnsqueeze;
  const Pool* pool = op_as<Pool>(n);
  const bool concat = k == OpKind::kConcat;  // every input from a DQ with the same parameters
  if (!movement && !concat && !(pool && pool->fn == PoolFn::kMax && n.outputs.size() == 1)) return false;
  if (n.outputs.empty() || !n.outputs[0] || n.num_explicit_inputs == 0) return false;
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i] && !rw.unused(n.outputs[i])) return false;
  Node* q = rw.sole_reader(n.outputs[0]);
  std::optional<QParams> pq = q_params(q);
  if (!pq || q->inputs[0] != n.outputs[0]) return false;
  const size_t quantized = concat ? n.num_explicit_inputs : 1;
  std::vector<Node*> dqs;
  for (size_t i = 0; i < quantized; ++i) {
    QParams px;
    Node* d = dq_producer(rw, n.inputs[i], &px);
    if (!d || !(*pq == px)) return false;
    dqs.push_back(d);
  }
  for (size_t i = 0; i < quantized; ++i) n.inputs[i] = dqs[i]->inputs[0];
  rw.take_output(&n, q);
  return true;
}

// Q(DQ(x)) with equal parameters => x.
bool drop_dq_q_pair(Rewriter& rw, Node& n) {
  std::optional<QParams> pq = q_params(&n);
  if (!pq) return false;
  QParams pd;
  Node* d = dq_producer(rw, n.inputs[0], &pd);
  if (!d || !(pd == *pq)) return false;
  return rw.replace_uses(n.outputs[0], d->inputs[0]);
}

// A constant f32 that broadcasts along one axis of the output (`axis` of `rank`; all other dims 1) with 1 or `channels`
// values, as a scalar or a 1-D [channels] tensor.
std::optional<Tensor> channel_constant(const Value* v, int64_t rank, int64_t axis, int64_t channels) {
  if (!v || !v->constant || v->constant->type() != ElementType::kF32) return std::nullopt;
  const Tensor& t = *v->constant;
  if (t.size() == 1) return scalar_f32(t.data<float>()[0]);
  if (t.rank() > rank) return std::nullopt;
  for (int64_t i = 0; i < t.rank(); ++i)
    if (t.dim(i) != 1 && !(i + rank - t.rank() == axis && t.dim(i) == channels)) return std::nullopt;
  if (t.size() != channels) return std::nullopt;
  Tensor r(ElementType::kF32, {channels});
  std::copy(t.data<float>(), t.data<float>() + channels, r.data<float>());
  return r;
}

bool scalar_f32_value(const Value* v) {
  return is_f32(v) && v->type.shape.is_static() && element_count(v->type.shape.to_dims()) == 1 &&
         v->type.shape.rank() <= 1;
}

// ConvInteger / MatMulInteger (constant weights) -> Cast(f32) -> Mul(S) => an f32-output QLinearConv / QLinearMatMul.
// S is Mul(x_scale, w_scale) with a scalar x_scale (a constant, or DynamicQuantizeLinear's runtime scale: ONNX
// Runtime's dynamic quantization) and a constant w_scale per tensor or per output channel; or a constant.
bool integer_op_to_qlinear(Rewriter& rw, Node& n) {
  ConvInteger* ci = op_as<ConvInteger>(n);
  MatMulInteger* mi = op_as<MatMulInteger>(n);
  if ((!ci && !mi) || n.num_explicit_inputs < 2 || !n.inputs[0] || !n.inputs[1] || !n.inputs[1]->constant) return false;
  const Tensor& w = *n.inputs[1]->constant;
  if ((mi && w.rank() != 2) || (ci && w.rank() < 3)) return false;
  const PartialShape& ys = n.outputs[0]->type.shape;
  if (!ys.rank_known()) return false;
  const int64_t channels = mi ? w.dim(1) : w.dim(0), rank = ys.rank(), axis = mi ? rank - 1 : 1;
  Node* cast = rw.sole_reader(n.outputs[0]);
  const Cast* c = op_as<Cast>(cast);
  if (!c || c->like || c->to != ElementType::kF32) return false;
  Node* mul = rw.sole_reader(cast->outputs[0]);
  if (!binary_of(mul, BinaryFn::kMul)) return false;
  Value* s = other_input(mul, cast->outputs[0]);
  if (!s || !is_f32(s) || !same_shape(mul->outputs[0]->type.shape, ys)) return false;
  Value* x_scale = nullptr;
  std::optional<Tensor> w_scale;
  if (Node* sm = rw.producer(s); binary_of(sm, BinaryFn::kMul)) {
    for (int k = 0; k < 2 && !x_scale; ++k) {
      Value* a = sm->inputs[size_t(k)];
      Value* b = sm->inputs[size_t(1 - k)];
      if (scalar_f32_value(a) && (w_scale = channel_constant(b, rank, axis, channels))) x_scale = a;
    }
  } else if ((w_scale = channel_constant(s, rank, axis, channels))) {
    x_scale = rw.add_constant(n.name + "/x_scale", scalar_f32(1.0f));
  }
  if (!x_scale || !w_scale) return false;
  const ElementType xt = n.inputs[0]->type.elem;
  Value* x_zero = n.num_explicit_inputs > 2 && n.inputs[2] ? n.inputs[2]
                                                           : rw.add_constant(n.name + "/x_zero_point", scalar_q(xt, 0));
  Value* w_zero = n.num_explicit_inputs > 3 && n.inputs[3]
                      ? n.inputs[3]
                      : rw.add_constant(n.name + "/w_zero_point", scalar_q(w.type(), 0));
  std::vector<Value*> in{
      n.inputs[0], x_scale, x_zero, n.inputs[1], rw.add_constant(n.name + "/w_scale", std::move(*w_scale)),
      w_zero,      nullptr, nullptr};
  if (ci) {
    auto q = std::make_unique<QLinearConv>();
    q->window = ci->window;
    q->group = ci->group;
    q->float_output = true;
    replace_op(n, std::move(q), std::move(in));
  } else {
    auto q = std::make_unique<QLinearMatMul>();
    q->float_output = true;
    replace_op(n, std::move(q), std::move(in));
  }
  rw.erase(cast);
  rw.take_output(&n, mul);
  return true;
}

}  // namespace

void add_quantized_rules(std::vector<Rule>& rules) {
  rules.push_back({"integer_op_to_qlinear", integer_op_to_qlinear});
  rules.push_back({"quantize_conv", quantize_conv});
  rules.push_back({"quantize_matmul", quantize_matmul});
  rules.push_back({"fuse_int8_activation", fuse_int8_activation});
  rules.push_back({"fuse_int8_binary", fuse_int8_binary});
  rules.push_back({"fuse_int8_quantize", fuse_int8_quantize});
  rules.push_back({"drop_int8_requantize", drop_int8_requantize});
  rules.push_back({"int8_data_movement", int8_data_movement});
  rules.push_back({"drop_dq_q_pair", drop_dq_q_pair});
}

}  // namespace celer::passes
