// CUDA entry points: device queries, device buffers and copies. In a CPU-only build they report
// that CUDA is missing and why (RNN_CUDA_REASON comes from CMake).
#include "cuda_binding.h"

#include <cstdint>
#include <string>

#include "device_args.h"
#include "device_buffer.h"

#ifdef RNN_WITH_CUDA
#include "../cuda/cuda_backend.h"
#include "../cuda/cuda_context.h"
#include "../cuda/cuda_fused_step.h"
#include "../cuda/cuda_memory.h"
#include "../cuda/cuda_persistent_step.h"
#endif

namespace rnn::binding {

namespace {

// The host array matching a buffer of `type`: a Float32Array for float32, a Uint16Array (the bits) for the half types.
[[maybe_unused]] Napi::TypedArray hostArg(const Napi::CallbackInfo& info, size_t i, const char* name, ElemType type) {
  const napi_typedarray_type want = type == ElemType::F32 ? napi_float32_array : napi_uint16_array;
  if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != want) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a " + (type == ElemType::F32 ? "Float32Array" : "Uint16Array") +
                                               " for a " + elemName(type) + " buffer");
  }
  return info[i].As<Napi::TypedArray>();
}

[[maybe_unused]] void* hostData(Napi::TypedArray array) {
  return static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
}

[[maybe_unused]] int intArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

#ifdef RNN_WITH_CUDA
void checkDevice(Napi::Env env, int device) {
  const int count = cuda::deviceCount();
  if (device < 0 || device >= count) {
    throw Napi::RangeError::New(env, "CUDA device " + std::to_string(device) + " requested but only " + std::to_string(count) +
                                         " device(s) found");
  }
}

int gemmDimArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("cudaSgemm: ") + name + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (v < 0 || v != double(int64_t(v)) || v > 2147483647.0) {
    throw Napi::RangeError::New(info.Env(), std::string("cudaSgemm: ") + name + " must be a non-negative 32-bit integer");
  }
  return int(v);
}

// Elements a rows x cols row-major matrix with leading dimension ld needs (as blas_binding.cpp checks).
void checkGemmExtent(Napi::Env env, const char* name, size_t have, int64_t rows, int64_t cols, int64_t ld) {
  if (rows == 0 || cols == 0) return;
  if (ld < cols || size_t((rows - 1) * ld + cols) > have) {
    throw Napi::RangeError::New(env, std::string("cudaSgemm: ") + name + " is too small for its shape");
  }
}
#endif

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
#ifdef RNN_WITH_CUDA
  result.Set("built", true);
  result.Set("reason", "");
#else
  result.Set("built", false);
  result.Set("reason", RNN_CUDA_REASON);
#endif
  return result;
}

Napi::Value DeviceCount(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  return Napi::Number::New(info.Env(), cuda::deviceCount());
#else
  return Napi::Number::New(info.Env(), 0);
#endif
}

Napi::Value DriverError(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  return Napi::String::New(info.Env(), cuda::driverError());
#else
  return Napi::String::New(info.Env(), RNN_CUDA_REASON);
#endif
}

Napi::Value DeviceName(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const int device = intArg(info, 0, "device");
  checkDevice(info.Env(), device);
  std::string name;
  guarded(info.Env(), [&] { name = cuda::deviceName(device); });
  return Napi::String::New(info.Env(), name);
#else
  noCuda(info.Env());
#endif
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const int device = intArg(info, 0, "device");
  checkDevice(info.Env(), device);
  guarded(info.Env(), [&] { cuda::synchronizeDevice(device); });
  return info.Env().Undefined();
#else
  noCuda(info.Env());
#endif
}

Napi::Value Alloc(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  const int device = intArg(info, 0, "device");
  checkDevice(info.Env(), device);
  if (info.Length() < 2 || !info[1].IsNumber() || info[1].As<Napi::Number>().DoubleValue() < 0) {
    throw Napi::TypeError::New(info.Env(), "elements must be a non-negative number");
  }
  ElemType type = ElemType::F32;
  if (info.Length() > 2 && !info[2].IsUndefined() &&
      (!info[2].IsString() || !parseElemType(info[2].As<Napi::String>().Utf8Value(), &type))) {
    throw Napi::TypeError::New(info.Env(), "dtype must be 'float32', 'float16' or 'bfloat16'");
  }
  return DeviceBuffer::Create(info.Env(), device, size_t(info[1].As<Napi::Number>().DoubleValue()), type);
#else
  noCuda(info.Env());
#endif
}

Napi::Value Upload(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  DeviceBuffer* dst = bufferArg(info, 0, "dst");
  Napi::TypedArray src = hostArg(info, 1, "src", dst->type());
  if (src.ElementLength() != dst->length()) throw Napi::RangeError::New(info.Env(), "cudaUpload: length mismatch");
  guarded(info.Env(), [&] { cuda::upload(dst->device(), dst->raw(), hostData(src), dst->bytes()); });
  return info.Env().Undefined();
#else
  noCuda(info.Env());
#endif
}

