// InferRequest: inputs in, inference on one of the compiled model's streams, outputs out; synchronous (infer) or
// asynchronous (start_async / wait / callback / cancel). AsyncInferQueue: a pool of requests fed from a job queue.
#include <algorithm>
#include <new>

#include "ops/conv.hpp"
#include "ops/gemm.hpp"
#include "ops/mat_mul.hpp"
#include "runtime/api_impl.hpp"

namespace celer {

namespace detail {

const char* InferRequestImpl::status_name() const {
  switch (status) {
    case Status::kIdle:
      return "idle";
    case Status::kQueued:
      return "queued";
    case Status::kRunning:
      return "running";
  }
  return "unknown";
}

void InferRequestImpl::check_idle(const char* what) const {
  std::lock_guard<std::mutex> lock(mu);
  CELER_CHECK(status == Status::kIdle, kInvalidArgument, what, ": the infer request is busy (", status_name(),
              "); wait() for it first");
}

std::exception_ptr InferRequestImpl::run_on(int target) {
  try {
    Target& t = model->targets[static_cast<size_t>(target)];
    std::vector<RtValue> in;
    in.reserve(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      CELER_CHECK(!inputs[i].empty(), kInvalidArgument, "input '", model->inputs[i].name, "' was not set");
      in.emplace_back(inputs[i]);
    }
    std::unique_ptr<Executor::State>& state = states[static_cast<size_t>(target)];
    if (!state) {
      state = t.executor->make_state();
      if (profiling) t.executor->enable_profiling(*state);
    }
    last_target = target;
    std::vector<RtValue> out = t.executor->run(*state, std::move(in));
    for (size_t i = 0; i < out.size(); ++i) {
      CELER_CHECK(out[i].is_tensor(), kUnsupported, "output '", model->outputs[i].name,
                  "' is not a tensor (sequences and optionals are not returned through this API)");
      outputs[i] = out[i].tensor;
    }
    return nullptr;
  } catch (const Error&) {
    return std::current_exception();
  } catch (const std::bad_alloc&) {
    return std::make_exception_ptr(Error(ErrorCode::kLimitExceeded, "out of memory during inference"));
  } catch (const std::exception& e) {
    return std::make_exception_ptr(Error(ErrorCode::kRuntime, concat("inference failed: ", e.what())));
  } catch (...) {
    return std::make_exception_ptr(Error(ErrorCode::kInternal, "inference failed with an unknown exception"));
  }
}

void InferRequestImpl::start(bool notify) {
  std::lock_guard<std::mutex> lock(mu);
  CELER_CHECK(status == Status::kIdle, kInvalidArgument, "start_async: the infer request is already ", status_name(),
              "; wait() for it before starting it again");
  status = Status::kQueued;
  error = nullptr;
  std::shared_ptr<InferRequestImpl> self = shared_from_this();
  job_id = model->streams->submit([self, notify](int target) { self->execute(target, notify); });
}

void InferRequestImpl::execute(int target, bool notify) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (status != Status::kQueued) return;  // cancelled (and perhaps restarted: that is another job)
    status = Status::kRunning;
  }
  std::exception_ptr err = run_on(target);
  std::function<void(std::exception_ptr)> cb;
  {
    std::lock_guard<std::mutex> lock(mu);
    status = Status::kIdle;
    error = err;
    if (notify && callback) {
      cb = callback;
      ++callbacks_running;
    }
  }
  if (cb) {
    try {
      cb(err);  // may start the request again
    } catch (...) {
    }
    std::lock_guard<std::mutex> lock(mu);
    --callbacks_running;
  }
  done.notify_all();
}

void InferRequestImpl::wait() {
  std::unique_lock<std::mutex> lock(mu);
  done.wait(lock, [&] { return status == Status::kIdle && callbacks_running == 0; });
  if (error) std::rethrow_exception(error);
}

struct AsyncInferQueueImpl {
  std::vector<InferRequest> requests;
  std::vector<void*> user_data;  // of the job each request runs
  std::mutex mu;
  std::condition_variable idle_cv;
  std::vector<size_t> idle;  // indices of idle requests
  AsyncInferQueue::Callback callback;
  std::exception_ptr callback_error;  // the first exception a user callback threw (rethrown by wait_all)

  void completed(size_t i, std::exception_ptr error) {
    AsyncInferQueue::Callback cb;
    void* data;
    {
      std::lock_guard<std::mutex> lock(mu);
      cb = callback;
      data = user_data[i];
    }
    std::exception_ptr thrown;
    if (cb) {
      try {
        cb(requests[i], data, error);
      } catch (...) {
        thrown = std::current_exception();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      if (thrown && !callback_error) callback_error = thrown;
      idle.push_back(i);
    }
    idle_cv.notify_all();
  }
};

}  // namespace detail

