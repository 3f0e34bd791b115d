// Pool: one canonical op for AveragePool, MaxPool (with optional indices), LpPool and their Global* forms.
#pragma once

#include "ops/conv.hpp"

namespace celer {

enum class PoolFn : uint8_t { kAverage, kMax, kLp };

class Pool final : public OpBase<Pool, OpKind::kPool> {
 public:
  PoolFn fn = PoolFn::kMax;
  bool global = false;  // the window is the whole spatial extent (GlobalAveragePool, ...)
  WindowAttrs window;   // kernel_shape is required unless global
  bool ceil_mode = false;
  bool count_include_pad = false;  // AveragePool: divide by the window size including padding
  int64_t storage_order = 0;       // MaxPool indices: 0 row major, 1 column major (over the spatial axes)
  float p = 2;                     // LpPool

  const char* type_name() const override;
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "fn", fn, PoolFn::kLp);
    v.on("global", global);
    visit_window(v, window);
    v.on("ceil_mode", ceil_mode);
    v.on("count_include_pad", count_include_pad);
    v.on("storage_order", storage_order);
    v.on("p", p);
  }
  void infer(InferContext& ctx) const override;
  void run(KernelContext& ctx) const override;
};

}  // namespace celer
