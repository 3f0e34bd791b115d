#include "runtime/executor.hpp"

#include <omp.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>
#include <thread>

#include "ir/infer.hpp"
#include "runtime/cpu_resources.hpp"
#include "runtime/memory_plan.hpp"

namespace celer {

struct Executor::Step {
  const Node* node;
  std::vector<int> in;       // slot per input (-1 when omitted)
  std::vector<int> out;      // slot per output (-1 when omitted)
  std::vector<int> release;  // slots whose last reader is this step
  std::unique_ptr<Kernel> kernel;
  bool static_types = false;           // output types known at compile time: no inference at run time
  std::vector<ValueType> types;        // those types
  std::vector<int64_t> arena_offset;   // per output: planned offset in the arena, or -1
  std::vector<int64_t> arena_bytes;    // per output: planned size
  std::vector<bool> arena_alias;       // per output: a view of an input's planned buffer (Reshape, Identity, ...)
};


Executor::Executor(std::shared_ptr<const Graph> graph, const Device& device, const CompileOptions& options,
                   bool release_graph_constants)
    : keep_(std::move(graph)), graph_(*keep_), release_graph_constants_(release_graph_constants) {
  build(device, options);
  plan(options);
}

Executor::Executor(const Graph& graph, const Device& device, const CompileOptions& options) : graph_(graph) {
  build(device, options);
}

Executor::~Executor() = default;

namespace {
bool is_static_tensor(const ValueType& t) {
  return t.kind == ValueKind::kTensor && !t.optional && t.elem != ElementType::kUndefined && t.shape.is_static();
}
// Ops whose kernels may return a view of input 0 instead of writing their output.
bool may_alias_input(OpKind k) {
  return k == OpKind::kIdentity || k == OpKind::kReshape || k == OpKind::kFlatten || k == OpKind::kSqueeze ||
         k == OpKind::kUnsqueeze || k == OpKind::kDropout || k == OpKind::kCast;
}
// Creates the kernels of a graph's nodes ahead of their use on worker threads: kernel creation (oneDNN code
// generation, weight packing) is most of a compile and the nodes' kernels are independent. take(i) returns node i's
// kernel (or rethrows the error its creation threw) once made; the executor takes them in order, so it can still
// release each constant as soon as all its readers have their kernels. Workers stay at most kAhead nodes ahead of the
// taker, so that no more than a few weights are held twice (original and packed) at once.
class KernelMaker {
 public:
  static constexpr size_t kAhead = 4;

  KernelMaker(const std::vector<std::unique_ptr<Node>>& nodes, const Device& device, const CompileOptions& options,
              int threads)
      : nodes_(nodes), device_(device), options_(options), made_(nodes.size()), errors_(nodes.size()),
        done_(nodes.size(), 0) {
    // The workers size oneDNN primitives like the compiling thread would.
    const int omp_threads = omp_get_max_threads();
    for (int t = 0; t < threads; ++t)
      workers_.emplace_back([this, omp_threads] {
        omp_set_num_threads(omp_threads);
        work();
      });
  }
  ~KernelMaker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  KernelMaker(const KernelMaker&) = delete;
  KernelMaker& operator=(const KernelMaker&) = delete;

  std::unique_ptr<Kernel> take(size_t i) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_[i] != 0; });
    taken_ = i + 1;
    cv_.notify_all();  // workers waiting to get further ahead
    if (errors_[i]) std::rethrow_exception(errors_[i]);
    return std::move(made_[i]);
  }

 private:
  void work() {
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || next_ >= nodes_.size() || next_ < taken_ + kAhead; });
        if (stop_ || next_ >= nodes_.size()) return;
        i = next_++;
      }
      std::unique_ptr<Kernel> k;
      std::exception_ptr err;
      try {
        k = device_.create_kernel(*nodes_[i], options_);
      } catch (...) {
        err = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        made_[i] = std::move(k);
        errors_[i] = err;
        done_[i] = 1;
      }
      cv_.notify_all();
    }
  }

  const std::vector<std::unique_ptr<Node>>& nodes_;
  const Device& device_;
  const CompileOptions& options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Kernel>> made_;
  std::vector<std::exception_ptr> errors_;
  std::vector<char> done_;
  size_t next_ = 0, taken_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// Worker threads for a graph's kernels (CompileOptions::compile_threads); none for small graphs or subgraphs.
