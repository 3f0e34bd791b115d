// Helpers shared by the recurrent ops RNN, GRU and LSTM: attributes common to the three, activation functions, shape
// inference, reading inputs (in double, time-major) and writing outputs in either layout. Each op keeps its own cell
// equations. Layout 0: X [seq, batch, input], Y [seq, dirs, batch, hidden], Y_h/Y_c [dirs, batch, hidden];
// layout 1 (opset 14+): X [batch, seq, input], Y [batch, seq, dirs, hidden], Y_h/Y_c [batch, dirs, hidden].
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"

namespace celer::rnn {

enum class ActKind : uint8_t {
  kRelu,
  kTanh,
  kSigmoid,
  kAffine,
  kLeakyRelu,
  kThresholdedRelu,
  kScaledTanh,
  kHardSigmoid,
  kElu,
  kSoftsign,
  kSoftplus
};

struct Activation {
  ActKind kind = ActKind::kTanh;
  double alpha = 0, beta = 0;

  double operator()(double x) const {
    switch (kind) {
      case ActKind::kRelu:
        return x > 0 ? x : 0;
      case ActKind::kTanh:
        return std::tanh(x);
      case ActKind::kSigmoid:
        return 1 / (1 + std::exp(-x));
      case ActKind::kAffine:
        return alpha * x + beta;
      case ActKind::kLeakyRelu:
        return x >= 0 ? x : alpha * x;
      case ActKind::kThresholdedRelu:
        return x > alpha ? x : 0;
      case ActKind::kScaledTanh:
        return alpha * std::tanh(beta * x);
      case ActKind::kHardSigmoid:
        return std::clamp(alpha * x + beta, 0.0, 1.0);
      case ActKind::kElu:
        return x >= 0 ? x : alpha * (std::exp(x) - 1);
      case ActKind::kSoftsign:
        return x / (1 + std::fabs(x));
      case ActKind::kSoftplus:
        return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0);
    }
    return x;
  }
};

// The attributes RNN, GRU and LSTM share.
struct Config {
  int64_t hidden_size = 0;  // 0: taken from R's shape
  int64_t num_directions = 1;
  bool reverse = false;  // direction = "reverse"
  int64_t layout = 0;
  float clip = 0;                       // 0: no clipping
  std::vector<Activation> activations;  // gates_per_direction x num_directions
};

inline void visit_config(AttrVisitor& v, Config& c) {
  v.on("hidden_size", c.hidden_size);
  v.on("num_directions", c.num_directions);
  v.on("reverse", c.reverse);
  v.on("layout", c.layout);
  v.on("clip", c.clip);
  visit_list(v, "activations", c.activations, [&](Activation& a) {
    visit_enum(v, "kind", a.kind, ActKind::kSoftplus);
    v.on("alpha", a.alpha);
    v.on("beta", a.beta);
  });
}

