// Reorder: a CPU-internal op (no ONNX mapping) that converts an activation between the plain row-major layout and a
// layout oneDNN prefers: channels-last (nhwc), or channel-blocked (nCx16c / nCx8c: channels split into blocks of 16 or
// 8 that are stored innermost). The logical shape never changes; blocked layouts are only used when the channel count
// is a multiple of the block, so every layout of a tensor has exactly the size of the plain one. The CPU layout pass
// inserts Reorders at the boundaries of chains of layout-aware (oneDNN) nodes; every other kernel only ever sees plain
// tensors. With BF16 inference a Reorder may also convert the element type (f32 <-> bf16): `elem` is then the output's
// element type.
#pragma once

#include <cstdint>

#include "ops/op.hpp"

namespace celer {

enum class Layout : uint8_t { kPlain, kChannelsLast, kBlocked8, kBlocked16 };

// Channels per block of a blocked layout (1 otherwise) and a layout's name ("plain", "nhwc", "nCx8c", "nCx16c").
int64_t layout_block(Layout l);
const char* layout_name(Layout l);

class Reorder final : public OpBase<Reorder, OpKind::kReorder> {
 public:
  Reorder() = default;
  Reorder(Layout f, Layout t, ElementType e = ElementType::kUndefined) : from(f), to(t), elem(e) {}
  Layout from = Layout::kPlain;
  Layout to = Layout::kPlain;
  ElementType elem = ElementType::kUndefined;  // the output's element type; kUndefined: the input's

  const char* type_name() const override { return "Reorder"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "from", from, Layout::kBlocked16);
    visit_enum(v, "to", to, Layout::kBlocked16);
    visit_enum(v, "elem", elem, ElementType::kString);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
};

}  // namespace celer
