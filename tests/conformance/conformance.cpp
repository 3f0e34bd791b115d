// Runs ONNX's backend node tests (DIR/node/<case>/model.onnx + test_data_set_*/{input,output}_*.pb) on a device and
// compares with the expected outputs: floats within rtol 1e-3 / atol 1e-7, everything else exact. A list of expected
// failures (one case per line, '# reason' after it) is checked both ways: an unexpected failure or an unexpected pass
// fails the run. Cases whose reason starts with "random output" are the exception: their expected data are one draw
// of a random generator, which an implementation matches now and then by chance, so they may pass.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "celer/celer.hpp"
#include "core/dispatch.hpp"
#include "onnx/onnx-data.pb.h"
#include "onnx/onnx.pb.h"
#include "onnx/onnx_tensor.hpp"
#include "runtime/device.hpp"
#include "runtime/executor.hpp"

namespace fs = std::filesystem;
using namespace celer;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

RtValue read_value(const fs::path& p, const ValueType& type) {
  std::string bytes = read_file(p);
  if (type.optional) {
    onnx::OptionalProto op;
    if (!op.ParseFromString(bytes)) throw std::runtime_error("cannot parse " + p.string());
    if (op.has_tensor_value()) return RtValue(read_onnx_tensor(op.tensor_value(), "", p.string()));
    if (op.has_sequence_value()) {
      std::vector<Tensor> items;
      for (const auto& t : op.sequence_value().tensor_values()) items.push_back(read_onnx_tensor(t, "", p.string()));
      return RtValue::make_sequence(std::move(items), type.elem);
    }
    return RtValue();
  }
  if (type.kind == ValueKind::kSequence) {
    onnx::SequenceProto sp;
    if (!sp.ParseFromString(bytes)) throw std::runtime_error("cannot parse " + p.string());
    std::vector<Tensor> items;
    for (const auto& t : sp.tensor_values()) items.push_back(read_onnx_tensor(t, "", p.string()));
    ElementType e = items.empty() ? type.elem : items.front().type();
    if (items.empty() && sp.elem_type() == onnx::SequenceProto::TENSOR && type.elem == ElementType::kUndefined)
      e = ElementType::kF32;
    return RtValue::make_sequence(std::move(items), e);
  }
  onnx::TensorProto tp;
  if (!tp.ParseFromString(bytes)) throw std::runtime_error("cannot parse " + p.string());
  Tensor t = read_onnx_tensor(tp, "", p.string());
  // ONNX 1.12 writes bfloat16 test data as uint16 tensors holding the bits (numpy has no bfloat16): reinterpret them
  // as the bf16 values the model declares.
  if (type.elem == ElementType::kBF16 && t.type() == ElementType::kU16) {
    Tensor b(ElementType::kBF16, t.dims());
    if (t.size() > 0) std::memcpy(b.raw(), t.raw(), t.byte_size());
    t = b;
  }
  return RtValue(t);
}

// Returns "" when equal, else the first difference.
std::string compare_tensor(const Tensor& got, const Tensor& want, const std::string& what) {
  if (got.type() != want.type())
    return what + ": type " + std::string(element_type_name(got.type())) + " != expected " +
           std::string(element_type_name(want.type()));
  if (got.dims() != want.dims())
    return what + ": shape " + dims_to_string(got.dims()) + " != expected " + dims_to_string(want.dims());
  std::ostringstream err;
  if (want.type() == ElementType::kString) {
    for (int64_t i = 0; i < want.size(); ++i)
      if (got.data<std::string>()[i] != want.data<std::string>()[i]) {
        err << what << "[" << i << "]: '" << got.data<std::string>()[i] << "' != '" << want.data<std::string>()[i] << "'";
        return err.str();
      }
    return "";
  }
  for (int64_t i = 0; i < want.size(); ++i) {
    double a = got.value_as_double(i), b = want.value_as_double(i);
    bool ok;
    if (is_float(want.type())) {
      ok = (std::isnan(a) && std::isnan(b)) || a == b || std::fabs(a - b) <= 1e-7 + 1e-3 * std::fabs(b);
    } else {
      ok = got.value_as_int(i) == want.value_as_int(i);
    }
    if (!ok) {
      err << what << "[" << i << "]: " << a << " != expected " << b;
      return err.str();
    }
  }
  return "";
}

std::string compare(const RtValue& got, const RtValue& want, const std::string& what) {
  if (want.is_none()) return got.is_none() ? "" : what + ": expected an empty optional";
  if (want.is_sequence()) {
    if (!got.is_sequence()) return what + ": expected a sequence";
    if (got.sequence.size() != want.sequence.size())
      return what + ": sequence length " + std::to_string(got.sequence.size()) + " != " +
             std::to_string(want.sequence.size());
    for (size_t i = 0; i < want.sequence.size(); ++i) {
      std::string e = compare_tensor(got.sequence[i], want.sequence[i], what + "{" + std::to_string(i) + "}");
      if (!e.empty()) return e;
    }
    return "";
  }
  if (!got.is_tensor()) return what + ": expected a tensor";
  return compare_tensor(got.tensor, want.tensor, what);
}

