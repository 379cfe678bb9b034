// Device memory for CUDA tensors: allocate, free, and copies that complete before they return.
#pragma once
#include <cstddef>

namespace rnn::cuda {

float* allocate(int device, size_t floats);  // throws std::runtime_error (out of memory included)
void release(int device, float* data);
void upload(int device, float* dst, const float* src, size_t floats);
void download(int device, float* dst, const float* src, size_t floats);
void copyDevice(int dstDevice, float* dst, int srcDevice, const float* src, size_t floats);
void fill(int device, float* dst, size_t floats, float value);
// dst[i] += src[i], both on `device` (gradient accumulation)
void add(int device, float* dst, const float* src, size_t floats);
void synchronizeDevice(int device);

}  // namespace rnn::cuda
