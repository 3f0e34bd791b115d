// celer::Error: the one exception type of the library. Every failure carries a code and a message that names the
// file, node, tensor or attribute involved and the rule that was broken.
#pragma once

#include <exception>
#include <sstream>
#include <string>
#include <utility>

namespace celer {

enum class ErrorCode {
  kParse,          // the file is not a model we can parse
  kInvalidModel,   // the model breaks a structural rule (undefined value, cycle, bad attribute, ...)
  kUnsupported,    // valid, but an op/type/opset celer does not implement
  kInvalidArgument,// a bad argument from the API user (wrong input name, dtype, shape, property)
  kShapeMismatch,  // shapes that cannot work together
  kOutOfRange,     // an index out of range at run time
  kLimitExceeded,  // a documented limit was hit (depth, tensor bytes, loop iterations)
  kIo,             // file system errors
  kRuntime,        // a kernel failed at run time
  kCancelled,      // an asynchronous request was cancelled before it ran
  kInternal,       // a bug in celer
};

const char* error_code_name(ErrorCode code);

class Error : public std::exception {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  ErrorCode code() const noexcept { return code_; }
  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& message() const noexcept { return message_; }

 private:
  ErrorCode code_;
  std::string message_;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace celer

// Throws celer::Error(code, message) where the message is the concatenation of the trailing arguments.
#define CELER_THROW(code, ...) throw ::celer::Error(::celer::ErrorCode::code, ::celer::detail::concat(__VA_ARGS__))
#define CELER_CHECK(cond, code, ...)      \
  do {                                    \
    if (!(cond)) CELER_THROW(code, __VA_ARGS__); \
  } while (0)
