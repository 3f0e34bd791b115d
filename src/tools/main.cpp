#include <iostream>

#include "celer/celer.hpp"

int main(int argc, char** argv) {
  try {
    celer::Core core;
    if (argc < 2) {
      std::cerr << "usage: celer MODEL\n";
      return 2;
    }
    auto m = core.read_model(argv[1]);
    for (const auto& p : m.inputs()) std::cout << p.name << " " << p.shape.to_string() << "\n";
  } catch (const celer::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
