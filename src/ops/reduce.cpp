#include "ops/reduce.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

const char* reduce_fn_name(ReduceFn fn) {
  switch (fn) {
    case ReduceFn::kSum:
      return "ReduceSum";
    case ReduceFn::kMean:
      return "ReduceMean";
    case ReduceFn::kMax:
      return "ReduceMax";
    case ReduceFn::kMin:
      return "ReduceMin";
    case ReduceFn::kProd:
      return "ReduceProd";
    case ReduceFn::kL1:
      return "ReduceL1";
    case ReduceFn::kL2:
      return "ReduceL2";
    case ReduceFn::kLogSum:
      return "ReduceLogSum";
    case ReduceFn::kLogSumExp:
      return "ReduceLogSumExp";
    case ReduceFn::kSumSquare:
      return "ReduceSumSquare";
  }
  return "Reduce";
}

std::vector<int64_t> Reduce::resolve_axes(int64_t rank, const Tensor* axes_input) const {
  std::vector<int64_t> list = axes;
  if (axes_input) {
    CELER_CHECK(axes_input->type() == ElementType::kI64 && axes_input->rank() <= 1, kInvalidModel,
                "input 'axes' must be a 1-D int64 tensor, got ", element_type_name(axes_input->type()), " of shape ",
                dims_to_string(axes_input->dims()));
    list = axes_input->to_int_vector();
  }
  if (list.empty()) {
    if (noop_with_empty_axes) return {};
    for (int64_t i = 0; i < rank; ++i) list.push_back(i);
    return list;
  }
  list = normalize_axes(list, rank, axes_input ? "input 'axes'" : "attribute 'axes'");
  std::sort(list.begin(), list.end());
  return list;
}

void Reduce::infer(InferContext& ctx) const {
  ElementType e = ctx.input_elem(0);
  CELER_CHECK(e != ElementType::kString && e != ElementType::kBool, kInvalidModel, "input 'data' has element type ",
              element_type_name(e), ", a numeric type is required");
  const PartialShape& s = ctx.input_shape(0);
  const bool axes_given = ctx.has_input(1);
  const Tensor* axes_value = axes_given ? ctx.input_value(1) : nullptr;
  if (!s.rank_known()) {
    ctx.set_output(0, e, PartialShape::unknown_rank());
    return;
  }
  const int64_t rank = s.rank();
  if (axes_given && !axes_value) {
    // The axes are only known at run time: the rank may still be.
    const PartialShape& as = ctx.input_shape(1);
    if (keepdims) {
      ctx.set_output(0, e, PartialShape::unknown_dims(rank));
    } else if (as.rank_known() && as.rank() == 1 && as[0].is_static() && as[0].value() > 0) {
      CELER_CHECK(as[0].value() <= rank, kInvalidModel, "input 'axes' has ", as[0].value(),
                  " axes for an input of rank ", rank);
      ctx.set_output(0, e, PartialShape::unknown_dims(rank - as[0].value()));
    } else {
      ctx.set_output(0, e, PartialShape::unknown_rank());
    }
    return;
  }
  std::vector<int64_t> red = resolve_axes(rank, axes_value);
  std::vector<Dim> out;
  for (int64_t i = 0; i < rank; ++i) {
    bool r = std::binary_search(red.begin(), red.end(), i);
    if (!r)
      out.push_back(s[size_t(i)]);
    else if (keepdims)
      out.emplace_back(1);
  }
  ctx.set_output(0, e, PartialShape(std::move(out)));
}

namespace {

template <typename T, typename Acc>
void reduce_kernel(ReduceFn fn, const Tensor& x, const Dims& keep_dims, int64_t count, Tensor& y) {
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const int64_t n_out = y.size();
  constexpr bool kFloatAcc = std::is_floating_point_v<Acc>;
  Acc init{};
  switch (fn) {
    case ReduceFn::kProd:
      init = Acc(1);
      break;
    case ReduceFn::kMax:
      init = kFloatAcc ? -std::numeric_limits<Acc>::infinity() : Acc(std::numeric_limits<T>::lowest());
      break;
    case ReduceFn::kMin:
      init = kFloatAcc ? std::numeric_limits<Acc>::infinity() : Acc(std::numeric_limits<T>::max());
      break;
    default:
      break;
  }
  std::vector<Acc> acc(size_t(n_out), init);
  std::vector<double> shift;  // LogSumExp: the max of each group, subtracted before exp
  if (fn == ReduceFn::kLogSumExp) {
    shift.assign(size_t(n_out), -std::numeric_limits<double>::infinity());
    for_each_broadcast(x.dims(), {keep_dims}, [&](int64_t i, const int64_t* off) {
      shift[size_t(off[0])] = std::max(shift[size_t(off[0])], double(in[i]));
    });
    for (double& m : shift)
      if (!std::isfinite(m)) m = 0;
  }
  for_each_broadcast(x.dims(), {keep_dims}, [&](int64_t i, const int64_t* off) {
    Acc& a = acc[size_t(off[0])];
    Acc v = Acc(in[i]);
    switch (fn) {
      case ReduceFn::kSum:
      case ReduceFn::kMean:
      case ReduceFn::kLogSum:
        a += v;
        break;
      case ReduceFn::kMax:
        if (v > a || (kFloatAcc && v != v)) a = v;
        break;
      case ReduceFn::kMin:
        if (v < a || (kFloatAcc && v != v)) a = v;
        break;
      case ReduceFn::kProd:
        a *= v;
        break;
      case ReduceFn::kL1:
        if constexpr (std::is_signed_v<Acc>)
          a += v < 0 ? Acc(-v) : v;
        else
          a += v;
        break;
      case ReduceFn::kL2:
      case ReduceFn::kSumSquare:
        a += v * v;
        break;
      case ReduceFn::kLogSumExp:
        a += Acc(std::exp(double(v) - shift[size_t(off[0])]));
        break;
    }
  });
  for (int64_t o = 0; o < n_out; ++o) {
    Acc a = acc[size_t(o)];
    double r;
    switch (fn) {
      case ReduceFn::kMean:
        if constexpr (kFloatAcc) {
          r = double(a) / double(count);
        } else {
          out[o] = count > 0 ? T(a / Acc(count)) : T(0);
          continue;
        }
        break;
      case ReduceFn::kL2:
        r = std::sqrt(double(a));
        break;
      case ReduceFn::kLogSum:
        r = std::log(double(a));
        break;
      case ReduceFn::kLogSumExp:
        r = shift[size_t(o)] + std::log(double(a));
        break;
      default:
        if constexpr (kFloatAcc) {
          r = double(a);
        } else {
          out[o] = T(a);
          continue;
        }
    }
    if constexpr (std::is_same_v<T, double>)
      out[o] = r;
    else if constexpr (std::is_floating_point_v<T> || !std::is_arithmetic_v<T>)
      out[o] = T(float(r));
    else if (!(r >= double(std::numeric_limits<T>::lowest())))
      out[o] = std::numeric_limits<T>::lowest();
    else if (r >= double(std::numeric_limits<T>::max()))
      out[o] = std::numeric_limits<T>::max();
    else
      out[o] = T(r);
  }
}

}  // namespace