int kernel_threads(size_t nodes, bool top_level, int requested) {
  static const int env = [] {
    const char* e = std::getenv("CELER_COMPILE_THREADS");
    return e ? std::atoi(e) : 0;
  }();
  if (!top_level || nodes < 16) return 1;
  if (requested > 0) return requested;
  return env > 0 ? env : std::min(4, std::max(1, allowed_cpu_count()));
}
}  // namespace

void Executor::build(const Device& device, const CompileOptions& options) {
  num_threads_ = options.num_threads;
  auto slot = [&](const Value* v) -> int {
    if (!v) return -1;
    auto it = slot_of_.find(v);
    if (it != slot_of_.end()) return it->second;
    int s = num_slots_++;
    slot_of_[v] = s;
    constants_.emplace_back(v->constant ? RtValue(*v->constant) : RtValue());
    return s;
  };
  for (const Value* v : graph_.inputs) input_slots_.push_back(slot(v));
  for (const Value* v : graph_.captures) capture_slots_.push_back(slot(v));
  // Constants can go as soon as every node reading them has a kernel that packed its own copy: count the readers
  // that may let go (explicit inputs of nodes without subgraphs); graph outputs and captured values always stay.
  std::unordered_map<const Value*, int> pending;
  std::unordered_map<const Value*, bool> needed;
  for (const auto& n : graph_.nodes)
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const Value* v = n->inputs[i];
      if (!v || !v->constant) continue;
      ++pending[v];
      if (i >= n->num_explicit_inputs || !n->op->subgraphs().empty()) needed[v] = true;
    }
  for (const Value* v : graph_.outputs) needed[v] = true;
  const int threads = kernel_threads(graph_.nodes.size(), keep_ != nullptr, options.compile_threads);
  std::unique_ptr<KernelMaker> maker;
  if (threads > 1) maker = std::make_unique<KernelMaker>(graph_.nodes, device, options, threads);
  for (const auto& n : graph_.nodes) {
    Step step;
    step.node = n.get();
    for (const Value* v : n->inputs) step.in.push_back(slot(v));
    step.static_types = n->op->subgraphs().empty();
    for (const Value* v : n->outputs) {
      step.out.push_back(slot(v));
      step.types.push_back(v ? v->type : ValueType{});
      if (v && !is_static_tensor(v->type)) step.static_types = false;
    }
    step.arena_offset.assign(n->outputs.size(), -1);
    step.arena_bytes.assign(n->outputs.size(), 0);
    step.arena_alias.assign(n->outputs.size(), false);
    step.kernel = maker ? maker->take(steps_.size()) : device.create_kernel(*n, options);
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const Value* v = n->inputs[i];
      if (!v || !v->constant) continue;
      if (!step.kernel || step.kernel->reads_constant_input(i)) needed[v] = true;
      if (--pending[v] == 0 && !needed[v]) {
        // Released now, before the next kernel packs its weights: peak memory holds one copy, not two.
        constants_[size_t(slot_of_[v])] = RtValue();
        released_.push_back(v);
        if (release_graph_constants_) const_cast<Value*>(v)->constant.reset();
      }
    }
    steps_.push_back(std::move(step));
    for (Graph* sub : n->op->subgraphs()) subgraphs_[sub] = std::make_unique<Executor>(*sub, device, options);
  }
  for (const Value* v : graph_.outputs) output_slots_.push_back(slot(v));
  // Free each intermediate after its last reader (never graph outputs, inputs or constants).
  std::vector<int> last(size_t(num_slots_), -1);
  for (size_t i = 0; i < steps_.size(); ++i)
    for (int s : steps_[i].in)
      if (s >= 0) last[size_t(s)] = int(i);
  std::vector<bool> keep(size_t(num_slots_), false);
  for (int s : output_slots_) keep[size_t(s)] = true;
  for (int s = 0; s < num_slots_; ++s)
    if (!constants_[size_t(s)].is_none()) keep[size_t(s)] = true;
  for (int s = 0; s < num_slots_; ++s)
    if (last[size_t(s)] >= 0 && !keep[size_t(s)]) steps_[size_t(last[size_t(s)])].release.push_back(s);
}

