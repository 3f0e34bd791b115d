// NonMaxSuppression: greedy selection of boxes by descending score, per batch and class, dropping boxes whose IoU with
// a selected box exceeds the threshold. Output [num_selected, 3] int64 (batch, class, box), data-dependent.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/dispatch.hpp"
#include "onnx/onnx_node.hpp"
#include "ops/op.hpp"
#include "ops/registry.hpp"
#include "ops/util.hpp"

namespace celer {

class NonMaxSuppression final : public OpBase<NonMaxSuppression, OpKind::kNonMaxSuppression> {
 public:
  bool center_point_box = false;

  const char* type_name() const override { return "NonMaxSuppression"; }
  void visit_attrs(AttrVisitor& v) override { v.on("center_point_box", center_point_box); }

  void infer(InferContext& ctx) const override {
    CELER_CHECK(is_float(ctx.input_elem(0)) && ctx.input_elem(1) == ctx.input_elem(0), kInvalidModel,
                "inputs 'boxes' and 'scores' must have the same float element type, got ",
                element_type_name(ctx.input_elem(0)), " and ", element_type_name(ctx.input_elem(1)));
    const PartialShape& b = ctx.input_shape(0);
    const PartialShape& s = ctx.input_shape(1);
    CELER_CHECK(!b.rank_known() || b.rank() == 3, kShapeMismatch, "input 'boxes' of shape ", b.to_string(),
                " must have rank 3");
    CELER_CHECK(!s.rank_known() || s.rank() == 3, kShapeMismatch, "input 'scores' of shape ", s.to_string(),
                " must have rank 3");
    if (b.rank_known()) {
      CELER_CHECK(!b[2].is_static() || b[2].value() == 4, kShapeMismatch, "input 'boxes' of shape ", b.to_string(),
                  " must have 4 coordinates in its last dim");
      if (s.rank_known()) {
        CELER_CHECK(!b[0].is_static() || !s[0].is_static() || b[0].value() == s[0].value(), kShapeMismatch,
                    "inputs 'boxes' ", b.to_string(), " and 'scores' ", s.to_string(), " differ in the batch dim");
        CELER_CHECK(!b[1].is_static() || !s[2].is_static() || b[1].value() == s[2].value(), kShapeMismatch,
                    "inputs 'boxes' ", b.to_string(), " and 'scores' ", s.to_string(), " differ in the box count");
      }
    }
    ctx.set_output(0, ElementType::kI64, PartialShape({Dim(), Dim(3)}));
  }

  void run(KernelContext& ctx) const override {
    const Tensor& boxes = ctx.input(0);
    const Tensor& scores = ctx.input(1);
    auto scalar = [&](size_t i, const char* name) -> const Tensor* {
      if (!ctx.has_input(i)) return nullptr;
      const Tensor& t = ctx.input(i);
      if (t.size() == 0) return nullptr;
      CELER_CHECK(t.size() == 1, kInvalidArgument, "input '", name, "' must hold one value, got shape ",
                  dims_to_string(t.dims()));
      return &t;
    };
    const Tensor* max_t = scalar(2, "max_output_boxes_per_class");
    const Tensor* iou_t = scalar(3, "iou_threshold");
    const Tensor* score_t = scalar(4, "score_threshold");
    const int64_t max_out = max_t ? max_t->value_as_int(0) : 0;
    const double iou_th = iou_t ? iou_t->value_as_double(0) : 0.0;
    const bool use_score_th = score_t != nullptr;
    const double score_th = score_t ? score_t->value_as_double(0) : 0.0;
    CELER_CHECK(iou_th >= 0 && iou_th <= 1, kInvalidArgument, "input 'iou_threshold' = ", iou_th, " must be in [0, 1]");

    const int64_t nb = boxes.dim(0), n_boxes = boxes.dim(1), n_classes = scores.dim(1);
    std::vector<double> bx(size_t(boxes.size())), sc(size_t(scores.size()));
    dispatch_float(boxes.type(), [&]<typename T>() {
      const T* p = boxes.data<T>();
      for (size_t i = 0; i < bx.size(); ++i) bx[i] = double(p[i]);
      const T* q = scores.data<T>();
      for (size_t i = 0; i < sc.size(); ++i) sc[i] = double(q[i]);
    });
    // Corners (y1, x1, y2, x2) with y1 <= y2 and x1 <= x2.
    std::vector<double> corners(bx.size());
    for (int64_t i = 0; i < nb * n_boxes; ++i) {
      const double* b = &bx[size_t(i * 4)];
      double* c = &corners[size_t(i * 4)];
      if (center_point_box) {
        c[0] = b[1] - b[3] / 2, c[1] = b[0] - b[2] / 2, c[2] = b[1] + b[3] / 2, c[3] = b[0] + b[2] / 2;
      } else {
        c[0] = std::min(b[0], b[2]), c[1] = std::min(b[1], b[3]), c[2] = std::max(b[0], b[2]),
        c[3] = std::max(b[1], b[3]);
      }
    }
    auto iou = [&](const double* a, const double* b) {
      double area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
      if (area_a <= 0 || area_b <= 0) return 0.0;
      double ih = std::min(a[2], b[2]) - std::max(a[0], b[0]);
      double iw = std::min(a[3], b[3]) - std::max(a[1], b[1]);
      if (ih <= 0 || iw <= 0) return 0.0;
      double inter = ih * iw;
      return inter / (area_a + area_b - inter);
    };

    std::vector<int64_t> selected;  // triples
    std::vector<int64_t> order, picked;
    for (int64_t b = 0; b < nb; ++b)
      for (int64_t c = 0; c < n_classes && max_out > 0; ++c) {
        const double* s = &sc[size_t((b * n_classes + c) * n_boxes)];
        order.clear();
        for (int64_t i = 0; i < n_boxes; ++i)
          if (!use_score_th || s[i] > score_th) order.push_back(i);
        std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return s[x] > s[y]; });
        picked.clear();
        for (int64_t i : order) {
          if (int64_t(picked.size()) >= max_out) break;
          const double* ci = &corners[size_t((b * n_boxes + i) * 4)];
          bool keep = true;
          for (int64_t j : picked)
            if (iou(ci, &corners[size_t((b * n_boxes + j) * 4)]) > iou_th) {
              keep = false;
              break;
            }
          if (!keep) continue;
          picked.push_back(i);
          selected.insert(selected.end(), {b, c, i});
        }
      }
    Tensor& out = ctx.output(0, ElementType::kI64, {int64_t(selected.size() / 3), 3});
    std::copy(selected.begin(), selected.end(), out.data<int64_t>());
  }
};

namespace {
void import_nms(OnnxNode& n) {
  auto op = std::make_unique<NonMaxSuppression>();
  int64_t cpb = n.attr_int("center_point_box", 0);
  if (cpb != 0 && cpb != 1) n.fail("attribute 'center_point_box' = ", cpb, " must be 0 or 1");
  op->center_point_box = cpb == 1;
  n.emit(std::move(op));
}
}  // namespace

std::unique_ptr<Op> make_op_NonMaxSuppression() { return std::make_unique<NonMaxSuppression>(); }

void register_op_NonMaxSuppression(OpRegistry& r) { r.add_onnx("NonMaxSuppression", 10, kMaxOpset, import_nms); }

}  // namespace celer
