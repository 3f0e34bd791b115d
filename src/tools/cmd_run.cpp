// `celer run MODEL`: one inference with inputs from .npy files or seeded random data; outputs written as .npy.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "io/npy.hpp"
#include "tools/cli_common.hpp"

namespace celer::cli {

namespace {

namespace fs = std::filesystem;

struct RunOptions {
  std::string model;
  std::string output_dir;
  std::string device = "CPU";
  InputOptions inputs;
};

// The paths outputs are written to; checked (and the folder created) before inference runs.
std::vector<fs::path> output_paths(const std::string& dir, const std::vector<PortInfo>& outputs) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  CELER_CHECK(!ec && fs::is_directory(dir), kIo, "cannot create the output folder '", dir, "': ", ec.message());
  const fs::path base = fs::weakly_canonical(fs::absolute(dir));
  std::set<std::string> used;
  std::vector<fs::path> paths;
  for (const auto& p : outputs) {
    std::string file = output_file_name(p.name);
    CELER_CHECK(used.insert(file).second, kInvalidArgument, "two outputs would be written to the same file '", file,
                "' (output '", p.name, "')");
    fs::path path = base / file;
    // The name has no separator, so the path is inside the folder unless it is a symbolic link pointing elsewhere.
    CELER_CHECK(path.parent_path() == base && path.filename() == file, kInvalidArgument, "output name '", p.name,
                "' would be written outside '", dir, "'");
    CELER_CHECK(!fs::is_symlink(fs::symlink_status(path, ec)), kInvalidArgument, "refusing to write output '", p.name,
                "' through the symbolic link '", path.string(), "'");
    paths.push_back(path);
  }
  return paths;
}

int run_run(const RunOptions& opts) {
  Core core;
  PreparedInputs in = prepare_inputs(core.read_model(opts.model), opts.inputs);
  std::vector<fs::path> paths;
  if (!opts.output_dir.empty()) paths = output_paths(opts.output_dir, in.model.outputs());

  CompiledModel cm = core.compile_model(in.model, opts.device);
  InferRequest request = cm.create_infer_request();
  for (size_t i = 0; i < in.tensors.size(); ++i) request.set_input_tensor(i, in.tensors[i]);
  auto t0 = std::chrono::steady_clock::now();
  request.infer();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  std::ostream& os = std::cout;
  os << "model:   " << opts.model << " on " << cm.device() << " (compiled in " << format_ms(cm.compile_ms())
     << " ms)\n";
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    os << "input   " << cm.inputs()[i].name << ": "
       << type_and_shape(in.tensors[i].type(), PartialShape::of(in.tensors[i].dims()));
    os << (in.sources[i] == "random" ? " random (seed " + std::to_string(opts.inputs.seed) + ")"
                                     : " from " + in.sources[i])
       << "\n";
  }
  for (size_t i = 0; i < cm.outputs().size(); ++i) {
    const Tensor& t = request.get_output_tensor(i);
    os << "output  " << cm.outputs()[i].name << ": " << summarize(t);
    if (!paths.empty()) {
      npy::write(paths[i].string(), t);
      os << " -> " << paths[i].string();
    }
    os << "\n";
  }
  os << "latency: " << format_ms(ms) << " ms\n";
  return 0;
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Run a model once and write its outputs as .npy files");
  sub->add_option("model", opts->model, "ONNX model file")->required();
  add_input_options(*sub, opts->inputs);
  sub->add_option("--output-dir,-o", opts->output_dir, "Folder to write <output name>.npy files to");
  sub->add_option("--device,-d", opts->device, "Device: CPU or REF")->capture_default_str();
  return {sub, [opts] { return run_run(*opts); }};
}

}  // namespace celer::cli
