// TfIdfVectorizer: counts the n-grams of a pool in each row of an int or string tensor ([C] or [N, C]) and writes
// a float vector per row (TF: counts, IDF: weight if present, TFIDF: count x weight; weights default to 1).
// The pool holds the n-grams grouped by length: ngram_counts[i] is where the (i+1)-grams start; ngram_indexes maps
// the k-th n-gram of the pool to its output column. An n-gram of n > 1 items may skip up to max_skip_count items
// between consecutive items (the same gap throughout); unigrams are counted once per position.
#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"

namespace celer {

enum class TfIdfMode : uint8_t { kTF, kIDF, kTFIDF };

class TfIdfVectorizer final : public OpBase<TfIdfVectorizer, OpKind::kTfIdfVectorizer> {
 public:
  TfIdfMode mode = TfIdfMode::kTF;
  int64_t min_gram = 1, max_gram = 1, max_skip = 0;
  std::vector<int64_t> ngram_counts, ngram_indexes;
  std::vector<int64_t> pool_ints;       // pool_int64s, or ids of pool_strings in `vocabulary`
  std::vector<std::string> vocabulary;  // distinct pool strings (string pools only)
  bool string_pool = false;
  std::vector<float> weights;
  int64_t out_size = 0;                           // max(ngram_indexes) + 1
  std::map<std::vector<int64_t>, int64_t> table;  // n-gram (as pool ids) -> output column

  // Fills `table` from the pool (after the attributes were validated).
  void build_table() {
    int64_t k = 0;
    for (size_t g = 0; g < ngram_counts.size(); ++g) {
      const int64_t n = int64_t(g) + 1;
      const int64_t end = g + 1 < ngram_counts.size() ? ngram_counts[g + 1] : int64_t(pool_ints.size());
      for (int64_t p = ngram_counts[g]; p + n <= end; p += n, ++k)
        table.emplace(std::vector<int64_t>(pool_ints.begin() + p, pool_ints.begin() + p + n), ngram_indexes[size_t(k)]);
    }
  }

  // build_table() after reading the attributes from a file: the pool's n-gram groups must fit the pool first.
  void load_table(AttrVisitor& v) {
    int64_t k = 0;
    const int64_t pool = int64_t(pool_ints.size());
    for (size_t g = 0; g < ngram_counts.size(); ++g) {
      const int64_t begin = ngram_counts[g], end = g + 1 < ngram_counts.size() ? ngram_counts[g + 1] : pool;
      if (begin < 0 || end < begin || end > pool) v.fail("ngram_counts", "does not split the pool");
      k += (end - begin) / int64_t(g + 1);
    }
    if (k > int64_t(ngram_indexes.size())) v.fail("ngram_indexes", "has fewer entries than the pool has n-grams");
    table.clear();
    build_table();
  }

  const char* type_name() const override { return "TfIdfVectorizer"; }
  void visit_attrs(AttrVisitor& v) override {
    visit_enum(v, "mode", mode, TfIdfMode::kTFIDF);
    v.on("min_gram", min_gram);
    v.on("max_gram", max_gram);
    v.on("max_skip", max_skip);
    v.on("ngram_counts", ngram_counts);
    v.on("ngram_indexes", ngram_indexes);
    v.on("pool_ints", pool_ints);
    v.on("vocabulary", vocabulary);
    v.on("string_pool", string_pool);
    v.on("weights", weights);
    v.on("out_size", out_size);
    if (v.loading()) load_table(v);  // table: derived
  }

  void infer(InferContext& ctx) const override {
    ElementType t = ctx.input_elem(0);
    CELER_CHECK(string_pool ? t == ElementType::kString : (t == ElementType::kI32 || t == ElementType::kI64),
                kInvalidModel, "input 'X' has element type ", element_type_name(t),
                string_pool ? " but the pool holds strings" : " but the pool holds integers (i32 or i64 expected)");
    const PartialShape& s = ctx.input_shape(0);
    if (!s.rank_known()) {
      ctx.set_output(0, ElementType::kF32, PartialShape());
      return;
    }
    CELER_CHECK(s.rank() == 1 || s.rank() == 2, kShapeMismatch, "input 'X' has shape ", s.to_string(),
                " but must be [C] or [N, C]");
    ctx.set_output(0, ElementType::kF32,
                   s.rank() == 1 ? PartialShape{Dim(out_size)} : PartialShape{s[0], Dim(out_size)});
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    CELER_CHECK(x.rank() == 1 || x.rank() == 2, kShapeMismatch, "input 'X' has shape ", dims_to_string(x.dims()),
                " but must be [C] or [N, C]");
    const int64_t rows = x.rank() == 2 ? x.dim(0) : 1;
    const int64_t cols = x.rank() == 2 ? x.dim(1) : x.dim(0);
    // Tokens as ids comparable with the pool (strings missing from the pool become -1 and never match).
    std::vector<int64_t> tok(size_t(x.size()));
    if (string_pool) {
      std::unordered_map<std::string, int64_t> ids;
      for (size_t i = 0; i < vocabulary.size(); ++i) ids.emplace(vocabulary[i], int64_t(i));
      for (int64_t i = 0; i < x.size(); ++i) {
        auto it = ids.find(x.data<std::string>()[i]);
        tok[size_t(i)] = it == ids.end() ? -1 : it->second;
      }
    } else {
      for (int64_t i = 0; i < x.size(); ++i) tok[size_t(i)] = x.value_as_int(i);
    }
    Tensor& y = ctx.output(0, ElementType::kF32, x.rank() == 2 ? Dims{rows, out_size} : Dims{out_size});
    float* py = y.data<float>();
    std::vector<int64_t> gram;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t* row = tok.data() + r * cols;
      std::vector<double> count(size_t(out_size), 0.0);
      for (int64_t s = 0; s < cols; ++s)
        for (int64_t n = min_gram; n <= std::min<int64_t>(max_gram, int64_t(ngram_counts.size())); ++n)
          for (int64_t skip = 0; skip <= (n == 1 ? 0 : max_skip); ++skip) {
            if (s + (n - 1) * (skip + 1) >= cols) break;
            gram.clear();
            for (int64_t j = 0; j < n; ++j) gram.push_back(row[s + j * (skip + 1)]);
            auto it = table.find(gram);
            if (it != table.end()) count[size_t(it->second)] += 1.0;
          }
      std::vector<double> weight(size_t(out_size), 1.0);
      for (size_t i = 0; i < weights.size(); ++i) weight[size_t(ngram_indexes[i])] = weights[i];
      for (int64_t c = 0; c < out_size; ++c) {
        double v = count[size_t(c)];
        if (mode == TfIdfMode::kIDF) v = v > 0 ? weight[size_t(c)] : 0.0;
        if (mode == TfIdfMode::kTFIDF) v *= weight[size_t(c)];
        py[r * out_size + c] = float(v);
      }
    }
  }
};

