# Sourced by the scripts that compile CUDA sources without a GPU (cuda-syntax-check.sh, cuda-emu/run.sh): sets
# cuda_include to the CUDA runtime headers' folder, or leaves it empty when nvcc is missing (and says so).
cuda_include=''
if ! command -v nvcc >/dev/null 2>&1; then
  echo "$(basename "$0"): nvcc not found: CUDA sources not compiled"
  return 0
fi
cuda_include=${CUDA_HOME:-/usr/local/cuda}/include
if [ ! -f "$cuda_include/cuda_runtime_api.h" ]; then
  # nvcc knows where its headers are: the -I of its own include directory in a dry run
  cuda_include=$(nvcc --dryrun -c -x cu /dev/null 2>&1 | grep -o -- '-I"[^"]*include"' | head -n 1 | sed 's/^-I"//; s/"$//') || true
fi
if [ ! -f "$cuda_include/cuda_runtime_api.h" ]; then
  echo "$(basename "$0"): the CUDA runtime headers were not found (set CUDA_HOME)" >&2
  exit 1
fi