// Reads direction, layout, clip, hidden_size and the activations (defaults `defaults`, one list per direction).
// Alphas and betas are consumed in order by the functions that take them; missing ones take the ONNX defaults.
inline Config read_config(OnnxNode& n, const std::vector<std::string>& defaults) {
  Config c;
  c.hidden_size = n.attr_int("hidden_size", 0);
  if (n.has_attr("hidden_size") && c.hidden_size <= 0)
    n.fail("attribute 'hidden_size' = ", c.hidden_size, " must be positive");
  std::string dir = n.attr_string("direction", std::string("forward"));
  if (dir == "bidirectional")
    c.num_directions = 2;
  else if (dir == "reverse")
    c.reverse = true;
  else if (dir != "forward")
    n.fail("attribute 'direction' = '", dir, "' must be forward, reverse or bidirectional");
  c.layout = n.attr_int("layout", 0);
  if (c.layout != 0 && c.layout != 1) n.fail("attribute 'layout' = ", c.layout, " must be 0 or 1");
  c.clip = n.attr_float("clip", 0.0f);
  if (n.has_attr("clip") && !(c.clip > 0)) n.fail("attribute 'clip' = ", c.clip, " must be positive");
  std::vector<std::string> names = n.attr_strings("activations", std::vector<std::string>{});
  const size_t per_dir = defaults.size();
  if (names.empty()) {
    for (int64_t d = 0; d < c.num_directions; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  } else if (names.size() == per_dir && c.num_directions == 2) {
    std::vector<std::string> twice = names;
    names.insert(names.end(), twice.begin(), twice.end());
  } else if (names.size() != per_dir * size_t(c.num_directions)) {
    n.fail("attribute 'activations' has ", names.size(), " functions; expected ", per_dir * size_t(c.num_directions),
           " (", per_dir, " per direction)");
  }
  std::vector<float> alphas = n.attr_floats("activation_alpha", std::vector<float>{});
  std::vector<float> betas = n.attr_floats("activation_beta", std::vector<float>{});
  size_t ai = 0, bi = 0;
  auto next = [](const std::vector<float>& v, size_t& i, double def) { return i < v.size() ? double(v[i++]) : def; };
  for (const std::string& raw : names) {
    std::string s = raw;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    Activation a;
    if (s == "relu")
      a.kind = ActKind::kRelu;
    else if (s == "tanh")
      a.kind = ActKind::kTanh;
    else if (s == "sigmoid")
      a.kind = ActKind::kSigmoid;
    else if (s == "affine")
      a = {ActKind::kAffine, next(alphas, ai, 1.0), next(betas, bi, 0.0)};
    else if (s == "leakyrelu")
      a = {ActKind::kLeakyRelu, next(alphas, ai, 0.01), 0};
    else if (s == "thresholdedrelu")
      a = {ActKind::kThresholdedRelu, next(alphas, ai, 1.0), 0};
    else if (s == "scaledtanh")
      a = {ActKind::kScaledTanh, next(alphas, ai, 1.0), next(betas, bi, 1.0)};
    else if (s == "hardsigmoid")
      a = {ActKind::kHardSigmoid, next(alphas, ai, 0.2), next(betas, bi, 0.5)};
    else if (s == "elu")
      a = {ActKind::kElu, next(alphas, ai, 1.0), 0};
    else if (s == "softsign")
      a.kind = ActKind::kSoftsign;
    else if (s == "softplus")
      a.kind = ActKind::kSoftplus;
    else
      n.fail("attribute 'activations' names an unknown function '", raw, "'");
    c.activations.push_back(a);
  }
  return c;
}

// Output shapes from X [seq, batch, input] (or batch-major) and the hidden size. `gates` is the number of gate blocks
// in W and R (RNN 1, GRU 3, LSTM 4). Outputs: Y, Y_h, and Y_c when `with_cell`.
inline void infer_outputs(InferContext& ctx, const Config& c, int64_t gates, size_t num_state_outputs) {
  const ValueType& x = ctx.input_type(0);
  CELER_CHECK(is_float(x.elem) || x.elem == ElementType::kUndefined, kInvalidModel,
              "input 0 'X' must be a float tensor, got ", element_type_name(x.elem));
  for (size_t i = 1; i < 3; ++i)
    CELER_CHECK(ctx.input_elem(i) == x.elem || ctx.input_elem(i) == ElementType::kUndefined, kInvalidModel, "input ", i,
                i == 1 ? " 'W'" : " 'R'", " has element type ", element_type_name(ctx.input_elem(i)), ", X has ",
                element_type_name(x.elem));
  CELER_CHECK(!x.shape.rank_known() || x.shape.rank() == 3, kInvalidModel, "input 0 'X' must be 3-D, got ",
              x.shape.to_string());
  const PartialShape& w = ctx.input_shape(1);
  const PartialShape& r = ctx.input_shape(2);
  CELER_CHECK(!w.rank_known() || w.rank() == 3, kInvalidModel, "input 1 'W' must be 3-D, got ", w.to_string());
  CELER_CHECK(!r.rank_known() || r.rank() == 3, kInvalidModel, "input 2 'R' must be 3-D, got ", r.to_string());
  Dim hidden = c.hidden_size > 0 ? Dim(c.hidden_size) : (r.rank_known() ? r[2] : Dim());
  if (hidden.is_static()) {
    auto check = [&](const PartialShape& s, const char* name, int64_t d1, int64_t d2) {
      if (!s.rank_known()) return;
      CELER_CHECK(!s[0].is_static() || s[0].value() == c.num_directions, kShapeMismatch, "input ", name, " has shape ",
                  s.to_string(), "; dim 0 must be num_directions = ", c.num_directions);
      CELER_CHECK(!s[1].is_static() || s[1].value() == d1, kShapeMismatch, "input ", name, " has shape ", s.to_string(),
                  "; dim 1 must be ", d1, " (", gates, " x hidden_size ", hidden.value(), ")");
      if (d2 >= 0)
        CELER_CHECK(!s[2].is_static() || s[2].value() == d2, kShapeMismatch, "input ", name, " has shape ",
                    s.to_string(), "; dim 2 must be hidden_size = ", d2);
    };
    check(w, "1 'W'", gates * hidden.value(), -1);
    check(r, "2 'R'", gates * hidden.value(), hidden.value());
    if (x.shape.rank_known() && w.rank_known() && x.shape[2].is_static() && w[2].is_static())
      CELER_CHECK(x.shape[2].value() == w[2].value(), kShapeMismatch, "input 1 'W' has shape ", w.to_string(),
                  " but X ", x.shape.to_string(), " has input size ", x.shape[2].value());
  }
  Dim seq, batch;
  if (x.shape.rank_known()) {
    seq = x.shape[c.layout == 0 ? 0 : 1];
    batch = x.shape[c.layout == 0 ? 1 : 0];
  }
  const Dim dirs(c.num_directions);
  if (ctx.has_output(0))
    ctx.set_output(0, x.elem,
                   c.layout == 0 ? PartialShape{seq, dirs, batch, hidden} : PartialShape{batch, seq, dirs, hidden});
  for (size_t i = 1; i <= num_state_outputs; ++i)
    if (ctx.has_output(i))
      ctx.set_output(i, x.elem, c.layout == 0 ? PartialShape{dirs, batch, hidden} : PartialShape{batch, dirs, hidden});
}

// Multiply-adds x2 of the gate matrix products: seq x batch x dirs x gates*hidden x (input + hidden).
inline double flops(const Node& node, const Config& c, int64_t gates) {
  if (node.inputs.size() < 3 || !node.inputs[0] || !node.inputs[2]) return 0;
  const PartialShape& x = node.inputs[0]->type.shape;
  const PartialShape& r = node.inputs[2]->type.shape;
  if (!x.is_static() || x.rank() != 3) return 0;
  const int64_t h = c.hidden_size > 0 ? c.hidden_size : (r.rank() == 3 && r[2].is_static() ? r[2].value() : 0);
  const double seq = double(x[c.layout == 0 ? 0 : 1].value()), batch = double(x[c.layout == 0 ? 1 : 0].value());
  return 2.0 * seq * batch * double(c.num_directions) * double(gates * h) * double(x[2].value() + h);
}

// Inputs as double, with the states in layout 0.
struct Inputs {
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1;
  std::vector<double> x;        // [seq][batch][input]
  std::vector<double> w, r, b;  // as given: [dirs][G*hidden][input], [dirs][G*hidden][hidden], [dirs][2*G*hidden]
  std::vector<int64_t> lens;    // [batch]
  std::vector<double> h0, c0;   // [dirs][batch][hidden]
  std::vector<double> p;        // LSTM peepholes [dirs][3*hidden]
};

inline std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> v(size_t(t.size()));
  dispatch_float(t.type(), [&]<typename T>() {
    const T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = double(p[i]);
  });
  return v;
}

