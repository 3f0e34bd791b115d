// Weight-only compression into com.microsoft MatMulNBits: see weight_compression.hpp.
#include "quant/weight_compression.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "celer/error.hpp"
#include "quant/onnx_io.hpp"
#include "quant/qdq_plan.hpp"

namespace celer::quant {

namespace {

void set_attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

// The float weight [K, N] of a MatMul/Gemm whose input 1 is an initializer, with the Gemm bias when there is one;
// an empty reason when it can be compressed.
struct Candidate {
  std::string why_not;
  int64_t K = 0, N = 0;
  bool transposed = false;  // Gemm transB = 1: the initializer is [N, K]
  int bias_index = -1;      // initializer index of the Gemm's C
};

}  // namespace

double quantize_row_nbits(const float* w, int64_t K, int bits, int64_t group, bool symmetric, uint8_t* codes,
                          float* scales, uint8_t* zero_codes) {
  const int64_t kb = (K + group - 1) / group, blob = group * bits / 8;
  const int qmax = (1 << bits) - 1, half = 1 << (bits - 1);
  double worst = 0;
  std::fill(codes, codes + kb * blob, uint8_t(0));
  if (zero_codes) std::fill(zero_codes, zero_codes + (kb * bits + 7) / 8, uint8_t(0));
  for (int64_t j = 0; j < kb; ++j) {
    const int64_t k0 = j * group, len = std::min(group, K - k0);
    float lo = 0, hi = 0, amax = 0;
    for (int64_t i = 0; i < len; ++i) {
      lo = std::min(lo, w[k0 + i]);
      hi = std::max(hi, w[k0 + i]);
      amax = std::max(amax, std::fabs(w[k0 + i]));
    }
    float s;
    int zp;
    if (symmetric) {
      s = amax > 0 ? amax / float(half - 1) : 1.0f;
      zp = half;
    } else {
      s = hi > lo ? (hi - lo) / float(qmax) : 1.0f;
      zp = std::clamp(int(std::lround(-lo / s)), 0, qmax);
    }
    scales[j] = s;
    if (zero_codes) zero_codes[(j * bits) / 8] |= uint8_t(zp << ((j * bits) % 8));
    double err = 0;
    for (int64_t i = 0; i < len; ++i) {
      const int q = std::clamp(int(std::lround(w[k0 + i] / s)) + zp, 0, qmax);
      const int64_t bit = i * bits;
      codes[j * blob + bit / 8] |= uint8_t(q << (bit % 8));
      err = std::max(err, double(std::fabs(float(q - zp) * s - w[k0 + i])));
    }
    if (amax > 0) worst = std::max(worst, err / amax);
  }
  return worst;
}

WeightCompressionReport compress_weights(onnx::ModelProto& model, const WeightCompressionOptions& o) {
  CELER_CHECK(o.bits == 4 || o.bits == 8, kInvalidArgument, "weight compression: bits = ", o.bits,
              " (4 or 8 expected)");
  CELER_CHECK(o.group_size >= 16 && (o.group_size & (o.group_size - 1)) == 0, kInvalidArgument, "--group-size ",
              o.group_size, " must be a power of two, at least 16");
  IgnoredScope scope;
  for (const std::string& e : o.ignored_scope) scope.add(e);
  onnx::GraphProto& g = *model.mutable_graph();
  std::map<std::string, int> inits;
  for (int i = 0; i < g.initializer_size(); ++i) inits[g.initializer(i).name()] = i;
  std::map<std::string, int> readers;  // how many node inputs read each name (initializers shared by several nodes)
  for (const auto& n : g.node())
    for (const auto& in : n.input()) ++readers[in];

  WeightCompressionReport report;
  std::vector<int> drop;  // initializers replaced
  for (int ni = 0; ni < g.node_size(); ++ni) {
    onnx::NodeProto& n = *g.mutable_node(ni);
    const bool mm = n.op_type() == "MatMul", gemm = n.op_type() == "Gemm";
    if (!(mm || gemm) || !n.domain().empty()) continue;
    const std::string label = n.op_type() + " '" + n.name() + "'";
    auto keep = [&](const std::string& why) { report.kept.push_back(label + ": " + why); };
    if (scope.matches(n)) {
      keep("ignored scope (" + scope.reason(n) + ")");
      continue;
    }
    if (n.input_size() < 2 || !inits.count(n.input(1))) {
      keep("its weights are not a constant initializer");
      continue;
    }
    if (inits.count(n.input(0))) {
      keep("both operands are constants");
      continue;
    }
    const onnx::TensorProto& wp = g.initializer(inits[n.input(1)]);
    if (wp.data_type() != onnx::TensorProto::FLOAT || wp.dims_size() != 2) {
      keep("weights are not a 2-D float tensor");
      continue;
    }
    Candidate c;
    if (gemm) {
      if (int_attr(n, "transA", 0) != 0 || float_attr(n, "alpha", 1.0f) != 1.0f) {
        keep("Gemm with transA or alpha != 1");
        continue;
      }
      c.transposed = int_attr(n, "transB", 0) != 0;
      if (n.input_size() > 2 && !n.input(2).empty()) {
        if (!inits.count(n.input(2)) || float_attr(n, "beta", 1.0f) != 1.0f) {
          keep("Gemm whose C is not a constant bias with beta = 1");
          continue;
        }
        c.bias_index = inits[n.input(2)];
      }
    }
    c.K = c.transposed ? wp.dims(1) : wp.dims(0);
    c.N = c.transposed ? wp.dims(0) : wp.dims(1);
    if (c.K * c.N < o.min_elements) {
      keep("small weights (" + std::to_string(c.K * c.N) + " values)");
      continue;
    }
    const Tensor w = tensor_of(wp, "initializer '" + wp.name() + "'");
    std::vector<float> bias;
    if (c.bias_index >= 0) {
      const Tensor b = tensor_of(g.initializer(c.bias_index), "initializer '" + n.input(2) + "'");
      if (b.type() != ElementType::kF32 || b.size() != c.N) {
        keep("Gemm whose C is not N floats");
        continue;
      }
      bias.assign(b.data<float>(), b.data<float>() + c.N);
    }
    const int64_t kb = (c.K + o.group_size - 1) / o.group_size, blob = o.group_size * o.bits / 8;
    const int64_t zrow = (kb * o.bits + 7) / 8;
    Tensor codes(ElementType::kU8, {c.N, kb, blob});
    Tensor scales(ElementType::kF32, {c.N * kb});
    Tensor zeros(ElementType::kU8, {c.N * zrow});
    std::vector<float> col(static_cast<size_t>(c.K));
    const float* pw = w.data<float>();
    for (int64_t j = 0; j < c.N; ++j) {
      for (int64_t k = 0; k < c.K; ++k) col[size_t(k)] = c.transposed ? pw[j * c.K + k] : pw[k * c.N + j];
      const double err =
          quantize_row_nbits(col.data(), c.K, o.bits, o.group_size, o.symmetric, codes.data<uint8_t>() + j * kb * blob,
                             scales.data<float>() + j * kb, o.symmetric ? nullptr : zeros.data<uint8_t>() + j * zrow);
      report.max_relative_error = std::max(report.max_relative_error, err);
    }
    // The new node: A, B, scales[, zero_points][, g_idx = '', bias].
    const std::string base = n.name().empty() ? n.output(0) : n.name();
    auto add_init = [&](const std::string& name, const Tensor& t) {
      onnx::TensorProto* tp = g.add_initializer();
      set_tensor(*tp, name, t);
      return name;
    };
    onnx::NodeProto r;
    r.set_name(n.name());
    r.set_op_type("MatMulNBits");
    r.set_domain("com.microsoft");
    r.add_input(n.input(0));
    r.add_input(add_init(base + "_nbits_B", codes));
    r.add_input(add_init(base + "_nbits_scales", scales));
    if (!o.symmetric || !bias.empty())
      r.add_input(o.symmetric ? std::string() : add_init(base + "_nbits_zero_points", zeros));
    if (!bias.empty()) {
      r.add_input("");
      Tensor bt(ElementType::kF32, {c.N});
      std::copy(bias.begin(), bias.end(), bt.data<float>());
      r.add_input(add_init(base + "_nbits_bias", bt));
    }
    r.add_output(n.output(0));
    set_attr(r, "K", c.K);
    set_attr(r, "N", c.N);
    set_attr(r, "bits", o.bits);
    set_attr(r, "block_size", o.group_size);
    report.float_bytes += c.K * c.N * 4;
    report.compressed_bytes += codes.size() + scales.size() * 4 + (o.symmetric ? 0 : zeros.size());
    report.compressed.push_back(label + " [" + std::to_string(c.K) + ", " + std::to_string(c.N) + "]");
    for (const std::string& used : {n.input(1), gemm && c.bias_index >= 0 ? n.input(2) : std::string()})
      if (!used.empty() && --readers[used] == 0) drop.push_back(inits[used]);
    n = std::move(r);
  }
  CELER_CHECK(!report.compressed.empty(), kInvalidArgument,
              "weight compression: no MatMul or Gemm with constant float weights of at least ", o.min_elements,
              " values to compress");
  remove_initializers(g, std::move(drop));  // the float weights nobody reads any more
  bool has_ms = false;
  for (const auto& op : model.opset_import()) has_ms |= op.domain() == "com.microsoft";
  if (!has_ms) {
    auto* op = model.add_opset_import();
    op->set_domain("com.microsoft");
    op->set_version(1);
  }
  return report;
}

}  // namespace celer::quant
