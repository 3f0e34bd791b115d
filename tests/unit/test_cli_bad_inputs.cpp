// ../shared/BAD-INPUTS.md rows 1-22 through the command-line tool: every malformed model or input ends with exit
// status 1 and a "celer: error:" message naming the problem, never a signal.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "io/npy.hpp"
#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;
namespace fs = std::filesystem;

namespace {

struct Outcome {
  int status = -1;
  bool signaled = false;
  std::string output;
};

Outcome run_cli(const std::string& args) {
  Outcome r;
  FILE* p = popen((std::string(CELER_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.signaled = WIFSIGNALED(st);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

struct BadCase {
  std::string name;      // what is wrong (row of BAD-INPUTS.md)
  std::string bytes;     // the model file
  std::string fragment;  // part of the expected message
};

OnnxBuilder identity_model() {
  OnnxBuilder b(13);
  b.input("x", onnx::TensorProto::FLOAT, {2, 3});
  b.node("Identity", {"x"}, {"y"}, "id");
  b.output("y");
  return b;
}

std::vector<BadCase> bad_models() {
  std::vector<BadCase> cases;
  cases.push_back({"row1 empty file", "", "empty"});
  cases.push_back({"row1 random bytes", std::string(1000, '\xff'), "cannot parse"});
  std::string whole = identity_model().bytes();
  cases.push_back({"row1 cut in half", whole.substr(0, whole.size() / 2), "cannot parse"});
  {
    OnnxBuilder b = identity_model();
    b.model().clear_graph();
    cases.push_back({"row2 no graph", b.bytes(), "no graph"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {1});
    b.node("Identity", {"x"}, {"y"});
    cases.push_back({"row2 no outputs", b.bytes(), "no outputs"});
  }
  {
    OnnxBuilder b = identity_model();
    b.model().mutable_opset_import(0)->set_version(99);
    cases.push_back({"row3 future opset", b.bytes(), "opset 99"});
  }
  {
    OnnxBuilder b = identity_model();
    b.model().clear_opset_import();
    cases.push_back({"row3 no opset", b.bytes(), "opset_import"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {1});
    b.node("Frobnicate", {"x"}, {"a"}, "f1");
    b.node("Defrobnicate", {"a"}, {"y"}, "f2");
    b.output("y");
    cases.push_back({"row4 unknown ops", b.bytes(), "Defrobnicate"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {1});
    b.node("Add", {"x", "b"}, {"a"}, "c1");
    b.node("Add", {"a", "x"}, {"b"}, "c2");
    b.output("b");
    cases.push_back({"row5 cycle", b.bytes(), "cycle"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {1});
    b.node("Add", {"x", "ghost"}, {"y"}, "adder");
    b.output("y");
    cases.push_back({"row6 undefined input", b.bytes(), "ghost"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {4});
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(4);
    t->set_raw_data(std::string(7, '\0'));
    b.node("Add", {"x", "w"}, {"y"});
    b.output("y");
    cases.push_back({"row8 short tensor data", b.bytes(), "'w'"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {1});
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(INT64_MAX / 2);
    t->add_dims(4);
    b.node("Add", {"x", "w"}, {"y"});
    b.output("y");
    cases.push_back({"row9 overflowing dims", b.bytes(), "overflows"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", 55, {1});
    b.node("Identity", {"x"}, {"y"});
    b.output("y");
    cases.push_back({"row11 unknown type", b.bytes(), "element type"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {4});
    auto* t = b.graph().add_initializer();
    t->set_name("w");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(4);
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value("../../../etc/passwd");
    b.node("Add", {"x", "w"}, {"y"});
    b.output("y");
    cases.push_back({"row12 external data escapes", b.bytes(), "outside the model's folder"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {1, 4, 8, 8});
    b.initializer("w", std::vector<float>(4 * 4 * 9, 0.f), {4, 4, 3, 3});
    auto& n = b.node("Conv", {"x", "w"}, {"y"}, "conv");
    OnnxBuilder::attr(n, "strides", std::vector<int64_t>{0, 0});
    b.output("y");
    cases.push_back({"row14 stride 0", b.bytes(), "strides"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {2, 3});
    auto& n = b.node("Softmax", {"x"}, {"y"}, "sm");
    OnnxBuilder::attr(n, "axis", int64_t(9));
    b.output("y");
    cases.push_back({"row15 axis out of range", b.bytes(), "'axis'"});
  }
  {
    OnnxBuilder b(13);
    b.input("x", onnx::TensorProto::FLOAT, {1});
    b.initializer_i64("shape", {10000000, 1000000}, {2});
    b.node("ConstantOfShape", {"shape"}, {"big"}, "bomb");
    b.node("Add", {"x", "big"}, {"y"});
    b.output("y");
    cases.push_back({"row16 allocation bomb", b.bytes(), "limit"});
  }
  {
    OnnxBuilder b(13);
    b.input("a", onnx::TensorProto::FLOAT, {2, 3});
    b.input("b", onnx::TensorProto::FLOAT, {4, 5});
    b.node("MatMul", {"a", "b"}, {"y"}, "mm");
    b.output("y");
    cases.push_back({"row17 matmul shapes", b.bytes(), "[4,5]"});
  }
  return cases;
}

class CliBadInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("celer_cli_bad_" + std::to_string(getpid()));
    fs::create_directories(dir_ / "models");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& bytes) {
    fs::path p = dir_ / "models" / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
  fs::path dir_;
};

void expect_clean_failure(const Outcome& r, const std::string& what, const std::string& fragment) {
  EXPECT_FALSE(r.signaled) << what;
  EXPECT_EQ(r.status, 1) << what << ": " << r.output;
  EXPECT_NE(r.output.find("celer: error:"), std::string::npos) << what << ": " << r.output;
  EXPECT_NE(r.output.find(fragment), std::string::npos) << what << ": " << r.output;
}

}  // namespace

TEST_F(CliBadInputs, MalformedModelsExitWithStatusOne) {
  int i = 0;
  for (const BadCase& c : bad_models()) {
    std::string path = write("bad" + std::to_string(i++) + ".onnx", c.bytes);
    expect_clean_failure(run_cli("info " + path), "info: " + c.name, c.fragment);
    expect_clean_failure(run_cli("run " + path), "run: " + c.name, c.fragment);
  }
}

TEST_F(CliBadInputs, RuntimeIndexOutOfRange) {
  OnnxBuilder b(13);
  b.input("data", onnx::TensorProto::FLOAT, {3, 2});
  b.input("idx", onnx::TensorProto::INT64, {2});
  b.node("Gather", {"data", "idx"}, {"y"}, "gather");
  b.output("y");
  std::string model = write("gather.onnx", b.bytes());
  std::string idx = (dir_ / "idx.npy").string();
  npy::write(idx, Tensor::from_vector<int64_t>({0, 42}, {2}));
  expect_clean_failure(run_cli("run " + model + " --input idx=" + idx), "row18", "42");
}

TEST_F(CliBadInputs, BadRequestInputs) {
  std::string model = write("id.onnx", identity_model().bytes());
  std::string wrong_type = (dir_ / "i32.npy").string();
  npy::write(wrong_type, Tensor(ElementType::kI32, {2, 3}));
  expect_clean_failure(run_cli("run " + model + " --input x=" + wrong_type), "row21 dtype", "'x'");
  std::string wrong_shape = (dir_ / "f32.npy").string();
  npy::write(wrong_shape, Tensor(ElementType::kF32, {3, 2}));
  expect_clean_failure(run_cli("run " + model + " --input x=" + wrong_shape), "row21 shape", "'x'");
  expect_clean_failure(run_cli("run " + model + " --input nope=" + wrong_shape), "row21 name", "nope");
  std::string garbage = (dir_ / "garbage.npy").string();
  std::ofstream(garbage, std::ios::binary) << "\x93NUMPY garbage that is not a header";
  expect_clean_failure(run_cli("run " + model + " --input x=" + garbage), "row22 garbage", "garbage.npy");
  std::string good = (dir_ / "good.npy").string();
  npy::write(good, Tensor(ElementType::kF32, {2, 3}));
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string truncated = (dir_ / "truncated.npy").string();
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  expect_clean_failure(run_cli("run " + model + " --input x=" + truncated), "row22 truncated", "truncated.npy");
}
