// The `celer` command-line tool: info, run, bench, quantize and evaluate subcommands (see cmd_*.cpp).
//
// Exit status: 0 on success, 1 for any failure (message on stderr as "celer: error: ..."), 2 for usage errors.
#include <csignal>
#include <iostream>
#include <new>

#include "tools/cli_common.hpp"

int main(int argc, char** argv) {
  // A closed pipe (e.g. `celer info m.onnx | head -1`) must not kill the process with a signal.
  std::signal(SIGPIPE, SIG_IGN);
  using celer::cli::Command;
  CLI::App app{"celer: run ONNX models"};
  app.set_version_flag("--version", "celer 0.1.0");
  app.require_subcommand(1);
  std::vector<Command> commands;
  try {
    commands = {celer::cli::add_info_command(app), celer::cli::add_run_command(app),
                celer::cli::add_bench_command(app), celer::cli::add_quantize_command(app),
                celer::cli::add_evaluate_command(app)};
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "celer: error: " << e.what() << "\nRun 'celer --help' (or 'celer COMMAND --help') for usage.\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "celer: error: " << e.what() << "\n";
    return 1;
  }
  try {
    for (const Command& c : commands) {
      if (!c.app->parsed()) continue;
      int status = c.run();
      std::cout.flush();
      if (!std::cout) {
        std::cerr << "celer: error: cannot write to standard output\n";
        return 1;
      }
      return status;
    }
    std::cerr << "celer: error: no command given\n";
    return 2;
  } catch (const celer::Error& e) {
    std::cerr << "celer: error: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "celer: error: out of memory\n";
  } catch (const std::exception& e) {
    std::cerr << "celer: error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "celer: error: unknown failure\n";
  }
  return 1;
}
