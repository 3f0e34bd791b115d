#include "tools/cli_common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include "core/dispatch.hpp"
#include "io/npy.hpp"

namespace celer::cli {

namespace {

std::string input_list(const std::vector<PortInfo>& ports) {
  std::string s;
  for (const auto& p : ports) s += (s.empty() ? "'" : ", '") + p.name + "'";
  return s.empty() ? "none" : s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

Dims parse_dims(const std::string& spec, const std::string& text) {
  std::string body = trim(text);
  if (!body.empty() && body.front() == '[') {
    CELER_CHECK(body.back() == ']', kInvalidArgument, "--shape '", spec, "': missing ']'");
    body = body.substr(1, body.size() - 2);
  }
  Dims dims;
  if (trim(body).empty()) return dims;
  std::stringstream ss(body);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    CELER_CHECK(used == item.size() && !item.empty() && v >= 0, kInvalidArgument, "--shape '", spec, "': '", item,
                "' is not a non-negative integer dimension");
    dims.push_back(v);
  }
  return dims;
}

}  // namespace

void add_shape_option(CLI::App& app, std::vector<std::string>& shapes) {
  app.add_option("--shape", shapes, "Static shape for an input, NAME=[d0,d1,...] (repeatable)")
      ->allow_extra_args(false)
      ->type_name("NAME=[DIMS]");
}

void add_input_options(CLI::App& app, InputOptions& opts) {
  app.add_option("--input", opts.inputs, "Input data, NAME=FILE.npy (repeatable); others get random data")
      ->allow_extra_args(false)
      ->type_name("NAME=FILE");
  add_shape_option(app, opts.shapes);
  app.add_option("--seed", opts.seed, "Seed of the random input data")->capture_default_str();
}

std::map<std::string, Dims> parse_shape_specs(const std::vector<std::string>& specs) {
  std::map<std::string, Dims> out;
  for (const auto& spec : specs) {
    size_t eq = spec.rfind('=');
    CELER_CHECK(eq != std::string::npos && eq > 0, kInvalidArgument, "--shape '", spec, "': expected NAME=[d0,d1,...]");
    std::string name = spec.substr(0, eq);
    CELER_CHECK(!out.count(name), kInvalidArgument, "--shape: input '", name, "' given twice");
    out[name] = parse_dims(spec, spec.substr(eq + 1));
  }
  return out;
}

std::map<std::string, std::string> parse_input_specs(const std::vector<std::string>& specs) {
  std::map<std::string, std::string> out;
  for (const auto& spec : specs) {
    size_t eq = spec.find('=');
    CELER_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < spec.size(), kInvalidArgument, "--input '", spec,
                "': expected NAME=FILE.npy");
    std::string name = spec.substr(0, eq);
    CELER_CHECK(!out.count(name), kInvalidArgument, "--input: input '", name, "' given twice");
    out[name] = spec.substr(eq + 1);
  }
  return out;
}

void check_input_names(const std::vector<PortInfo>& ports, const std::vector<std::string>& names, const char* option) {
  for (const auto& name : names) {
    bool found = false;
    for (const auto& p : ports) found = found || p.name == name;
    CELER_CHECK(found, kInvalidArgument, option, ": the model has no input named '", name,
                "' (inputs: ", input_list(ports), ")");
  }
}

void check_input_names(const Model& model, const std::vector<std::string>& names, const char* option) {
  check_input_names(model.inputs(), names, option);
}

Tensor random_tensor(ElementType type, const Dims& dims, uint64_t seed) {
  Tensor t(type, dims);
  std::mt19937_64 rng(seed);
  auto unit = [&] { return double(rng() >> 11) * 0x1.0p-53; };  // uniform in [0, 1)
  dispatch_numeric(type, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.size(); ++i) {
      if constexpr (std::is_same_v<T, bool>) {
        p[i] = (rng() >> 63) != 0;
      } else if constexpr (std::is_integral_v<T>) {
        p[i] = T(rng() >> 61);  // [0, 8)
      } else {
        p[i] = T(float(unit() * 2.0 - 1.0));
      }
    }
  });
  return t;
}

