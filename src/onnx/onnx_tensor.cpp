#include "onnx/onnx_tensor.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "onnx/onnx.pb.h"

namespace celer {

ElementType onnx_element_type(int dt, const std::string& what) {
  switch (dt) {
    case onnx::TensorProto::FLOAT: return ElementType::kF32;
    case onnx::TensorProto::UINT8: return ElementType::kU8;
    case onnx::TensorProto::INT8: return ElementType::kI8;
    case onnx::TensorProto::UINT16: return ElementType::kU16;
    case onnx::TensorProto::INT16: return ElementType::kI16;
    case onnx::TensorProto::INT32: return ElementType::kI32;
    case onnx::TensorProto::INT64: return ElementType::kI64;
    case onnx::TensorProto::STRING: return ElementType::kString;
    case onnx::TensorProto::BOOL: return ElementType::kBool;
    case onnx::TensorProto::FLOAT16: return ElementType::kF16;
    case onnx::TensorProto::DOUBLE: return ElementType::kF64;
    case onnx::TensorProto::UINT32: return ElementType::kU32;
    case onnx::TensorProto::UINT64: return ElementType::kU64;
    case onnx::TensorProto::BFLOAT16: return ElementType::kBF16;
    case onnx::TensorProto::COMPLEX64:
    case onnx::TensorProto::COMPLEX128:
      CELER_THROW(kUnsupported, what, ": complex element types are not supported");
    case onnx::TensorProto::UNDEFINED:
      CELER_THROW(kInvalidModel, what, ": element type is undefined (0)");
    default:
      CELER_THROW(kInvalidModel, what, ": unknown element type ", dt);
  }
}

int onnx_data_type_of(ElementType t) {
  switch (t) {
    case ElementType::kF32: return onnx::TensorProto::FLOAT;
    case ElementType::kU8: return onnx::TensorProto::UINT8;
    case ElementType::kI8: return onnx::TensorProto::INT8;
    case ElementType::kU16: return onnx::TensorProto::UINT16;
    case ElementType::kI16: return onnx::TensorProto::INT16;
    case ElementType::kI32: return onnx::TensorProto::INT32;
    case ElementType::kI64: return onnx::TensorProto::INT64;
    case ElementType::kString: return onnx::TensorProto::STRING;
    case ElementType::kBool: return onnx::TensorProto::BOOL;
    case ElementType::kF16: return onnx::TensorProto::FLOAT16;
    case ElementType::kF64: return onnx::TensorProto::DOUBLE;
    case ElementType::kU32: return onnx::TensorProto::UINT32;
    case ElementType::kU64: return onnx::TensorProto::UINT64;
    case ElementType::kBF16: return onnx::TensorProto::BFLOAT16;
    default: return onnx::TensorProto::UNDEFINED;
  }
}

namespace {

// Resolves an external-data location inside `dir`, refusing anything that leaves it.
std::string resolve_external_path(const std::string& dir, const std::string& location, const std::string& what) {
  namespace fs = std::filesystem;
  CELER_CHECK(!dir.empty(), kInvalidModel, what, ": external data '", location,
              "' cannot be read: the model was loaded from memory without a weights folder");
  CELER_CHECK(!location.empty(), kInvalidModel, what, ": external data has an empty location");
  fs::path loc(location);
  CELER_CHECK(!loc.is_absolute(), kInvalidModel, what, ": external data location '", location,
              "' is an absolute path; it must be relative to and inside the model's folder");
  for (const auto& part : loc)
    CELER_CHECK(part != "..", kInvalidModel, what, ": external data location '", location,
                "' is outside the model's folder ('..' is not allowed)");
  char base_real[PATH_MAX], file_real[PATH_MAX];
  CELER_CHECK(realpath(dir.c_str(), base_real), kIo, what, ": cannot resolve the model's folder '", dir, "'");
  std::string full = (fs::path(dir) / loc).string();
  CELER_CHECK(realpath(full.c_str(), file_real), kIo, what, ": external data file '", location,
              "' does not exist in the model's folder");
  std::string base = base_real, file = file_real;
  CELER_CHECK(file.size() > base.size() && file.compare(0, base.size(), base) == 0 && file[base.size()] == '/', kInvalidModel,
              what, ": external data location '", location, "' resolves outside the model's folder (through a symlink?)");
  struct stat st;
  CELER_CHECK(stat(file_real, &st) == 0, kIo, what, ": cannot stat external data file '", location, "'");
  CELER_CHECK(S_ISREG(st.st_mode), kInvalidModel, what, ": external data '", location, "' is not a regular file");
  return file;
}

void read_external(const onnx::TensorProto& t, const std::string& dir, const std::string& what, void* dst,
                   int64_t expected_bytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    auto parse_num = [&](const std::string& s) -> int64_t {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(s.c_str(), &end, 10);
      CELER_CHECK(errno == 0 && end && *end == 0 && v >= 0 && !s.empty(), kInvalidModel, what, ": external data ",
                  kv.key(), " '", s, "' is not a non-negative integer");
      return int64_t(v);
    };
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = parse_num(kv.value());
    else if (kv.key() == "length") length = parse_num(kv.value());
  }
  std::string path = resolve_external_path(dir, location, what);
  if (length < 0) length = expected_bytes;
  CELER_CHECK(length == expected_bytes, kInvalidModel, what, ": external data length ", length,
              " bytes does not match the ", expected_bytes, " bytes its type and dims need");
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  CELER_CHECK(fd >= 0, kIo, what, ": cannot open external data '", location, "': ", std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    CELER_THROW(kInvalidModel, what, ": external data '", location, "' is not a regular file");
  }
  int64_t end = 0;
  if (__builtin_add_overflow(offset, length, &end) || end > int64_t(st.st_size)) {
    ::close(fd);
    CELER_THROW(kInvalidModel, what, ": external data range [", offset, ", ", offset, "+", length,
                ") is past the end of '", location, "' (", int64_t(st.st_size), " bytes)");
  }
  char* out = static_cast<char*>(dst);
  int64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out + done, size_t(length - done), off_t(offset + done));
    if (n <= 0) {
      ::close(fd);
      CELER_THROW(kIo, what, ": short read from external data '", location, "'");
    }
    done += n;
  }
  ::close(fd);
}