void Executor::plan(const CompileOptions& options) {
  if (!options.plan_memory) return;
  // One buffer per intermediate tensor of known size; views (Reshape, ...) share their input's buffer, which then
  // lives until the last reader of any of its views.
  std::vector<int> buffer_of(size_t(num_slots_), -1);
  std::vector<BufferRequest> buffers;
  std::vector<bool> is_output(size_t(num_slots_), false);
  for (int s : output_slots_) is_output[size_t(s)] = true;
  for (size_t i = 0; i < steps_.size(); ++i) {
    Step& st = steps_[i];
    if (!st.static_types) continue;
    for (size_t o = 0; o < st.out.size(); ++o) {
      int s = st.out[o];
      if (s < 0 || is_output[size_t(s)]) continue;
      const ValueType& t = st.types[o];
      if (t.elem == ElementType::kString) continue;
      const Node& n = *st.node;
      bool view = o == 0 && may_alias_input(n.op->kind()) && !st.in.empty() && st.in[0] >= 0 &&
                  buffer_of[size_t(st.in[0])] >= 0 &&
                  (n.op->kind() != OpKind::kCast || n.inputs[0]->type.elem == t.elem);
      if (view) {
        buffer_of[size_t(s)] = buffer_of[size_t(st.in[0])];
        st.arena_alias[o] = true;
        continue;
      }
      int64_t bytes = element_count(t.shape.to_dims()) * int64_t(element_size(t.elem));
      if (bytes == 0) continue;
      buffer_of[size_t(s)] = int(buffers.size());
      buffers.push_back({bytes, int(i), int(i)});
      unplanned_bytes_ += bytes;
    }
  }
  for (size_t i = 0; i < steps_.size(); ++i)
    for (int s : steps_[i].in)
      if (s >= 0 && buffer_of[size_t(s)] >= 0) {
        BufferRequest& b = buffers[size_t(buffer_of[size_t(s)])];
        b.last = std::max(b.last, int(i));
      }
  // In place: a kernel that would rather write output 0 over one of its inputs (a convolution adding a residual) gets
  // that input's buffer when it is that buffer's last reader (through any view), reads it through no other input, and
  // the sizes match. The two buffers become one, alive from the input's first writer to the output's last reader.
  std::vector<int> merged(buffers.size());
  std::iota(merged.begin(), merged.end(), 0);
  auto root = [&](int b) {
    while (merged[size_t(b)] != b) b = merged[size_t(b)];
    return b;
  };
  auto buffer_root = [&](int slot) { return slot >= 0 && buffer_of[size_t(slot)] >= 0 ? root(buffer_of[size_t(slot)]) : -1; };
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& st = steps_[i];
    const int k = st.kernel && st.static_types && !st.out.empty() ? st.kernel->output_overwrites_input() : -1;
    if (k < 0 || size_t(k) >= st.in.size() || st.arena_alias[0]) continue;
    const int in = buffer_root(st.in[size_t(k)]), out = buffer_root(st.out[0]);
    if (in < 0 || out < 0 || in == out || buffers[size_t(in)].bytes != buffers[size_t(out)].bytes ||
        buffers[size_t(in)].last != int(i))
      continue;
    bool shared = false;
    for (size_t j = 0; j < st.in.size(); ++j) shared |= j != size_t(k) && buffer_root(st.in[j]) == in;
    if (shared) continue;
    merged[size_t(out)] = in;
    ++in_place_outputs_;
    buffers[size_t(in)].last = std::max(buffers[size_t(in)].last, buffers[size_t(out)].last);
  }
  std::vector<int> request_of(buffers.size(), -1);
  std::vector<BufferRequest> requests;
  for (size_t b = 0; b < buffers.size(); ++b)
    if (merged[b] == int(b)) {
      request_of[b] = int(requests.size());
      requests.push_back(buffers[b]);
    }
  // A buffer aliased by a graph output would be overwritten by the next run: such outputs are copied out at the end.
  MemoryPlan mp = plan_buffers(requests);
  arena_bytes_ = mp.total_bytes;
  for (Step& st : steps_)
    for (size_t o = 0; o < st.out.size(); ++o) {
      int s = st.out[o];
      if (s < 0 || buffer_of[size_t(s)] < 0 || st.arena_alias[o]) continue;
      const int r = request_of[size_t(buffer_root(s))];
      st.arena_offset[o] = mp.offsets[size_t(r)];
      st.arena_bytes[o] = requests[size_t(r)].bytes;
    }
}

