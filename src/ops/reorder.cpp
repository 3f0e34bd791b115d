// Reorder: plain <-> channels-last or channel-blocked layouts of the same logical shape (see reorder.hpp). The
// reference kernel is a direct index mapping: plain (n, c, s) is at (n*C + c)*S + s, channels-last at (n*S + s)*C + c,
// blocked at ((n*C/b + c/b)*S + s)*b + c%b. A conversion between f32 and bf16 (`elem`) goes through float.
#include "ops/reorder.hpp"

#include <algorithm>

#include "ops/layout.hpp"
#include "ops/registry.hpp"

namespace celer {

int64_t layout_block(Layout l) {
  switch (l) {
    case Layout::kBlocked8:
      return 8;
    case Layout::kBlocked16:
      return 16;
    case Layout::kChannelsLast:
    case Layout::kPlain:
      break;
  }
  return 1;
}

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kBlocked8:
      return "nCx8c";
    case Layout::kBlocked16:
      return "nCx16c";
    case Layout::kChannelsLast:
      return "nhwc";
    case Layout::kPlain:
      break;
  }
  return "plain";
}

void Reorder::infer(InferContext& ctx) const {
  const PartialShape& s = ctx.input_shape(0);
  const int64_t b = std::max(layout_block(from), layout_block(to));
  if (s.rank_known()) {
    CELER_CHECK((from == Layout::kPlain && to == Layout::kPlain) || s.rank() >= 2, kShapeMismatch, "input of shape ",
                s.to_string(), " has no channel axis");
    if (b > 1 && s[1].is_static())
      CELER_CHECK(s[1].value() % b == 0, kShapeMismatch, "input of shape ", s.to_string(),
                  " has channels that are not a multiple of the ", layout_name(from == Layout::kPlain ? to : from),
                  " block (", b, ")");
  }
  ValueType t = ctx.input_type(0);
  if (elem != ElementType::kUndefined) {
    CELER_CHECK(elem == t.elem || ((elem == ElementType::kF32 || elem == ElementType::kBF16) &&
                                   (t.elem == ElementType::kF32 || t.elem == ElementType::kBF16)),
                kUnsupported, "Reorder from ", element_type_name(t.elem), " to ", element_type_name(elem),
                " (only f32 <-> bf16 conversions)");
    t.elem = elem;
  }
  ctx.set_output(0, t);
}

void Reorder::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  const bool convert = elem != ElementType::kUndefined && elem != x.type();
  if (from == to && !convert) {
    ctx.set_output(0, x);
    return;
  }
  Tensor& y = ctx.output(0);
  const int64_t N = x.dim(0), C = x.dim(1);
  const int64_t S = N * C > 0 ? x.size() / (N * C) : 0;
  auto offset = [&](Layout l, int64_t n, int64_t c, int64_t s) {
    if (l == Layout::kChannelsLast) return (n * S + s) * C + c;
    const int64_t b = layout_block(l);
    return ((n * (C / b) + c / b) * S + s) * b + c % b;
  };
  if (convert) {
    auto load = [&](int64_t i) {
      return x.type() == ElementType::kBF16 ? float(x.data<bfloat16>()[i]) : x.data<float>()[i];
    };
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t s = 0; s < S; ++s) {
          const float v = load(offset(from, n, c, s));
          const int64_t o = offset(to, n, c, s);
          if (y.type() == ElementType::kBF16)
            y.data<bfloat16>()[o] = bfloat16(v);
          else
            y.data<float>()[o] = v;
        }
    return;
  }
  layout::dispatch_storage(x.type(), [&]<typename T>() {
    const T* src = static_cast<const T*>(x.raw());
    T* dst = static_cast<T*>(y.raw());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t s = 0; s < S; ++s) dst[offset(to, n, c, s)] = src[offset(from, n, c, s)];
  });
}

std::unique_ptr<Op> make_op_Reorder() { return std::make_unique<Reorder>(); }

void register_op_Reorder(OpRegistry&) {}  // CPU-internal: inserted by the layout pass, never imported

}  // namespace celer
