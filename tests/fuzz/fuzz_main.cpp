// libFuzzer entry point of one target (TIMBREL_FUZZ_TARGET: model, midi, wav
// or curve), built per target by tests/fuzz/CMakeLists.txt with TIMBREL_FUZZ=ON.
#include <cstddef>
#include <cstdint>

#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return timbrel::fuzz::TIMBREL_FUZZ_TARGET(data, size);
}
