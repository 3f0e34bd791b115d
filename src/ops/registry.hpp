// The op registry: which canonical op each ONNX (domain, op_type, opset) imports into. Filled by the register
// function of every op file, called from one place (registry.cpp) through the X-macro list ops/ops.def.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ops/op.hpp"

namespace celer {

class OnnxNode;
using OnnxImportFn = void (*)(OnnxNode& node);

// Newest opset of the default ONNX domain celer understands.
inline constexpr int kMaxOpset = 17;
inline constexpr int kMinOpset = 1;

struct OnnxMapping {
  std::string domain;   // "" for the default domain
  std::string op_type;
  int since = 1;        // first opset (of the domain) this mapping covers
  int until = kMaxOpset;
  OnnxImportFn fn = nullptr;
};

class OpRegistry {
 public:
  static const OpRegistry& get();
  // Registers an ONNX op type for the opsets [since, until] of `domain`.
  void add_onnx(std::string op_type, int since, int until, OnnxImportFn fn, std::string domain = "");
  const OnnxMapping* find_onnx(const std::string& domain, const std::string& op_type, int opset) const;
  bool knows_op_type(const std::string& domain, const std::string& op_type) const;
  const std::vector<OnnxMapping>& onnx_mappings() const { return mappings_; }

 private:
  std::vector<OnnxMapping> mappings_;
};

// Declares register_op_<Name>(OpRegistry&) for every op of the list.
#define CELER_OP(name) void register_op_##name(OpRegistry& r);
#include "ops/ops.def"
#undef CELER_OP

// Canonical op name for a kind (the X-macro name).
const char* op_kind_name(OpKind k);

}  // namespace celer