template <typename Src, typename Dst>
void copy_typed(const Src& src, Tensor& t) {
  Dst* dst = static_cast<Dst*>(t.raw());
  for (int i = 0; i < src.size(); ++i) dst[i] = Dst(src[i]);
}

}  // namespace

namespace {

// What a TensorProto says about itself, checked before anything is allocated.
struct TensorHeader {
  std::string what;  // names the tensor in messages
  ElementType type;
  Dims dims;
  int64_t count = 1;
  int64_t bytes = 0;
  int typed_count = 0;  // values in the typed data fields
};

TensorHeader read_header(const onnx::TensorProto& tp, const std::string& what_in) {
  TensorHeader h;
  h.what = what_in.empty() ? "tensor '" + tp.name() + "'" : what_in;
  const std::string& what = h.what;
  h.type = onnx_element_type(tp.data_type(), what);
  h.dims.assign(tp.dims().begin(), tp.dims().end());
  for (int64_t d : h.dims)
    CELER_CHECK(d >= 0, kInvalidModel, what, ": negative dim ", d, " in dims ", dims_to_string(h.dims));
  for (int64_t d : h.dims)
    CELER_CHECK(!__builtin_mul_overflow(h.count, d, &h.count), kLimitExceeded, what, ": the element count of dims ",
                dims_to_string(h.dims), " overflows 64 bits");
  CELER_CHECK(!__builtin_mul_overflow(h.count, int64_t(element_size(h.type)), &h.bytes) && h.bytes <= kMaxTensorBytes,
              kLimitExceeded, what, ": dims ", dims_to_string(h.dims), " need more than the tensor size limit of ",
              kMaxTensorBytes, " bytes");
  h.typed_count = tp.float_data_size() + tp.int32_data_size() + tp.string_data_size() + tp.int64_data_size() +
                  tp.double_data_size() + tp.uint64_data_size();
  CELER_CHECK(!(tp.has_raw_data() && h.typed_count > 0), kInvalidModel, what,
              ": has both raw_data and typed data fields");
  return h;
}

}  // namespace

