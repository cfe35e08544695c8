// Hot kernels shared by the inference engine (nn: every Linear, GRU and
// convolution) and the DSP (dsp::Yin's cross term), so they sit below both.
// The default entry points pick an explicit SIMD path (wasm_simd128 in
// WebAssembly, SSE on x86-64) and fall back to plain loops elsewhere; the
// plain versions stay callable so tests can compare the two.
#pragma once

#include "timbrel/realtime.h"

namespace timbrel::simd {

// Which implementation the default kernels use in this build.
const char* kernel_path();

// sum_i a[i] b[i]
float dot(const float* a, const float* b, int n) noexcept TIMBREL_REALTIME;
// y[r] += sum_c w[r * cols + c] x[c]   (w row-major [rows, cols])
void matvec_accumulate(const float* w, const float* x, float* y, int rows,
                       int cols) noexcept TIMBREL_REALTIME;

namespace plain {
float dot(const float* a, const float* b, int n) noexcept TIMBREL_REALTIME;
void matvec_accumulate(const float* w, const float* x, float* y, int rows,
                       int cols) noexcept TIMBREL_REALTIME;
}  // namespace plain

}  // namespace timbrel::simd
