// BF16 accuracy against FP32 on whole models: compiles each model on CPU with inference_precision f32 and bf16, runs
// both on the same inputs and prints, per model, the cosine similarity of the outputs (min and mean over inputs, the
// smallest over a model's outputs) and the top-1 agreement (argmax over the last axis, per row, for classifier-like
// outputs: last dim >= 10; not for models given with --no-top1). For scale, the last column is the model's own
// sensitivity: the cosine (mean over inputs) between FP32 outputs for an input and for that input rounded to bf16 -
// the error of rounding the input alone, which BF16 convolutions cannot avoid.
//
// Inputs: the model's input_<i>.npy for the first run; then seeded variations: float inputs are drawn from N(0, 1) (the
// models' inputs are normalised images), integer inputs (token ids) uniformly between the min and max of the file's
// values, except 0/1 masks, which are kept.
//
//   build/bin/celer_bf16_accuracy [--dir build/models/full] [--inputs 100] [--threads 2] [--seed 1]
//       [--no-top1 bert_base] [model ...]        (models: names of <dir>/<name>_op13; default: the BF16 targets)
//
// On a labelled dataset instead (trained models, e.g. tools/fmnist/train.py's output): every model under DIR
// (<DIR>/<name>/model.onnx) on all of DIR/test_images.npy (batches of 100) against DIR/test_labels.npy: top-1 accuracy
// in FP32 and BF16, the share of images whose top-1 is unchanged, and the cosine of the logits (min and mean).
//
//   build/bin/celer_bf16_accuracy --dataset DIR [--threads 2] [model ...]
//
// Exits non-zero when a model misses the targets (cosine >= 0.999 on every input, top-1 unchanged on >= 99%).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "celer/celer.hpp"
#include "io/npy.hpp"

namespace fs = std::filesystem;
using namespace celer;

namespace {

struct Options {
  std::string dir = "build/models/full";
  int inputs = 100;
  int threads = 2;
  unsigned seed = 1;
  std::set<std::string> no_top1{"bert_base"};
  std::vector<std::string> models;
  std::string dataset;  // a folder with test_images.npy, test_labels.npy and <model>/model.onnx
};

struct Stats {
  double cos_min = 1, cos_sum = 0, input_cos_sum = 0;
  int64_t cos_n = 0;
  int64_t top1_same = 0, top1_rows = 0;
};

double cosine(const Tensor& a, const Tensor& b) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const double x = a.value_as_double(i), y = b.value_as_double(i);
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  if (aa == 0 && bb == 0) return 1;
  return ab / std::sqrt(aa * bb);
}

// Rows (all but the last axis) whose argmax agrees.
void top1(const Tensor& a, const Tensor& b, Stats& s) {
  const int64_t k = a.rank() > 0 ? a.dim(a.rank() - 1) : 0;
  if (k < 10) return;
  for (int64_t r = 0; r < a.size() / k; ++r) {
    int64_t ia = 0, ib = 0;
    for (int64_t j = 1; j < k; ++j) {
      if (a.value_as_double(r * k + j) > a.value_as_double(r * k + ia)) ia = j;
      if (b.value_as_double(r * k + j) > b.value_as_double(r * k + ib)) ib = j;
    }
    s.top1_same += ia == ib;
    ++s.top1_rows;
  }
}

// The i-th input set (0: the files).
std::vector<Tensor> make_inputs(const std::vector<Tensor>& files, int i, std::mt19937& rng) {
  if (i == 0) return files;
  std::vector<Tensor> out;
  for (const Tensor& f : files) {
    Tensor t(f.type(), f.dims());
    if (f.type() == ElementType::kF32) {
      std::normal_distribution<float> d(0.0f, 1.0f);
      for (int64_t k = 0; k < t.size(); ++k) t.data<float>()[k] = d(rng);
    } else if (f.type() == ElementType::kI64 || f.type() == ElementType::kI32) {
      double lo = 0, hi = 0;
      for (int64_t k = 0; k < f.size(); ++k) {
        lo = k == 0 ? f.value_as_double(k) : std::min(lo, f.value_as_double(k));
        hi = k == 0 ? f.value_as_double(k) : std::max(hi, f.value_as_double(k));
      }
      std::uniform_int_distribution<int64_t> d{static_cast<int64_t>(lo), static_cast<int64_t>(hi)};
      const bool mask = lo == 0 && hi <= 1;
      for (int64_t k = 0; k < t.size(); ++k) {
        const int64_t v = mask ? int64_t(f.value_as_double(k)) : d(rng);
        if (f.type() == ElementType::kI64)
          t.data<int64_t>()[k] = v;
        else
          t.data<int32_t>()[k] = int32_t(v);
      }
    } else {
      t = f;
    }
    out.push_back(t);
  }
  return out;
}

