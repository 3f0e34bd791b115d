// Tile: repeats the input repeats[k] times along each axis k (input 'repeats', one value per input dim).
#include "onnx/onnx_node.hpp"
#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class Tile final : public OpBase<Tile, OpKind::kTile> {
 public:
  const char* type_name() const override { return "Tile"; }
  void visit_attrs(AttrVisitor&) override {}

  static std::vector<int64_t> read_repeats(const Tensor& t, int64_t rank) {
    CELER_CHECK(t.rank() == 1, kInvalidModel, "input 'repeats' must be 1-D, got rank ", t.rank());
    std::vector<int64_t> r = t.to_int_vector();
    CELER_CHECK(int64_t(r.size()) == rank, kInvalidModel, "input 'repeats' has ", r.size(),
                " values for an input of rank ", rank);
    for (int64_t v : r)
      CELER_CHECK(v >= 0, kInvalidModel, "input 'repeats' = ", dims_to_string(r), " has a negative value");
    return r;
  }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    const ElementType elem = ctx.input_elem(0);
    const Tensor* rep = ctx.input_value(1);
    if (!in.rank_known()) {
      const PartialShape& rs = ctx.input_shape(1);
      return ctx.set_output(
          0, elem, rs.rank() == 1 && rs[0].is_static() ? PartialShape::unknown_dims(rs[0].value()) : PartialShape());
    }
    if (!rep) return ctx.set_output(0, elem, PartialShape::unknown_dims(in.rank()));
    std::vector<int64_t> r = read_repeats(*rep, in.rank());
    std::vector<Dim> out;
    for (size_t k = 0; k < r.size(); ++k) {
      const Dim& d = in[k];
      if (d.is_static()) {
        out.push_back(Dim(layout::checked_mul(d.value(), r[k], "tiled dim")));
      } else {
        out.push_back(r[k] == 1 ? d : (r[k] == 0 ? Dim(0) : Dim()));
      }
    }
    ctx.set_output(0, elem, PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    std::vector<int64_t> r = read_repeats(ctx.input(1), in.rank());
    Dims out_dims(r.size());
    for (size_t k = 0; k < r.size(); ++k) out_dims[k] = layout::checked_mul(in.dims()[k], r[k], "tiled dim");
    Tensor& out = ctx.output(0, in.type(), out_dims);
    if (out.size() == 0) return;
    Dims strides = strides_of(in.dims());
    std::vector<std::vector<int64_t>> tables(out_dims.size());
    for (size_t k = 0; k < out_dims.size(); ++k)
      for (int64_t o = 0; o < out_dims[k]; ++o) tables[k].push_back((o % in.dims()[k]) * strides[k]);
    layout::gather_axes(in, out, tables);
  }
};

namespace {
void import_tile(OnnxNode& n) {
  if (n.opset() < 6) n.unsupported("Tile-1 (inputs 'tiles' and 'axis') is not supported; use opset 6 or newer");
  n.emit(std::make_unique<Tile>());
}
}  // namespace

std::unique_ptr<Op> make_op_Tile() { return std::make_unique<Tile>(); }

void register_op_Tile(OpRegistry& r) { r.add_onnx("Tile", 1, kMaxOpset, import_tile); }

}  // namespace celer
