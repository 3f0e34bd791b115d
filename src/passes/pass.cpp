// The pass manager, the Rewriter, the IR verifier, the matching helpers and the CPU pipeline.
#include "passes/pass.hpp"

#include <algorithm>

#include "ir/infer.hpp"
#include "ops/util.hpp"

namespace celer::passes {

// ---- Rewriter

Rewriter::Rewriter(Graph& g) : g_(g) { reindex(); }

void Rewriter::reindex() {
  outputs_.clear();
  for (Value* v : g_.outputs) outputs_.insert(v);
  if (indexed_.size() > g_.nodes.size()) {  // nodes were dropped: positions moved
    uses_.clear();
    indexed_.clear();
  }
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    Node* n = g_.nodes[i].get();
    const bool gone = erased(n);
    if (i == indexed_.size()) {
      indexed_.emplace_back();
    } else if (gone ? indexed_[i].empty() : indexed_[i] == n->inputs) {
      continue;
    }
    std::vector<Value*>& had = indexed_[i];
    for (size_t k = 0; k < had.size(); ++k) {
      if (!had[k]) continue;
      std::vector<Use>& list = uses_[had[k]];
      for (auto it = list.begin(); it != list.end(); ++it)
        if (it->node == n && it->index == k) {
          list.erase(it);
          break;
        }
    }
    had.clear();
    if (gone) continue;
    had = n->inputs;
    for (size_t k = 0; k < had.size(); ++k)
      if (had[k]) uses_[had[k]].push_back(Use{n, k});
  }
}

Node* Rewriter::producer(const Value* v) const {
  if (!v || !v->producer || erased(v->producer)) return nullptr;
  return v->producer;
}

const std::vector<Use>& Rewriter::uses(const Value* v) const {
  static const std::vector<Use> kNone;
  auto it = uses_.find(v);
  return it == uses_.end() ? kNone : it->second;
}

Node* Rewriter::sole_reader(const Value* v) const {
  if (!v || is_graph_output(v)) return nullptr;
  const auto& u = uses(v);
  if (u.size() != 1 || u[0].index >= u[0].node->num_explicit_inputs) return nullptr;
  return u[0].node;
}

bool Rewriter::replace_uses(Value* from, Value* to) {
  if (from == to) return false;
  for (const Use& u : uses(from))
    if (u.index >= u.node->num_explicit_inputs) return false;  // captured by name in a subgraph
  if (is_graph_output(from)) return false;
  for (auto& n : g_.nodes) {
    if (erased(n.get())) continue;
    for (Value*& in : n->inputs)
      if (in == from) in = to;
  }
  return true;
}

void Rewriter::take_output(Node* head, Node* tail) {
  Value* old = head->outputs[0];
  if (old && old->producer == head) old->producer = nullptr;
  Value* out = tail->outputs[0];
  head->outputs[0] = out;
  out->producer = head;
  tail->outputs[0] = nullptr;
  erase(tail);
}

void Rewriter::erase(Node* n) {
  erased_.insert(n);
  for (Value*& v : n->outputs) {
    if (v && v->producer == n) v->producer = nullptr;
    v = nullptr;
  }
}

std::string Rewriter::unique_name(const std::string& hint) {
  std::string name;
  do {
    name = hint + "/fused_" + std::to_string(counter_++);
  } while (g_.find_value(name));
  return name;
}

Node* Rewriter::add_node(const std::string& name, std::unique_ptr<Op> op, std::vector<Value*> inputs,
                         std::vector<Value*> outputs) {
  return g_.add_node(name, std::move(op), std::move(inputs), std::move(outputs));
}

Value* Rewriter::add_constant(const std::string& hint, Tensor t) {
  return g_.add_constant(unique_name(hint), std::move(t));
}

Value* Rewriter::add_value(const std::string& hint, ValueType type) {
  return g_.add_value(unique_name(hint), std::move(type));
}

