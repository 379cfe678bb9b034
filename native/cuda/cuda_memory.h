// Device memory for CUDA tensors: allocate, free, copies that complete before they return (sizes in bytes),
// and the element-wise fill / convert / add kernels behind the tensor operations.
#pragma once
#include <cstddef>

#include "../core/elem_type.h"

namespace rnn::cuda {

void* allocate(int device, size_t bytes);  // throws std::runtime_error (out of memory included)
void release(int device, void* data);
void upload(int device, void* dst, const void* src, size_t bytes);
void download(int device, void* dst, const void* src, size_t bytes);
void copyDevice(int dstDevice, void* dst, int srcDevice, const void* src, size_t bytes);
// `value` rounded to `type` (nearest even) in each of n elements
void fill(int device, void* dst, ElemType type, size_t n, float value);
// dst = src converted element by element (round to nearest even), both on `device`
void convert(int device, void* dst, ElemType dstType, const void* src, ElemType srcType, size_t n);
// dst[i] += src[i], float32, both on `device` (gradient accumulation)
void add(int device, float* dst, const float* src, size_t floats);
void synchronizeDevice(int device);

}  // namespace rnn::cuda
