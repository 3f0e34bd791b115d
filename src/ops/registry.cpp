#include "ops/registry.hpp"

#include <algorithm>

namespace celer {

const OpRegistry& OpRegistry::get() {
  static const OpRegistry registry = [] {
    OpRegistry r;
#define CELER_OP(name) register_op_##name(r);
#include "ops/ops.def"
#undef CELER_OP
    return r;
  }();
  return registry;
}

void OpRegistry::add_onnx(std::string op_type, int since, int until, OnnxImportFn fn, std::string domain) {
  mappings_.push_back(OnnxMapping{std::move(domain), std::move(op_type), since, until, fn});
}

const OnnxMapping* OpRegistry::find_onnx(const std::string& domain, const std::string& op_type, int opset) const {
  for (const auto& m : mappings_)
    if (m.op_type == op_type && m.domain == domain && opset >= m.since && opset <= m.until) return &m;
  return nullptr;
}

bool OpRegistry::knows_op_type(const std::string& domain, const std::string& op_type) const {
  return std::any_of(mappings_.begin(), mappings_.end(),
                     [&](const OnnxMapping& m) { return m.op_type == op_type && m.domain == domain; });
}

const char* op_kind_name(OpKind k) {
  static const char* const kNames[] = {
#define CELER_OP(name) #name,
#include "ops/ops.def"
#undef CELER_OP
  };
  size_t i = size_t(k);
  return i < std::size(kNames) ? kNames[i] : "?";
}

}  // namespace celer