std::unique_ptr<Executor::State> Executor::make_state() const {
  auto st = std::make_unique<State>();
  st->slots.resize(size_t(num_slots_));
  if (arena_bytes_ > 0) {
    // An arena of at least 1 MiB is 2 MiB aligned and sized, all in transparent huge pages (like large tensors,
    // core/tensor.cpp): fewer TLB misses over the activations and fewer page faults on the first inference. The
    // padding is under 2 MiB.
    constexpr size_t kHuge = size_t(2) << 20;
    const size_t align = arena_bytes_ >= int64_t(kHuge / 2) ? kHuge : 64;
    const size_t bytes = (size_t(arena_bytes_) + align - 1) / align * align;
    void* p = std::aligned_alloc(align, bytes);
    CELER_CHECK(p, kLimitExceeded, "out of memory allocating the ", arena_bytes_, "-byte activation arena");
    if (align == kHuge) madvise(p, bytes, MADV_HUGEPAGE);  // advisory: errors ignored
    st->arena_owner = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    st->arena = static_cast<char*>(p);
    st->arena_bytes = arena_bytes_;
  }
  return st;
}

std::vector<RtValue> Executor::run_subgraph(const Graph& sub, const Node& owner, std::vector<RtValue> inputs,
                                            const std::vector<RtValue>& slots) const {
  auto it = subgraphs_.find(&sub);
  CELER_CHECK(it != subgraphs_.end(), kInternal, owner.describe(), ": unknown subgraph");
  // Captures are implicit inputs of the owner with the same names.
  std::vector<RtValue> captures;
  for (const Value* cap : sub.captures) {
    const RtValue* found = nullptr;
    for (size_t i = owner.num_explicit_inputs; i < owner.inputs.size(); ++i)
      if (owner.inputs[i] && owner.inputs[i]->name == cap->name) {
        int s = slot_of_.at(owner.inputs[i]);
        found = constants_[size_t(s)].is_none() ? &slots[size_t(s)] : &constants_[size_t(s)];
        break;
      }
    CELER_CHECK(found, kInternal, owner.describe(), ": capture '", cap->name, "' is not bound");
    captures.push_back(*found);
  }
  return it->second->run(std::move(inputs), captures);
}

std::vector<RtValue> Executor::run(std::vector<RtValue> inputs, const std::vector<RtValue>& captures) const {
  auto state = make_state();
  return run(*state, std::move(inputs), captures);
}