// Reads and checks the inputs: X, W, R, B, sequence_lens, initial_h, [initial_c, P] (LSTM: `lstm`).
inline Inputs read_inputs(const KernelContext& ctx, const Config& c, int64_t gates, bool lstm) {
  Inputs in;
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& r = ctx.input(2);
  CELER_CHECK(x.rank() == 3 && w.rank() == 3 && r.rank() == 3, kShapeMismatch, "X, W and R must be 3-D, got ",
              dims_to_string(x.dims()), ", ", dims_to_string(w.dims()), ", ", dims_to_string(r.dims()));
  CELER_CHECK(w.type() == x.type() && r.type() == x.type(), kInvalidArgument, "W and R must have X's element type");
  in.dirs = c.num_directions;
  in.seq = x.dim(c.layout == 0 ? 0 : 1);
  in.batch = x.dim(c.layout == 0 ? 1 : 0);
  in.input = x.dim(2);
  in.hidden = c.hidden_size > 0 ? c.hidden_size : r.dim(2);
  const int64_t h = in.hidden, gh = gates * h;
  CELER_CHECK(w.dims() == (Dims{in.dirs, gh, in.input}), kShapeMismatch, "input 1 'W' has shape ",
              dims_to_string(w.dims()), ", expected ", dims_to_string({in.dirs, gh, in.input}));
  CELER_CHECK(r.dims() == (Dims{in.dirs, gh, h}), kShapeMismatch, "input 2 'R' has shape ", dims_to_string(r.dims()),
              ", expected ", dims_to_string({in.dirs, gh, h}));
  std::vector<double> xv = to_doubles(x);
  if (c.layout == 0) {
    in.x = std::move(xv);
  } else {  // [batch][seq][input] -> [seq][batch][input]
    in.x.resize(xv.size());
    for (int64_t b = 0; b < in.batch; ++b)
      for (int64_t t = 0; t < in.seq; ++t)
        for (int64_t i = 0; i < in.input; ++i)
          in.x[size_t((t * in.batch + b) * in.input + i)] = xv[size_t((b * in.seq + t) * in.input + i)];
  }
  in.w = to_doubles(w);
  in.r = to_doubles(r);
  in.b.assign(size_t(in.dirs * 2 * gh), 0.0);
  if (ctx.has_input(3)) {
    const Tensor& b = ctx.input(3);
    CELER_CHECK(b.dims() == (Dims{in.dirs, 2 * gh}), kShapeMismatch, "input 3 'B' has shape ", dims_to_string(b.dims()),
                ", expected ", dims_to_string({in.dirs, 2 * gh}));
    in.b = to_doubles(b);
  }
  in.lens.assign(size_t(in.batch), in.seq);
  if (ctx.has_input(4)) {
    const Tensor& l = ctx.input(4);
    CELER_CHECK(l.dims() == (Dims{in.batch}), kShapeMismatch, "input 4 'sequence_lens' has shape ",
                dims_to_string(l.dims()), ", expected ", dims_to_string({in.batch}));
    for (int64_t b = 0; b < in.batch; ++b) {
      int64_t v = l.value_as_int(b);
      CELER_CHECK(v >= 0 && v <= in.seq, kOutOfRange, "sequence_lens[", b, "] = ", v, " is out of range [0, ", in.seq,
                  "]");
      in.lens[size_t(b)] = v;
    }
  }
  auto read_state = [&](size_t idx, const char* name) {
    std::vector<double> s(size_t(in.dirs * in.batch * h), 0.0);
    if (!ctx.has_input(idx)) return s;
    const Tensor& t = ctx.input(idx);
    Dims want = c.layout == 0 ? Dims{in.dirs, in.batch, h} : Dims{in.batch, in.dirs, h};
    CELER_CHECK(t.dims() == want, kShapeMismatch, "input ", idx, " '", name, "' has shape ", dims_to_string(t.dims()),
                ", expected ", dims_to_string(want));
    std::vector<double> v = to_doubles(t);
    if (c.layout == 0) return v;
    for (int64_t d = 0; d < in.dirs; ++d)
      for (int64_t b = 0; b < in.batch; ++b)
        for (int64_t j = 0; j < h; ++j) s[size_t((d * in.batch + b) * h + j)] = v[size_t((b * in.dirs + d) * h + j)];
    return s;
  };
  in.h0 = read_state(5, "initial_h");
  if (lstm) {
    in.c0 = read_state(6, "initial_c");
    in.p.assign(size_t(in.dirs * 3 * h), 0.0);
    if (ctx.has_input(7)) {
      const Tensor& p = ctx.input(7);
      CELER_CHECK(p.dims() == (Dims{in.dirs, 3 * h}), kShapeMismatch, "input 7 'P' has shape ",
                  dims_to_string(p.dims()), ", expected ", dims_to_string({in.dirs, 3 * h}));
      in.p = to_doubles(p);
    }
  }
  return in;
}

