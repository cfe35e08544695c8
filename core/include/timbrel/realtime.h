// TIMBREL_REALTIME marks a function that runs on the audio thread (process,
// step, process_hop, push_hop, estimate, the live commands ...): it must not
// allocate, free, lock, throw, log or wait. The tests prove it by counting
// heap allocations around such calls (tests/core/allocation_counter.h).
//
// The mark goes after `noexcept` on the declaration. Where the compiler can
// check it, it is clang's nonblocking function effect ([[clang::nonblocking]],
// clang 20 and later, reported under -Wfunction-effects; its RealtimeSanitizer,
// -fsanitize=realtime, checks the same at run time). This project's toolchains
// (Debian 12: gcc 12, clang 14, Emscripten 3.1.6's clang) have neither, which
// __has_cpp_attribute detects: there the mark expands to nothing and stays
// documentation.
#pragma once

#if defined(__has_cpp_attribute)
#if __has_cpp_attribute(clang::nonblocking)
#define TIMBREL_REALTIME [[clang::nonblocking]]
#endif
#endif
#ifndef TIMBREL_REALTIME
#define TIMBREL_REALTIME
#endif
