// Element types of tensor memory handed to native code: float32, or float16 / bfloat16 kept as 16-bit patterns.
// I8 is a call's type only (spec.dtype 'int8': a module quantized by quantizeDynamic, on the CPU): its weight
// matrices are packed int8 panels (bytes), everything else float32.
#pragma once
#include <cstddef>
#include <string>

namespace rnn {

enum class ElemType : int { F32 = 0, F16 = 1, BF16 = 2, I8 = 3 };

inline size_t elemSize(ElemType t) { return t == ElemType::F32 ? 4 : t == ElemType::I8 ? 1 : 2; }
inline bool isHalf(ElemType t) { return t == ElemType::F16 || t == ElemType::BF16; }

// The JS dtype names ('float32', 'float16', 'bfloat16').
inline const char* elemName(ElemType t) {
  switch (t) {
    case ElemType::F16: return "float16";
    case ElemType::BF16: return "bfloat16";
    case ElemType::I8: return "int8";
    default: return "float32";
  }
}

// The float dtypes of tensors (forward_args.cpp also takes 'int8' as a call's type).
inline bool parseElemType(const std::string& name, ElemType* out) {
  if (name == "float32") *out = ElemType::F32;
  else if (name == "float16") *out = ElemType::F16;
  else if (name == "bfloat16") *out = ElemType::BF16;
  else return false;
  return true;
}

}  // namespace rnn