bool run_model(const Options& o, const std::string& name) {
  const fs::path dir = fs::path(o.dir) / (name + "_op13");
  std::ifstream mf(dir / "meta.json");
  if (!mf) {
    std::printf("%-26s no %s\n", name.c_str(), (dir / "meta.json").c_str());
    return false;
  }
  const nlohmann::json meta = nlohmann::json::parse(mf);
  Core core;
  const Model model = core.read_model((dir / "model.onnx").string());
  Properties props{{"inference_num_threads", std::to_string(o.threads)}};
  CompiledModel f32 = core.compile_model(model, "CPU", props);
  props["inference_precision"] = "bf16";
  CompiledModel bf16 = core.compile_model(model, "CPU", props);
  InferRequest rf = f32.create_infer_request(), rb = bf16.create_infer_request(), rr = f32.create_infer_request();
  std::vector<Tensor> files;
  for (size_t i = 0; i < meta["inputs"].size(); ++i)
    files.push_back(npy::read((dir / ("input_" + std::to_string(i) + ".npy")).string()));
  std::mt19937 rng(o.seed);
  Stats s;
  for (int i = 0; i < o.inputs; ++i) {
    const std::vector<Tensor> in = make_inputs(files, i, rng);
    for (size_t k = 0; k < in.size(); ++k) {
      rf.set_input_tensor(k, in[k]);
      rb.set_input_tensor(k, in[k]);
    }
    for (size_t k = 0; k < in.size(); ++k) {
      Tensor t = in[k];
      if (t.type() == ElementType::kF32) {
        t = Tensor(ElementType::kF32, in[k].dims());
        for (int64_t j = 0; j < t.size(); ++j) t.data<float>()[j] = float(bfloat16(in[k].data<float>()[j]));
      }
      rr.set_input_tensor(k, t);
    }
    rf.infer();
    rb.infer();
    rr.infer();
    double cmin = 1, rmin = 1;
    for (size_t k = 0; k < f32.outputs().size(); ++k) {
      const Tensor& a = rf.get_output_tensor(k);
      const Tensor& b = rb.get_output_tensor(k);
      if (a.type() != b.type() || a.dims() != b.dims()) {
        std::printf("%-26s output %zu: bf16 gives %s%s, f32 %s%s\n", name.c_str(), k,
                    std::string(element_type_name(b.type())).c_str(), dims_to_string(b.dims()).c_str(),
                    std::string(element_type_name(a.type())).c_str(), dims_to_string(a.dims()).c_str());
        return false;
      }
      if (!is_float(a.type())) continue;
      cmin = std::min(cmin, cosine(a, b));
      rmin = std::min(rmin, cosine(a, rr.get_output_tensor(k)));
      if (!o.no_top1.count(name)) top1(a, b, s);
    }
    s.cos_min = std::min(s.cos_min, cmin);
    s.cos_sum += cmin;
    s.input_cos_sum += rmin;
    ++s.cos_n;
  }
  const double agree = s.top1_rows ? double(s.top1_same) / double(s.top1_rows) : 1.0;
  const bool ok = s.cos_min >= 0.999 && agree >= 0.99;
  char top[64] = "-";
  if (s.top1_rows) std::snprintf(top, sizeof top, "%.2f%% of %lld", 100 * agree, (long long)s.top1_rows);
  std::printf("%-26s %6d %10.6f %10.6f %18s %8s %14.6f\n", name.c_str(), o.inputs, s.cos_min,
              s.cos_sum / double(s.cos_n), top, ok ? "ok" : "MISSED", s.input_cos_sum / double(s.cos_n));
  std::fflush(stdout);
  return ok;
}

int64_t argmax_row(const Tensor& t, int64_t row) {
  const int64_t k = t.dim(t.rank() - 1);
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (t.value_as_double(row * k + j) > t.value_as_double(row * k + best)) best = j;
  return best;
}

// A batch of images [n, ...] starting at image `first` (a copy).
Tensor batch_of(const Tensor& images, int64_t first, int64_t n) {
  Dims dims = images.dims();
  dims[0] = n;
  Tensor t(images.type(), dims);
  const size_t row = size_t(images.size() / images.dim(0)) * element_size(images.type());
  std::memcpy(t.raw(), static_cast<const char*>(images.raw()) + size_t(first) * row, size_t(n) * row);
  return t;
}

