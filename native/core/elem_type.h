// Element types of tensor memory handed to native code: float32, or float16 / bfloat16 kept as 16-bit patterns
// (CUDA only for computation; host code never does arithmetic on them).
#pragma once
#include <cstddef>
#include <string>

namespace rnn {

enum class ElemType : int { F32 = 0, F16 = 1, BF16 = 2 };

inline size_t elemSize(ElemType t) { return t == ElemType::F32 ? 4 : 2; }
inline bool isHalf(ElemType t) { return t != ElemType::F32; }

// The JS dtype names ('float32', 'float16', 'bfloat16').
inline const char* elemName(ElemType t) {
  switch (t) {
    case ElemType::F16: return "float16";
    case ElemType::BF16: return "bfloat16";
    default: return "float32";
  }
}

inline bool parseElemType(const std::string& name, ElemType* out) {
  if (name == "float32") *out = ElemType::F32;
  else if (name == "float16") *out = ElemType::F16;
  else if (name == "bfloat16") *out = ElemType::BF16;
  else return false;
  return true;
}

}  // namespace rnn
