#include "devices/cpu/onednn_int8.hpp"

#include <cmath>
#include <cstdlib>

#include "ops/quant_util.hpp"

namespace celer::onednn::int8 {

memory::data_type dnnl_type(ElementType e) {
  switch (e) {
    case ElementType::kU8:
      return memory::data_type::u8;
    case ElementType::kI8:
      return memory::data_type::s8;
    case ElementType::kI32:
      return memory::data_type::s32;
    case ElementType::kF32:
      return memory::data_type::f32;
    default:
      break;
  }
  CELER_THROW(kUnsupported, "element type ", element_type_name(e), " in a oneDNN int8 kernel");
}

namespace {
std::optional<float> const_scale(const Value* v) {
  if (!v || !v->constant || v->constant->size() != 1 || v->constant->type() != ElementType::kF32) return std::nullopt;
  const float s = v->constant->data<float>()[0];
  if (!std::isfinite(s) || s <= 0.0f) return std::nullopt;
  return s;
}
std::optional<int32_t> const_zero(const Value* v) {
  if (!v) return 0;
  if (!v->constant || v->constant->size() != 1 || !quant::is_q8(v->constant->type())) return std::nullopt;
  return int32_t(v->constant->value_as_int(0));
}
const Value* input_or_null(const Node& n, size_t i) { return i < n.num_explicit_inputs ? n.inputs[i] : nullptr; }
}  // namespace

std::optional<Scalars> read_scalars(const Node& node, bool float_output) {
  Scalars s;
  std::optional<float> xs = const_scale(input_or_null(node, 1));
  std::optional<int32_t> xz = const_zero(input_or_null(node, 2));
  if (!xs || !xz) return std::nullopt;
  s.x_scale = *xs;
  s.x_zero = *xz;
  if (!float_output) {
    std::optional<float> ys = const_scale(input_or_null(node, 6));
    std::optional<int32_t> yz = const_zero(input_or_null(node, 7));
    if (!ys || !yz) return std::nullopt;
    s.y_scale = *ys;
    s.y_zero = *yz;
  }
  return s;
}

std::optional<std::vector<float>> channel_scales(const Value* v, int64_t channels) {
  if (!v || !v->constant || v->constant->type() != ElementType::kF32) return std::nullopt;
  const Tensor& t = *v->constant;
  if (t.size() != 1 && !(t.rank() == 1 && t.size() == channels)) return std::nullopt;
  std::vector<float> r(t.data<float>(), t.data<float>() + t.size());
  for (float f : r)
    if (!std::isfinite(f) || f <= 0.0f) return std::nullopt;
  return r;
}

std::optional<Tensor> s8_weights(const Node& node, size_t w, size_t zp, bool per_row) {
  const Value* wv = input_or_null(node, w);
  const Value* zv = input_or_null(node, zp);
  if (!wv || !wv->constant || (zv && !zv->constant)) return std::nullopt;
  const Tensor& t = *wv->constant;
  std::vector<int32_t> z = zv ? quant::int_values(*zv->constant, "weight zero point") : std::vector<int32_t>{0};
  const int64_t cols = t.rank() >= 1 ? t.dim(t.rank() - 1) : 1;
  const int64_t inner = per_row && t.rank() >= 1 && t.dim(0) > 0 ? t.size() / t.dim(0) : 1;
  bool all_zero = true;
  for (int32_t v : z) all_zero = all_zero && v == 0;
  if (t.type() == ElementType::kI8 && all_zero) return t;
  std::vector<int32_t> q = quant::int_values(t, "weights");
  Tensor r(ElementType::kI8, t.dims());
  for (int64_t i = 0; i < t.size(); ++i) {
    const size_t c = z.size() == 1 ? 0 : size_t(per_row ? i / inner : i % cols);
    if (c >= z.size()) return std::nullopt;
    const int32_t v = q[size_t(i)] - z[c];
    if (v < -128 || v > 127) return std::nullopt;
    r.data<int8_t>()[i] = int8_t(v);
  }
  return r;
}

bool weights_available(const Node& node, size_t i, const CompileOptions& options) {
  if (i < node.inputs.size() && node.inputs[i] && node.inputs[i]->constant) return true;
  return options.packed && options.packed->mode() == PackedWeights::Mode::kReplay && options.packed->has(node.name);
}

namespace {
using Alg = dnnl::algorithm;
bool commutes(const PostOp& p) {
  return p.kind == PostOp::Kind::kUnary &&
         (p.fn == UnaryFn::kRelu || p.fn == UnaryFn::kLeakyRelu || p.fn == UnaryFn::kClip);
}
}  // namespace

float start_unit(const PostOps& ops, const Node& node, const Scalars& sc, bool float_output) {
  // No rescaling before the first quantized Add, or none at all when everything commutes with a positive scale.
  for (const PostOp& p : ops) {
    if (commutes(p)) continue;
    if (p.kind == PostOp::Kind::kMul && node.inputs[p.input]->type.elem == ElementType::kF32) continue;
    if (p.kind == PostOp::Kind::kAdd && quant::is_q8(node.inputs[p.input]->type.elem)) return p.alpha;
    return 1.0f;
  }
  return float_output ? 1.0f : sc.y_scale;
}

bool map_post_ops(const PostOps& ops, const Node& node, const std::vector<Dims>& in_dims, const Scalars& sc,
                  bool float_output, const Dims& y, Tag dst_tag, Mapped& out) {
  const float target = float_output ? 1.0f : sc.y_scale;
  float u = start_unit(ops, node, sc, float_output);
  out.unit0 = u;
  dnnl::post_ops& po = out.ops;
  auto rescale = [&](float alpha, float beta) {
    if (alpha != 1.0f || beta != 0.0f) po.append_eltwise(1.0f, Alg::eltwise_linear, alpha, beta);
  };
  for (const PostOp& p : ops) {
    if (p.kind == PostOp::Kind::kUnary) {
      if (p.fn == UnaryFn::kRelu) {
        po.append_eltwise(1.0f, Alg::eltwise_relu, 0.0f, 0.0f);
      } else if (p.fn == UnaryFn::kLeakyRelu) {
        po.append_eltwise(1.0f, Alg::eltwise_relu, p.alpha, 0.0f);
      } else if (p.fn == UnaryFn::kClip) {
        po.append_eltwise(1.0f, Alg::eltwise_clip_v2, p.alpha / u, p.beta / u);
      } else {
        rescale(u, 0.0f);
        u = 1.0f;
        MappedPostOps m = onednn::map_post_ops({p}, 1, po, y, {}, {});
        if (m.count != 1) return false;
        po = m.ops;
      }
      continue;
    }
    const Value* v = node.inputs[p.input];
    if (p.input >= in_dims.size()) return false;
    const ElementType e = v->type.elem;
    const bool q8 = quant::is_q8(e);
    if (!q8 && e != ElementType::kF32) return false;
    Dims d = in_dims[p.input];
    if (d.size() > y.size()) return false;
    d.insert(d.begin(), y.size() - d.size(), 1);
    const Layout l = value_layout(v);
    BinaryOperand b;
    b.input = p.input;
    b.user = memory::desc(to_dims(d), dnnl_type(e), activation_tag(d.size(), l));
    if (d == y) {
      b.md = memory::desc(to_dims(d), dnnl_type(e), dst_tag);  // the destination's layout
    } else {
      if (l != Layout::kPlain) return false;
      b.md = b.user;
    }
    if (p.kind == PostOp::Kind::kAdd) {
      if (q8) {
        // In units of the operand's scale, - zero point + operand. The zero point goes in as a binary Add of a scalar:
        // oneDNN 2.6's int8 convolutions drop the beta of an eltwise_linear before a binary post-op (measured).
        rescale(u / p.alpha, 0.0f);
        u = p.alpha;
        if (p.beta != 0.0f) {
          BinaryOperand z;
          z.constant = true;
          z.value = -p.beta;
          z.md = memory::desc(memory::dims(y.size(), 1), memory::data_type::f32, plain_tag(y.size()));
          z.user = z.md;
          z.slot = po.len();
          po.append_binary(Alg::binary_add, z.md);
          out.binary.push_back(z);
        }
      } else {
        rescale(u, 0.0f);
        u = 1.0f;
      }
    } else if (q8) {  // Mul by a quantized operand: only with a zero zero point
      if (p.beta != 0.0f) return false;
      u *= p.alpha;
    }
    b.slot = po.len();
    po.append_binary(p.kind == PostOp::Kind::kAdd ? Alg::binary_add : Alg::binary_mul, b.md);
    out.binary.push_back(b);
  }
  rescale(u / target, 0.0f);
  return true;
}

std::vector<Dims> static_input_dims(const Node& node) {
  std::vector<Dims> d(node.num_explicit_inputs);
  for (size_t i = 0; i < d.size(); ++i)
    if (static_shape(node.inputs[i])) d[i] = node.inputs[i]->type.shape.to_dims();
  return d;
}

std::vector<Dims> input_dims(const KernelContext& ctx) {
  std::vector<Dims> d(ctx.num_inputs());
  for (size_t i = 0; i < d.size(); ++i)
    if (ctx.has_input(i)) d[i] = ctx.input(i).dims();
  return d;
}

namespace {
void* operand_scratch(size_t i, size_t bytes) {
  struct Bufs {
    std::vector<std::pair<void*, size_t>> b;
    ~Bufs() {
      for (auto& [p, n] : b) std::free(p);
    }
  };
  thread_local Bufs bufs;
  if (bufs.b.size() <= i) bufs.b.resize(i + 1, {nullptr, 0});
  auto& [p, n] = bufs.b[i];
  if (bytes > n) {
    std::free(p);
    n = (bytes + 4095) & ~size_t(4095);
    p = std::aligned_alloc(64, n);
    CELER_CHECK(p, kLimitExceeded, "out of memory allocating an operand buffer of ", bytes, " bytes");
  }
  return p;
}
}  // namespace

void add_operands(const std::vector<BinaryOperand>& ops, const KernelContext& ctx, ExecArgs& args) {
  for (size_t i = 0; i < ops.size(); ++i) {
    const BinaryOperand& b = ops[i];
    const int arg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(b.slot) | DNNL_ARG_SRC_1;
    if (b.constant) {
      args.add(arg, b.md, &b.value);
    } else if (b.md != b.user) {
      void* t = operand_scratch(i, b.md.get_size());
      reorder_data(b.user, ctx.input(b.input).raw(), b.md, t);
      args.add(arg, b.md, t);
    } else {
      args.add(arg, ctx.input(b.input), b.md);
    }
  }
}

}  // namespace celer::onednn::int8
