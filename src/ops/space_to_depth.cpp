// SpaceToDepth: moves spatial blocks into channels: [N, C, H, W] -> [N, C*b*b, H/b, W/b], with
//   out[n, (i*b + j) * C + c, h, w] = in[n, c, h*b + i, w*b + j]   (the inverse of DepthToSpace in DCR mode).
#include <limits>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class SpaceToDepth final : public OpBase<SpaceToDepth, OpKind::kSpaceToDepth> {
 public:
  int64_t blocksize = 1;

  const char* type_name() const override { return "SpaceToDepth"; }
  void visit_attrs(AttrVisitor& v) override { v.on("blocksize", blocksize); }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    if (!in.rank_known()) {
      ctx.set_output(0, ctx.input_elem(0), PartialShape::unknown_dims(4));
      return;
    }
    CELER_CHECK(in.rank() == 4, kShapeMismatch, "input must have rank 4 [N, C, H, W], got ", in.to_string());
    auto shrunk = [&](const Dim& d, const char* what) {
      if (!d.is_static()) return Dim();
      CELER_CHECK(d.value() % blocksize == 0, kShapeMismatch, "the ", what, " dim of input ", in.to_string(),
                  " must be a multiple of attribute 'blocksize' = ", blocksize);
      return Dim(d.value() / blocksize);
    };
    Dim c;
    if (in[1].is_static()) {
      CELER_CHECK(in[1].value() <= std::numeric_limits<int64_t>::max() / (blocksize * blocksize), kLimitExceeded,
                  "input ", in.to_string(), " times blocksize * blocksize overflows");
      c = Dim(in[1].value() * blocksize * blocksize);
    }
    ctx.set_output(0, ctx.input_elem(0), PartialShape({in[0], c, shrunk(in[2], "height"), shrunk(in[3], "width")}));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    const int64_t b = blocksize, n = in.dim(0), c_in = in.dim(1), h = in.dim(2), w = in.dim(3);
    dispatch_all(in.type(), [&]<typename T>() {
      const T* src = in.data<T>();
      T* dst = out.data<T>();
      for (int64_t ni = 0; ni < n; ++ni)
        for (int64_t c = 0; c < c_in; ++c)
          for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
              const int64_t c_out = ((y % b) * b + x % b) * c_in + c;
              dst[((ni * c_in * b * b + c_out) * (h / b) + y / b) * (w / b) + x / b] =
                  src[((ni * c_in + c) * h + y) * w + x];
            }
    });
  }
};

namespace {
void import_space_to_depth(OnnxNode& n) {
  auto op = std::make_unique<SpaceToDepth>();
  op->blocksize = n.attr_int("blocksize");
  if (op->blocksize <= 0) n.fail("attribute 'blocksize' = ", op->blocksize, " must be positive");
  if (op->blocksize > (int64_t(1) << 16)) n.fail("attribute 'blocksize' = ", op->blocksize, " is too large");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_SpaceToDepth() { return std::make_unique<SpaceToDepth>(); }

void register_op_SpaceToDepth(OpRegistry& r) { r.add_onnx("SpaceToDepth", 1, kMaxOpset, import_space_to_depth); }

}  // namespace celer
