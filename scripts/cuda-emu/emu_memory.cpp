// Device memory of the emulated device (emu.h) on the host: allocations, the stream-ordered pool, copies and
// memsets, with the checks that turn an out-of-bounds access into a message (see the layouts below).
#include "emu.h"

#include <sys/mman.h>

#include <cstdio>
#include <mutex>

namespace emu {

namespace {

std::mutex gMemoryMutex;
std::map<void*, size_t> gAllocations;
size_t gAllocated = 0;
std::multimap<size_t, void*> gPooled;  // freed through the pool, by rounded size
size_t gPooledBytes = 0;
constexpr size_t kPoolKeepBytes = size_t(1) << 30;

// How device memory is laid out on the host, checked for accesses out of bounds:
// - by default each allocation sits between red zones (256 bytes before it, and from its end to 256 bytes past
//   its size rounded up to 256) filled with a pattern that is checked when it is freed: a kernel that wrote out of
//   bounds aborts with a message instead of corrupting the host heap silently;
// - in an AddressSanitizer build (build-addon.sh with EMU_SANITIZE=1) it is exactly its size, ASan's own red zones
//   at both ends: every access out of bounds is reported where it happens;
// - with EMU_GUARD_PAGES=1 it has pages of its own, its end (rounded to 16 bytes) against an inaccessible page,
//   another before it, unmapped when freed: an access past the end, far before the start or after the free
//   faults at the instruction that made it, where a debugger shows it.
// The last two keep no pool (a reused block would hide a use after free). The callers hold gMemoryMutex.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
constexpr size_t kRedZone = kSanitized ? 0 : 256;
constexpr unsigned char kRedByte = 0xa5;
constexpr size_t kPage = 4096;

size_t roundedSize(size_t size) { return (size + 255) / 256 * 256; }
size_t guardedSize(size_t size) { return (size + 15) / 16 * 16; }  // float4 loads need 16-byte alignment
size_t guardedPages(size_t size) { return (guardedSize(size) + kPage - 1) / kPage; }

bool guardPages() {
  static const bool on = [] {
    const char* v = std::getenv("EMU_GUARD_PAGES");
    return v && std::strcmp(v, "1") == 0;
  }();
  return on;
}

bool pooling() { return !kSanitized && !guardPages(); }

// A new block of host memory for an allocation of `size` bytes (null when there is none).
void* hostAllocate(size_t size) {
  if (guardPages()) {
    const size_t pages = guardedPages(size);
    void* map = mmap(nullptr, (pages + 2) * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return nullptr;
    char* base = static_cast<char*>(map);
    mprotect(base, kPage, PROT_NONE);
    mprotect(base + (pages + 1) * kPage, kPage, PROT_NONE);
    return base + (pages + 1) * kPage - guardedSize(size);
  }
  void* block = nullptr;
  if (posix_memalign(&block, 256, kSanitized ? std::max<size_t>(size, 1) : roundedSize(size) + 2 * kRedZone) != 0) return nullptr;
  return static_cast<char*>(block) + kRedZone;
}

void hostRelease(void* p, size_t size) {
  if (guardPages()) {
    char* end = static_cast<char*>(p) + guardedSize(size);
    munmap(end - (guardedPages(size) + 1) * kPage, (guardedPages(size) + 2) * kPage);
  } else {
    std::free(static_cast<char*>(p) - kRedZone);
  }
}

bool redZones() { return kRedZone > 0 && !guardPages(); }

void track(void* p, size_t size) {
  if (redZones()) {
    char* c = static_cast<char*>(p);
    std::memset(c - kRedZone, kRedByte, kRedZone);
    std::memset(c + size, kRedByte, roundedSize(size) + kRedZone - size);
  }
  gAllocations[p] = size;
  gAllocated += size;
}

// Returns the allocation's size.
size_t untrack(void* p) {
  auto found = gAllocations.find(p);
  if (found == gAllocations.end()) {
    std::fprintf(stderr, "emu: cudaFree of %p, which is not a live device allocation\n", p);
    std::abort();
  }
  const size_t size = found->second;
  const unsigned char* c = static_cast<const unsigned char*>(p);
  auto clean = [](const unsigned char* from, size_t n) { return std::all_of(from, from + n, [](unsigned char v) { return v == kRedByte; }); };
  if (redZones() && (!clean(c - kRedZone, kRedZone) || !clean(c + size, roundedSize(size) + kRedZone - size))) {
    std::fprintf(stderr, "emu: device memory written out of bounds of the allocation of %zu bytes at %p (found when freed)\n", size, p);
    std::abort();
  }
  gAllocated -= size;
  gAllocations.erase(found);
  return size;
}

// The device side of a copy or memset that starts inside a live allocation must end inside it too. (One that
// starts elsewhere is let through: the emulator's own tests hand host vectors to the backend as device memory.)
void checkDeviceRange(const void* p, size_t n, const char* call) {
  if (n == 0) return;
  std::lock_guard<std::mutex> lock(gMemoryMutex);
  auto after = gAllocations.upper_bound(const_cast<void*>(p));
  if (after == gAllocations.begin()) return;
  auto at = std::prev(after);
  const char* base = static_cast<const char*>(at->first);
  const char* c = static_cast<const char*>(p);
  if (c >= base + at->second || c + n <= base + at->second) return;
  std::fprintf(stderr, "emu: %s of %zu bytes at offset %zu of a device allocation of %zu bytes runs past its end\n", call, n,
               size_t(c - base), at->second);
  std::abort();
}

}  // namespace

}  // namespace emu

extern "C" {
cudaError_t cudaMalloc(void** p, size_t size) {
  std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
  *p = emu::gAllocated + size <= emu::device().memoryBytes ? emu::hostAllocate(size) : nullptr;
  if (!*p) return emu::fail(cudaErrorMemoryAllocation);
  emu::track(*p, size);
  return cudaSuccess;
}
// The stream-ordered pool keeps freed blocks (up to 1 GiB) for the next allocation of the same rounded size, as the
// GPU's pool does: fresh host memory costs a page fault per 4 KiB on first touch, and a test that allocates and
// frees 64 MiB two hundred times would spend its time there. Kept blocks do not count as allocated.
cudaError_t cudaMallocAsync(void** p, size_t size, cudaStream_t) {
  {
    std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
    auto kept = emu::gPooled.find(emu::roundedSize(size));
    if (kept != emu::gPooled.end() && emu::gAllocated + size <= emu::device().memoryBytes) {
      *p = kept->second;
      emu::gPooledBytes -= kept->first;
      emu::gPooled.erase(kept);
      emu::track(*p, size);
      return cudaSuccess;
    }
  }
  return cudaMalloc(p, size);
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
  emu::hostRelease(p, emu::untrack(p));
  return cudaSuccess;
}
cudaError_t cudaFreeAsync(void* p, cudaStream_t stream) {
  emu::enqueue(stream, [p] {
    if (!p) return;
    std::lock_guard<std::mutex> lock(emu::gMemoryMutex);
    const size_t size = emu::untrack(p), rounded = emu::roundedSize(size);
    if (emu::pooling() && emu::gPooledBytes + rounded <= emu::kPoolKeepBytes) {
      emu::gPooled.emplace(rounded, p);
      emu::gPooledBytes += rounded;
    } else {
      emu::hostRelease(p, size);
    }
  });
  return cudaSuccess;
}
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int) {
  static char dummy;
  *pool = reinterpret_cast<cudaMemPool_t>(&dummy);
  return cudaSuccess;
}
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, enum cudaMemPoolAttr, void*) { return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, enum cudaMemcpyKind kind, cudaStream_t stream) {
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice) emu::checkDeviceRange(dst, n, "cudaMemcpyAsync (destination)");
  if (kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice) emu::checkDeviceRange(src, n, "cudaMemcpyAsync (source)");
  emu::enqueue(stream, [=] { std::memmove(dst, src, n); });
  return cudaSuccess;
}
cudaError_t cudaMemcpyPeerAsync(void* dst, int, const void* src, int, size_t n, cudaStream_t stream) {
  return cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream);
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t stream) {
  emu::checkDeviceRange(p, n, "cudaMemsetAsync");
  emu::enqueue(stream, [=] { std::memset(p, value, n); });
  return cudaSuccess;
}
}
