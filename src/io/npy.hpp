// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0).
//
// Element types: f4 f2 f8 i1 u1 i2 u2 i4 u4 i8 u8 b1, little-endian ('<'), not applicable ('|') or big-endian ('>';
// converted to native order on reading). Fortran-order arrays are converted to C order on reading.
//
// bfloat16: NumPy has no bfloat16 dtype. celer writes bf16 tensors with the descr '<bf16' (NumPy cannot load those
// files; convert to f4 for NumPy) and reads the descrs '<bf16', '>bf16', '|bf16' and 'bfloat16'.
// Strings: fixed-width byte strings ('|S<n>') and UTF-32 strings ('<U<n>', '>U<n>') are read into string tensors
// (UTF-32 is converted to UTF-8; trailing NULs are dropped, as numpy does). String tensors are written as '|S<n>', n
// being the longest string in bytes (numpy loads them as `bytes`). Object arrays, structured dtypes and complex
// numbers are not supported.
//
// Every problem (garbage, a truncated file, a header that disagrees with the data size, a shape whose size overflows
// or exceeds kMaxTensorBytes, an unknown dtype) is a celer::Error naming the file and the problem, raised before any
// large allocation. The writer always writes version 1.0 (2.0 when the header does not fit), C order, little-endian.
#pragma once

#include <string>
#include <string_view>

#include "celer/tensor.hpp"

namespace celer::npy {

// Reads a .npy file. Errors: kIo (cannot open/read), kParse (not a valid .npy file), kUnsupported (dtype),
// kLimitExceeded (too large).
Tensor read(const std::string& path);
// Parses .npy bytes held in memory; `label` names the data in error messages.
Tensor parse(std::string_view bytes, const std::string& label = "<memory>");

// Writes a tensor as a .npy file (kIo on failure).
void write(const std::string& path, const Tensor& t);
// The .npy bytes of a tensor.
std::string serialize(const Tensor& t);

// The .npy descr of an element type ("<f4", "|b1", ...); throws kUnsupported for strings (their width depends on the
// data) and kUndefined.
std::string descr_of(ElementType type);

}  // namespace celer::npy
