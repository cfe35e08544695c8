#include "timbrel/simd/kernels.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#define TIMBREL_KERNELS_WASM_SIMD 1
#elif defined(__SSE__) || defined(__x86_64__)
#include <immintrin.h>
#define TIMBREL_KERNELS_SSE 1
#endif

namespace timbrel::simd {

namespace plain {
float dot(const float* a, const float* b, int n) noexcept {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}
void matvec_accumulate(const float* w, const float* x, float* y, int rows, int cols) noexcept {
  for (int r = 0; r < rows; ++r) y[r] += plain::dot(w + static_cast<long>(r) * cols, x, cols);
}
}  // namespace plain

#if defined(TIMBREL_KERNELS_WASM_SIMD)

const char* kernel_path() { return "wasm_simd128"; }

float dot(const float* a, const float* b, int n) noexcept {
  // Four independent accumulators hide the add latency.
  v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
    s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8)));
    s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12)));
  }
  for (; i + 4 <= n; i += 4)
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  const v128_t s = wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3));
  float sum = wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1) +
              wasm_f32x4_extract_lane(s, 2) + wasm_f32x4_extract_lane(s, 3);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

#elif defined(TIMBREL_KERNELS_SSE)

const char* kernel_path() { return "sse"; }

float dot(const float* a, const float* b, int n) noexcept {
  __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
    s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
    s2 = _mm_add_ps(s2, _mm_mul_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8)));
    s3 = _mm_add_ps(s3, _mm_mul_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12)));
  }
  for (; i + 4 <= n; i += 4)
    s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
  const __m128 s = _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3));
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, s);
  float sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

#else

const char* kernel_path() { return "plain"; }
float dot(const float* a, const float* b, int n) noexcept { return plain::dot(a, b, n); }

#endif

void matvec_accumulate(const float* w, const float* x, float* y, int rows, int cols) noexcept {
  for (int r = 0; r < rows; ++r) y[r] += dot(w + static_cast<long>(r) * cols, x, cols);
}

}  // namespace timbrel::simd
