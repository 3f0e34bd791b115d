// Transpose (class shared with graph passes).
#pragma once

#include "ops/layout.hpp"
#include "ops/op.hpp"
#include "ops/util.hpp"

namespace celer {

class Transpose final : public OpBase<Transpose, OpKind::kTranspose> {
 public:
  std::vector<int64_t> perm;  // empty: reverse

  const char* type_name() const override { return "Transpose"; }
  void visit_attrs(AttrVisitor& v) override { v.on("perm", perm); }

  // The permutation for an input of rank `rank`, validated.
  std::vector<int64_t> perm_for(int64_t rank) const {
    if (perm.empty()) {
      std::vector<int64_t> p(static_cast<size_t>(rank));
      for (int64_t i = 0; i < rank; ++i) p[size_t(i)] = rank - 1 - i;
      return p;
    }
    CELER_CHECK(int64_t(perm.size()) == rank, kInvalidModel, "attribute 'perm' has ", perm.size(),
                " entries for an input of rank ", rank);
    std::vector<bool> seen(size_t(rank), false);
    for (int64_t a : perm) {
      CELER_CHECK(a >= 0 && a < rank, kInvalidModel, "attribute 'perm' = ", dims_to_string(perm), " has axis ", a,
                  ", out of range for rank ", rank);
      CELER_CHECK(!seen[size_t(a)], kInvalidModel, "attribute 'perm' = ", dims_to_string(perm), " repeats axis ", a);
      seen[size_t(a)] = true;
    }
    return perm;
  }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    if (!in.rank_known()) {
      if (!perm.empty()) perm_for(int64_t(perm.size()));
      return ctx.set_output(0, ctx.input_elem(0),
                            perm.empty() ? PartialShape() : PartialShape::unknown_dims(int64_t(perm.size())));
    }
    std::vector<int64_t> p = perm_for(in.rank());
    std::vector<Dim> out;
    for (int64_t a : p) out.push_back(in[size_t(a)]);
    ctx.set_output(0, ctx.input_elem(0), PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    std::vector<int64_t> p = perm_for(in.rank());
    Dims strides = strides_of(in.dims());
    std::vector<std::vector<int64_t>> tables(p.size());
    if (out.size() > 0)
      for (size_t k = 0; k < p.size(); ++k)
        for (int64_t o = 0; o < out.dim(int64_t(k)); ++o) tables[k].push_back(o * strides[size_t(p[k])]);
    layout::gather_axes(in, out, tables);
  }
};

}  // namespace celer
