// Asynchronous inference: start_async / wait / wait_for / callbacks / cancel, many requests on several streams,
// AsyncInferQueue, errors through wait and callbacks, MULTI, and lifetimes (handles dropped while jobs run).
// Also run under ThreadSanitizer by scripts/tsan. No test sleeps to synchronise; waits are bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

namespace {

constexpr auto kTimeout = std::chrono::seconds(60);  // generous: a hang fails instead of blocking the suite

// x [4, 16] -> MatMul (16x16) -> Add -> Relu -> y
Model mlp() {
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {4, 16});
  std::vector<float> w(256), bias(16);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i * 7 % 13) - 6) * 0.125f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = float(i) * 0.25f - 2;
  b.initializer("w", w, {16, 16});
  b.initializer("b", bias, {16});
  b.node("MatMul", {"x", "w"}, {"h"});
  b.node("Add", {"h", "b"}, {"a"});
  b.node("Relu", {"a"}, {"y"});
  b.output("y");
  return b.read();
}

Tensor input(int k) {
  std::vector<float> v(64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float((int(i) * 5 + k * 11) % 17) * 0.25f - 2;
  return Tensor::from_vector<float>(v, {4, 16});
}

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.size()); }

// x [6] and a shape input -> Reshape -> y: a bad shape fails inside the request, at run time.
Model reshape_model() {
  OnnxBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {6});
  b.input("shape", onnx::TensorProto::INT64, {2});
  b.node("Reshape", {"x", "shape"}, {"y"});
  b.output("y");
  return b.read();
}

// One 1-thread stream (deterministic queueing; OpenMP stays serial, which ThreadSanitizer needs).
const Properties kOneStream = {{"num_streams", "1"}, {"inference_num_threads", "1"}};
const Properties kTwoStreams = {{"num_streams", "2"}, {"inference_num_threads", "2"}};

std::vector<float> reference(int k) {
  static Core core;
  static CompiledModel ref = core.compile_model(mlp(), "REF");
  InferRequest r = ref.create_infer_request();
  r.set_input_tensor(0, input(k));
  r.infer();
  return values(r.get_output_tensor(0));
}

ErrorCode code_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    return err.code();
  } catch (...) {
    return ErrorCode::kInternal;
  }
}

}  // namespace

TEST(Async, StartWaitGivesTheOutputsOfInfer) {
  Core core;
  CompiledModel cm = core.compile_model(mlp(), "CPU", kOneStream);
  InferRequest r = cm.create_infer_request();
  r.set_input_tensor(0, input(1));
  r.start_async();
  ASSERT_TRUE(r.wait_for(kTimeout));
  EXPECT_EQ(values(r.get_output_tensor(0)), reference(1));
  r.wait();  // completed: returns at once
  r.set_input_tensor(0, input(2));
  r.infer();
  EXPECT_EQ(values(r.get_output_tensor(0)), reference(2));
  InferRequest never = cm.create_infer_request();
  EXPECT_TRUE(never.wait_for(std::chrono::milliseconds(0)));  // never started: nothing to wait for
}

TEST(Async, CallbackRunsOncePerCompletion) {
  Core core;
  CompiledModel cm = core.compile_model(mlp(), "CPU", kTwoStreams);
  InferRequest r = cm.create_infer_request();
  std::atomic<int> calls{0}, errors{0};
  r.set_callback([&](std::exception_ptr e) {
    calls++;
    if (e) errors++;
  });
  r.set_input_tensor(0, input(3));
  for (int i = 0; i < 5; ++i) {
    r.start_async();
    ASSERT_TRUE(r.wait_for(kTimeout));
    EXPECT_EQ(calls.load(), i + 1);  // wait returns after the callback
  }
  r.infer();  // synchronous inference does not call the callback
  EXPECT_EQ(calls.load(), 5);
  EXPECT_EQ(errors.load(), 0);
}

TEST(Async, CallbackMayRestartTheRequest) {
  Core core;
  CompiledModel cm = core.compile_model(mlp(), "CPU", kOneStream);
  InferRequest r = cm.create_infer_request();
  std::atomic<int> runs{0};
  std::promise<void> finished;
  r.set_callback([&](std::exception_ptr e) {
    EXPECT_FALSE(e);
    if (++runs < 4)
      r.start_async();
    else
      finished.set_value();
  });
  r.set_input_tensor(0, input(4));
  r.start_async();
  ASSERT_EQ(finished.get_future().wait_for(kTimeout), std::future_status::ready);
  ASSERT_TRUE(r.wait_for(kTimeout));
  EXPECT_EQ(runs.load(), 4);
  EXPECT_EQ(values(r.get_output_tensor(0)), reference(4));
}