// ---- InferRequest
void InferRequest::set_tensor(const std::string& name, const Tensor& t) {
  size_t i = impl_->input_index(name);
  CELER_CHECK(i != SIZE_MAX, kInvalidArgument, "the model has no input named '", name,
              "' (inputs: ", impl_->input_names(), ")");
  set_input_tensor(i, t);
}

void InferRequest::set_input_tensor(size_t index, const Tensor& t) {
  CELER_CHECK(index < impl_->inputs.size(), kInvalidArgument, "input index ", index, " out of range: the model has ",
              impl_->inputs.size(), " inputs");
  impl_->check_input(index, t);
  impl_->check_idle("set_input_tensor");
  impl_->inputs[index] = t;
}

const Tensor& InferRequest::get_tensor(const std::string& name) const {
  size_t i = impl_->input_index(name);
  if (i != SIZE_MAX) return impl_->inputs[i];
  size_t o = impl_->output_index(name);
  CELER_CHECK(o != SIZE_MAX, kInvalidArgument, "the model has no input or output named '", name, "'");
  impl_->check_idle("get_tensor");
  return impl_->outputs[o];
}

const Tensor& InferRequest::get_input_tensor(size_t index) const {
  CELER_CHECK(index < impl_->inputs.size(), kInvalidArgument, "input index ", index, " out of range");
  return impl_->inputs[index];
}

const Tensor& InferRequest::get_output_tensor(size_t index) const {
  CELER_CHECK(index < impl_->outputs.size(), kInvalidArgument, "output index ", index, " out of range");
  impl_->check_idle("get_output_tensor");
  return impl_->outputs[index];
}

void InferRequest::infer() {
  detail::InferRequestImpl& r = *impl_;
  int here = r.model->streams->current_target();
  // On one of this model's stream threads (from a callback), run here: a queued job could wait forever. Elsewhere,
  // run here when the pool lends a stream (one-thread streams): that saves two thread wake-ups per inference.
  StreamPool::Borrowed lent = here < 0 ? r.model->streams->borrow() : StreamPool::Borrowed();
  if (lent) here = lent.target();
  if (here >= 0) {
    {
      std::lock_guard<std::mutex> lock(r.mu);
      CELER_CHECK(r.status == detail::InferRequestImpl::Status::kIdle, kInvalidArgument,
                  "infer: the infer request is already ", r.status_name());
      r.status = detail::InferRequestImpl::Status::kRunning;
      r.error = nullptr;
    }
    std::exception_ptr err = r.run_on(here);
    {
      std::lock_guard<std::mutex> lock(r.mu);
      r.status = detail::InferRequestImpl::Status::kIdle;
      r.error = err;
    }
    r.done.notify_all();
    if (err) std::rethrow_exception(err);
    return;
  }
  r.start(false);
  r.wait();
}

void InferRequest::start_async() { impl_->start(true); }

void InferRequest::wait() { impl_->wait(); }

bool InferRequest::wait_for(std::chrono::milliseconds timeout) {
  detail::InferRequestImpl& r = *impl_;
  std::unique_lock<std::mutex> lock(r.mu);
  if (!r.done.wait_for(lock, timeout,
                       [&] { return r.status == detail::InferRequestImpl::Status::kIdle && r.callbacks_running == 0; }))
    return false;
  if (r.error) std::rethrow_exception(r.error);
  return true;
}

void InferRequest::set_callback(std::function<void(std::exception_ptr)> callback) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->callback = std::move(callback);
}

void InferRequest::cancel() {
  detail::InferRequestImpl& r = *impl_;
  std::function<void(std::exception_ptr)> cb;
  std::exception_ptr err;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    if (r.status != detail::InferRequestImpl::Status::kQueued || !r.model->streams->cancel(r.job_id)) return;
    r.status = detail::InferRequestImpl::Status::kIdle;
    err = std::make_exception_ptr(Error(ErrorCode::kCancelled, "the infer request was cancelled before it ran"));
    r.error = err;
    if (r.callback) {
      cb = r.callback;
      ++r.callbacks_running;
    }
  }
  if (cb) {
    try {
      cb(err);
    } catch (...) {
    }
    std::lock_guard<std::mutex> lock(r.mu);
    --r.callbacks_running;
  }
  r.done.notify_all();
}

void InferRequest::enable_profiling() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->profiling = true;
  for (size_t t = 0; t < impl_->states.size(); ++t)
    if (impl_->states[t]) impl_->model->targets[t].executor->enable_profiling(*impl_->states[t]);
}