Tensor read_onnx_tensor(const onnx::TensorProto& tp, const std::string& dir, const std::string& what_in) {
  TensorHeader h = read_header(tp, what_in);
  const std::string& what = h.what;
  const ElementType type = h.type;
  const Dims& dims = h.dims;
  const int64_t count = h.count, bytes = h.bytes;
  const int typed_count = h.typed_count;
  const bool external = tp.data_location() == onnx::TensorProto::EXTERNAL;
  const bool raw = tp.has_raw_data();
  CELER_CHECK(!(external && (raw || typed_count > 0)), kInvalidModel, what, ": has both external and inline data");
  if (type == ElementType::kString) {
    CELER_CHECK(!raw && !external, kInvalidModel, what, ": string tensors must use string_data");
  }
  // Check sizes before allocating anything.
  if (raw) {
    CELER_CHECK(int64_t(tp.raw_data().size()) == bytes, kInvalidModel, what, ": raw_data has ", tp.raw_data().size(),
                " bytes but type ", element_type_name(type), " and dims ", dims_to_string(dims), " need ", bytes, " bytes");
  } else if (!external) {
    CELER_CHECK(int64_t(typed_count) == count, kInvalidModel, what, ": has ", typed_count, " values but dims ",
                dims_to_string(dims), " need ", count, " (expected ", bytes, " bytes)");
  }
  // Every element is written below (external, raw or typed data), so the memory needs no zeroing.
  Tensor t = type == ElementType::kString ? Tensor(type, dims) : Tensor::uninitialized(type, dims);
  if (count == 0) return t;
  if (external) {
    read_external(tp, dir, what, t.raw(), bytes);
  } else if (raw) {
    std::memcpy(t.raw(), tp.raw_data().data(), size_t(bytes));
  } else {
    switch (type) {
      case ElementType::kF32:
        CELER_CHECK(tp.float_data_size() == count, kInvalidModel, what, ": float tensor must use float_data");
        copy_typed<decltype(tp.float_data()), float>(tp.float_data(), t);
        break;
      case ElementType::kF64:
        CELER_CHECK(tp.double_data_size() == count, kInvalidModel, what, ": double tensor must use double_data");
        copy_typed<decltype(tp.double_data()), double>(tp.double_data(), t);
        break;
      case ElementType::kI64:
        CELER_CHECK(tp.int64_data_size() == count, kInvalidModel, what, ": int64 tensor must use int64_data");
        copy_typed<decltype(tp.int64_data()), int64_t>(tp.int64_data(), t);
        break;
      case ElementType::kU32:
      case ElementType::kU64:
        CELER_CHECK(tp.uint64_data_size() == count, kInvalidModel, what, ": ", element_type_name(type),
                    " tensor must use uint64_data");
        if (type == ElementType::kU32) copy_typed<decltype(tp.uint64_data()), uint32_t>(tp.uint64_data(), t);
        else copy_typed<decltype(tp.uint64_data()), uint64_t>(tp.uint64_data(), t);
        break;
      case ElementType::kString:
        CELER_CHECK(tp.string_data_size() == count, kInvalidModel, what, ": string tensor must use string_data");
        for (int i = 0; i < count; ++i) t.data<std::string>()[i] = tp.string_data(i);
        break;
      default: {  // int32_data holds i32, i16, i8, u16, u8, bool, f16 and bf16 (as bits)
        CELER_CHECK(tp.int32_data_size() == count, kInvalidModel, what, ": ", element_type_name(type),
                    " tensor must use int32_data");
        const auto& src = tp.int32_data();
        switch (type) {
          case ElementType::kI32: copy_typed<decltype(src), int32_t>(src, t); break;
          case ElementType::kI16: copy_typed<decltype(src), int16_t>(src, t); break;
          case ElementType::kI8: copy_typed<decltype(src), int8_t>(src, t); break;
          case ElementType::kU16: copy_typed<decltype(src), uint16_t>(src, t); break;
          case ElementType::kU8: copy_typed<decltype(src), uint8_t>(src, t); break;
          case ElementType::kBool:
            for (int i = 0; i < count; ++i) t.data<bool>()[i] = src[i] != 0;
            break;
          case ElementType::kF16:
          case ElementType::kBF16:
            for (int i = 0; i < count; ++i) static_cast<uint16_t*>(t.raw())[i] = uint16_t(src[i]);
            break;
          default: CELER_THROW(kInternal, what, ": unhandled element type");
        }
      }
    }
  }
  if (type == ElementType::kBool) {  // normalise raw bytes so kernels can trust 0/1
    auto* p = static_cast<uint8_t*>(t.raw());
    for (int64_t i = 0; i < count; ++i) p[i] = p[i] != 0;
  }
  return t;
}

Tensor take_onnx_tensor(onnx::TensorProto& tp, const std::string& dir, const std::string& what) {
  const bool movable = tp.has_raw_data() && tp.data_location() != onnx::TensorProto::EXTERNAL &&
                       tp.data_type() != onnx::TensorProto::BOOL && tp.data_type() != onnx::TensorProto::STRING &&
                       tp.raw_data().size() >= 4096;
  if (!movable) return read_onnx_tensor(tp, dir, what);
  TensorHeader h = read_header(tp, what);
  CELER_CHECK(int64_t(tp.raw_data().size()) == h.bytes, kInvalidModel, h.what, ": raw_data has ",
              tp.raw_data().size(), " bytes but type ", element_type_name(h.type), " and dims ", dims_to_string(h.dims),
              " need ", h.bytes, " bytes");
  auto owned = std::make_shared<std::string>(std::move(*tp.mutable_raw_data()));
  void* data = owned->data();
  return Tensor::view(h.type, std::move(h.dims), data, std::move(owned));
}

