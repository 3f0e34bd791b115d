#include "ir/graph.hpp"

#include <algorithm>
#include <functional>
#include <unordered_set>

#include "ops/op.hpp"

namespace celer {

std::string ValueType::to_string() const {
  std::string s = std::string(element_type_name(elem)) + shape.to_string();
  if (kind == ValueKind::kSequence) s = "seq(" + s + ")";
  if (optional) s = "optional(" + s + ")";
  return s;
}

const char* Node::type_name() const { return op ? op->type_name() : "?"; }

std::string Node::describe() const { return detail::concat("node '", name, "' (", type_name(), ")"); }

Value* Graph::add_value(std::string name, ValueType type) {
  auto v = std::make_unique<Value>();
  v->name = std::move(name);
  v->type = std::move(type);
  Value* raw = v.get();
  values_.push_back(std::move(v));
  if (!raw->name.empty()) by_name_.emplace(raw->name, raw);
  return raw;
}

Value* Graph::add_constant(std::string name, Tensor t) {
  Value* v = add_value(std::move(name), ValueType::tensor(t.type(), PartialShape::of(t.dims())));
  v->constant = std::make_shared<const Tensor>(std::move(t));
  return v;
}

Node* Graph::add_node(std::string name, std::unique_ptr<Op> op, std::vector<Value*> in, std::vector<Value*> out) {
  auto n = std::make_unique<Node>();
  n->name = std::move(name);
  n->op = std::move(op);
  n->num_explicit_inputs = in.size();
  n->inputs = std::move(in);
  n->outputs = std::move(out);
  for (Value* v : n->outputs)
    if (v) v->producer = n.get();
  nodes.push_back(std::move(n));
  return nodes.back().get();
}

Value* Graph::find_value(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

void Graph::sort() {
  // Kahn's algorithm; ties keep the original order so printed graphs stay familiar.
  std::unordered_map<const Node*, size_t> pending;
  std::unordered_map<const Value*, std::vector<Node*>> readers;
  for (auto& n : nodes) {
    size_t count = 0;
    for (Value* v : n->inputs) {
      if (v && v->producer && v->producer != n.get()) {
        ++count;
        readers[v].push_back(n.get());
      }
      CELER_CHECK(!(v && v->producer == n.get()), kInvalidModel, n->describe(), " reads its own output '", v->name,
                  "'");
    }
    pending[n.get()] = count;
  }
  std::vector<std::unique_ptr<Node>> order;
  std::vector<std::unique_ptr<Node>*> ready;
  std::unordered_map<const Node*, std::unique_ptr<Node>*> slot;
  for (auto& n : nodes) slot[n.get()] = &n;
  std::vector<Node*> queue;
  for (auto& n : nodes)
    if (pending[n.get()] == 0) queue.push_back(n.get());
  size_t head = 0;
  while (head < queue.size()) {
    Node* n = queue[head++];
    order.push_back(std::move(*slot[n]));
    for (Value* out : n->outputs) {
      if (!out) continue;
      auto it = readers.find(out);
      if (it == readers.end()) continue;
      for (Node* r : it->second)
        if (--pending[r] == 0) queue.push_back(r);
    }
  }
  if (order.size() != nodes.size()) {
    std::string names;
    int listed = 0;
    for (auto& n : nodes) {
      if (!n) continue;
      if (listed++ < 10) names += (names.empty() ? "'" : ", '") + n->name + "'";
    }
    CELER_THROW(kInvalidModel, "graph '", name, "' has a cycle through the nodes ", names);
  }
  nodes = std::move(order);
}

void Graph::remove_dead() {
  std::unordered_set<const Value*> live(outputs.begin(), outputs.end());
  std::vector<std::unique_ptr<Node>> kept;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node* n = it->get();
    bool used = false;
    for (Value* v : n->outputs) used |= v && live.count(v);
    if (!used) continue;
    for (Value* v : n->inputs)
      if (v) live.insert(v);
    kept.push_back(std::move(*it));
  }
  std::reverse(kept.begin(), kept.end());
  nodes = std::move(kept);
}

std::unique_ptr<Graph> Graph::clone(const std::unordered_map<const Value*, Value*>* outer, Graph* new_parent) const {
  auto g = std::make_unique<Graph>();
  g->name = name;
  g->parent = new_parent;
  std::unordered_map<const Value*, Value*> map;
  if (outer) map = *outer;
  for (const auto& v : values_) {
    Value* c = g->add_value(v->name, v->type);
    c->constant = v->constant;
    map[v.get()] = c;
  }
  auto remap = [&](Value* v) -> Value* {
    if (!v) return nullptr;
    auto it = map.find(v);
    CELER_CHECK(it != map.end(), kInternal, "graph clone: value '", v->name, "' not found");
    return it->second;
  };
  for (Value* v : inputs) g->inputs.push_back(remap(v));
  for (Value* v : outputs) g->outputs.push_back(remap(v));
  for (Value* v : captures) g->captures.push_back(remap(v));
  for (const auto& n : nodes) {
    std::vector<Value*> in, out;
    for (Value* v : n->inputs) in.push_back(remap(v));
    for (Value* v : n->outputs) out.push_back(remap(v));
    CloneContext ctx{&map, g.get()};
    Node* c = g->add_node(n->name, n->op->clone(ctx), std::move(in), std::move(out));
    c->num_explicit_inputs = n->num_explicit_inputs;
  }
  return g;
}

int Graph::subgraph_depth() const {
  int depth = 0;
  for (const auto& n : nodes)
    for (const Graph* sub : n->op->subgraphs()) depth = std::max(depth, 1 + sub->subgraph_depth());
  return depth;
}

size_t Graph::total_nodes() const {
  size_t count = nodes.size();
  for (const auto& n : nodes)
    for (const Graph* sub : n->op->subgraphs()) count += sub->total_nodes();
  return count;
}

}  // namespace celer
