#include "recurrence_scratch.h"

#include <vector>

namespace rnn::cpu {

uint8_t* threadScratch(size_t bytes) {
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() < bytes + 64) buffer.resize(bytes + 64);
  const uintptr_t at = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + (64 - at % 64) % 64;
}

}  // namespace rnn::cpu