namespace {

// Reads an input's .npy file and checks it against the port (and against --shape, when given too).
Tensor read_input(const PortInfo& p, const std::string& file, const Dims* shape) {
  Tensor t = npy::read(file);
  if (p.type == ElementType::kBF16 && t.type() == ElementType::kU16) {
    // numpy has no bfloat16: u16 arrays holding the raw bits (as onnx.numpy_helper produces) are accepted.
    Tensor bits(ElementType::kBF16, t.dims());
    if (t.byte_size()) std::memcpy(bits.raw(), t.raw(), t.byte_size());
    t = bits;
  }
  CELER_CHECK(p.type == ElementType::kUndefined || t.type() == p.type, kInvalidArgument, "input '", p.name,
              "' expects element type ", element_type_name(p.type), ", but '", file, "' holds ",
              element_type_name(t.type()));
  CELER_CHECK(p.shape.accepts(t.dims()), kInvalidArgument, "input '", p.name, "' expects shape ", p.shape.to_string(),
              ", but '", file, "' holds shape ", dims_to_string(t.dims()));
  CELER_CHECK(!shape || *shape == t.dims(), kInvalidArgument, "input '", p.name, "': --shape ", dims_to_string(*shape),
              " disagrees with the shape ", dims_to_string(t.dims()), " of '", file, "'");
  return t;
}

}  // namespace

PreparedInputs prepare_inputs(Model model, const InputOptions& opts) {
  std::map<std::string, PartialShape> reshape;
  PreparedInputs out = prepare_input_tensors(model.inputs(), opts, &reshape);
  if (!reshape.empty()) model.reshape(reshape);
  out.model = std::move(model);
  return out;
}

PreparedInputs prepare_input_tensors(const std::vector<PortInfo>& ports, const InputOptions& opts,
                                     std::map<std::string, PartialShape>* reshape_out) {
  const auto files = parse_input_specs(opts.inputs);
  const auto shapes = parse_shape_specs(opts.shapes);
  std::vector<std::string> names;
  for (const auto& [name, file] : files) names.push_back(name);
  check_input_names(ports, names, "--input");
  names.clear();
  for (const auto& [name, dims] : shapes) names.push_back(name);
  check_input_names(ports, names, "--shape");

  PreparedInputs out;
  out.tensors.resize(ports.size());
  out.sources.resize(ports.size());
  // Pass 1: inputs given as files, and the values of symbolic dims ("batch") they and --shape fix.
  std::map<std::string, int64_t> symbols;
  auto learn = [&](const PortInfo& p, const Dims& dims) {
    if (!p.shape.rank_known()) return;
    for (size_t k = 0; k < dims.size(); ++k) {
      const std::string& sym = p.shape[k].symbol_name();
      if (!sym.empty()) symbols.emplace(sym, dims[k]);
    }
  };
  for (size_t i = 0; i < ports.size(); ++i) {
    const PortInfo& p = ports[i];
    CELER_CHECK(!p.is_sequence, kUnsupported, "input '", p.name, "' is a sequence; only tensor inputs can be given");
    auto shape_it = shapes.find(p.name);
    const Dims* shape = shape_it == shapes.end() ? nullptr : &shape_it->second;
    CELER_CHECK(!shape || p.shape.accepts(*shape), kInvalidArgument, "--shape: input '", p.name, "' has shape ",
                p.shape.to_string(), ", which does not accept ", dims_to_string(*shape));
    auto file_it = files.find(p.name);
    if (file_it != files.end()) {
      out.tensors[i] = read_input(p, file_it->second, shape);
      out.sources[i] = file_it->second;
      learn(p, out.tensors[i].dims());
    } else if (shape) {
      learn(p, *shape);
    }
  }
  // Pass 2: random data for the rest; dynamic dims take the value of their symbol when known, else 1.
  std::map<std::string, PartialShape> reshape;
  for (size_t i = 0; i < ports.size(); ++i) {
    const PortInfo& p = ports[i];
    if (out.tensors[i].empty()) {
      auto shape_it = shapes.find(p.name);
      Dims dims;
      if (shape_it != shapes.end()) {
        dims = shape_it->second;
      } else {
        CELER_CHECK(p.shape.rank_known(), kInvalidArgument, "input '", p.name,
                    "' has an unknown rank: give its shape with --shape ", p.name, "=[d0,d1,...]");
        for (const auto& d : p.shape.dims()) {
          auto sym = symbols.find(d.symbol_name());
          dims.push_back(d.is_static() ? d.value() : sym != symbols.end() ? sym->second : 1);
        }
      }
      CELER_CHECK(p.type != ElementType::kUndefined && p.type != ElementType::kString, kUnsupported, "input '", p.name,
                  "' has element type ", element_type_name(p.type),
                  ": random data cannot be generated, give it with --input");
      out.tensors[i] = random_tensor(p.type, dims, opts.seed * 1000003u + i);
      out.sources[i] = "random";
    }
    if (!p.shape.is_static()) reshape[p.name] = PartialShape::of(out.tensors[i].dims());
  }
  CELER_CHECK(reshape_out || reshape.empty(), kInvalidArgument, "input '",
              reshape.empty() ? "" : reshape.begin()->first,
              "' has dynamic dims, which this compiled model cannot take");
  if (reshape_out) *reshape_out = std::move(reshape);
  return out;
}