bool run_dataset_model(const Options& o, const std::string& name, const Tensor& images, const Tensor& labels) {
  const fs::path file = fs::path(o.dataset) / name / "model.onnx";
  Core core;
  const Model model = core.read_model(file.string());
  Properties props{{"inference_num_threads", std::to_string(o.threads)}};
  CompiledModel f32 = core.compile_model(model, "CPU", props);
  props["inference_precision"] = "bf16";
  CompiledModel bf16 = core.compile_model(model, "CPU", props);
  InferRequest rf = f32.create_infer_request(), rb = bf16.create_infer_request();
  const int64_t total = images.dim(0);
  int64_t right_f32 = 0, right_bf16 = 0, same = 0;
  Stats s;
  for (int64_t first = 0; first < total; first += 100) {
    const Tensor in = batch_of(images, first, std::min<int64_t>(100, total - first));
    rf.set_input_tensor(0, in);
    rb.set_input_tensor(0, in);
    rf.infer();
    rb.infer();
    const Tensor& a = rf.get_output_tensor(0);
    const Tensor& b = rb.get_output_tensor(0);
    const int64_t k = a.dim(a.rank() - 1);
    for (int64_t r = 0; r < in.dim(0); ++r) {
      const int64_t label = int64_t(labels.value_as_double(first + r));
      const int64_t ia = argmax_row(a, r), ib = argmax_row(b, r);
      right_f32 += ia == label;
      right_bf16 += ib == label;
      same += ia == ib;
      const Tensor ra = Tensor::wrap(a.type(), {k}, const_cast<float*>(a.data<float>()) + r * k);
      const Tensor rbf = Tensor::wrap(b.type(), {k}, const_cast<float*>(b.data<float>()) + r * k);
      const double c = cosine(ra, rbf);
      s.cos_min = std::min(s.cos_min, c);
      s.cos_sum += c;
      ++s.cos_n;
    }
  }
  const double agree = double(same) / double(total);
  const bool ok = s.cos_min >= 0.999 && agree >= 0.99;
  std::printf("%-20s %7lld %9.2f%% %9.2f%% %10.2f%% %10.6f %10.6f %8s\n", name.c_str(), (long long)total,
              100.0 * double(right_f32) / double(total), 100.0 * double(right_bf16) / double(total), 100 * agree,
              s.cos_min, s.cos_sum / double(s.cos_n), ok ? "ok" : "MISSED");
  std::fflush(stdout);
  return ok;
}

int run_dataset(Options& o) {
  const Tensor images = npy::read((fs::path(o.dataset) / "test_images.npy").string());
  const Tensor labels = npy::read((fs::path(o.dataset) / "test_labels.npy").string());
  if (images.rank() < 1 || labels.rank() != 1 || labels.dim(0) != images.dim(0) || images.type() != ElementType::kF32) {
    std::fprintf(stderr, "%s: test_images.npy must be f32 [N, ...] and test_labels.npy [N]\n", o.dataset.c_str());
    return 2;
  }
  if (o.models.empty())
    for (const auto& e : fs::directory_iterator(o.dataset))
      if (fs::exists(e.path() / "model.onnx")) o.models.push_back(e.path().filename().string());
  std::sort(o.models.begin(), o.models.end());
  std::printf("%-20s %7s %10s %10s %11s %10s %10s %8s\n", "model", "images", "top-1 f32", "top-1 bf16", "unchanged",
              "cos min", "cos mean", "target");
  bool all = !o.models.empty();
  for (const std::string& m : o.models) {
    try {
      all = run_dataset_model(o, m, images, labels) && all;
    } catch (const std::exception& e) {
      std::printf("%-20s error: %s\n", m.c_str(), e.what());
      all = false;
    }
  }
  return all ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") {
      o.dir = next();
    } else if (a == "--inputs") {
      o.inputs = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--threads") {
      o.threads = std::atoi(next().c_str());
    } else if (a == "--seed") {
      o.seed = unsigned(std::atoi(next().c_str()));
    } else if (a == "--dataset") {
      o.dataset = next();
    } else if (a == "--no-top1") {
      o.no_top1.insert(next());
    } else if (a == "-h" || a == "--help") {
      std::printf(
          "usage: %s [--dir DIR] [--inputs N] [--threads N] [--seed S] [--no-top1 MODEL] [model ...]\n"
          "       %s --dataset DIR [--threads N] [model ...]\n",
          argv[0], argv[0]);
      return 0;
    } else {
      o.models.push_back(a);
    }
  }
  if (!o.dataset.empty()) {
    try {
      return run_dataset(o);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
  }
  if (o.models.empty())
    o.models = {"resnet50", "bert_base", "mobilenet_v2", "efficientnet_b0", "ssdlite320_mobilenet_v3"};
  std::printf("%-26s %6s %10s %10s %18s %8s %14s\n", "model", "inputs", "cos min", "cos mean", "top-1 agreement",
              "target", "input-rounding");
  bool all = true;
  for (const std::string& m : o.models) {
    try {
      all = run_model(o, m) && all;
    } catch (const std::exception& e) {
      std::printf("%-26s error: %s\n", m.c_str(), e.what());
      all = false;
    }
  }
  return all ? 0 : 1;
}