// out[j] += sum_k m[row0 + j][k] * v[k] for j < rows (m row-major with `cols` columns).
inline void matvec_add(const double* m, int64_t rows, int64_t cols, const double* v, double* out) {
  for (int64_t j = 0; j < rows; ++j) {
    double s = 0;
    const double* row = m + j * cols;
    for (int64_t k = 0; k < cols; ++k) s += row[k] * v[k];
    out[j] += s;
  }
}

inline double clip_value(double v, float clip) { return clip > 0 ? std::clamp(v, -double(clip), double(clip)) : v; }

// Runs `cell(dir, x_t, h, c)` over every direction, batch entry and time step (reverse order for the reverse
// direction), recording h per step in y [seq][dirs][batch][hidden] (zero past a batch entry's length) and the last
// h (and c) in yh (yc) [dirs][batch][hidden].
template <typename Cell>
void run_sequence(const Inputs& in, const Config& c, bool with_cell, std::vector<double>& y, std::vector<double>& yh,
                  std::vector<double>& yc, Cell&& cell) {
  const int64_t h = in.hidden;
  y.assign(size_t(in.seq * in.dirs * in.batch * h), 0.0);
  yh.assign(size_t(in.dirs * in.batch * h), 0.0);
  yc.assign(with_cell ? yh.size() : 0, 0.0);
  std::vector<double> hs(static_cast<size_t>(h)), cs(static_cast<size_t>(h));
  for (int64_t d = 0; d < in.dirs; ++d) {
    const bool rev = c.reverse || d == 1;
    for (int64_t b = 0; b < in.batch; ++b) {
      const size_t state = size_t((d * in.batch + b) * h);
      std::copy(in.h0.begin() + state, in.h0.begin() + state + h, hs.begin());
      if (with_cell) std::copy(in.c0.begin() + state, in.c0.begin() + state + h, cs.begin());
      const int64_t len = in.lens[size_t(b)];
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = rev ? len - 1 - s : s;
        cell(d, &in.x[size_t((t * in.batch + b) * in.input)], hs.data(), cs.data());
        std::copy(hs.begin(), hs.end(), y.begin() + ((t * in.dirs + d) * in.batch + b) * h);
      }
      std::copy(hs.begin(), hs.end(), yh.begin() + int64_t(state));
      if (with_cell) std::copy(cs.begin(), cs.end(), yc.begin() + int64_t(state));
    }
  }
}

