// Large initializer payloads read outside protobuf (onnx/payloads.hpp): the walker finds exactly the raw_data
// fields, models load the same with and without it, and damaged files still give clean errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "onnx/payloads.hpp"
#include "onnx_builder.hpp"

namespace celer::test {
namespace {

// y = x + w0 + w1 + ... with big raw_data initializers (and one small one kept in the proto).
OnnxBuilder big_model(int64_t n, int count) {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {n});
  std::string prev = "x";
  for (int k = 0; k < count; ++k) {
    auto* t = b.graph().add_initializer();
    const std::string name = "w" + std::to_string(k);
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(n);
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(k + 1) + float(i % 97) * 0.25f;
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    const std::string out = k + 1 == count ? "y" : "s" + std::to_string(k);
    b.node("Add", {prev, name}, {out});
    prev = out;
  }
  b.initializer("small", {1.0f}, {1});
  b.node("Mul", {"y", "small"}, {"z"});
  b.output("z");
  return b;
}

std::string temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "celer-test-XXXXXX").string();
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

TEST(Payloads, WalkerFindsTheRawData) {
  OnnxBuilder b = big_model(4096, 3);
  const std::string bytes = b.bytes();
  StrippedModel s;
  ASSERT_TRUE(strip_payloads(bytes, 4096, s));
  ASSERT_EQ(s.initializers.size(), 4u);  // three big, one small (kept: size 0)
  EXPECT_EQ(s.initializers[3].size, 0u);
  EXPECT_LT(s.bytes.size(), 4096u);
  for (int k = 0; k < 3; ++k) {
    const PayloadSpan& p = s.initializers[size_t(k)];
    EXPECT_EQ(p.size, 4096u * 4);
    EXPECT_EQ(bytes.compare(p.offset, p.size, b.graph().initializer(k).raw_data()), 0);
  }
  onnx::ModelProto parsed;
  ASSERT_TRUE(parsed.ParseFromString(s.bytes));
  EXPECT_EQ(parsed.graph().initializer_size(), 4);
  EXPECT_FALSE(parsed.graph().initializer(0).has_raw_data());
  EXPECT_EQ(parsed.graph().initializer(0).name(), "w0");
  EXPECT_EQ(parsed.graph().node_size(), b.graph().node_size());
  // Nothing big enough: nothing to gain, the walker says no.
  EXPECT_FALSE(strip_payloads(bytes, 1 << 20, s));
}

TEST(Payloads, SameResultsFromFileAndMemory) {
  // Over the 1 MiB threshold, so that the file and memory paths both strip; 13 MB are read on two threads.
  for (const int64_t n : {int64_t(100000), int64_t(1100000)}) {
    OnnxBuilder b = big_model(n, 3);
    const std::string dir = temp_dir();
    const std::string path = dir + "/big.onnx";
    std::ofstream(path, std::ios::binary) << b.bytes();
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[size_t(i)] = float(i % 13);
    Tensor xt = Tensor::from_vector(x, {n});
    Core core;
    for (const Model& m : {core.read_model(path), core.read_model_from_memory(b.bytes())}) {
      CompiledModel cm = core.compile_model(m, "REF");
      InferRequest r = cm.create_infer_request();
      r.set_input_tensor(0, xt);
      r.infer();
      const float* z = r.get_output_tensor(0).data<float>();
      for (int64_t i = 0; i < n; i += 997) {
        float expect = x[size_t(i)];
        for (int k = 0; k < 3; ++k) expect += float(k + 1) + float(i % 97) * 0.25f;
        ASSERT_FLOAT_EQ(z[i], expect) << i;
      }
    }
    std::filesystem::remove_all(dir);
  }
}

TEST(Payloads, DamagedBigModelsFailCleanly) {
  OnnxBuilder b = big_model(100000, 3);
  const std::string whole = b.bytes();
  Core core;
  std::mt19937 rng(11);
  auto try_load = [&](const std::string& bytes) {
    try {
      core.read_model_from_memory(bytes);
    } catch (const Error&) {
    }
  };
  // Truncated anywhere: header, inside a payload, at the end.
  for (size_t cut : {size_t(3), size_t(40), whole.size() / 3, whole.size() / 2, whole.size() - 9, whole.size() - 1}) {
    try {
      core.read_model_from_memory(whole.substr(0, cut));
      ADD_FAILURE() << "a model truncated at " << cut << " loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot parse"), std::string::npos) << e.what();
    }
  }
  // Flipped bytes in the structure (not the payloads): an error or a model, never a crash.
  StrippedModel s;
  ASSERT_TRUE(strip_payloads(whole, 4096, s));
  for (int trial = 0; trial < 300; ++trial) {
    std::string bad = whole;
    size_t at = rng() % whole.size();
    for (const PayloadSpan& p : s.initializers)
      if (p.size && at >= p.offset && at < p.offset + p.size) at = rng() % 64;  // move it to the header
    bad[at] = char(bad[at] ^ (1 << (rng() % 8)));
    try_load(bad);
  }
  // A payload length that does not match the tensor's dims.
  onnx::ModelProto m = b.model();
  m.mutable_graph()->mutable_initializer(1)->set_dims(0, 99999);
  try {
    core.read_model_from_memory(m.SerializeAsString());
    ADD_FAILURE() << "a raw_data of the wrong size loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("initializer 'w1': raw_data has 400000 bytes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace celer::test
