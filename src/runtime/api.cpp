// The public API (include/celer/celer.hpp) over the importer, inference and the executor: Model, CompiledModel and
// Core (InferRequest and AsyncInferQueue are in infer_request.cpp). Compiling: choose the device(s)
// (runtime/multi.hpp), merge Core defaults and compile properties (runtime/properties.hpp), plan streams and threads
// from the hint (runtime/hints.hpp), compile one Target per device, and start the streams (runtime/streams.hpp).
#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "celer/celer.hpp"
#include "ir/infer.hpp"
#include "onnx/importer.hpp"
#include "runtime/api_impl.hpp"
#include "runtime/cpu_resources.hpp"
#include "runtime/device.hpp"
#include "runtime/model_cache.hpp"
#include "runtime/multi.hpp"
#include "runtime/properties.hpp"

namespace celer {

namespace detail {
struct CoreImpl {
  mutable std::mutex mu;
  std::map<std::string, Properties> defaults;  // by device ("CPU", "AUTO", "MULTI"; "" for all devices)
};
}  // namespace detail

namespace {
const PortInfo& find_port(const std::vector<PortInfo>& ports, const std::string& name, const char* kind) {
  for (const auto& p : ports)
    if (p.name == name) return p;
  CELER_THROW(kInvalidArgument, "the model has no ", kind, " named '", name, "'");
}
}  // namespace

// ---- Model
const std::vector<PortInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<PortInfo>& Model::outputs() const { return impl_->outputs; }
const PortInfo& Model::input(const std::string& name) const { return find_port(impl_->inputs, name, "input"); }
const PortInfo& Model::output(const std::string& name) const { return find_port(impl_->outputs, name, "output"); }
const std::map<std::string, int64_t>& Model::opsets() const { return impl_->imported.opsets; }
const std::string& Model::source() const { return impl_->imported.source; }
const std::string& Model::producer() const { return impl_->imported.producer; }
const Graph& Model::graph() const { return *impl_->imported.graph; }
std::shared_ptr<Graph> Model::graph_ptr() const { return impl_->imported.graph; }

void Model::reshape(const std::map<std::string, PartialShape>& shapes) {
  std::shared_ptr<Graph> g = impl_->imported.original->clone();
  for (const auto& [name, shape] : shapes) {
    Value* found = nullptr;
    for (Value* v : g->inputs)
      if (v->name == name) found = v;
    CELER_CHECK(found, kInvalidArgument, "reshape: the model has no input named '", name, "'");
    const PartialShape& old = found->type.shape;
    if (old.rank_known() && shape.rank_known()) {
      CELER_CHECK(old.rank() == shape.rank(), kInvalidArgument, "reshape: input '", name, "' has rank ", old.rank(),
                  ", the new shape ", shape.to_string(), " has rank ", shape.rank());
    }
    found->type.shape = shape;
  }
  infer_graph(*g);
  // The new original keeps the new input shapes so later reshapes compose.
  std::shared_ptr<Graph> orig = impl_->imported.original->clone();
  for (Value* v : orig->inputs) {
    auto it = shapes.find(v->name);
    if (it != shapes.end()) v->type.shape = it->second;
  }
  auto impl = std::make_shared<detail::ModelImpl>(*impl_);
  impl->imported.graph = g;
  impl->imported.original = orig;
  impl->source_file.clear();  // no longer the file's import
  impl->refresh_ports();
  impl_ = impl;
}

// ---- CompiledModel
const std::vector<PortInfo>& CompiledModel::inputs() const { return impl_->inputs; }
const std::vector<PortInfo>& CompiledModel::outputs() const { return impl_->outputs; }
const std::string& CompiledModel::device() const { return impl_->device; }
double CompiledModel::compile_ms() const { return impl_->compile_ms; }

std::string CompiledModel::get_property(const std::string& key) const {
  CELER_CHECK(impl_, kInvalidArgument, "get_property on an empty CompiledModel");
  find_property(key);  // an unknown key names the supported ones
  auto it = impl_->properties.find(key);
  CELER_CHECK(it != impl_->properties.end(), kInternal, "compiled model: property '", key, "' has no value");
  return it->second;
}

InferRequest CompiledModel::create_infer_request() const {
  CELER_CHECK(impl_, kInvalidArgument, "create_infer_request on an empty CompiledModel");
  InferRequest r;
  r.impl_ = std::make_shared<detail::InferRequestImpl>();
  r.impl_->model = impl_;
  r.impl_->states.resize(impl_->targets.size());
  // One device: the arena is allocated now, not at the first inference. MULTI: per device on first use.
  if (impl_->targets.size() == 1) r.impl_->states[0] = impl_->targets[0].executor->make_state();
  r.impl_->inputs.resize(impl_->inputs.size());
  r.impl_->outputs.resize(impl_->outputs.size());
  return r;
}

// ---- Core
namespace {

// The options of a compile on `device` selected through `base` (e.g. "CPU" through "MULTI"): Core defaults for all
// devices, for the device, for the base name, then the compile's properties.
CompileOptions options_for(const detail::CoreImpl& core, const std::string& base, const std::string& device,
                           const Properties& properties) {
  CompileOptions o;
  {
    std::lock_guard<std::mutex> lock(core.mu);
    std::vector<std::string> keys = {std::string()};
    for (const std::string& k : {device, base})
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    for (const std::string& key : keys) {
      auto it = core.defaults.find(key);
      if (it != core.defaults.end()) apply_properties(o, it->second);
    }
  }
  apply_properties(o, properties);
  return o;
}

// Compiles the model's graph for one device with the streams and threads the hint chooses.
// The model's identity for the cache: its file's content hash when the graph is that file's import (remembered per
// file identity in the cache folder), else a hash of the graph itself (structure, attributes, constants).
uint64_t model_hash(const detail::ModelImpl& m, const Graph& source, const std::string& cache_dir) {
  if (m.cached) return m.cached_hash;
  if (!m.source_file.empty() && !m.imported.external_data) return model_file_hash(cache_dir, m.source_file);
  return hash_graph(source);
}

// `owned`: the source graph itself when nobody else holds it (compile_model(Model&&)), so that it need not be
// cloned and the original weights can be freed as their packed copies are made. `hash`: the model's identity for the
// cache (used when options.cache_dir is set).
detail::Target compile_target(const Graph& source, const Device& dev, CompileOptions options, const ModelStats& stats,
                              int cpus, std::shared_ptr<Graph> owned, const std::function<uint64_t()>& hash,
                              std::optional<LoadedGraph> cached = std::nullopt) {
  std::string why;
  CELER_CHECK(supports_graph(dev, source, &why), kUnsupported, why);
  detail::Target t;
  t.device = &dev;
  t.plan = plan_streams(options, stats, cpus);
  options.num_threads = t.plan.threads_per_stream;
  t.options = options;
  uint64_t key = 0;
  if (!options.cache_dir.empty()) {
    key = cache_key(hash(), dev.name(), options);
    const bool from_entry_only = cached.has_value();
    if (std::optional<LoadedGraph> hit = cached ? std::move(cached) : cache_lookup(options.cache_dir, key)) {
      // Warm start: the graph as the passes left it, and the weights as the kernels packed them.
      auto store = std::make_shared<PackedWeights>(PackedWeights::Mode::kReplay);
      for (PackedWeights::Entry& e : hit->packed) store->add(std::move(e));
      CompileOptions o = options;
      o.packed = store;
      try {
        t.graph = hit->graph;
        t.executor = std::make_unique<Executor>(t.graph, dev, o, /*release_graph_constants=*/true);
        CELER_CHECK(store->all_used(), kInternal, "packed weights in the cache entry that no kernel wanted");
        t.from_cache = true;
        return t;
      } catch (const Error&) {
        // The entry and this build disagree (it cannot be trusted): rebuilt below from the model, or, when the
        // caller has only the entry (compile_model(path) skipped the import), by the caller.
        t.executor.reset();
        t.graph.reset();
        cache_remove(options.cache_dir, key);
        if (from_entry_only) throw;
      }
    }
  }
  t.graph = owned ? std::move(owned) : std::shared_ptr<Graph>(source.clone());
  dev.run_passes(*t.graph, options);
  CompileOptions o = options;
  if (key) o.packed = std::make_shared<PackedWeights>(PackedWeights::Mode::kRecord);
  o.weight_arena = std::make_shared<WeightArena>();
  // Weights the kernels packed leave the compiled graph (the Model, if any, keeps its own).
  t.executor = std::make_unique<Executor>(t.graph, dev, o, /*release_graph_constants=*/true);
  if (key) {
    // Stored as the kernels packed them, in place of the originals they released. A cache that cannot be written
    // (read-only folder, full disk) only costs the next compile its speed.
    CompiledExtras extras;
    extras.packed_values.insert(t.executor->released_constants().begin(), t.executor->released_constants().end());
    extras.packed = o.packed->entries();
    cache_store(options.cache_dir, key, *t.graph, {{"device", dev.name()}}, nullptr, &extras);
  }
  return t;
}

// Runs `fn` on a thread of its own and waits for it (its exception is rethrown here). Compiling there keeps the
// OpenMP thread pool of the compile's parallel regions (weight packing, oneDNN reorders) off the caller's thread:
// libgomp keeps a pool for every thread that starts a parallel region, for that thread's whole life, and once it
// manages more threads than there are CPUs it cuts every team's spin-wait to about a hundred iterations. A 2-thread
// stream then paid a futex wake-up at each of its parallel regions. The compile thread's pool ends with the thread.
void run_on_own_thread(const std::function<void()>& fn) {
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  worker.join();
  if (error) std::rethrow_exception(error);
}

// The values get_property reports: the options in effect and what the hint chose.
Properties effective_properties(const detail::CompiledModelImpl& m) {
  Properties p;
  const CompileOptions& o = m.targets[0].options;
  for (const PropertySpec& spec : property_table())
    if (spec.read) p[spec.name] = spec.read(o);
  int streams = 0, threads = 0;
  uint32_t requests = 0;
  std::vector<std::string> devices;
  for (const detail::Target& t : m.targets) {
    streams += t.plan.streams;
    threads += t.plan.streams * t.plan.threads_per_stream;
    requests += t.plan.optimal_requests;
    devices.push_back(t.device->name());
  }
  p[num_streams.name] = PropertyCodec<NumStreams>::to_string(NumStreams(streams));
  p[inference_num_threads.name] = std::to_string(threads);
  p[inference_threads_per_stream.name] = std::to_string(m.targets[0].plan.threads_per_stream);
  p[optimal_number_of_infer_requests.name] = std::to_string(requests);
  p[execution_devices.name] = PropertyCodec<std::vector<std::string>>::to_string(devices);
  p[supported_properties.name] = PropertyCodec<std::vector<std::string>>::to_string(supported_property_names());
  return p;
}

}  // namespace

Core::Core() : impl_(std::make_shared<detail::CoreImpl>()) {}

void Core::set_property(const std::string& device, const Properties& properties) {
  const std::string base = device.empty() ? std::string() : select_devices(device).base;
  CompileOptions check;
  apply_properties(check, properties);  // unknown, ill-typed and read-only keys throw here
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const auto& [key, value] : properties) impl_->defaults[base][key] = value;
}