void Reduce::run(KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  const Tensor* axes_t = ctx.has_input(1) ? &ctx.input(1) : nullptr;
  std::vector<int64_t> red = resolve_axes(x.rank(), axes_t);
  Tensor& y = ctx.output(0);
  Dims keep = x.dims();
  int64_t count = 1;
  for (int64_t a : red) {
    count *= keep[size_t(a)];
    keep[size_t(a)] = 1;
  }
  CELER_CHECK(y.size() == element_count(keep), kInternal, "reduce output of ", y.size(), " elements for ",
              dims_to_string(keep));
  const bool float_acc = fn == ReduceFn::kL2 || fn == ReduceFn::kLogSum || fn == ReduceFn::kLogSumExp;
  dispatch_numeric(x.type(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      CELER_THROW(kUnsupported, "bool inputs");
    } else if constexpr (!std::is_integral_v<T>) {
      reduce_kernel<T, double>(fn, x, keep, count, y);
    } else if (float_acc) {
      reduce_kernel<T, double>(fn, x, keep, count, y);
    } else if constexpr (std::is_signed_v<T>) {
      reduce_kernel<T, int64_t>(fn, x, keep, count, y);
    } else {
      reduce_kernel<T, uint64_t>(fn, x, keep, count, y);
    }
  });
}

double Reduce::flops(const Node& node) const {
  const auto& s = node.inputs[0]->type.shape;
  return s.is_static() ? double(element_count(s.to_dims())) : 0.0;
}

namespace {
template <ReduceFn F>
void import_reduce(OnnxNode& n) {
  auto op = std::make_unique<Reduce>();
  op->fn = F;
  op->keepdims = n.attr_int("keepdims", 1) != 0;
  op->noop_with_empty_axes = n.attr_int("noop_with_empty_axes", 0) != 0;
  const bool axes_input = F == ReduceFn::kSum && n.opset() >= 13;
  if (axes_input) {
    if (n.has_attr("axes")) n.fail("attribute 'axes' is an input from opset 13");
  } else {
    op->axes = n.attr_ints("axes", std::vector<int64_t>{});
    if (n.num_inputs() > 1) n.fail("takes one input before opset 13, got ", n.num_inputs());
  }
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_Reduce() { return std::make_unique<Reduce>(); }

void register_op_Reduce(OpRegistry& r) {
  r.add_onnx("ReduceSum", 1, kMaxOpset, import_reduce<ReduceFn::kSum>);
  r.add_onnx("ReduceMean", 1, kMaxOpset, import_reduce<ReduceFn::kMean>);
  r.add_onnx("ReduceMax", 1, kMaxOpset, import_reduce<ReduceFn::kMax>);
  r.add_onnx("ReduceMin", 1, kMaxOpset, import_reduce<ReduceFn::kMin>);
  r.add_onnx("ReduceProd", 1, kMaxOpset, import_reduce<ReduceFn::kProd>);
  r.add_onnx("ReduceL1", 1, kMaxOpset, import_reduce<ReduceFn::kL1>);
  r.add_onnx("ReduceL2", 1, kMaxOpset, import_reduce<ReduceFn::kL2>);
  r.add_onnx("ReduceLogSum", 1, kMaxOpset, import_reduce<ReduceFn::kLogSum>);
  r.add_onnx("ReduceLogSumExp", 1, kMaxOpset, import_reduce<ReduceFn::kLogSumExp>);
  r.add_onnx("ReduceSumSquare", 1, kMaxOpset, import_reduce<ReduceFn::kSumSquare>);
}

}  // namespace celer