std::vector<NodeProfile> InferRequest::profile() const {
  impl_->check_idle("profile");
  std::vector<NodeProfile> out;
  const size_t target = static_cast<size_t>(impl_->last_target);
  if (!impl_->states[target]) return out;
  const auto& st = *impl_->states[target];
  auto kernels = impl_->model->targets[target].executor->kernels();
  for (size_t i = 0; i < kernels.size() && i < st.step_ns.size(); ++i) {
    const Node* n = kernels[i].first;
    NodeProfile p;
    p.name = n->name;
    p.op = n->type_name();
    p.kernel = kernels[i].second;
    // Kernels that compute in bf16 say so in their name; the others compute in their output's type.
    if (p.kernel.find("bf16") != std::string::npos)
      p.precision = "bf16";
    else if (!n->outputs.empty() && n->outputs[0])
      p.precision = element_type_name(n->outputs[0]->type.elem);
    if (const auto* c = dynamic_cast<const Conv*>(n->op.get()))
      p.details = post_ops_to_string(c->post_ops);
    else if (const auto* m = dynamic_cast<const MatMul*>(n->op.get()))
      p.details = post_ops_to_string(m->post_ops);
    else if (const auto* g = dynamic_cast<const Gemm*>(n->op.get()))
      p.details = post_ops_to_string(g->post_ops);
    p.total_ms = double(st.step_ns[i]) / 1e6;
    p.runs = st.step_runs[i];
    out.push_back(std::move(p));
  }
  return out;
}

// ---- AsyncInferQueue
AsyncInferQueue::AsyncInferQueue(const CompiledModel& model, size_t jobs)
    : impl_(std::make_unique<detail::AsyncInferQueueImpl>()) {
  if (jobs == 0) jobs = std::max<uint32_t>(1, model.get_property(optimal_number_of_infer_requests));
  detail::AsyncInferQueueImpl* q = impl_.get();
  q->requests.reserve(jobs);
  q->user_data.assign(jobs, nullptr);
  for (size_t i = 0; i < jobs; ++i) {
    q->requests.push_back(model.create_infer_request());
    q->requests.back().set_callback([q, i](std::exception_ptr e) { q->completed(i, e); });
    q->idle.push_back(jobs - 1 - i);  // request 0 is used first
  }
}

AsyncInferQueue::~AsyncInferQueue() {
  // Every callback must have returned before the queue (which they reference) goes away.
  for (InferRequest& r : impl_->requests) {
    try {
      r.wait();
    } catch (...) {
    }
  }
}

void AsyncInferQueue::set_callback(Callback callback) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->callback = std::move(callback);
}

void AsyncInferQueue::start_async(const std::vector<Tensor>& inputs, void* user_data) {
  detail::AsyncInferQueueImpl& q = *impl_;
  size_t i;
  {
    std::unique_lock<std::mutex> lock(q.mu);
    q.idle_cv.wait(lock, [&] { return !q.idle.empty(); });
    i = q.idle.back();
    q.idle.pop_back();
    q.user_data[i] = user_data;
  }
  InferRequest& r = q.requests[i];
  try {
    // The request's previous callback may still be returning: its status is idle only after it did.
    r.wait();
  } catch (...) {
  }
  try {
    for (size_t k = 0; k < inputs.size(); ++k) r.set_input_tensor(k, inputs[k]);
    r.start_async();
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(q.mu);
      q.idle.push_back(i);
    }
    q.idle_cv.notify_all();
    throw;
  }
}

void AsyncInferQueue::wait_all() {
  detail::AsyncInferQueueImpl& q = *impl_;
  {
    std::unique_lock<std::mutex> lock(q.mu);
    q.idle_cv.wait(lock, [&] { return q.idle.size() == q.requests.size(); });
  }
  for (InferRequest& r : q.requests) {
    try {
      r.wait();
    } catch (...) {  // errors went to the callback
    }
  }
  std::exception_ptr thrown;
  {
    std::lock_guard<std::mutex> lock(q.mu);
    std::swap(thrown, q.callback_error);
  }
  if (thrown) std::rethrow_exception(thrown);
}

size_t AsyncInferQueue::size() const { return impl_->requests.size(); }

bool AsyncInferQueue::is_ready() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return !impl_->idle.empty();
}

void AsyncInferQueue::wait_ready() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->idle_cv.wait(lock, [&] { return !impl_->idle.empty(); });
}

InferRequest& AsyncInferQueue::operator[](size_t i) {
  CELER_CHECK(i < impl_->requests.size(), kInvalidArgument, "AsyncInferQueue: request index ", i,
              " out of range (size ", impl_->requests.size(), ")");
  return impl_->requests[i];
}

}  // namespace celer