std::string Core::get_property(const std::string& device, const std::string& key) const {
  const PropertySpec& spec = find_property(key);
  DeviceSelection sel;
  if (!device.empty()) sel = select_devices(device);
  const std::string name = device.empty() ? std::string() : sel.devices.front()->name();
  const CompileOptions o = options_for(*impl_, sel.base, name, {});
  if (key == supported_properties.name)
    return PropertyCodec<std::vector<std::string>>::to_string(supported_property_names());
  if (key == execution_devices.name) {
    std::vector<std::string> names;
    if (device.empty()) return PropertyCodec<std::vector<std::string>>::to_string(device_names());
    for (const Device* d : sel.devices) names.push_back(d->name());
    if (sel.kind == DeviceSelection::Kind::kAuto && o.performance_mode != PerformanceMode::kCumulativeThroughput)
      names.resize(1);  // the first that compiles the model; usually the first of the list
    return PropertyCodec<std::vector<std::string>>::to_string(names);
  }
  if (key == optimal_number_of_infer_requests.name || key == inference_threads_per_stream.name) {
    const StreamPlan plan = plan_streams(o, ModelStats{}, allowed_cpu_count());  // no model: a small one
    return std::to_string(key == inference_threads_per_stream.name ? uint32_t(plan.threads_per_stream)
                                                                   : plan.optimal_requests);
  }
  return spec.read(o);
}

