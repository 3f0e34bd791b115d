// Chooses the primitives' variant once, from the processor's features (and CELER_CPU_ISA, which may only lower it).
#include "devices/cpu/simd.hpp"

#include <cstdlib>
#include <string>

namespace celer::cpu {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kScalar:
      break;
  }
  return "scalar";
}

bool simd_supports(UnaryFn fn) {
  switch (fn) {
    case UnaryFn::kAbs:
    case UnaryFn::kCeil:
    case UnaryFn::kClip:
    case UnaryFn::kErf:
    case UnaryFn::kExp:
    case UnaryFn::kFloor:
    case UnaryFn::kGelu:
    case UnaryFn::kHardSigmoid:
    case UnaryFn::kHardSwish:
    case UnaryFn::kLeakyRelu:
    case UnaryFn::kNeg:
    case UnaryFn::kReciprocal:
    case UnaryFn::kRelu:
    case UnaryFn::kRound:
    case UnaryFn::kSigmoid:
    case UnaryFn::kSign:
    case UnaryFn::kSilu:
    case UnaryFn::kSoftsign:
    case UnaryFn::kSqrt:
    case UnaryFn::kTanh:
    case UnaryFn::kThresholdedRelu:
      return true;
    default:
      return false;
  }
}

bool simd_supports(BinaryFn fn) {
  switch (fn) {
    case BinaryFn::kAdd:
    case BinaryFn::kSub:
    case BinaryFn::kMul:
    case BinaryFn::kDiv:
    case BinaryFn::kMax:
    case BinaryFn::kMin:
    case BinaryFn::kPRelu:
    case BinaryFn::kPow:
      return true;
    default:
      return false;
  }
}

bool simd_supports(ReduceFn fn) {
  switch (fn) {
    case ReduceFn::kSum:
    case ReduceFn::kMean:
    case ReduceFn::kMax:
    case ReduceFn::kMin:
    case ReduceFn::kSumSquare:
    case ReduceFn::kL1:
    case ReduceFn::kL2:
      return true;
    default:
      return false;
  }
}

namespace {
bool cpu_has(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case Isa::kScalar:
      break;
  }
  return true;
}

Isa choose_isa() {
  Isa best = cpu_has(Isa::kAvx512) ? Isa::kAvx512 : (cpu_has(Isa::kAvx2) ? Isa::kAvx2 : Isa::kScalar);
  if (const char* env = std::getenv("CELER_CPU_ISA")) {
    const std::string want(env);
    if (want == "scalar") best = Isa::kScalar;
    if (want == "avx2" && best == Isa::kAvx512) best = Isa::kAvx2;
  }
  return best;
}
}  // namespace

const SimdKernels* simd_for(Isa isa) {
  if (!cpu_has(isa)) return nullptr;
  switch (isa) {
    case Isa::kAvx512:
      return &simd_kernels_avx512();
    case Isa::kAvx2:
      return &simd_kernels_avx2();
    case Isa::kScalar:
      break;
  }
  return &simd_kernels_scalar();
}

const SimdKernels& simd() {
  static const SimdKernels* const chosen = simd_for(choose_isa());
  return *chosen;
}

}  // namespace celer::cpu
