// cuBLAS on the emulated device of emu.h: the calls of scripts/cuda-stub/cublas_v2.h that this project makes, run on
// the handle's stream like any other work.
#include "emu.h"

#include <cublas_v2.h>
#ifdef EMU_CBLAS
#include <cblas.h>
#endif
#include <cuda_bf16.h>
#include <cuda_fp16.h>

// cuBLAS, column-major as the library: C = alpha op(A) op(B) + beta C, summed in float64 and rounded once (or, in
// float32, through the CPU's BLAS where one is linked)

namespace {

struct Handle {
  cudaStream_t stream = nullptr;
};

cudaStream_t streamOf(cublasHandle_t h) { return reinterpret_cast<Handle*>(h)->stream; }

float load(const void* p, cudaDataType type, size_t i) {
  switch (type) {
    case CUDA_R_16F: return __half2float(static_cast<const __half*>(p)[i]);
    case CUDA_R_16BF: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

void store(void* p, cudaDataType type, size_t i, float v) {
  switch (type) {
    case CUDA_R_16F: static_cast<__half*>(p)[i] = __float2half_rn(v); break;
    case CUDA_R_16BF: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v); break;
    default: static_cast<float*>(p)[i] = v; break;
  }
}

void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const void* A, cudaDataType ta_, int lda,
          const void* B, cudaDataType tb_, int ldb, float beta, void* C, cudaDataType tc, int ldc) {
  ++emu::counters().gemms;
#ifdef EMU_CBLAS
  // the addon's build (build-addon.sh) links a CPU BLAS: float32 products through it, as fast as the CPU backend
  if (ta_ == CUDA_R_32F && tb_ == CUDA_R_32F && tc == CUDA_R_32F) {
    if (m == 0 || n == 0) return;
    cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k,
                alpha, static_cast<const float*>(A), lda, static_cast<const float*>(B), ldb, beta, static_cast<float*>(C), ldc);
    return;
  }
#endif
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) {
      double sum = 0;
      for (int p = 0; p < k; ++p) {
        const float a = ta == CUBLAS_OP_N ? load(A, ta_, i + size_t(p) * lda) : load(A, ta_, p + size_t(i) * lda);
        const float b = tb == CUBLAS_OP_N ? load(B, tb_, p + size_t(j) * ldb) : load(B, tb_, j + size_t(p) * ldb);
        sum += double(a) * b;
      }
      const size_t c = i + size_t(j) * ldc;
      store(C, tc, c, float(alpha * sum + (beta == 0.f ? 0.0 : double(beta) * load(C, tc, c))));
    }
  }
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = reinterpret_cast<cublasHandle_t>(new Handle());
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  delete reinterpret_cast<Handle*>(h);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  reinterpret_cast<Handle*>(h)->stream = s;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void*, size_t) { return CUBLAS_STATUS_SUCCESS; }
const char* cublasGetStatusString(cublasStatus_t) { return "emulated cuBLAS error"; }
cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
                           const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc) {
  const float al = *alpha, be = *beta;
  emu::enqueue(streamOf(h), [=] { gemm(ta, tb, m, n, k, al, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, be, C, CUDA_R_32F, ldc); });
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemv(cublasHandle_t h, cublasOperation_t ta, int m, int n, const float* alpha, const float* A, int lda,
                           const float* x, int incx, const float* beta, float* y, int incy) {
  const float al = *alpha, be = *beta;
  emu::enqueue(streamOf(h), [=] {
    const int rows = ta == CUBLAS_OP_N ? m : n, cols = ta == CUBLAS_OP_N ? n : m;
    for (int i = 0; i < rows; ++i) {
      double sum = 0;
      for (int j = 0; j < cols; ++j) {
        const float a = ta == CUBLAS_OP_N ? A[i + size_t(j) * lda] : A[j + size_t(i) * lda];
        sum += double(a) * x[size_t(j) * incx];
      }
      float& out = y[size_t(i) * incy];
      out = float(al * sum + (be == 0.f ? 0.0 : double(be) * out));
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType Atype, int lda, const void* B, cudaDataType Btype, int ldb, const void* beta,
                            void* C, cudaDataType Ctype, int ldc, cublasComputeType_t, cublasGemmAlgo_t) {
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  emu::enqueue(streamOf(h), [=] { gemm(ta, tb, m, n, k, al, A, Atype, lda, B, Btype, ldb, be, C, Ctype, ldc); });
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda, long long strideA, const float* B, int ldb,
                                         long long strideB, const float* beta, float* C, int ldc, long long strideC, int batchCount) {
  const float al = *alpha, be = *beta;
  emu::enqueue(streamOf(h), [=] {
    for (int i = 0; i < batchCount; ++i) {
      gemm(ta, tb, m, n, k, al, A + i * strideA, CUDA_R_32F, lda, B + i * strideB, CUDA_R_32F, ldb, be, C + i * strideC, CUDA_R_32F, ldc);
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}