Model Core::read_model(const std::string& path) const {
  Model m;
  m.impl_ = std::make_shared<detail::ModelImpl>();
  m.impl_->imported = import_onnx_file(path);
  m.impl_->source_file = path;
  m.impl_->refresh_ports();
  return m;
}

Model Core::read_model_from_memory(const std::string& bytes, const std::string& weights_dir) const {
  Model m;
  m.impl_ = std::make_shared<detail::ModelImpl>();
  m.impl_->imported = import_onnx_bytes(bytes, weights_dir, "<memory>");
  m.impl_->refresh_ports();
  return m;
}

CompiledModel Core::compile_model(const Model& model, const std::string& device, const Properties& properties) const {
  CELER_CHECK(model.impl_, kInvalidArgument, "compile_model: the model is empty");
  return compile(model.impl_, false, device, properties);
}

CompiledModel Core::compile_model(Model&& model, const std::string& device, const Properties& properties) const {
  CELER_CHECK(model.impl_, kInvalidArgument, "compile_model: the model is empty");
  std::shared_ptr<detail::ModelImpl> impl = std::move(model.impl_);
  const bool alone = impl.use_count() == 1;  // no other Model handle shares it
  return compile(std::move(impl), alone, device, properties);
}

CompiledModel Core::compile(std::shared_ptr<detail::ModelImpl> model, bool consume, const std::string& device,
                            const Properties& properties) const {
  auto t0 = std::chrono::steady_clock::now();
  const DeviceSelection sel = select_devices(device);
  // A model given up by its owner is compiled in place for a single device: no clone, and no second copy of the
  // weights (AUTO may need the untouched graph for its next device; MULTI compiles it several times).
  consume = consume && sel.kind == DeviceSelection::Kind::kSingle;
  const std::shared_ptr<Graph> source_ptr = model->imported.graph;
  const Graph& source = *source_ptr;
  const ModelStats stats = model_stats(source);
  const std::vector<PortInfo> model_inputs = model->inputs, model_outputs = model->outputs;
  // The model's identity for the cache, computed once and only when a cache is used (before a consumed model goes).
  std::optional<uint64_t> identity;
  auto hash = [&]() -> uint64_t {
    if (!identity) {
      const std::string dir = options_for(*impl_, sel.base, sel.devices[0]->name(), properties).cache_dir;
      identity = model_hash(*model, source, dir.empty() ? "." : dir);
    }
    return *identity;
  };
  if (consume && !options_for(*impl_, sel.base, sel.devices[0]->name(), properties).cache_dir.empty()) hash();
  std::shared_ptr<Graph> owned;
  if (consume) {
    model.reset();  // drops the pre-inference copy (for reshape) and the Model's reference to the graph
    owned = source_ptr;
  }
  const std::vector<int> cpus = allowed_cpus();
  auto impl = std::make_shared<detail::CompiledModelImpl>();
  impl->device = device;
  auto options = [&](const Device* d) { return options_for(*impl_, sel.base, d->name(), properties); };
  const bool all_devices = sel.kind == DeviceSelection::Kind::kMulti ||
                           (sel.kind == DeviceSelection::Kind::kAuto &&
                            options(sel.devices.front()).performance_mode == PerformanceMode::kCumulativeThroughput);
  run_on_own_thread([&] {
    if (sel.kind == DeviceSelection::Kind::kSingle) {
      std::optional<LoadedGraph> cached;
      if (model && model->cached) cached = std::move(model->cached);
      impl->targets.push_back(compile_target(source, *sel.devices[0], options(sel.devices[0]), stats,
                                             static_cast<int>(cpus.size()), std::move(owned), hash, std::move(cached)));
    } else {
      // AUTO: the first device that compiles the model (all of them with CUMULATIVE_THROUGHPUT); MULTI: every device.
      std::vector<CompileOptions> device_options;  // a bad property is the caller's error, not a device failure
      for (const Device* d : sel.devices) device_options.push_back(options(d));
      std::string failures;
      for (size_t i = 0; i < sel.devices.size(); ++i) {
        const Device* d = sel.devices[i];
        try {
          impl->targets.push_back(
              compile_target(source, *d, device_options[i], stats, static_cast<int>(cpus.size()), nullptr, hash));
          if (!all_devices) break;
        } catch (const Error& e) {
          if (sel.kind == DeviceSelection::Kind::kMulti)
            throw Error(e.code(), "device '" + device + "': " + d->name() + ": " + e.message());
          failures += (failures.empty() ? "" : "; ") + d->name() + ": " + e.message();
        }
      }
      CELER_CHECK(!impl->targets.empty(), kUnsupported, "device '", device, "': no device could compile the model (",
                  failures, ")");
    }
  });
  std::vector<StreamSpec> specs;
  for (size_t t = 0; t < impl->targets.size(); ++t) {
    const detail::Target& tg = impl->targets[t];
    std::vector<std::vector<int>> pins(static_cast<size_t>(tg.plan.streams));
    if (tg.options.enable_cpu_pinning) pins = pin_sets(cpus, tg.plan.streams, tg.plan.threads_per_stream);
    for (int s = 0; s < tg.plan.streams; ++s)
      specs.push_back({static_cast<int>(t), tg.plan.threads_per_stream, pins[static_cast<size_t>(s)]});
  }
  impl->streams = std::make_unique<StreamPool>(specs);
  impl->properties = effective_properties(*impl);
  impl->inputs = model_inputs;
  impl->outputs = model_outputs;
  impl->compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CompiledModel cm;
  cm.impl_ = impl;
  return cm;
}