namespace {
void import_tf_idf_vectorizer(OnnxNode& n) {
  auto op = std::make_unique<TfIdfVectorizer>();
  std::string mode = n.attr_string("mode");
  if (mode == "TF")
    op->mode = TfIdfMode::kTF;
  else if (mode == "IDF")
    op->mode = TfIdfMode::kIDF;
  else if (mode == "TFIDF")
    op->mode = TfIdfMode::kTFIDF;
  else
    n.fail("attribute 'mode' = '", mode, "' must be TF, IDF or TFIDF");
  op->min_gram = n.attr_int("min_gram_length");
  op->max_gram = n.attr_int("max_gram_length");
  op->max_skip = n.attr_int("max_skip_count");
  if (op->min_gram < 1 || op->max_gram < op->min_gram)
    n.fail("attributes 'min_gram_length' = ", op->min_gram, " and 'max_gram_length' = ", op->max_gram,
           " must satisfy 1 <= min <= max");
  if (op->max_skip < 0) n.fail("attribute 'max_skip_count' = ", op->max_skip, " must not be negative");
  op->ngram_counts = n.attr_ints("ngram_counts");
  op->ngram_indexes = n.attr_ints("ngram_indexes");
  bool has_ints = n.has_attr("pool_int64s"), has_strings = n.has_attr("pool_strings");
  if (has_ints == has_strings) n.fail("exactly one of the attributes 'pool_int64s' and 'pool_strings' must be set");
  op->string_pool = has_strings;
  if (has_ints) {
    op->pool_ints = n.attr_ints("pool_int64s");
  } else {
    std::map<std::string, int64_t> ids;
    for (const auto& s : n.attr_strings("pool_strings")) {
      auto it = ids.emplace(s, int64_t(op->vocabulary.size())).first;
      if (it->second == int64_t(op->vocabulary.size())) op->vocabulary.push_back(s);
      op->pool_ints.push_back(it->second);
    }
  }
  // The pool's n-gram groups must be well formed and match ngram_indexes.
  int64_t total = 0, pool = int64_t(op->pool_ints.size());
  for (size_t g = 0; g < op->ngram_counts.size(); ++g) {
    int64_t begin = op->ngram_counts[g], end = g + 1 < op->ngram_counts.size() ? op->ngram_counts[g + 1] : pool;
    if (begin < 0 || end < begin || end > pool || (end - begin) % int64_t(g + 1) != 0)
      n.fail("attribute 'ngram_counts' ", dims_to_string(op->ngram_counts), " does not split the pool of ", pool,
             " items into groups of ", g + 1, "-grams");
    total += (end - begin) / int64_t(g + 1);
  }
  if (total != int64_t(op->ngram_indexes.size()))
    n.fail("attribute 'ngram_indexes' has ", op->ngram_indexes.size(), " entries but the pool holds ", total,
           " n-grams");
  for (int64_t i : op->ngram_indexes) {
    if (i < 0) n.fail("attribute 'ngram_indexes' holds the negative index ", i);
    op->out_size = std::max(op->out_size, i + 1);
  }
  op->weights = n.attr_floats("weights", std::vector<float>{});
  if (!op->weights.empty() && op->weights.size() != op->ngram_indexes.size())
    n.fail("attribute 'weights' has ", op->weights.size(), " values but there are ", op->ngram_indexes.size(),
           " n-grams");
  op->build_table();
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_TfIdfVectorizer() { return std::make_unique<TfIdfVectorizer>(); }

void register_op_TfIdfVectorizer(OpRegistry& r) {
  r.add_onnx("TfIdfVectorizer", 9, kMaxOpset, import_tf_idf_vectorizer);
}

}  // namespace celer