size_t Rewriter::add_operand(Node* n, Value* v, size_t first) {
  while (n->num_explicit_inputs < first) {
    n->inputs.insert(n->inputs.begin() + std::ptrdiff_t(n->num_explicit_inputs), nullptr);
    ++n->num_explicit_inputs;
  }
  const size_t index = n->num_explicit_inputs;
  n->inputs.insert(n->inputs.begin() + std::ptrdiff_t(index), v);
  ++n->num_explicit_inputs;
  return index;
}

void Rewriter::commit() {
  if (!erased_.empty()) {
    std::vector<std::unique_ptr<Node>> kept;
    for (auto& n : g_.nodes)
      if (!erased(n.get())) kept.push_back(std::move(n));
    g_.nodes = std::move(kept);
    erased_.clear();
  }
  g_.sort();
  g_.remove_dead();
  uses_.clear();
  indexed_.clear();
  reindex();
}

// ---- Pass manager

PassStats run_rules(Graph& g, const std::vector<Rule>& rules, int max_sweeps) {
  PassStats st;
  st.nodes_before = g.nodes.size();
  for (int sweep = 0; sweep < max_sweeps; ++sweep) {
    Rewriter rw(g);
    bool changed = false;
    std::vector<Node*> snapshot;
    for (auto& n : g.nodes) snapshot.push_back(n.get());
    for (Node* n : snapshot) {
      // Rules are retried on the same node after a rewrite (a Conv takes its bias, then its activation, ...).
      for (int round = 0; round < 64 && !rw.erased(n); ++round) {
        bool applied = false;
        for (const Rule& r : rules) {
          if (rw.erased(n)) break;
          if (r.apply(rw, *n)) {
            ++st.applied[r.name];
            rw.reindex();
            applied = changed = true;
            break;
          }
        }
        if (!applied) break;
      }
    }
    rw.commit();
    ++st.sweeps;
    if (!changed) break;
  }
  g.remove_dead();
  verify_graph(g);
  infer_graph(g);
  verify_graph(g);
  st.nodes_after = g.nodes.size();
  return st;
}

// ---- Verifier

void verify_graph(const Graph& g) {
  std::unordered_set<const Value*> defined;
  for (const Value* v : g.inputs) defined.insert(v);
  for (const Value* v : g.captures) defined.insert(v);
  for (const auto& v : g.values())
    if (v->constant) defined.insert(v.get());
  for (const auto& n : g.nodes) {
    CELER_CHECK(n->op, kInternal, "graph passes: node '", n->name, "' has no op");
    CELER_CHECK(n->num_explicit_inputs <= n->inputs.size(), kInternal, "graph passes: ", n->describe(),
                " counts more explicit inputs than it has");
    for (const Value* v : n->inputs) {
      if (!v) continue;
      CELER_CHECK(defined.count(v), kInternal, "graph passes: ", n->describe(), " reads '", v->name,
                  "' before it is defined (or it is never defined)");
    }
    for (const Value* v : n->outputs) {
      if (!v) continue;
      CELER_CHECK(v->producer == n.get(), kInternal, "graph passes: output '", v->name, "' of ", n->describe(),
                  " names another producer");
      CELER_CHECK(!defined.count(v), kInternal, "graph passes: value '", v->name, "' is defined twice (again by ",
                  n->describe(), ")");
      defined.insert(v);
    }
  }
  for (const Value* v : g.outputs)
    CELER_CHECK(v && defined.count(v), kInternal, "graph passes: graph output '", v ? v->name : "?",
                "' is not defined");
}

// ---- Matching helpers

Unary* unary_of(const Node* n, UnaryFn fn) {
  Unary* u = op_as<Unary>(n);
  return u && u->fn == fn ? u : nullptr;
}

Binary* binary_of(const Node* n, BinaryFn fn) {
  Binary* b = op_as<Binary>(n);
  return b && b->fn == fn ? b : nullptr;
}

std::optional<float> scalar_constant(const Value* v) {
  if (!v || !v->constant || v->constant->size() != 1 || !is_float(v->constant->type())) return std::nullopt;
  return float(v->constant->value_as_double(0));
}

