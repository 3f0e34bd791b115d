// Builds small ONNX models in tests (one node, or a few) and runs them on a device.
//
//   OnnxBuilder b(13);
//   b.input("x", onnx::TensorProto::FLOAT, {2, 3});
//   b.node("Relu", {"x"}, {"y"});
//   b.output("y");
//   auto outs = b.run("REF", {Tensor::from_vector<float>({...}, {2, 3})});
#pragma once

#include <string>
#include <vector>

#include "celer/celer.hpp"
#include "onnx/onnx.pb.h"

namespace celer::test {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 17) {
    model_.set_ir_version(8);
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }
  onnx::ModelProto& model() { return model_; }
  onnx::GraphProto& graph() { return *model_.mutable_graph(); }

  // dims: -1 for an unknown dim; pass rank_known=false for an unknown rank.
  void input(const std::string& name, int elem_type, const std::vector<int64_t>& dims, bool rank_known = true) {
    set_type(graph().add_input(), name, elem_type, dims, rank_known);
  }
  // Output without a declared type (inference decides).
  void output(const std::string& name) { graph().add_output()->set_name(name); }
  void output(const std::string& name, int elem_type, const std::vector<int64_t>& dims) {
    set_type(graph().add_output(), name, elem_type, dims, true);
  }
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& in,
                        const std::vector<std::string>& out, const std::string& name = "") {
    auto* n = graph().add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(graph().node_size()) : name);
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return *n;
  }
  void initializer(const std::string& name, const std::vector<float>& values, const std::vector<int64_t>& dims) {
    auto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    for (auto v : values) t->add_float_data(v);
  }
  void initializer_i64(const std::string& name, const std::vector<int64_t>& values, const std::vector<int64_t>& dims) {
    auto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (auto d : dims) t->add_dims(d);
    for (auto v : values) t->add_int64_data(v);
  }

  static void attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, float v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, const std::vector<float>& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOATS);
    for (auto x : v) a->add_floats(x);
  }

  std::string bytes() const { return model_.SerializeAsString(); }
  Model read() const { return Core().read_model_from_memory(bytes()); }

  // Reads, compiles and runs the model; returns all outputs.
  std::vector<Tensor> run(const std::string& device, const std::vector<Tensor>& inputs) const {
    Core core;
    CompiledModel cm = core.compile_model(read(), device);
    InferRequest r = cm.create_infer_request();
    for (size_t i = 0; i < inputs.size(); ++i) r.set_input_tensor(i, inputs[i]);
    r.infer();
    std::vector<Tensor> out;
    for (size_t i = 0; i < cm.outputs().size(); ++i) out.push_back(r.get_output_tensor(i));
    return out;
  }

 private:
  static void set_type(onnx::ValueInfoProto* vi, const std::string& name, int elem_type,
                       const std::vector<int64_t>& dims, bool rank_known) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem_type);
    if (!rank_known) return;
    auto* shape = tt->mutable_shape();
    for (auto d : dims) {
      auto* dim = shape->add_dim();
      if (d >= 0) dim->set_dim_value(d);
    }
  }
  onnx::ModelProto model_;
};

}  // namespace celer::test
