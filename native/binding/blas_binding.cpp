// sgemm for the TypeScript layers (Linear, matmul): C = alpha op(A) op(B) + beta C on Float32Arrays, row-major,
// with every range checked against its array before OpenBLAS touches it. Large products are split by rows
// over the thread team (OpenBLAS itself stays single-threaded; see cpu_backend.cpp).
#include <cblas.h>
#include "napi_config.h"

#include <string>

#include "../cpu/cpu_backend.h"
#include "../cpu/thread_team.h"
#include "blas_binding.h"

namespace rnn::binding {

namespace {

Napi::Float32Array floatArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), std::string("sgemm: ") + name + " must be a Float32Array");
  }
  return info[i].As<Napi::Float32Array>();
}

int64_t intArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("sgemm: ") + name + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (v < 0 || v != double(int64_t(v)) || v > 2147483647.0) {
    throw Napi::RangeError::New(info.Env(), std::string("sgemm: ") + name + " must be a non-negative 32-bit integer");
  }
  return int64_t(v);
}

// Elements a rows x cols matrix with leading dimension ld needs.
void checkExtent(Napi::Env env, const char* name, size_t have, int64_t rows, int64_t cols, int64_t ld) {
  if (rows == 0 || cols == 0) return;
  if (ld < cols || size_t((rows - 1) * ld + cols) > have) {
    throw Napi::RangeError::New(env, std::string("sgemm: ") + name + " is too small for its shape");
  }
}

// (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 13 || !info[0].IsBoolean() || !info[1].IsBoolean() || !info[5].IsNumber() || !info[10].IsNumber()) {
    throw Napi::TypeError::New(env, "sgemm: expected (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)");
  }
  const bool ta = info[0].As<Napi::Boolean>(), tb = info[1].As<Napi::Boolean>();
  const int64_t M = intArg(info, 2, "M"), N = intArg(info, 3, "N"), K = intArg(info, 4, "K");
  const float alpha = info[5].As<Napi::Number>().FloatValue(), beta = info[10].As<Napi::Number>().FloatValue();
  Napi::Float32Array A = floatArg(info, 6, "A"), B = floatArg(info, 8, "B"), C = floatArg(info, 11, "C");
  const int64_t lda = intArg(info, 7, "lda"), ldb = intArg(info, 9, "ldb"), ldc = intArg(info, 12, "ldc");
  checkExtent(env, "A", A.ElementLength(), ta ? K : M, ta ? M : K, lda);
  checkExtent(env, "B", B.ElementLength(), tb ? N : K, tb ? K : N, ldb);
  checkExtent(env, "C", C.ElementLength(), M, N, ldc);
  if (M == 0 || N == 0) return env.Undefined();
  const float* a = A.Data();
  const float* b = B.Data();
  float* c = C.Data();
  const int team = M * N * K >= (int64_t(1) << 22) ? cpu::getNumThreads() : 1;
  cpu::runTeam(team, [&](int rank, int size, cpu::SpinBarrier&) {
    int r0, r1;
    cpu::shareOf(int(M), rank, size, 8, r0, r1);
    if (r1 <= r0) return;
    const float* aRows = ta ? a + r0 : a + r0 * lda;  // row r of op(A) starts at column r (transposed) or row r
    if (K == 0) {
      for (int r = r0; r < r1; ++r) for (int64_t j = 0; j < N; ++j) c[r * ldc + j] *= beta;
      return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, r1 - r0, int(N), int(K), alpha,
                aRows, int(lda), b, int(ldb), beta, c + r0 * ldc, int(ldc));
  });
  return env.Undefined();
}

}  // namespace

void RegisterBlas(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
}

}  // namespace rnn::binding