CompiledModel Core::compile_model(const std::string& path, const std::string& device,
                                  const Properties& properties) const {
  // With the model cache on a single device, a hit skips the ONNX import too: the entry is keyed by the file's content
  // hash (remembered per file identity, so the file is not read again).
  const auto t0 = std::chrono::steady_clock::now();
  const DeviceSelection sel = select_devices(device);
  if (sel.kind == DeviceSelection::Kind::kSingle) {
    const CompileOptions o = options_for(*impl_, sel.base, sel.devices[0]->name(), properties);
    if (!o.cache_dir.empty()) {
      const uint64_t hash = model_file_hash(o.cache_dir, path);
      if (std::optional<LoadedGraph> hit = cache_lookup(o.cache_dir, cache_key(hash, sel.devices[0]->name(), o))) {
        auto m = std::make_shared<detail::ModelImpl>();
        m->imported.graph = hit->graph;
        m->imported.source = path;
        m->refresh_ports();
        m->cached = std::move(hit);
        m->cached_hash = hash;
        try {
          CompiledModel cm = compile(std::move(m), false, device, properties);
          // From the start: the hash lookup and reading the entry count as compile time.
          cm.impl_->compile_ms =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          return cm;
        } catch (const Error&) {
          // The entry was unusable and is gone: compiled from the file below (and stored again).
        }
      }
    }
  }
  CompiledModel cm = compile_model(read_model(path), device, properties);
  cm.impl_->compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return cm;
}

std::vector<std::string> Core::available_devices() const { return device_names(); }

}  // namespace celer