TEST(Async, ErrorsComeOutOfWaitAndTheCallback) {
  Core core;
  CompiledModel cm = core.compile_model(reshape_model(), "CPU", kOneStream);
  InferRequest r = cm.create_infer_request();
  std::exception_ptr seen;
  int calls = 0;
  r.set_callback([&](std::exception_ptr e) {
    seen = e;
    ++calls;
  });
  // An input that was not set.
  r.set_input_tensor(0, Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {6}));
  r.start_async();
  try {
    r.wait();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'shape' was not set"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(seen);
  EXPECT_EQ(code_of(seen), ErrorCode::kInvalidArgument);
  // A shape the kernel refuses, at run time; the error names the node.
  r.set_input_tensor(1, Tensor::from_vector<int64_t>({4, 4}, {2}));
  r.start_async();
  try {
    r.wait();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Reshape"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls, 2);
  EXPECT_THROW(r.infer(), Error);
  // The request works again with good inputs.
  r.set_input_tensor(1, Tensor::from_vector<int64_t>({2, 3}, {2}));
  r.start_async();
  r.wait();
  EXPECT_EQ(r.get_output_tensor(0).dims(), (Dims{2, 3}));
  EXPECT_FALSE(seen);
}

// Blocks the only stream in a callback, so that other requests stay queued until release() is called.
struct StreamBlocker {
  std::promise<void> entered, release;
  std::shared_future<void> release_f = release.get_future().share();
  InferRequest r;
  explicit StreamBlocker(const CompiledModel& cm) : r(cm.create_infer_request()) {
    r.set_input_tensor(0, input(0));
    r.set_callback([this](std::exception_ptr) {
      entered.set_value();
      release_f.wait_for(kTimeout);
    });
    r.start_async();
    EXPECT_EQ(entered.get_future().wait_for(kTimeout), std::future_status::ready);
  }
  ~StreamBlocker() {
    release.set_value();
    r.wait_for(kTimeout);
  }
};

TEST(Async, BusyRequestsRefuseToStartAndCancelRemovesQueuedOnes) {
  Core core;
  CompiledModel cm = core.compile_model(mlp(), "CPU", kOneStream);
  InferRequest queued = cm.create_infer_request();
  std::vector<ErrorCode> callback_codes;
  queued.set_callback([&](std::exception_ptr e) { callback_codes.push_back(e ? code_of(e) : ErrorCode::kInternal); });
  {
    StreamBlocker blocker(cm);
    queued.set_input_tensor(0, input(5));
    queued.start_async();
    // Busy: starting again, or changing inputs, is an error naming the state.
    try {
      queued.start_async();
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("queued"), std::string::npos) << e.what();
    }
    EXPECT_THROW(queued.set_input_tensor(0, input(6)), Error);
    EXPECT_FALSE(queued.wait_for(std::chrono::milliseconds(20)));  // the only stream is blocked
    queued.cancel();
    try {
      queued.wait();
      FAIL() << "expected kCancelled";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCancelled);
      EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos);
    }
    ASSERT_EQ(callback_codes.size(), 1u);
    EXPECT_EQ(callback_codes[0], ErrorCode::kCancelled);
    // A cancelled request can start again; it runs once the stream is free.
    queued.start_async();
  }
  ASSERT_TRUE(queued.wait_for(kTimeout));
  EXPECT_EQ(values(queued.get_output_tensor(0)), reference(5));
  EXPECT_EQ(callback_codes.size(), 2u);
  queued.cancel();  // idle: nothing to cancel
  EXPECT_NO_THROW(queued.wait());
}

TEST(Async, CancelNeverBreaksARequest) {
  Core core;
  CompiledModel cm = core.compile_model(mlp(), "CPU", kTwoStreams);
  std::vector<InferRequest> rs;
  for (int i = 0; i < 8; ++i) {
    rs.push_back(cm.create_infer_request());
    rs.back().set_input_tensor(0, input(i));
    rs.back().start_async();
  }
  for (int i = 0; i < 8; i += 2) rs[size_t(i)].cancel();
  for (int i = 0; i < 8; ++i) {
    try {
      ASSERT_TRUE(rs[size_t(i)].wait_for(kTimeout));
      EXPECT_EQ(values(rs[size_t(i)].get_output_tensor(0)), reference(i));
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCancelled);
      EXPECT_EQ(i % 2, 0);
    }
  }
}

TEST(Async, ManyRequestsInParallelMatchSequentialInference) {
  Core core;
  for (const char* dev : {"CPU", "MULTI:CPU,REF"}) {
    CompiledModel cm = core.compile_model(mlp(), dev, kTwoStreams);
    const int n = 16;
    std::vector<InferRequest> rs;
    for (int i = 0; i < n; ++i) rs.push_back(cm.create_infer_request());
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < n; ++i) {
        rs[size_t(i)].set_input_tensor(0, input(i + round));
        rs[size_t(i)].start_async();
      }
      for (int i = 0; i < n; ++i) {
        ASSERT_TRUE(rs[size_t(i)].wait_for(kTimeout)) << dev;
        EXPECT_EQ(values(rs[size_t(i)].get_output_tensor(0)), reference(i + round)) << dev << " request " << i;
      }
    }
  }
}