Tensor take_onnx_tensor(onnx::TensorProto& tp, const PayloadSpan& payload, const PayloadSource& source,
                        const std::string& dir, const std::string& what, std::vector<PayloadRead>* reads) {
  TensorHeader h = read_header(tp, what);
  CELER_CHECK(h.typed_count == 0, kInvalidModel, h.what, ": has both raw_data and typed data fields");
  CELER_CHECK(tp.data_location() != onnx::TensorProto::EXTERNAL, kInvalidModel, h.what,
              ": has raw_data but says its data is external");
  CELER_CHECK(int64_t(payload.size) == h.bytes, kInvalidModel, h.what, ": raw_data has ", payload.size,
              " bytes but type ", element_type_name(h.type), " and dims ", dims_to_string(h.dims), " need ", h.bytes,
              " bytes");
  if (h.type == ElementType::kBool || h.type == ElementType::kString) {
    // Converted element by element: through the proto like any other.
    std::string bytes(payload.size, '\0');
    source.read(payload, bytes.data());
    tp.set_raw_data(std::move(bytes));
    return read_onnx_tensor(tp, dir, what);
  }
  // Small weights (rank 2 and up) share the source's arena (core/weight_arena.hpp); large ones are huge-page backed on
  // their own. Vectors (biases, normalisation parameters) stay apart: kernels read many of them as they are, and
  // such a one would keep its whole block, with the weights packed and released around it, resident.
  Tensor t;
  if (source.arena && payload.size < PayloadSource::kArenaBelow && h.dims.size() >= 2) {
    std::shared_ptr<void> piece = source.arena->allocate(size_t(payload.size));
    void* data = piece.get();
    t = Tensor::view(h.type, std::move(h.dims), data, std::move(piece));
  } else {
    t = Tensor::uninitialized(h.type, std::move(h.dims));
  }
  if (reads)
    reads->push_back({payload, t.raw()});
  else
    source.read(payload, t.raw());
  return t;
}

ValueType read_onnx_type(const onnx::TypeProto& tp, const std::string& what) {
  auto read_tensor = [&](const onnx::TypeProto::Tensor& tt) {
    ValueType v;
    v.elem = tt.has_elem_type() && tt.elem_type() != 0 ? onnx_element_type(tt.elem_type(), what) : ElementType::kUndefined;
    if (tt.has_shape()) {
      std::vector<Dim> dims;
      for (const auto& d : tt.shape().dim()) {
        if (d.has_dim_value()) {
          CELER_CHECK(d.dim_value() >= 0, kInvalidModel, what, ": negative dim ", d.dim_value());
          dims.emplace_back(d.dim_value());
        } else if (d.has_dim_param() && !d.dim_param().empty()) {
          dims.push_back(Dim::symbol(d.dim_param()));
        } else {
          dims.emplace_back();
        }
      }
      v.shape = PartialShape(std::move(dims));
    }
    return v;
  };
  switch (tp.value_case()) {
    case onnx::TypeProto::kTensorType: return read_tensor(tp.tensor_type());
    case onnx::TypeProto::kSequenceType: {
      ValueType inner = tp.sequence_type().has_elem_type() ? read_onnx_type(tp.sequence_type().elem_type(), what)
                                                           : ValueType{};
      CELER_CHECK(inner.kind == ValueKind::kTensor && !inner.optional, kUnsupported, what,
                  ": sequences of non-tensors are not supported");
      return ValueType::sequence(inner.elem, inner.shape);
    }
    case onnx::TypeProto::kOptionalType: {
      ValueType inner = tp.optional_type().has_elem_type() ? read_onnx_type(tp.optional_type().elem_type(), what)
                                                           : ValueType{};
      CELER_CHECK(!inner.optional, kUnsupported, what, ": nested optionals are not supported");
      inner.optional = true;
      return inner;
    }
    case onnx::TypeProto::VALUE_NOT_SET: return {};
    default: CELER_THROW(kUnsupported, what, ": map and sparse tensor types are not supported");
  }
}

}  // namespace celer
