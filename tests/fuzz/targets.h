// The fuzz targets: what each does with one input (tests/fuzz/README.md). The
// libFuzzer entry points (fuzz_main.cpp, built with TIMBREL_FUZZ=ON and clang)
// and the replay tool (replay.cpp: every build, the corpora and regression
// files under ctest) call the same functions. Each returns 0; a broken
// contract (a failed load with no message, a loaded model that cannot run)
// aborts, as a memory error would under the sanitizers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace timbrel::fuzz {

// A .tmbl file, its CRC recomputed first (else nearly every mutation would
// stop at the checksum): loaded, every graph stepped, then, for the family
// it declares, loaded as that family, run for a few hops, prepared as a model
// image and adopted, and run again.
int model(const std::uint8_t* data, std::size_t size);
// A Standard MIDI File: parsed; a parsed song written back and parsed again.
int midi(const std::uint8_t* data, std::size_t size);
// A WAV file: parsed (any failure must be a std::runtime_error).
int wav(const std::uint8_t* data, std::size_t size);
// A curve file of `timbrel draw` (core/cli/curve_file.h): read, and sampled
// at up to 4096 hops.
int curve(const std::uint8_t* data, std::size_t size);

// The target of a name ("model", "midi", "wav", "curve"), or null.
using Target = int (*)(const std::uint8_t*, std::size_t);
Target target(const std::string& name);

}  // namespace timbrel::fuzz