TEST(Async, SynchronousInferFromSeveralThreads) {
  Core core;
  CompiledModel cm = core.compile_model(mlp(), "CPU", kTwoStreams);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      InferRequest r = cm.create_infer_request();
      for (int i = 0; i < 10; ++i) {
        r.set_input_tensor(0, input(t * 10 + i));
        r.infer();
        if (values(r.get_output_tensor(0)) != reference(t * 10 + i)) mismatches++;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Async, InferInsideACallbackRunsOnTheStream) {
  Core core;
  CompiledModel cm = core.compile_model(mlp(), "CPU", kOneStream);
  InferRequest a = cm.create_infer_request(), b = cm.create_infer_request();
  a.set_input_tensor(0, input(7));
  b.set_input_tensor(0, input(8));
  std::vector<float> got;
  a.set_callback([&](std::exception_ptr) {
    b.infer();  // the only stream is this one: infer() must not queue behind itself
    got = values(b.get_output_tensor(0));
  });
  a.start_async();
  ASSERT_TRUE(a.wait_for(kTimeout));
  EXPECT_EQ(got, reference(8));
}

TEST(Async, HandlesMayBeDroppedWhileRequestsRun) {
  Core core;
  std::promise<void> done;
  std::future<void> done_f = done.get_future();
  std::vector<float> got;
  {
    CompiledModel cm = core.compile_model(mlp(), "CPU", kOneStream);
    InferRequest r = cm.create_infer_request();
    r.set_input_tensor(0, input(9));
    r.set_callback([&](std::exception_ptr e) {
      EXPECT_FALSE(e);
      done.set_value();
    });
    r.start_async();
    // Queued requests whose handles go away still run or are dropped safely.
    for (int i = 0; i < 4; ++i) {
      InferRequest extra = cm.create_infer_request();
      extra.set_input_tensor(0, input(i));
      extra.start_async();
    }
  }  // the compiled model and requests are released here; the jobs keep what they need alive
  ASSERT_EQ(done_f.wait_for(kTimeout), std::future_status::ready);
}

TEST(Async, AsyncInferQueuePassesUserData) {
  Core core;
  CompiledModel cm = core.compile_model(mlp(), "CPU", kTwoStreams);
  AsyncInferQueue queue(cm, 3);
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_TRUE(queue.is_ready());
  const int n = 20;
  std::vector<std::vector<float>> results(n);
  std::vector<int> ids(n);
  std::atomic<int> calls{0};
  std::mutex mu;
  queue.set_callback([&](InferRequest& r, void* data, std::exception_ptr e) {
    EXPECT_FALSE(e);
    int id = *static_cast<int*>(data);
    std::lock_guard<std::mutex> lock(mu);
    results[size_t(id)] = values(r.get_output_tensor(0));
    calls++;
  });
  for (int i = 0; i < n; ++i) {
    ids[size_t(i)] = i;
    queue.start_async({input(i)}, &ids[size_t(i)]);
  }
  queue.wait_all();
  EXPECT_EQ(calls.load(), n);
  for (int i = 0; i < n; ++i) EXPECT_EQ(results[size_t(i)], reference(i)) << i;
  EXPECT_TRUE(queue.is_ready());
  // Default size: the compiled model's optimal number of requests.
  AsyncInferQueue dflt(cm);
  EXPECT_EQ(dflt.size(), size_t(cm.get_property(optimal_number_of_infer_requests)));
}

TEST(Async, AsyncInferQueueWaitReadyReturnsOnceARequestIsIdle) {
  Core core;
  CompiledModel cm = core.compile_model(mlp(), "CPU", kOneStream);
  AsyncInferQueue queue(cm, 1);
  std::atomic<int> calls{0};
  queue.set_callback([&](InferRequest&, void*, std::exception_ptr e) {
    EXPECT_FALSE(e);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    calls++;
  });
  queue.wait_ready();  // idle from the start
  for (int i = 0; i < 3; ++i) {
    queue.start_async({input(i)});
    queue.wait_ready();  // the only request's callback has returned
    EXPECT_EQ(calls.load(), i + 1);
    EXPECT_TRUE(queue.is_ready());
  }
  queue.wait_all();
}

TEST(Async, AsyncInferQueueReportsErrorsToTheCallback) {
  Core core;
  CompiledModel cm = core.compile_model(reshape_model(), "CPU", kOneStream);
  AsyncInferQueue queue(cm, 2);
  std::atomic<int> failed{0}, ok{0};
  queue.set_callback([&](InferRequest&, void*, std::exception_ptr e) { (e ? failed : ok)++; });
  Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {6});
  for (int i = 0; i < 6; ++i) queue.start_async({x, Tensor::from_vector<int64_t>({i % 2 ? 4 : 2, i % 2 ? 4 : 3}, {2})});
  queue.wait_all();
  EXPECT_EQ(failed.load(), 3);
  EXPECT_EQ(ok.load(), 3);
  // A bad input type is refused at once, and the request goes back to the pool.
  EXPECT_THROW(queue.start_async({Tensor::from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {6})}), Error);
  queue.wait_all();
  EXPECT_TRUE(queue.is_ready());
  // An exception thrown by the user's callback comes out of wait_all.
  queue.set_callback([](InferRequest&, void*, std::exception_ptr) { throw std::runtime_error("user callback"); });
  queue.start_async({x, Tensor::from_vector<int64_t>({3, 2}, {2})});
  EXPECT_THROW(queue.wait_all(), std::runtime_error);
}
