// Einsum: Einstein summation over the operands' labelled axes, e.g. "bij,bjk->bik". Labels are letters; a label
// repeated within one operand takes its diagonal; "..." stands for broadcast axes. Without "->" the output is the
// ellipsis axes followed by the labels used exactly once, in alphabetical (ASCII) order. Every label not in the
// output is summed over.
//
// The reference kernel walks the product of all axes (output axes outer, summed axes inner) with one running offset
// per operand, so repeated labels (diagonals) and broadcasting are just strides.
#include <algorithm>
#include <string>
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/mat_mul.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

namespace {

constexpr int kEllipsis = -1;
constexpr int kLabels = 52;     // 'A'-'Z' -> 0-25, 'a'-'z' -> 26-51 (ASCII order)
constexpr int kEllAxis = 1000;  // axis ids >= kEllAxis are ellipsis axes

int label_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -2;
}
char char_of(int l) { return l < 26 ? char('A' + l) : char('a' + l - 26); }

// Label sizes and output axes for given operand shapes.
struct Resolved {
  std::vector<Dim> label_dim = std::vector<Dim>(kLabels);
  std::vector<Dim> ell_dims;
  std::vector<int> out_axes;  // label, or kEllAxis + e
  std::vector<int> sum_axes;
};

}  // namespace

class Einsum final : public OpBase<Einsum, OpKind::kEinsum> {
 public:
  std::string equation;
  std::vector<std::vector<int>> terms;  // labels per input, kEllipsis for "..."
  std::vector<int> output;              // explicit output labels (kEllipsis allowed)
  bool explicit_output = false;

  const char* type_name() const override { return "Einsum"; }
  void visit_attrs(AttrVisitor& v) override {
    v.on("equation", equation);
    if (v.loading()) parse();  // terms, output: derived
  }