// Writes Y and the final states in the node's layout and X's element type.
inline void write_outputs(KernelContext& ctx, const Inputs& in, const Config& c, const std::vector<double>& y,
                          const std::vector<double>& yh, const std::vector<double>& yc) {
  const ElementType e = ctx.input(0).type();
  const int64_t h = in.hidden;
  auto store = [&](size_t idx, const Dims& dims, auto&& index_of) {
    if (!ctx.has_output(idx)) return;
    Tensor& t = ctx.output(idx, e, dims);
    dispatch_float(e, [&]<typename T>() {
      T* o = t.data<T>();
      index_of([&](int64_t dst, double v) {
        if constexpr (std::is_same_v<T, double>)
          o[dst] = v;
        else
          o[dst] = T(float(v));
      });
    });
  };
  const int64_t S = in.seq, D = in.dirs, B = in.batch;
  Dims ydims = c.layout == 0 ? Dims{S, D, B, h} : Dims{B, S, D, h};
  store(0, ydims, [&](auto&& put) {
    for (int64_t t = 0; t < S; ++t)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t j = 0; j < h; ++j) {
            int64_t dst = c.layout == 0 ? ((t * D + d) * B + b) * h + j : ((b * S + t) * D + d) * h + j;
            put(dst, y[size_t(((t * D + d) * B + b) * h + j)]);
          }
  });
  Dims sdims = c.layout == 0 ? Dims{D, B, h} : Dims{B, D, h};
  auto state = [&](const std::vector<double>& src) {
    return [&](auto&& put) {
      for (int64_t d = 0; d < D; ++d)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t j = 0; j < h; ++j)
            put(c.layout == 0 ? (d * B + b) * h + j : (b * D + d) * h + j, src[size_t((d * B + b) * h + j)]);
    };
  };
  store(1, sdims, state(yh));
  if (!yc.empty()) store(2, sdims, state(yc));
}

}  // namespace celer::rnn