bool is_f32(const Value* v) { return v && v->type.is_tensor() && v->type.elem == ElementType::kF32; }

bool same_shape(const PartialShape& a, const PartialShape& b) {
  if (!a.rank_known() || !b.rank_known() || a.rank() != b.rank()) return false;
  for (size_t i = 0; i < a.dims().size(); ++i)
    if (!a[i].same_as(b[i])) return false;
  return true;
}

bool broadcasts_onto(const PartialShape& operand, const PartialShape& out) {
  if (!operand.rank_known() || !out.rank_known() || operand.rank() > out.rank()) return false;
  const size_t shift = size_t(out.rank() - operand.rank());
  for (size_t i = 0; i < operand.dims().size(); ++i) {
    const Dim& d = operand[i];
    if (d.is_static() && d.value() == 1) continue;
    if (!d.same_as(out[shift + i])) return false;
  }
  return true;
}

Value* other_input(const Node* n, const Value* v) {
  if (!n || n->num_explicit_inputs != 2) return nullptr;
  if (n->inputs[0] == v && n->inputs[1] != v) return n->inputs[1];
  if (n->inputs[1] == v && n->inputs[0] != v) return n->inputs[0];
  return nullptr;
}

// ---- Pipeline

const std::vector<Rule>& cleanup_rules() {
  static const std::vector<Rule> rules = [] {
    std::vector<Rule> r;
    add_cleanup_rules(r);
    return r;
  }();
  return rules;
}

const std::vector<Rule>& fusion_rules() {
  static const std::vector<Rule> rules = [] {
    std::vector<Rule> r;
    add_batch_norm_rules(r);
    add_pad_rules(r);
    add_activation_pattern_rules(r);
    add_layer_norm_rules(r);
    add_attention_rules(r);
    return r;
  }();
  return rules;
}

namespace {
const std::vector<Rule>& post_op_rules() {
  static const std::vector<Rule> rules = [] {
    std::vector<Rule> r;
    add_post_op_rules(r);
    return r;
  }();
  return rules;
}
const std::vector<Rule>& quantized_rules() {
  static const std::vector<Rule> rules = [] {
    std::vector<Rule> r;
    add_quantized_rules(r);
    return r;
  }();
  return rules;
}
const std::vector<Rule>& eltwise_rules() {
  static const std::vector<Rule> rules = [] {
    std::vector<Rule> r;
    add_eltwise_rules(r);
    return r;
  }();
  return rules;
}

void merge(PassStats& into, const PassStats& s) {
  into.sweeps += s.sweeps;
  for (const auto& [k, v] : s.applied) into.applied[k] += v;
  into.nodes_after = s.nodes_after;
}
}  // namespace

PassStats run_cpu_pipeline(Graph& g, bool fusion) {
  std::vector<ElementType> out_types;
  for (const Value* v : g.outputs) out_types.push_back(v->type.elem);
  PassStats st = run_rules(g, cleanup_rules());
  if (fusion) {
    // Phases in order: patterns become single ops first, then post-ops take what follows Conv/MatMul/Gemm, then
    // what is left of elementwise chains merges.
    merge(st, run_rules(g, fusion_rules()));
    merge(st, run_rules(g, post_op_rules()));
    merge(st, run_rules(g, quantized_rules()));  // INT8: DQ -> Conv/MatMul/Gemm -> Q into int8 ops (fuse_quantized.cpp)
    merge(st, run_rules(g, eltwise_rules()));
  }
  for (size_t i = 0; i < g.outputs.size(); ++i)
    CELER_CHECK(g.outputs[i]->type.elem == out_types[i] || out_types[i] == ElementType::kUndefined, kInternal,
                "graph passes changed the element type of output '", g.outputs[i]->name, "' from ",
                element_type_name(out_types[i]), " to ", element_type_name(g.outputs[i]->type.elem));
  return st;
}

}  // namespace celer::passes