  // Parses `equation`; throws naming the attribute.
  void parse() {
    std::string eq;
    for (char c : equation)
      if (c != ' ') eq += c;
    auto bad = [&](const char* why) { CELER_THROW(kInvalidModel, "attribute 'equation' = '", equation, "': ", why); };
    auto parse_term = [&](const std::string& t) {
      std::vector<int> out;
      bool ell = false;
      for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '.') {
          if (t.compare(i, 3, "...") != 0) bad("a '.' that is not part of '...'");
          if (ell) bad("more than one '...' in a term");
          ell = true;
          out.push_back(kEllipsis);
          i += 2;
          continue;
        }
        int l = label_of(t[i]);
        if (l < 0) bad("labels must be letters");
        out.push_back(l);
      }
      return out;
    };
    size_t arrow = eq.find("->");
    std::string lhs = eq.substr(0, arrow);
    explicit_output = arrow != std::string::npos;
    size_t start = 0;
    while (true) {
      size_t comma = lhs.find(',', start);
      terms.push_back(parse_term(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (explicit_output) {
      std::string rhs = eq.substr(arrow + 2);
      if (rhs.find("->") != std::string::npos || rhs.find(',') != std::string::npos) bad("malformed output term");
      output = parse_term(rhs);
      std::vector<int> seen;
      for (int l : output) {
        if (std::find(seen.begin(), seen.end(), l) != seen.end()) bad("a label repeats in the output");
        seen.push_back(l);
        if (l == kEllipsis) continue;
        bool used = false;
        for (const auto& t : terms) used |= std::find(t.begin(), t.end(), l) != t.end();
        if (!used) bad("an output label does not appear in any input");
      }
    }
  }

  Resolved resolve(const std::vector<const PartialShape*>& shapes) const {
    CELER_CHECK(shapes.size() == terms.size(), kInvalidModel, "attribute 'equation' = '", equation, "' has ",
                terms.size(), " input terms but the node has ", shapes.size(), " inputs");
    Resolved r;
    size_t ell_rank = 0;
    std::vector<int> count(kLabels, 0);
    for (size_t k = 0; k < terms.size(); ++k) {
      const auto& t = terms[k];
      const auto& s = *shapes[k];
      const bool has_ell = std::find(t.begin(), t.end(), kEllipsis) != t.end();
      const size_t letters = t.size() - (has_ell ? 1 : 0);
      CELER_CHECK(has_ell ? size_t(s.rank()) >= letters : size_t(s.rank()) == letters, kShapeMismatch, "input ", k,
                  " of shape ", s.to_string(), " does not fit term ", k, " of attribute 'equation' = '", equation, "'");
      const size_t op_ell = size_t(s.rank()) - letters;
      ell_rank = std::max(ell_rank, op_ell);
      size_t j = 0;
      for (int l : t) {
        if (l == kEllipsis) {
          j += op_ell;
          continue;
        }
        ++count[size_t(l)];
        const Dim& d = s[j++];
        Dim& cur = r.label_dim[size_t(l)];
        CELER_CHECK(!d.is_static() || !cur.is_static() || d.value() == cur.value(), kShapeMismatch, "label '",
                    char_of(l), "' of attribute 'equation' = '", equation, "' has sizes ", cur.value(), " and ",
                    d.value(), " (input ", k, " of shape ", s.to_string(), ")");
        if (d.is_static() || (!cur.is_static() && cur.symbol_name().empty())) cur = d;
      }
    }
    r.ell_dims.assign(ell_rank, Dim(1));
    for (size_t k = 0; k < terms.size(); ++k) {
      const auto& t = terms[k];
      if (std::find(t.begin(), t.end(), kEllipsis) == t.end()) continue;
      const auto& s = *shapes[k];
      const size_t letters = t.size() - 1, op_ell = size_t(s.rank()) - letters;
      const size_t p = size_t(std::find(t.begin(), t.end(), kEllipsis) - t.begin());
      for (size_t e = 0; e < op_ell; ++e) {
        Dim& cur = r.ell_dims[ell_rank - op_ell + e];
        try {
          cur = broadcast_dim(cur, s[p + e]);
        } catch (const Error&) {
          CELER_THROW(kShapeMismatch, "the '...' axes of the inputs of attribute 'equation' = '", equation,
                      "' do not broadcast (input ", k, " of shape ", s.to_string(), ")");
        }
      }
    }
    std::vector<bool> in_out(kLabels, false);
    bool ell_out = false;
    if (explicit_output) {
      for (int l : output) {
        if (l == kEllipsis) {
          ell_out = true;
          for (size_t e = 0; e < ell_rank; ++e) r.out_axes.push_back(kEllAxis + int(e));
        } else {
          in_out[size_t(l)] = true;
          r.out_axes.push_back(l);
        }
      }
    } else {
      ell_out = true;
      for (size_t e = 0; e < ell_rank; ++e) r.out_axes.push_back(kEllAxis + int(e));
      for (int l = 0; l < kLabels; ++l)
        if (count[size_t(l)] == 1) {
          in_out[size_t(l)] = true;
          r.out_axes.push_back(l);
        }
    }
    for (int l = 0; l < kLabels; ++l)
      if (count[size_t(l)] > 0 && !in_out[size_t(l)]) r.sum_axes.push_back(l);
    if (!ell_out)
      for (size_t e = 0; e < ell_rank; ++e) r.sum_axes.push_back(kEllAxis + int(e));
    return r;
  }

  static const Dim& axis_dim(const Resolved& r, int a) {
    return a >= kEllAxis ? r.ell_dims[size_t(a - kEllAxis)] : r.label_dim[size_t(a)];
  }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(ctx.num_inputs() >= 1, kInvalidModel, "Einsum needs at least one input");
    const ElementType e = ctx.input_elem(0);
    CELER_CHECK(e != ElementType::kBool && e != ElementType::kString, kInvalidModel, "element type ",
                element_type_name(e), " is not allowed for Einsum");
    std::vector<const PartialShape*> shapes;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      CELER_CHECK(ctx.input_elem(i) == e, kInvalidModel, "input ", i, " has element type ",
                  element_type_name(ctx.input_elem(i)), " but input 0 has ", element_type_name(e));
      if (!ctx.input_shape(i).rank_known()) {
        ctx.set_output(0, e, PartialShape());
        return;
      }
      shapes.push_back(&ctx.input_shape(i));
    }
    Resolved r = resolve(shapes);
    std::vector<Dim> out;
    for (int a : r.out_axes) out.push_back(axis_dim(r, a));
    ctx.set_output(0, e, PartialShape(std::move(out)));
  }

  void run(KernelContext& ctx) const override {
    const size_t n_in = ctx.num_inputs();
    std::vector<PartialShape> ps;
    for (size_t i = 0; i < n_in; ++i) ps.push_back(PartialShape::of(ctx.input(i).dims()));
    std::vector<const PartialShape*> shapes;
    for (const auto& s : ps) shapes.push_back(&s);
    const Resolved r = resolve(shapes);
    std::vector<int> axes = r.out_axes;
    axes.insert(axes.end(), r.sum_axes.begin(), r.sum_axes.end());
    const size_t n_axes = axes.size();
    Dims sizes(n_axes);
    for (size_t a = 0; a < n_axes; ++a) sizes[a] = axis_dim(r, axes[a]).value();
    // strides[k][a]: how far operand k's offset moves for one step along axis a.
    std::vector<Dims> strides(n_in, Dims(n_axes, 0));
    for (size_t k = 0; k < n_in; ++k) {
      const Dims& d = ctx.input(k).dims();
      const Dims own = strides_of(d);
      const auto& t = terms[k];
      const size_t letters = t.size() - (std::find(t.begin(), t.end(), kEllipsis) != t.end() ? 1 : 0);
      const size_t op_ell = d.size() - letters, ell_rank = r.ell_dims.size();
      size_t j = 0;
      for (int l : t) {
        if (l == kEllipsis) {
          for (size_t e = 0; e < op_ell; ++e, ++j) {
            const int ax = kEllAxis + int(ell_rank - op_ell + e);
            const size_t a = size_t(std::find(axes.begin(), axes.end(), ax) - axes.begin());
            if (d[j] != 1) strides[k][a] += own[j];
          }
          continue;
        }
        const size_t a = size_t(std::find(axes.begin(), axes.end(), l) - axes.begin());
        strides[k][a] += own[j++];
      }
    }
    Tensor& y = ctx.output(0);
    int64_t n_sum = 1;
    for (size_t a = r.out_axes.size(); a < n_axes; ++a) n_sum *= sizes[a];
    dispatch_numeric(y.type(), [&]<typename T>() {
      if constexpr (std::is_same_v<T, bool>) {
        CELER_THROW(kUnsupported, "bool inputs");
      } else {
        using A = matmul_acc_t<T>;
        T* py = y.data<T>();
        for (int64_t i = 0; i < y.size(); ++i) py[i] = T(0);
        if (y.size() == 0 || n_sum == 0) return;
        std::vector<const T*> ptr(n_in);
        for (size_t k = 0; k < n_in; ++k) ptr[k] = ctx.input(k).data<T>();
        const int64_t total = element_count(sizes);
        std::vector<int64_t> idx(n_axes, 0), off(n_in, 0);
        A acc = A(0);
        for (int64_t i = 0; i < total; ++i) {
          A prod = A(ptr[0][off[0]]);
          for (size_t k = 1; k < n_in; ++k) prod *= A(ptr[k][off[k]]);
          acc += prod;
          if ((i + 1) % n_sum == 0) {
            if constexpr (std::is_integral_v<T>)
              py[i / n_sum] = T(acc);
            else
              py[i / n_sum] = T(acc);
            acc = A(0);
          }
          for (size_t a = n_axes; a-- > 0;) {
            ++idx[a];
            for (size_t k = 0; k < n_in; ++k) off[k] += strides[k][a];
            if (idx[a] < sizes[a]) break;
            for (size_t k = 0; k < n_in; ++k) off[k] -= strides[k][a] * sizes[a];
            idx[a] = 0;
          }
        }
      }
    });
  }
};

namespace {
void import_einsum(OnnxNode& n) {
  auto op = std::make_unique<Einsum>();
  op->equation = n.attr_string("equation");
  try {
    op->parse();
  } catch (const Error& e) {
    n.fail(e.message());
  }
  if (op->terms.size() != n.num_inputs())
    n.fail("attribute 'equation' = '", op->equation, "' has ", op->terms.size(), " input terms but the node has ",
           n.num_inputs(), " inputs");
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Einsum() { return std::make_unique<Einsum>(); }

void register_op_Einsum(OpRegistry& r) { r.add_onnx("Einsum", 12, kMaxOpset, import_einsum); }

}  // namespace celer
