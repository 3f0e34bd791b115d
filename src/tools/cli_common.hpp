// Pieces shared by the `celer` subcommands: parsing NAME=VALUE options, preparing input tensors (from .npy files or
// seeded random data), summarising tensors and naming output files.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "celer/celer.hpp"

namespace celer::cli {

// A subcommand: its CLI11 app and what runs when it was chosen (returns the exit status).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};
Command add_info_command(CLI::App& app);
Command add_run_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_quantize_command(CLI::App& app);
Command add_evaluate_command(CLI::App& app);

// --input/--shape/--seed, shared by `run` and `bench`.
struct InputOptions {
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::vector<std::string> shapes;  // NAME=[d0,d1,...]
  uint64_t seed = 1;
};
void add_input_options(CLI::App& app, InputOptions& opts);
// Adds --shape alone (for `info`).
void add_shape_option(CLI::App& app, std::vector<std::string>& shapes);

// Parses "NAME=[d0,d1,...]" (brackets optional; "NAME=[]" is a scalar) into a map; duplicates are an error.
std::map<std::string, Dims> parse_shape_specs(const std::vector<std::string>& specs);
// Parses "NAME=FILE" into a map; duplicates are an error.
std::map<std::string, std::string> parse_input_specs(const std::vector<std::string>& specs);
// Throws unless every name is an input of the model; `option` names the option in the message.
void check_input_names(const Model& model, const std::vector<std::string>& names, const char* option);
void check_input_names(const std::vector<PortInfo>& ports, const std::vector<std::string>& names, const char* option);

// The model with static shapes and one tensor per input, in the model's input order. A .npy file must hold the input's
// element type, except that bf16 inputs also take u16 files holding the raw bits (numpy has no bfloat16).
struct PreparedInputs {
  Model model;  // reshaped so that every input has the shape of its tensor
  std::vector<Tensor> tensors;
  std::vector<std::string> sources;  // "file.npy" or "random"
};
PreparedInputs prepare_inputs(Model model, const InputOptions& opts);
// The tensors alone, for ports that are already compiled (`model` stays empty). Dynamic dims go to *reshape (an
// error when reshape is null).
PreparedInputs prepare_input_tensors(const std::vector<PortInfo>& ports, const InputOptions& opts,
                                     std::map<std::string, PartialShape>* reshape);

// Random data: floats uniform in [-1, 1), integers in [0, 8) (valid as small indices), bools 50/50.
Tensor random_tensor(ElementType type, const Dims& dims, uint64_t seed);

// "f32[2,3] min=.. max=.. mean=.. first=[..]"
std::string summarize(const Tensor& t);
std::string type_and_shape(ElementType type, const PartialShape& shape);

// The file name an output is written to: '/' and ':' become '_', ".npy" is appended; throws for names that could not
// stay inside the output folder.
std::string output_file_name(const std::string& output_name);

// Milliseconds with a sensible number of digits.
std::string format_ms(double ms);

// A one-line progress bar on a terminal, redrawn at most 10 times a second: done / total (total 0: elapsed time /
// budget), then "<done> <unit>" and the elapsed time.
class Progress {
 public:
  Progress(bool enabled, int64_t total, double budget_ms, std::string unit = "inferences")
      : on_(enabled), total_(total), budget_ms_(budget_ms), unit_(std::move(unit)) {}
  void update(int64_t done, double elapsed_ms);
  void finish();

 private:
  bool on_;
  int64_t total_;
  double budget_ms_;
  std::string unit_;
  double last_ms_ = -1e9;
  bool drawn_ = false;
};

}  // namespace celer::cli
