// The container of weights packed once for the step kernels (f32_prepack.h, bf16_prepack.h): a header that says
// what the form was made for, then up to kPackedPieces pieces (panels, packed biases) of 4-byte words, each on a
// 64-byte line. Native code trusts a form's offsets only after packedFormError has compared every header field
// with what this build would make for the call's sizes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/cell_kind.h"

namespace rnn::cpu {

constexpr int kPackedPieces = 5;

// Where each piece starts, in 4-byte words from the first (-1: not held), and the words in all.
struct PackedLayout {
  int64_t at[kPackedPieces] = {-1, -1, -1, -1, -1};
  int64_t words = 0;
  // Places a piece of n words at the next 64-byte line and returns where.
  int64_t add(int64_t n) {
    const int64_t start = words;
    words += (n + 15) / 16 * 16;
    return start;
  }
};

// What a form is: its magic (8 bytes, the element type's name) and the call it serves.
struct PackedIdentity {
  const char* magic;
  CellKind kind;
  int I, P, H, units, simd;
};

size_t packedFormBytes(const PackedLayout& layout);

// Writes the header into out (packedFormBytes bytes, zeroed) and returns where the first piece starts.
uint32_t* startPackedForm(const PackedIdentity& id, const PackedLayout& layout, uint8_t* out, size_t bytes);

// "" when `bytes` bytes at `data` are a form made for id with this layout; else what is wrong. `what` names the
// form in messages ("a float32 packed form").
std::string packedFormError(const PackedIdentity& id, const PackedLayout& layout, const char* what, const uint8_t* data,
                            size_t bytes);

// The pieces of a checked form (null where not held).
void packedPieces(const uint8_t* data, const uint32_t* (&pieces)[kPackedPieces]);

}  // namespace rnn::cpu