std::string run_case(const fs::path& dir, const Device& device) {
  Core core;
  Model model = core.read_model((dir / "model.onnx").string());
  std::shared_ptr<Graph> g = model.graph().clone();
  device.run_passes(*g, {});
  Executor exec(g, device, {});
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  for (const auto& set : sets) {
    std::vector<RtValue> inputs;
    // The ONNX test data lists inputs in the order of the graph's inputs.
    for (size_t i = 0; i < g->inputs.size(); ++i)
      inputs.push_back(read_value(set / ("input_" + std::to_string(i) + ".pb"), g->inputs[i]->type));
    std::vector<RtValue> outputs = exec.run(inputs);
    for (size_t i = 0; i < g->outputs.size(); ++i) {
      fs::path p = set / ("output_" + std::to_string(i) + ".pb");
      RtValue want = read_value(p, g->outputs[i]->type);
      std::string e = compare(outputs[i], want, set.filename().string() + " output '" + g->outputs[i]->name + "'");
      if (!e.empty()) return e;
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir, device_name = "REF", expected_file, filter;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data") data_dir = next();
    else if (a == "--device") device_name = next();
    else if (a == "--expected-failures") expected_file = next();
    else if (a == "--filter") filter = next();
    else if (a == "-v" || a == "--verbose") verbose = true;
    else {
      std::cerr << "usage: celer_conformance --data DIR [--device REF|CPU] [--expected-failures FILE] [--filter S] [-v]\n";
      return 2;
    }
  }
  const Device* device = find_device(device_name);
  if (!device || data_dir.empty()) {
    std::cerr << "need --data DIR and a known --device\n";
    return 2;
  }
  std::map<std::string, std::string> expected;  // case -> reason
  if (!expected_file.empty()) {
    std::ifstream f(expected_file);
    if (!f) {
      std::cerr << "cannot read " << expected_file << "\n";
      return 2;
    }
    std::string line;
    while (std::getline(f, line)) {
      auto hash = line.find('#');
      std::string name = line.substr(0, hash), reason = hash == std::string::npos ? "" : line.substr(hash + 1);
      name.erase(std::remove_if(name.begin(), name.end(), ::isspace), name.end());
      if (name.empty()) continue;
      size_t colon = name.find(':');  // "CPU:test_x" limits an entry to one device
      if (colon != std::string::npos) {
        if (name.substr(0, colon) != device_name) continue;
        name = name.substr(colon + 1);
      }
      expected[name] = reason;
    }
  }
  std::vector<fs::path> cases;
  if (!fs::is_directory(fs::path(data_dir) / "node")) {
    std::cerr << "celer_conformance: " << data_dir << "/node is not a directory (generate the cases first)\n";
    return 2;
  }
  for (const auto& e : fs::directory_iterator(fs::path(data_dir) / "node"))
    if (e.is_directory() && e.path().filename().string().find(filter) != std::string::npos) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  int passed = 0, failed = 0, unexpected_fail = 0, unexpected_pass = 0;
  std::map<std::string, int> reasons;
  for (const auto& c : cases) {
    std::string name = c.filename().string();
    std::string err;
    auto t0 = std::chrono::steady_clock::now();
    try {
      err = run_case(c, *device);
    } catch (const Error& e) {
      err = std::string("[") + error_code_name(e.code()) + "] " + e.what();
    } catch (const std::exception& e) {
      err = std::string("[exception] ") + e.what();
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    bool is_expected = expected.count(name) > 0;
    const bool random = is_expected && expected[name].find_first_not_of(' ') != std::string::npos &&
                        expected[name].compare(expected[name].find_first_not_of(' '), 13, "random output") == 0;
    if (err.empty()) {
      ++passed;
      if (random) {
        std::cout << "passed by chance: " << name << " (random output)\n";
      } else if (is_expected) {
        ++unexpected_pass;
        std::cout << "UNEXPECTED PASS " << name << " (remove it from the expected failures)\n";
      } else if (verbose) {
        std::cout << "pass " << name << " (" << ms << " ms)\n";
      }
    } else {
      ++failed;
      std::string first_line = err.substr(0, err.find('\n'));
      if (!is_expected) {
        ++unexpected_fail;
        std::cout << "FAIL " << name << ": " << first_line << "\n";
      } else {
        reasons[expected[name]]++;
        if (verbose) std::cout << "expected fail " << name << ": " << first_line << "\n";
      }
    }
  }
  std::cout << "\nconformance on " << device_name << ": " << cases.size() << " cases, " << passed << " pass, "
            << failed << " fail (" << failed - unexpected_fail << " expected, " << unexpected_fail
            << " unexpected), " << unexpected_pass << " unexpected passes\n";
  if (verbose)
    for (const auto& [r, n] : reasons) std::cout << "  expected failures: " << n << " x" << r << "\n";
  return unexpected_fail == 0 && unexpected_pass == 0 ? 0 : 1;
}
