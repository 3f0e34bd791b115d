#include <gtest/gtest.h>

#include "onnx_builder.hpp"

using namespace celer;
using celer::test::OnnxBuilder;

TEST(Binary, AddBroadcastsOnRefAndCpu) {
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::FLOAT, {2, 3});
  b.input("b", onnx::TensorProto::FLOAT, {3});
  b.node("Add", {"a", "b"}, {"y"});
  b.output("y");
  for (const char* dev : {"REF", "CPU"}) {
    auto out = b.run(dev, {Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}),
                           Tensor::from_vector<float>({10, 20, 30}, {3})});
    ASSERT_EQ(out[0].dims(), (Dims{2, 3}));
    const float want[] = {11, 22, 33, 14, 25, 36};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(out[0].data<float>()[i], want[i]) << dev;
  }
}

TEST(Binary, IncompatibleShapesNameTheNode) {
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::FLOAT, {2, 3});
  b.input("b", onnx::TensorProto::FLOAT, {4});
  b.node("Add", {"a", "b"}, {"y"}, "my_add");
  b.output("y");
  try {
    b.read();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("my_add"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2,3]"), std::string::npos) << e.what();
  }
}

TEST(Binary, SymbolicDimsBroadcast) {
  OnnxBuilder b(13);
  b.input("a", onnx::TensorProto::FLOAT, {-1, 3});
  b.input("b", onnx::TensorProto::FLOAT, {1, 3});
  b.node("Mul", {"a", "b"}, {"y"});
  b.output("y");
  Model m = b.read();
  EXPECT_EQ(m.outputs()[0].shape.rank(), 2);
  EXPECT_EQ(m.outputs()[0].shape[1].value(), 3);
  EXPECT_FALSE(m.outputs()[0].shape[0].is_static());
}
