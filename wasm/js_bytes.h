// Bytes handed over by the page (a model file): a Uint8Array, an ArrayBuffer or
// an array of byte values, copied into the module's heap. Empty for anything else.
#pragma once

#include <emscripten/val.h>

#include <cstdint>
#include <vector>

namespace timbrel::wasm {

inline std::vector<std::uint8_t> bytes_from_js(const emscripten::val& bytes) {
  if (bytes.instanceof (emscripten::val::global("ArrayBuffer")))
    return emscripten::convertJSArrayToNumberVector<std::uint8_t>(
        emscripten::val::global("Uint8Array").new_(bytes));
  if (bytes.isNull() || bytes.isUndefined() || !bytes["length"].isNumber()) return {};
  return emscripten::convertJSArrayToNumberVector<std::uint8_t>(bytes);
}

}  // namespace timbrel::wasm