std::vector<RtValue> Executor::run(State& state, std::vector<RtValue> inputs,
                                   const std::vector<RtValue>& captures) const {
  CELER_CHECK(inputs.size() == input_slots_.size(), kInvalidArgument, "graph '", graph_.name, "' takes ",
              input_slots_.size(), " inputs, got ", inputs.size());
  if (num_threads_ > 0) omp_set_num_threads(num_threads_);
  std::vector<RtValue>& slots = state.slots;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* v = graph_.inputs[i];
    if (inputs[i].is_tensor() && v->type.kind == ValueKind::kTensor) {
      // Compile-time shapes downstream rely on the declared input shape.
      CELER_CHECK(v->type.shape.accepts(inputs[i].tensor.dims()), kInvalidArgument, "input '", v->name,
                  "' expects shape ", v->type.shape.to_string(), ", got ", dims_to_string(inputs[i].tensor.dims()));
    }
    slots[size_t(input_slots_[i])] = std::move(inputs[i]);
  }
  for (size_t i = 0; i < capture_slots_.size() && i < captures.size(); ++i)
    slots[size_t(capture_slots_[i])] = captures[i];

  for (const Step& step : steps_) {
    const Node& n = *step.node;
    try {
      state.in_ptrs.assign(step.in.size(), nullptr);
      for (size_t i = 0; i < step.in.size(); ++i) {
        int s = step.in[i];
        if (s < 0) continue;
        state.in_ptrs[i] = constants_[size_t(s)].is_none() ? &slots[size_t(s)] : &constants_[size_t(s)];
      }
      std::vector<ValueType> runtime_types;
      const std::vector<ValueType>* types = &step.types;
      if (!step.static_types) {
        std::vector<const ValueType*> type_ptrs(n.num_explicit_inputs, nullptr);
        std::vector<const Tensor*> value_ptrs(n.num_explicit_inputs, nullptr);
        state.in_types.assign(n.num_explicit_inputs, ValueType{});
        for (size_t i = 0; i < n.num_explicit_inputs && i < state.in_ptrs.size(); ++i) {
          const RtValue* v = state.in_ptrs[i];
          if (!v) continue;
          if (v->is_tensor()) {
            state.in_types[i] = type_of(v->tensor);
            value_ptrs[i] = &v->tensor;
          } else if (v->is_sequence()) {
            ElementType e = v->sequence.empty() ? v->sequence_elem : v->sequence.front().type();
            state.in_types[i] = ValueType::sequence(e);
          } else {
            state.in_types[i] = n.inputs[i]->type;
            state.in_types[i].optional = true;
          }
          type_ptrs[i] = &state.in_types[i];
        }
        InferContext ictx(n, type_ptrs, value_ptrs);
        n.op->infer(ictx);
        runtime_types = ictx.output_types();
        types = &runtime_types;
      }
      state.outs.assign(n.outputs.size(), RtValue());
      SubgraphRunner runner;
      if (!subgraphs_.empty() && !n.op->subgraphs().empty())
        runner = [&](const Graph& sub, std::vector<RtValue> sub_in) {
          return run_subgraph(sub, n, std::move(sub_in), slots);
        };
      KernelContext kctx(n, state.in_ptrs, &state.outs, types, runner ? &runner : nullptr);
      if (state.arena) {
        state.planned.assign(n.outputs.size(), nullptr);
        for (size_t o = 0; o < n.outputs.size(); ++o)
          if (step.arena_offset[o] >= 0) state.planned[o] = state.arena + step.arena_offset[o];
        kctx.set_planned(state.planned.data(), step.arena_bytes.data());
      }
      if (state.profiling) {
        auto t0 = std::chrono::steady_clock::now();
        if (step.kernel) step.kernel->run(kctx);
        else n.op->run(kctx);
        size_t idx = size_t(&step - steps_.data());
        state.step_ns[idx] += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        state.step_runs[idx] += 1;
      } else if (step.kernel) {
        step.kernel->run(kctx);
      } else {
        n.op->run(kctx);
      }
      for (size_t o = 0; o < step.out.size(); ++o) {
        if (step.out[o] < 0) continue;
        RtValue& v = state.outs[o];
        // A kernel that returned a view into another planned buffer, where none was planned, gets a copy: that
        // buffer may be reused while this value is still alive.
        if (state.arena && v.is_tensor() && !step.arena_alias[o] && state.in_arena(v.tensor.raw()) &&
            (step.arena_offset[o] < 0 || v.tensor.raw() != state.arena + step.arena_offset[o]))
          v.tensor = v.tensor.clone();
        slots[size_t(step.out[o])] = std::move(v);
      }
      for (int s : step.release) slots[size_t(s)] = RtValue();
    } catch (const Error& e) {
      if (e.message().rfind("node '", 0) == 0) throw;
      throw Error(e.code(), n.describe() + ": " + e.message());
    }
  }
  std::vector<RtValue> out;
  out.reserve(output_slots_.size());
  for (int s : output_slots_) {
    const RtValue& v = constants_[size_t(s)].is_none() ? slots[size_t(s)] : constants_[size_t(s)];
    out.push_back(v);
    // Outputs never point into the arena: the next run reuses it.
    if (out.back().is_tensor() && state.in_arena(out.back().tensor.raw())) out.back().tensor = out.back().tensor.clone();
  }
  for (int s : output_slots_) slots[size_t(s)] = RtValue();
  for (int s : input_slots_) slots[size_t(s)] = RtValue();
  return out;
}

void Executor::enable_profiling(State& state) const {
  state.profiling = true;
  state.step_ns.assign(steps_.size(), 0);
  state.step_runs.assign(steps_.size(), 0);
}

std::vector<std::pair<const Node*, const char*>> Executor::kernels() const {
  std::vector<std::pair<const Node*, const char*>> out;
  for (const Step& s : steps_) out.emplace_back(s.node, s.kernel ? s.kernel->name() : "ref");
  return out;
}

}  // namespace celer
