// StringNormalizer: removes stopwords from a string tensor [C] or [1, C] and optionally changes case (LOWER/UPPER).
// Case changes are locale-independent and cover ASCII and the Latin-1 letters of UTF-8 (U+00C0..U+00FE). Stopwords
// match exactly, or ignoring case when is_case_sensitive = 0. When every string is removed the output holds one "".
#include <string>
#include <unordered_set>
#include <vector>

#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

enum class CaseChange : uint8_t { kNone, kLower, kUpper };

namespace {
std::string change_case(const std::string& s, bool upper) {
  std::string r = s;
  for (size_t i = 0; i < r.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(r[i]);
    if (c < 0x80) {
      if (upper && c >= 'a' && c <= 'z') r[i] = char(c - 32);
      if (!upper && c >= 'A' && c <= 'Z') r[i] = char(c + 32);
    } else if (c == 0xC3 && i + 1 < r.size()) {  // U+00C0..U+00FF: C3 80..C3 BF
      unsigned char d = static_cast<unsigned char>(r[i + 1]);
      if (upper && d >= 0xA0 && d <= 0xBE && d != 0xB7) r[i + 1] = char(d - 0x20);   // a-grave..thorn, not division
      if (!upper && d >= 0x80 && d <= 0x9E && d != 0x97) r[i + 1] = char(d + 0x20);  // A-grave..Thorn, not times
      ++i;
    }
  }
  return r;
}
}  // namespace

class StringNormalizer final : public OpBase<StringNormalizer, OpKind::kStringNormalizer> {
 public:
  CaseChange case_change = CaseChange::kNone;
  bool case_sensitive = false;
  std::vector<std::string> stopwords;

  const char* type_name() const override { return "StringNormalizer"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "case_change", case_change, CaseChange::kUpper);
    v.on("case_sensitive", case_sensitive);
    v.on("stopwords", stopwords);
  }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(ctx.input_elem(0) == ElementType::kString, kInvalidModel, "input 'X' has element type ",
                element_type_name(ctx.input_elem(0)), " (string expected)");
    const PartialShape& s = ctx.input_shape(0);
    if (!s.rank_known()) {
      ctx.set_output(0, ElementType::kString, PartialShape());
      return;
    }
    check_shape(s.rank(), s.rank() == 2 ? s[0].value() : 1, s.to_string());
    std::vector<Dim> out = s.dims();
    if (!stopwords.empty()) out.back() = Dim();
    ctx.set_output(0, ElementType::kString, PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    check_shape(x.rank(), x.rank() == 2 ? x.dim(0) : 1, dims_to_string(x.dims()));
    std::unordered_set<std::string> stop;
    for (const auto& w : stopwords) stop.insert(case_sensitive ? w : change_case(w, false));
    std::vector<std::string> kept;
    const std::string* px = x.data<std::string>();
    for (int64_t i = 0; i < x.size(); ++i) {
      if (stop.count(case_sensitive ? px[i] : change_case(px[i], false))) continue;
      kept.push_back(case_change == CaseChange::kNone ? px[i] : change_case(px[i], case_change == CaseChange::kUpper));
    }
    if (kept.empty()) kept.emplace_back();
    Dims dims = x.rank() == 2 ? Dims{1, int64_t(kept.size())} : Dims{int64_t(kept.size())};
    Tensor& y = ctx.output(0, ElementType::kString, dims);
    for (size_t i = 0; i < kept.size(); ++i) y.data<std::string>()[i] = std::move(kept[i]);
  }

 private:
  static void check_shape(int64_t rank, int64_t first, const std::string& shape) {
    CELER_CHECK(rank == 1 || (rank == 2 && (first == 1 || first < 0)), kShapeMismatch, "input 'X' has shape ", shape,
                " but must be [C] or [1, C]");
  }
};

namespace {
void import_string_normalizer(OnnxNode& n) {
  auto op = std::make_unique<StringNormalizer>();
  std::string cc = n.attr_string("case_change_action", "NONE");
  if (cc == "NONE")
    op->case_change = CaseChange::kNone;
  else if (cc == "LOWER")
    op->case_change = CaseChange::kLower;
  else if (cc == "UPPER")
    op->case_change = CaseChange::kUpper;
  else
    n.fail("attribute 'case_change_action' = '", cc, "' must be NONE, LOWER or UPPER");
  op->case_sensitive = n.attr_int("is_case_sensitive", 0) != 0;
  op->stopwords = n.attr_strings("stopwords", std::vector<std::string>{});
  // 'locale' is accepted: case changes are locale-independent (ASCII and Latin-1).
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_StringNormalizer() { return std::make_unique<StringNormalizer>(); }

void register_op_StringNormalizer(OpRegistry& r) {
  r.add_onnx("StringNormalizer", 10, kMaxOpset, import_string_normalizer);
}

}  // namespace celer
