// DepthToSpace: moves blocks of channels into spatial blocks: [N, C, H, W] -> [N, C/(b*b), H*b, W*b].
// DCR mode takes the block offset from the outer part of the channel index, CRD mode from its inner part:
//   DCR: out[n, c, h*b+i, w*b+j] = in[n, (i*b + j) * C/(b*b) + c, h, w]
//   CRD: out[n, c, h*b+i, w*b+j] = in[n, c*b*b + i*b + j, h, w]
#include <limits>
#include <string>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class DepthToSpace final : public OpBase<DepthToSpace, OpKind::kDepthToSpace> {
 public:
  int64_t blocksize = 1;
  bool crd = false;  // mode CRD (else DCR)

  const char* type_name() const override { return "DepthToSpace"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("blocksize", blocksize);
    v.on("crd", crd);
  }

  void infer(InferContext& ctx) const override {
    const PartialShape& in = ctx.input_shape(0);
    if (!in.rank_known()) {
      ctx.set_output(0, ctx.input_elem(0), PartialShape::unknown_dims(4));
      return;
    }
    CELER_CHECK(in.rank() == 4, kShapeMismatch, "input must have rank 4 [N, C, H, W], got ", in.to_string());
    const int64_t bb = blocksize * blocksize;
    Dim c;
    if (in[1].is_static()) {
      CELER_CHECK(in[1].value() % bb == 0, kShapeMismatch, "the channel dim of input ", in.to_string(),
                  " must be a multiple of blocksize * blocksize = ", bb);
      c = Dim(in[1].value() / bb);
    }
    auto scaled = [&](const Dim& d) {
      if (!d.is_static()) return Dim();
      CELER_CHECK(d.value() <= std::numeric_limits<int64_t>::max() / blocksize, kLimitExceeded, "input ",
                  in.to_string(), " times attribute 'blocksize' = ", blocksize, " overflows");
      return Dim(d.value() * blocksize);
    };
    ctx.set_output(0, ctx.input_elem(0), PartialShape({in[0], c, scaled(in[2]), scaled(in[3])}));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    const int64_t b = blocksize, n = in.dim(0), c_out = out.dim(1), h = in.dim(2), w = in.dim(3);
    dispatch_all(in.type(), [&]<typename T>() {
      const T* src = in.data<T>();
      T* dst = out.data<T>();
      int64_t o = 0;
      for (int64_t ni = 0; ni < n; ++ni)
        for (int64_t c = 0; c < c_out; ++c)
          for (int64_t y = 0; y < h * b; ++y)
            for (int64_t x = 0; x < w * b; ++x, ++o) {
              const int64_t i = y % b, j = x % b;
              const int64_t c_in = crd ? c * b * b + i * b + j : (i * b + j) * c_out + c;
              dst[o] = src[((ni * c_out * b * b + c_in) * h + y / b) * w + x / b];
            }
    });
  }
};

namespace {
void import_depth_to_space(OnnxNode& n) {
  auto op = std::make_unique<DepthToSpace>();
  op->blocksize = n.attr_int("blocksize");
  if (op->blocksize <= 0) n.fail("attribute 'blocksize' = ", op->blocksize, " must be positive");
  if (op->blocksize > (int64_t(1) << 16)) n.fail("attribute 'blocksize' = ", op->blocksize, " is too large");
  const std::string mode = n.opset() >= 11 ? n.attr_string("mode", std::string("DCR")) : std::string("DCR");
  if (mode != "DCR" && mode != "CRD") n.fail("attribute 'mode' = '", mode, "' must be DCR or CRD");
  op->crd = mode == "CRD";
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_DepthToSpace() { return std::make_unique<DepthToSpace>(); }

void register_op_DepthToSpace(OpRegistry& r) { r.add_onnx("DepthToSpace", 1, kMaxOpset, import_depth_to_space); }

}  // namespace celer
