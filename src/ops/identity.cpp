// Identity: the output is the input (tensor, sequence or optional). Also the import of Dropout in inference mode.
#include "ops/op.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"

namespace celer {

class Identity final : public OpBase<Identity, OpKind::kIdentity> {
 public:
  const char* type_name() const override { return "Identity"; }
  void visit_attrs(AttrVisitor&) override {}
  void infer(InferContext& ctx) const override { ctx.set_output(0, ctx.input_type(0)); }
  void run(KernelContext& ctx) const override { ctx.set_output(0, ctx.input_value(0)); }
};

namespace {
void import_identity(OnnxNode& n) { n.emit(std::make_unique<Identity>()); }
}  // namespace

std::unique_ptr<Op> make_op_Identity() { return std::make_unique<Identity>(); }

void register_op_Identity(OpRegistry& r) { r.add_onnx("Identity", 1, kMaxOpset, import_identity); }

}  // namespace celer