std::string type_and_shape(ElementType type, const PartialShape& shape) {
  return std::string(element_type_name(type)) + shape.to_string();
}

std::string summarize(const Tensor& t) {
  std::ostringstream os;
  os << type_and_shape(t.type(), PartialShape::of(t.dims()));
  if (t.type() == ElementType::kString || t.empty()) return os.str();
  if (t.size() == 0) return os.str() + " (empty)";
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
  int64_t nans = 0;
  for (int64_t i = 0; i < t.size(); ++i) {
    double v = t.value_as_double(i);
    if (std::isnan(v)) {
      ++nans;
      continue;
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  auto num = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return std::string(buf);
  };
  if (nans < t.size()) {
    os << " min=" << num(lo) << " max=" << num(hi) << " mean=" << num(sum / double(t.size() - nans));
  }
  if (nans) os << " nan=" << nans;
  os << " first=[";
  const int64_t n = std::min<int64_t>(t.size(), 6);
  for (int64_t i = 0; i < n; ++i) os << (i ? ", " : "") << num(t.value_as_double(i));
  os << (t.size() > n ? ", ...]" : "]");
  return os.str();
}

std::string output_file_name(const std::string& output_name) {
  CELER_CHECK(!output_name.empty(), kInvalidArgument, "an output has an empty name");
  std::string s = output_name;
  for (char& c : s) {
    if (c == '/' || c == ':' || c == '\\') c = '_';
    CELER_CHECK(c != '\0', kInvalidArgument, "output name '", output_name, "' contains a NUL character");
  }
  s += ".npy";
  CELER_CHECK(s.size() <= 255, kInvalidArgument, "output name '", output_name, "' is too long for a file name");
  return s;
}

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 1 ? "%.4f" : ms < 10 ? "%.3f" : ms < 1000 ? "%.2f" : "%.1f", ms);
  return buf;
}

void Progress::update(int64_t done, double elapsed_ms) {
  if (!on_ || elapsed_ms - last_ms_ < 100) return;
  last_ms_ = elapsed_ms;
  const double f = std::clamp(total_ > 0 ? double(done) / double(total_) : elapsed_ms / budget_ms_, 0.0, 1.0);
  constexpr int kWidth = 40;
  const int full = int(f * kWidth);
  std::string bar(size_t(full), '=');
  if (full < kWidth) bar += '>' + std::string(size_t(kWidth - full - 1), ' ');
  std::printf("\r[%s] %3d%%  %lld %s, %.1f s", bar.c_str(), int(f * 100), static_cast<long long>(done), unit_.c_str(),
              elapsed_ms / 1000);
  std::fflush(stdout);
  drawn_ = true;
}

void Progress::finish() {
  if (!drawn_) return;
  std::printf("\r%*s\r", 79, "");
  std::fflush(stdout);
  drawn_ = false;
}

}  // namespace celer::cli
