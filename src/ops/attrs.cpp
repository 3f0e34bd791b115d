// make_op and op_kind_from_name: ops by kind and by name, from the list ops/ops.def.
#include <string>
#include <unordered_map>

#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

std::unique_ptr<Op> make_op(OpKind kind) {
  switch (kind) {
#define CELER_OP(name)  \
  case OpKind::k##name: \
    return make_op_##name();
#include "ops/ops.def"
#undef CELER_OP
    case OpKind::kCount:
      break;
  }
  CELER_THROW(kInternal, "make_op: no op of kind ", static_cast<int>(kind));
}

std::optional<OpKind> op_kind_from_name(std::string_view name) {
  static const std::unordered_map<std::string_view, OpKind> kByName = [] {
    std::unordered_map<std::string_view, OpKind> m;
    for (size_t i = 0; i < size_t(OpKind::kCount); ++i) m.emplace(op_kind_name(OpKind(i)), OpKind(i));
    return m;
  }();
  auto it = kByName.find(name);
  if (it == kByName.end()) return std::nullopt;
  return it->second;
}

}  // namespace celer