Napi::Value Download(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  DeviceBuffer* src = bufferArg(info, 1, "src");
  Napi::TypedArray dst = hostArg(info, 0, "dst", src->type());
  if (dst.ElementLength() != src->length()) throw Napi::RangeError::New(info.Env(), "cudaDownload: length mismatch");
  guarded(info.Env(), [&] { cuda::download(src->device(), hostData(dst), src->raw(), src->bytes()); });
  return info.Env().Undefined();
#else
  noCuda(info.Env());
#endif
}

Napi::Value Copy(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  DeviceBuffer* dst = bufferArg(info, 0, "dst");
  DeviceBuffer* src = bufferArg(info, 1, "src");
  if (dst->length() != src->length()) throw Napi::RangeError::New(info.Env(), "cudaCopy: length mismatch");
  if (dst->type() != src->type()) throw Napi::TypeError::New(info.Env(), "cudaCopy: dtypes differ (use cudaConvert)");
  guarded(info.Env(), [&] { cuda::copyDevice(dst->device(), dst->raw(), src->device(), src->raw(), dst->bytes()); });
  return info.Env().Undefined();
#else
  noCuda(info.Env());
#endif
}

Napi::Value Fill(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  DeviceBuffer* dst = bufferArg(info, 0, "dst");
  if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "value must be a number");
  const float value = info[1].As<Napi::Number>().FloatValue();
  guarded(info.Env(), [&] { cuda::fill(dst->device(), dst->raw(), dst->type(), dst->length(), value); });
  return info.Env().Undefined();
#else
  noCuda(info.Env());
#endif
}

Napi::Value Convert(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  DeviceBuffer* dst = bufferArg(info, 0, "dst");
  DeviceBuffer* src = bufferArg(info, 1, "src");
  if (dst->length() != src->length()) throw Napi::RangeError::New(info.Env(), "cudaConvert: length mismatch");
  if (dst->device() != src->device()) throw Napi::RangeError::New(info.Env(), "cudaConvert: the buffers are on different devices");
  guarded(info.Env(), [&] { cuda::convert(dst->device(), dst->raw(), dst->type(), src->raw(), src->type(), dst->length()); });
  return info.Env().Undefined();
#else
  noCuda(info.Env());
#endif
}

Napi::Value Add(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  DeviceBuffer* dst = floatBufferArg(info, 0, "dst");
  DeviceBuffer* src = floatBufferArg(info, 1, "src");
  if (dst->length() != src->length()) throw Napi::RangeError::New(info.Env(), "cudaAdd: length mismatch");
  if (dst->device() != src->device()) throw Napi::RangeError::New(info.Env(), "cudaAdd: the buffers are on different devices");
  guarded(info.Env(), [&] { cuda::add(dst->device(), dst->data(), src->data(), dst->length()); });
  return info.Env().Undefined();
#else
  noCuda(info.Env());
#endif
}

// (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc): the CPU sgemm's row-major contract on
// DeviceBuffers of one device; TF32 follows setFloat32MatmulPrecision as in the recurrences. The bench's GEMM ceiling.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  Napi::Env env = info.Env();
  if (info.Length() != 13 || !info[0].IsBoolean() || !info[1].IsBoolean() || !info[5].IsNumber() || !info[10].IsNumber()) {
    throw Napi::TypeError::New(env, "cudaSgemm: expected (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)");
  }
  const bool ta = info[0].As<Napi::Boolean>(), tb = info[1].As<Napi::Boolean>();
  const int M = gemmDimArg(info, 2, "M"), N = gemmDimArg(info, 3, "N"), K = gemmDimArg(info, 4, "K");
  const int lda = gemmDimArg(info, 7, "lda"), ldb = gemmDimArg(info, 9, "ldb"), ldc = gemmDimArg(info, 12, "ldc");
  const float alpha = info[5].As<Napi::Number>().FloatValue(), beta = info[10].As<Napi::Number>().FloatValue();
  DeviceBuffer* A = floatBufferArg(info, 6, "A");
  DeviceBuffer* B = floatBufferArg(info, 8, "B");
  DeviceBuffer* C = floatBufferArg(info, 11, "C");
  if (A->device() != C->device() || B->device() != C->device()) {
    throw Napi::RangeError::New(env, "cudaSgemm: A, B and C must be on the same device");
  }
  checkGemmExtent(env, "A", A->length(), ta ? K : M, ta ? M : K, lda);
  checkGemmExtent(env, "B", B->length(), tb ? N : K, tb ? K : N, ldb);
  checkGemmExtent(env, "C", C->length(), M, N, ldc);
  if (M == 0 || N == 0) return env.Undefined();
  guarded(env, [&] {
    cuda::Context& ctx = cuda::context(C->device());
    cuda::check(cublasSetMathMode(ctx.blas, cuda::allowTf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    // row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the operands swap, their flags stay
    cuda::check(cublasSgemm(ctx.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B->data(), ldb,
                            A->data(), lda, &beta, C->data(), ldc),
                "cublasSgemm");
    cuda::synchronize(ctx);
  });
  return env.Undefined();
#else
  noCuda(info.Env());
#endif
}

// Which float32 time loop a layer-direction of this shape runs on `device` (tests and the bench report it):
// cudaStepPlan(device, kind 0..3, batch, hidden, outSize[, layers, steps]) -> { path: 'persistent' | 'fused' |
// 'gemm', ..., pipelined (with layers and steps: whether such a unidirectional time-major stack is pipelined) }.
Napi::Value StepPlan(const Napi::CallbackInfo& info) {
#ifdef RNN_WITH_CUDA
  Napi::Env env = info.Env();
  const int device = intArg(info, 0, "device");
  checkDevice(env, device);
  const int kind = intArg(info, 1, "kind"), batch = intArg(info, 2, "batch"), hidden = intArg(info, 3, "hidden"),
            outSize = intArg(info, 4, "outSize");
  if (kind < 0 || kind > 3) throw Napi::RangeError::New(env, "kind must be 0..3");
  if (batch < 1 || hidden < 1 || outSize < 1 || outSize > hidden) {
    throw Napi::RangeError::New(env, "batch, hidden and outSize must be positive, with outSize <= hidden");
  }
  const bool stack = info.Length() > 5 && !info[5].IsUndefined();
  const int layers = stack ? intArg(info, 5, "layers") : 0, steps = stack ? intArg(info, 6, "steps") : 0;
  if (stack && (layers < 1 || steps < 1)) throw Napi::RangeError::New(env, "layers and steps must be positive");
  Napi::Object result = Napi::Object::New(env);
  guarded(env, [&] {
    cuda::context(device);  // makes the device current, as a forward does
    const CellKind cell = CellKind(kind);
    const bool projected = outSize != hidden;
    const cuda::PersistentPlan persistent = cuda::planPersistentStep(device, cell, batch, hidden, outSize, projected);
    if (persistent.use) {
      result.Set("path", "persistent");
      result.Set("unitsPerBlock", persistent.unitsPerBlock);
      result.Set("rowsPerBlock", persistent.rowsPerBlock);
      result.Set("blocks", persistent.unitGroups * persistent.rowGroups);
      result.Set("sharedBytes", double(persistent.sharedBytes));
    } else {
      result.Set("path", cuda::planFusedStep(cell, batch, hidden, outSize, projected).use ? "fused" : "gemm");
    }
    if (layers > 0) {
      // a unidirectional, time-major stack of `layers` over `steps` steps: whether its forward is pipelined
      RnnSpec spec;
      spec.kind = cell;
      spec.inputSize = hidden;
      spec.hiddenSize = hidden;
      spec.projSize = projected ? outSize : 0;
      spec.numLayers = layers;
      spec.seqLen = steps;
      spec.batch = batch;
      result.Set("pipelined", cuda::pipelinedForwardSuits(device, spec));
    }
  });
  return result;
#else
  noCuda(info.Env());
#endif
}

Napi::Value SetPrecision(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "precision must be a string");
  const std::string p = info[0].As<Napi::String>().Utf8Value();
  if (p != "highest" && p != "high") throw Napi::RangeError::New(info.Env(), "precision must be 'highest' or 'high'");
#ifdef RNN_WITH_CUDA
  cuda::setAllowTf32(p == "high");
#endif
  precision() = p;
  return info.Env().Undefined();
}

Napi::Value GetPrecision(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), precision()); }

}  // namespace

std::string& precision() {
  static std::string value = "highest";
  return value;
}

void RegisterCuda(Napi::Env env, Napi::Object exports) {
  DeviceBuffer::Register(env, exports);
  exports.Set("cudaBuildInfo", Napi::Function::New(env, BuildInfo, "cudaBuildInfo"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, DeviceCount, "cudaDeviceCount"));
  exports.Set("cudaDriverError", Napi::Function::New(env, DriverError, "cudaDriverError"));
  exports.Set("cudaDeviceName", Napi::Function::New(env, DeviceName, "cudaDeviceName"));
  exports.Set("cudaSynchronize", Napi::Function::New(env, Synchronize, "cudaSynchronize"));
  exports.Set("cudaAlloc", Napi::Function::New(env, Alloc, "cudaAlloc"));
  exports.Set("cudaUpload", Napi::Function::New(env, Upload, "cudaUpload"));
  exports.Set("cudaDownload", Napi::Function::New(env, Download, "cudaDownload"));
  exports.Set("cudaCopy", Napi::Function::New(env, Copy, "cudaCopy"));
  exports.Set("cudaFill", Napi::Function::New(env, Fill, "cudaFill"));
  exports.Set("cudaConvert", Napi::Function::New(env, Convert, "cudaConvert"));
  exports.Set("cudaSgemm", Napi::Function::New(env, Sgemm, "cudaSgemm"));
  exports.Set("cudaAdd", Napi::Function::New(env, Add, "cudaAdd"));
  exports.Set("cudaStepPlan", Napi::Function::New(env, StepPlan, "cudaStepPlan"));
  exports.Set("setFloat32MatmulPrecision", Napi::Function::New(env, SetPrecision, "setFloat32MatmulPrecision"));
  exports.Set("getFloat32MatmulPrecision", Napi::Function::New(env, GetPrecision, "getFloat32MatmulPrecision"));
}

}  // namespace rnn::binding
