#include "timbrel/engine/grain_synth.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <string>

#include "timbrel/dsp/descriptors.h"
#include "timbrel/dsp/fft.h"
#include "timbrel/dsp/onset_detector.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/engine/device_stream.h"
#include "timbrel/simd/kernels.h"

namespace timbrel::engine {

using models::GrainsModel;

namespace {

constexpr int kGrain = GrainsModel::kGrain, kHop = GrainsModel::kHop, kBins = GrainsModel::kBins;
constexpr int kFlushHops = GrainsModel::kOverlap - 1;  // hops a grain sounds after its own
constexpr int kFade = 128;  // samples over which a hit cut short by its voice's next one fades

float clean(float v, float lo, float hi, float fallback) {
  return std::isfinite(v) ? std::clamp(v, lo, hi) : fallback;
}

std::uint32_t xorshift(std::uint32_t& s) {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

// What every voice shares: the noise filter (steps 1-2), the windows (step 3)
// and 1 / W of a one-shot (step 4).
class GrainRenderer {
 public:
  explicit GrainRenderer(GrainsModel& model)
      : model_(model),
        fft_(kGrain),
        hann_(kGrain),
        first_(kGrain),
        last_(kGrain),
        only_(kGrain),
        magnitudes_(kBins),
        spectrum_(kBins),
        noise_(kGrain),
        grain_(kGrain) {
    GrainsModel::grain_window(false, false, hann_.data());
    GrainsModel::grain_window(true, false, first_.data());
    GrainsModel::grain_window(false, true, last_.data());
    GrainsModel::grain_window(true, true, only_.data());
    // W[m] = sum_i a_i[m - 512 i] over the one-shot's g grains, in double.
    const int g = model.grains();
    std::vector<double> w(std::size_t(g + kFlushHops) * kHop, 0.0);
    for (int i = 0; i < g; ++i) {
      const float* a = window(i);
      for (int m = 0; m < kGrain; ++m) w[std::size_t(i) * kHop + std::size_t(m)] += a[m];
    }
    inverse_w_.resize(w.size());
    for (std::size_t m = 0; m < w.size(); ++m) inverse_w_[m] = float(1.0 / w[m]);  // W >= 1
  }

  GrainsModel& model() { return model_; }
  // a_i of a one-shot.
  const float* window(int i) const {
    const int g = model_.grains();
    if (g == 1) return only_.data();
    return i == 0 ? first_.data() : i == g - 1 ? last_.data() : hann_.data();
  }
  const float* hann() const { return hann_.data(); }
  const float* inverse_w() const { return inverse_w_.data(); }

  // acc[m] += scale a[m] irfft(H rfft(n))[m], H = grain_decoder(zc), n: the
  // next 2048 values of the noise stream `state`.
  void add_grain(const float* zc, std::uint32_t& state, const float* window, float scale,
                 float* acc) noexcept {
    next_noise(state, noise_.data());
    fft_.forward(noise_.data(), spectrum_.data());
    filter_and_add(zc, spectrum_.data(), window, scale, acc);
  }
  // The same for grain t of noise stream `stream` (cached(): from its spectrum).
  void add_cached_grain(const float* zc, int stream, int t, const float* window, float scale,
                        float* acc) noexcept {
    const std::size_t at =
        (std::size_t(stream) * std::size_t(cached_grains_) + std::size_t(t)) * std::size_t(kBins);
    filter_and_add(zc, noise_bank_.data() + at, window, scale, acc);
  }
  // The spectra of every stream's first g grains (not real time: prepare()).
  void cache_noise_streams() {
    const int g = model_.grains();
    if (g > kMaxCachedGrains) return;
    noise_bank_.resize(std::size_t(kNoiseStreams) * std::size_t(g) * std::size_t(kBins));
    for (int s = 0; s < kNoiseStreams; ++s) {
      std::uint32_t state = hit_noise_seed(model_, std::uint32_t(s));
      for (int t = 0; t < g; ++t) {
        next_noise(state, noise_.data());
        fft_.forward(noise_.data(),
                     noise_bank_.data() +
                         (std::size_t(s) * std::size_t(g) + std::size_t(t)) * std::size_t(kBins));
      }
    }
    cached_grains_ = g;
  }
  bool cached() const { return cached_grains_ > 0; }

 private:
  static void next_noise(std::uint32_t& state, float* noise) noexcept {
    std::uint32_t s = state;
    for (int m = 0; m < kGrain; ++m)
      noise[m] = float(double(xorshift(s) >> 8) * (1.0 / 8388608.0) - 1.0);
    state = s;
  }
  // acc += scale a irfft(H noise); noise: a grain spectrum (may be spectrum_ itself).
  void filter_and_add(const float* zc, const std::complex<float>* noise, const float* window,
                      float scale, float* acc) noexcept {
    model_.decode_filter(zc, magnitudes_.data());
    for (int k = 0; k < kBins; ++k)
      spectrum_[std::size_t(k)] = noise[k] * magnitudes_[std::size_t(k)];
    fft_.inverse(spectrum_.data(), grain_.data());
    for (int m = 0; m < kGrain; ++m) acc[m] += scale * window[m] * grain_[std::size_t(m)];
  }

 private:
  GrainsModel& model_;
  dsp::RealFft fft_;
  std::vector<float> hann_, first_, last_, only_, inverse_w_, magnitudes_;
  std::vector<std::complex<float>> spectrum_;
  std::vector<float> noise_, grain_;
  std::vector<std::complex<float>> noise_bank_;  // [stream][grain][bin]
  int cached_grains_ = 0;
};

// The causal FIR post-filter (step 5), in place on blocks of at most one hop.
class PostFilter {
 public:
  explicit PostFilter(const std::vector<float>& taps)
      : reversed_(taps.rbegin(), taps.rend()),
        buffer_(taps.empty() ? 0 : taps.size() - 1 + kHop, 0.0f) {}
  void process(float* x, int n) noexcept {
    const int taps = int(reversed_.size());
    if (taps == 0) return;
    const int keep = taps - 1;
    std::copy(x, x + n, buffer_.begin() + keep);
    for (int j = 0; j < n; ++j)
      x[j] = simd::dot(reversed_.data(), buffer_.data() + j, taps);  // sum_k h[k] y[j - k]
    std::copy(buffer_.begin() + n, buffer_.begin() + n + keep, buffer_.begin());
  }
  void reset() noexcept { std::fill(buffer_.begin(), buffer_.end(), 0.0f); }

 private:
  std::vector<float> reversed_, buffer_;  // h[T-1..0]; y[-(T-1)..n)
};

// One grain stream's overlap-add: the samples of the hop being output first.
struct Accumulator {
  std::vector<float> acc = std::vector<float>(kGrain, 0.0f);
  // The first hop's 512 samples (times gain(j), j < 512) to out, then one hop on.
  template <class Scale>
  void emit(float* out, Scale&& scale) noexcept {
    for (int j = 0; j < kHop; ++j) out[j] = acc[std::size_t(j)] * scale(j);
    std::copy(acc.begin() + kHop, acc.end(), acc.begin());
    std::fill(acc.end() - kHop, acc.end(), 0.0f);
  }
  void clear() noexcept { std::fill(acc.begin(), acc.end(), 0.0f); }
};

// A one-shot's streaming order (docs/grains.md): hop t < g adds grain t, then
// samples [512 t, 512 t + 512) are complete: / W, times the gain. The last two
// hops computed are kept (a ring), so a hop can be made ahead of its use.
struct HitState {
  Accumulator ola;
  std::vector<float> ready, h, projected, zc, shift;
  bool shifted = false;  // shift (d_z) is added to each z the sequence decoder makes
  std::uint32_t noise = 1;
  int stream = -1;  // its noise stream's cached spectra, or -1: `noise` made per grain
  float gain = 1.0f;
  int hops = 0;      // computed so far
  int consumed = 0;  // the hop being played (hops <= consumed + 2)

  explicit HitState(const GrainsModel& model)
      : ready(2 * kHop, 0.0f),
        h(std::size_t(model.sequence_hidden()), 0.0f),
        projected(std::size_t(3 * model.sequence_hidden()), 0.0f),
        zc(std::size_t(model.latent() + model.conditions()), 0.0f),
        shift(std::size_t(model.latent()), 0.0f) {}

  // ec: [e, c]; the conditioning is also copied after z. cached_stream: the
  // number of the noise stream whose seed `seed` is, to play it from the cache.
  void start(GrainRenderer& r, const float* ec, std::uint32_t seed, float level,
             int cached_stream = -1, const float* latent_shift = nullptr) noexcept {
    GrainsModel& model = r.model();
    shifted = latent_shift != nullptr;
    for (int d = 0; d < model.latent() && shifted; ++d)
      shift[std::size_t(d)] = std::isfinite(latent_shift[d]) ? latent_shift[d] : 0.0f;
    model.sequence_input(ec, projected.data());
    std::copy(ec + model.embedding(), ec + model.embedding() + model.conditions(),
              zc.begin() + model.latent());
    std::fill(h.begin(), h.end(), 0.0f);
    ola.clear();
    noise = seed == 0 ? GrainsModel::kDefaultNoiseSeed : seed;
    stream = r.cached() ? cached_stream : -1;
    gain = level;
    hops = consumed = 0;
  }
  // The next hop; its grain's z from the sequence decoder, or `given` (the grain path).
  void next_hop(GrainRenderer& r, const float* given = nullptr) noexcept {
    GrainsModel& model = r.model();
    const int t = hops++;
    if (t < model.grains()) {
      if (given) {
        for (int d = 0; d < model.latent(); ++d)
          zc[std::size_t(d)] = std::isfinite(given[d]) ? given[d] : 0.0f;
      } else {
        model.sequence_step(projected.data(), h.data(), zc.data());
        for (int d = 0; d < model.latent() && shifted; ++d)
          zc[std::size_t(d)] += shift[std::size_t(d)];
      }
      if (stream >= 0)
        r.add_cached_grain(zc.data(), stream, t, r.window(t), 1.0f, ola.acc.data());
      else
        r.add_grain(zc.data(), noise, r.window(t), 1.0f, ola.acc.data());
    }
    const float* inverse_w = r.inverse_w() + std::size_t(t) * kHop;
    const float g = gain;
    ola.emit(ready.data() + std::size_t(t % 2) * kHop,
             [inverse_w, g](int j) { return inverse_w[j] * g; });
  }
  const float* hop(int t) const { return ready.data() + std::size_t(t % 2) * kHop; }
};

// The path voice: a grain per hop while active, W = 2. Started from the
// model's noise seed with the renderer's streams cached, grain t plays
// cached stream (t / g) mod kNoiseStreams, grain t mod g: the first g grains
// are the model seed's own noise, and later ones cycle through every stream
// (a loop of 8 g grains, 12 s for g = 65) instead of making noise and a
// forward FFT per grain. Otherwise (another seed, or g too long to cache) the
// noise runs on from the seed.
struct PathState {
  Accumulator ola;
  std::vector<float> ready, zc;
  std::uint32_t noise = GrainsModel::kDefaultNoiseSeed;
  int grain = 0;  // grains since the start, modulo g kNoiseStreams
  bool cycled = false;

  explicit PathState(const GrainsModel& model)
      : ready(kHop, 0.0f), zc(std::size_t(model.latent() + model.conditions()), 0.0f) {}
  void start(GrainRenderer& r, std::uint32_t seed) noexcept {
    noise = seed == 0 ? GrainsModel::kDefaultNoiseSeed : seed;
    grain = 0;
    cycled = r.cached() && noise == r.model().noise_seed();
  }
  void next_hop(GrainRenderer& r, bool grain_on, float x, float y, int class_index, float pitch,
                float gain) noexcept {
    if (grain_on) {
      GrainsModel& model = r.model();
      model.map_point(x, y, zc.data());
      model.condition(class_index, class_index, 0.0f, pitch, zc.data() + model.latent());
      if (cycled) {
        const int g = model.grains();
        r.add_cached_grain(zc.data(), (grain / g) % kNoiseStreams, grain % g, r.hann(), 0.5f * gain,
                           ola.acc.data());  // / W = 2
        grain = (grain + 1) % (g * kNoiseStreams);
      } else {
        r.add_grain(zc.data(), noise, r.hann(), 0.5f * gain, ola.acc.data());
      }
    }
    ola.emit(ready.data(), [](int) { return 1.0f; });
  }
};

// murmur3's finaliser (never 0): xorshift32 from a small seed starts with tiny values.
std::uint32_t mixed_seed(std::uint32_t seed) {
  std::uint32_t s = seed == 0 ? 0x9E3779B9u : seed;
  s ^= s >> 16;
  s *= 0x85EBCA6Bu;
  s ^= s >> 13;
  s *= 0xC2B2AE35u;
  s ^= s >> 16;
  return s == 0 ? 0x9E3779B9u : s;
}

// N(0, 1) by Box-Muller (the cosine branch), one xorshift32 pair per value.
float gaussian(std::uint32_t& state) {
  const double u1 = (double(xorshift(state)) + 1.0) / 4294967296.0;
  const double u2 = (double(xorshift(state)) + 1.0) / 4294967296.0;
  return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

// [e, c] of a hit whose seed is `seed` (not 0).
void hit_inputs(const GrainsModel& model, const GrainHit& hit, std::uint32_t seed, float* ec) {
  const int classes = model.classes(), de = model.embedding();
  const int a = std::clamp(hit.class_a, 0, classes - 1),
            b = std::clamp(hit.class_b, 0, classes - 1);
  const float mix = clean(hit.mix, 0.0f, 1.0f, 0.0f);
  float* e = ec;
  model.condition(a, b, mix, hit.pitch, ec + de);
  if (hit.embedding) {
    for (int i = 0; i < de; ++i) e[i] = std::isfinite(hit.embedding[i]) ? hit.embedding[i] : 0.0f;
    return;
  }
  const float temperature = clean(hit.temperature, 0.0f, 10.0f, 0.0f);
  const float* ea = model.class_embedding(a);
  const float* eb = model.class_embedding(b);
  std::uint32_t draw = mixed_seed(seed);
  for (int i = 0; i < de; ++i) {
    const float centre = hit.around_class_mean ? (1.0f - mix) * ea[i] + mix * eb[i] : 0.0f;
    e[i] = centre + temperature * gaussian(draw);
  }
}

BeatboxKit resolve_kit(const BeatboxKit& kit, const BeatboxKit& fallback, int classes) {
  BeatboxKit out = kit;
  for (int s = 0; s < kBeatboxSounds; ++s)
    if (out[std::size_t(s)] < 0 || out[std::size_t(s)] >= classes)
      out[std::size_t(s)] = fallback[std::size_t(s)];
  return out;
}

// The slot whose class's onset centroid is nearest to mu (ties to the lowest slot).
int nearest_kit_slot(const GrainsModel& model, const BeatboxKit& kit, const float* mu) {
  int best = 0;
  double best_d2 = std::numeric_limits<double>::infinity();
  for (int s = 0; s < kBeatboxSounds; ++s) {
    const float* c = model.onset_centroid(kit[std::size_t(s)]);
    double d2 = 0.0;
    for (int d = 0; d < model.latent(); ++d) {
      const double e = double(mu[d]) - c[d];
      d2 += e * e;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = s;
    }
  }
  return best;
}

// The beat-box morph's shift: (1 - morph)(mu_v - onset centroid of class k), d_z values.
void morph_shift(const GrainsModel& model, int k, const float* mu_v, float morph,
                 float* shift) noexcept {
  const float* centroid = model.onset_centroid(k);
  for (int d = 0; d < model.latent(); ++d) {
    const float v = (1.0f - morph) * (mu_v[d] - centroid[d]);
    shift[d] = std::isfinite(v) ? v : 0.0f;
  }
}

// c of class k at its typical pitch (a pitched model's; else the one-hot).
std::vector<float> class_condition(const GrainsModel& model, int k) {
  std::vector<float> c(std::size_t(model.conditions()), 0.0f);
  model.condition(k, k, 0.0f, -1.0f, c.data());
  return c;
}

}  // namespace

std::uint32_t hit_noise_seed(const GrainsModel& model, std::uint32_t seed) noexcept {
  const std::uint32_t stream = seed % kNoiseStreams;
  return stream == 0 ? model.noise_seed() : mixed_seed(model.noise_seed() + stream);
}

// --- beat-box kit ----------------------------------------------------------------

BeatboxKit default_beatbox_kit(const GrainsModel& model) {
  static const std::vector<std::vector<std::string>> kNames = {
      {"kick", "bass_drum", "bd", "tom"},
      {"closed_hat", "hat", "hihat", "hi_hat", "open_hat", "shaker", "ride", "cymbal"},
      {"snare", "clap", "rim", "rimshot", "cowbell"}};
  BeatboxKit kit{-1, -1, -1};
  for (int s = 0; s < kBeatboxSounds; ++s)
    for (const auto& name : kNames[std::size_t(s)]) {
      const int k = model.class_index(name);
      if (k >= 0 && std::find(kit.begin(), kit.end(), k) == kit.end()) {
        kit[std::size_t(s)] = k;
        break;
      }
    }
  for (int& k : kit) {
    if (k >= 0) continue;
    int unused = 0;
    for (int c = 0; c < model.classes(); ++c)
      if (std::find(kit.begin(), kit.end(), c) == kit.end()) {
        unused = c;
        break;
      }
    k = unused;
  }
  return kit;
}

BeatboxKit resolve_beatbox_kit(const GrainsModel& model, const BeatboxKit& kit) {
  return resolve_kit(kit, default_beatbox_kit(model), model.classes());
}

struct VocalSoundClassifier::Impl {
  dsp::RealFft fft{kGrain};
  dsp::DescriptorAnalyzer descriptors{kGrain, double(GrainsModel::kSampleRate)};
  std::vector<float> hann = std::vector<float>(kGrain), frame = std::vector<float>(kGrain),
                     windowed = std::vector<float>(kGrain);
  std::vector<std::complex<float>> spectrum = std::vector<std::complex<float>>(kBins);
  int low_first = 0, low_end = 0, high_first = 0;  // bins of 50-200 Hz and >= 4 kHz
  Impl() {
    for (int n = 0; n < kGrain; ++n)
      hann[std::size_t(n)] = float(0.5 - 0.5 * std::cos(6.283185307179586 * n / kGrain));
    const double bin_hz = double(GrainsModel::kSampleRate) / kGrain;
    low_first = int(std::ceil(50.0 / bin_hz));
    low_end = int(std::ceil(200.0 / bin_hz));
    high_first = int(std::ceil(4000.0 / bin_hz));
  }
};

VocalSoundClassifier::VocalSoundClassifier() : impl_(std::make_unique<Impl>()) {}
VocalSoundClassifier::~VocalSoundClassifier() = default;

VocalSoundFeatures VocalSoundClassifier::analyse(const float* grain) noexcept {
  Impl& m = *impl_;
  for (int n = 0; n < kGrain; ++n) {
    const float v = std::isfinite(grain[n]) ? grain[n] : 0.0f;
    m.frame[std::size_t(n)] = v;
    m.windowed[std::size_t(n)] = v * m.hann[std::size_t(n)];
  }
  m.fft.forward(m.windowed.data(), m.spectrum.data());
  const dsp::SpectralDescriptors d = m.descriptors.compute(m.frame.data(), m.spectrum.data());
  double total = 0.0, low = 0.0, high = 0.0;
  for (int k = 0; k < kBins; ++k) {
    const double p = (k == 0 || k == kBins - 1 ? 1.0 : 2.0) * std::norm(m.spectrum[std::size_t(k)]);
    total += p;
    if (k >= m.low_first && k < m.low_end) low += p;
    if (k >= m.high_first) high += p;
  }
  VocalSoundFeatures f;
  f.flatness = d.flatness;
  f.centroid_hz = d.centroid_hz;
  f.level_db = d.rms_db;
  if (total > 0.0) {
    f.low_share = float(low / total);
    f.high_share = float(high / total);
  }
  return f;
}

BeatboxSound VocalSoundClassifier::sound_of(const VocalSoundFeatures& f) noexcept {
  if (f.low_share >= kLowShare) return kBoom;
  if (f.flatness < kVoicedFlatness && f.centroid_hz < kVoicedCentroidHz) return kBoom;
  if (f.high_share >= kHighShare) return kTss;
  return kKa;
}

// --- GrainSynth ------------------------------------------------------------------

// A voice plays one hit and may hold the next one, which starts (cutting the
// first short if it still sounds) when the rendering reaches its sample. So a
// hit's fate depends only on the hits' samples, never on how far ahead of the
// device the 22050 Hz stream happens to be rendered. Each has its own state,
// so the next hit's first hops can be made before it starts.
struct GrainSynth::Voice {
  HitState slot[2];
  std::int64_t start[2] = {0, 0};  // model sample of each hit's first output sample
  int playing = -1, waiting = -1;  // slots, or -1
  // A hit cut short by the next one fades out over kFade samples from fade_start
  // (a cut would click), unless a third hit needs its slot first.
  int fading = -1;
  std::int64_t fade_start = 0;
  long order = -1;  // of the newest hit given to it
  explicit Voice(const GrainsModel& model) : slot{HitState(model), HitState(model)} {}
  // Where its newest hit ends (model samples), or -1 when it has none.
  std::int64_t end(std::int64_t duration) const {
    if (waiting >= 0) return start[waiting] + duration;
    return playing >= 0 ? start[playing] + duration : -1;
  }
};

struct GrainSynth::Impl {
  GrainRenderer renderer;
  std::vector<Voice> voices;
  PathState path;
  PostFilter post;
  std::vector<float> mix, ec;
  std::unique_ptr<HopsToDevice> device;
  dsp::OutputGuard guard;
  // Beat-box.
  std::unique_ptr<dsp::StreamingResampler> to_model;  // null at 22050 Hz
  std::vector<float> input_model;                     // one block of input at 22050 Hz
  dsp::OnsetDetector detector;
  static constexpr int kRing = 8192, kChunk = 1024, kPending = 16;
  std::vector<float> ring = std::vector<float>(kRing, 0.0f);  // slot = model sample mod kRing
  std::int64_t input_samples = 0;                             // 22050 Hz input samples seen
  std::int64_t found[kPending] = {};
  std::int64_t pending[kPending] = {};
  int pending_first = 0, pending_count = 0;
  std::vector<float> grain = std::vector<float>(kGrain, 0.0f);
  std::vector<float> mu, shift;  // the onset grain's mu_v, the morph's latent shift
  VocalSoundClassifier sounds;
  double input_delay_s = 0.0;  // the input resampler's group delay
  GrainEvent events[GrainSynth::kEventCapacity];
  int events_first = 0, events_count = 0;
  // Path voice parameters.
  float path_x = 0.0f, path_y = 0.0f, path_gain = 1.0f, path_pitch = -1.0f;
  int path_class = 0;

  Impl(GrainsModel& model, double rate, const dsp::OnsetDetectorConfig& onsets)
      : renderer(model),
        path(model),
        post(model.post_filter()),
        mix(kHop, 0.0f),
        ec(std::size_t(model.embedding() + model.conditions()), 0.0f),
        guard(rate),
        detector(onsets),
        mu(std::size_t(model.latent()), 0.0f),
        shift(std::size_t(model.latent()), 0.0f) {
    renderer.cache_noise_streams();
    voices.reserve(kHitVoices);
    for (int i = 0; i < kHitVoices; ++i) voices.emplace_back(model);
  }
};

GrainSynth::GrainSynth(GrainsModel& model)
    : model_(&model), default_kit_(default_beatbox_kit(model)), kit_(default_kit_) {
  set_seed(0);
}

GrainSynth::~GrainSynth() = default;

std::string GrainSynth::prepare(double output_rate, int max_block) {
  prepared_ = false;
  impl_.reset();
  const DeviceSpec device{output_rate, max_block};
  if (auto problem = validate(device); !problem.empty()) return problem;
  rate_ = output_rate;
  rate_hz_ = whole_rate(output_rate);
  max_block_ = max_block;
  dsp::OnsetDetectorConfig onsets;
  onsets.sample_rate = kSampleRate;
  onsets.threshold = clean(beatbox_.threshold, 0.0f, 100.0f, 0.05f);
  onsets.floor_db = clean(beatbox_.floor_db, -120.0f, 0.0f, -50.0f);
  impl_ = std::make_unique<Impl>(*model_, output_rate, onsets);
  impl_->device = std::make_unique<HopsToDevice>(device, kSampleRate, kHop);
  if (rate_hz_ != kSampleRate) {
    impl_->to_model = std::make_unique<dsp::StreamingResampler>(rate_hz_, kSampleRate, max_block);
    impl_->input_model.assign(std::size_t(impl_->to_model->max_output(max_block)), 0.0f);
    impl_->input_delay_s = impl_->to_model->latency_input_samples() / output_rate;
  } else {
    impl_->input_model.assign(std::size_t(max_block), 0.0f);
  }
  const double per_model = output_rate / kSampleRate;
  latency_ = int(std::lround((kSchedulingDelay + impl_->device->resampler_delay()) * per_model));
  // Onset -> the grain's 2048 samples in -> the next block's hit.
  // Onset -> its grain's 2048 samples in (and the block that brings them) -> the hit's
  // frame: a fixed delay, so that the hit lands on the same sample whatever the blocks.
  beatbox_delay_ =
      int(std::ceil(impl_->input_delay_s * output_rate + kGrain * per_model)) + max_block + 2;
  beatbox_latency_ = beatbox_delay_ + latency_;
  prepared_ = true;
  reset();
  return "";
}

dsp::GuardState GrainSynth::guard_state() const {
  return impl_ ? impl_->guard.state() : dsp::GuardState::kClean;
}

void GrainSynth::set_seed(std::uint32_t seed) noexcept { seed_ = rng_ = mixed_seed(seed); }

std::uint32_t GrainSynth::next_random() noexcept { return xorshift(rng_); }

void GrainSynth::set_beatbox(const BeatboxSettings& settings) noexcept {
  beatbox_ = settings;
  kit_ = resolve_kit(settings.kit, default_kit_, model_->classes());
}

void GrainSynth::reset() noexcept {
  device_frames_ = model_samples_ = input_frames_ = input_lag_ = 0;
  order_ = 0;
  rng_ = seed_;
  path_active_ = false;
  path_hops_left_ = 0;
  stats_ = GrainSynthStats();
  if (!impl_) return;
  Impl& m = *impl_;
  for (Voice& v : m.voices) {
    v.playing = v.waiting = v.fading = -1;
    v.order = -1;
  }
  m.path.ola.clear();
  m.path.start(m.renderer, model_->noise_seed());
  m.post.reset();
  m.device->reset();
  m.guard.reset();
  if (m.to_model) m.to_model->reset();
  m.detector.reset();
  std::fill(m.ring.begin(), m.ring.end(), 0.0f);
  m.input_samples = 0;
  m.pending_first = m.pending_count = 0;
  m.events_first = m.events_count = 0;
}

int GrainSynth::sounding_voices() const noexcept {
  int n = 0;
  if (impl_)
    for (const Voice& v : impl_->voices) n += v.playing >= 0 || v.waiting >= 0 ? 1 : 0;
  return n;
}

void GrainSynth::trigger(const GrainHit& hit) noexcept {
  if (!prepared_) return;
  const std::int64_t offset = std::clamp<std::int64_t>(hit.offset, 0, rate_hz_);
  const std::int64_t target = (device_frames_ + offset) * kSampleRate / rate_hz_ + kSchedulingDelay;
  start_hit(hit, target);
}

void GrainSynth::start_hit(const GrainHit& hit, std::int64_t start) noexcept {
  Impl& m = *impl_;
  if (start < model_samples_) {  // already rendered: as soon as possible
    start = model_samples_;
    ++stats_.late_hits;
  }
  // A voice whose newest hit is over by then, else the one whose newest hit came first.
  const std::int64_t duration = std::int64_t(model_->grains() + kFlushHops) * kHop;
  Voice* voice = nullptr;
  for (Voice& v : m.voices)
    if (v.end(duration) <= start && (!voice || v.end(duration) < voice->end(duration))) voice = &v;
  if (!voice) {
    for (Voice& v : m.voices)
      if (!voice || v.order < voice->order) voice = &v;
    ++stats_.voices_stolen;
  }
  std::uint32_t seed = hit.seed;
  while (seed == 0) seed = next_random();
  hit_inputs(*model_, hit, seed, m.ec.data());
  const int stream = int(seed % kNoiseStreams);
  if (voice->waiting < 0) {
    voice->waiting = voice->playing == 0 ? 1 : 0;
    if (voice->fading == voice->waiting) voice->fading = -1;
  }
  const int k = voice->waiting;
  voice->slot[k].start(m.renderer, m.ec.data(), hit_noise_seed(*model_, seed),
                       clean(hit.gain, 0.0f, 8.0f, 0.0f), stream, hit.latent_shift);
  voice->start[k] = start;
  voice->order = order_++;
  ++stats_.hits;
}

void GrainSynth::set_path(bool active, float x, float y, int class_index, float gain,
                          float pitch) noexcept {
  if (!impl_) return;
  Impl& m = *impl_;
  const auto& extent = model_->grain_map().extent;
  // Far outside the map decodes to nonsense: held within twice its width of its centre.
  const float cx = 0.5f * (extent[0] + extent[1]), wx = 2.0f * (extent[1] - extent[0]);
  const float cy = 0.5f * (extent[2] + extent[3]), wy = 2.0f * (extent[3] - extent[2]);
  m.path_x = clean(x, cx - wx, cx + wx, cx);
  m.path_y = clean(y, cy - wy, cy + wy, cy);
  m.path_class = std::clamp(class_index, 0, model_->classes() - 1);
  m.path_gain = clean(gain, 0.0f, 8.0f, 0.0f);
  m.path_pitch = std::isfinite(pitch) ? std::min(pitch, 127.0f) : -1.0f;
  if (active && !path_active_ && path_hops_left_ == 0)
    m.path.start(m.renderer, model_->noise_seed());
  path_active_ = active;
}

void GrainSynth::render_hop(float* hop) noexcept {
  Impl& m = *impl_;
  std::fill(m.mix.begin(), m.mix.end(), 0.0f);
  const std::int64_t base = model_samples_;
  int sounding = 0;
  const int total = model_->grains() + kFlushHops;
  for (Voice& v : m.voices) {
    bool heard = false;
    for (int j = 0; j < kHop;) {
      const std::int64_t at = base + j;
      if (v.waiting >= 0 && at >= v.start[v.waiting]) {  // the next hit starts here
        if (v.playing >= 0 && at - v.start[v.playing] < std::int64_t(total) * kHop) {
          v.fading = v.playing;
          v.fade_start = at;
        }
        v.playing = v.waiting;
        v.waiting = -1;
      }
      const int until =
          v.waiting >= 0 ? int(std::min<std::int64_t>(kHop, v.start[v.waiting] - base)) : kHop;
      const std::int64_t local = v.playing >= 0 ? at - v.start[v.playing] : 0;
      if (v.playing < 0 || local >= std::int64_t(total) * kHop) {
        v.playing = -1;
        j = until;
        continue;
      }
      HitState& state = v.slot[v.playing];
      const int t = int(local / kHop), k = int(local % kHop);
      state.consumed = t;
      while (state.hops <= t) state.next_hop(m.renderer);  // not made ahead
      const int count = std::min(kHop - k, until - j);
      const float* ready = state.hop(t) + k;
      for (int i = 0; i < count; ++i) m.mix[std::size_t(j + i)] += ready[i];
      j += count;
      heard = true;
    }
    if (v.playing >= 0 && base + kHop - v.start[v.playing] >= std::int64_t(total) * kHop)
      v.playing = -1;
    if (v.fading >= 0) {
      HitState& state = v.slot[v.fading];
      const std::int64_t from = std::max(base, v.fade_start);
      const std::int64_t to = std::min(
          {base + kHop, v.fade_start + kFade, v.start[v.fading] + std::int64_t(total) * kHop});
      for (std::int64_t at = from; at < to; ++at) {
        const std::int64_t local = at - v.start[v.fading];
        const int t = int(local / kHop), k = int(local % kHop);
        state.consumed = t;
        while (state.hops <= t) state.next_hop(m.renderer);
        const float fade = 1.0f - float(at - v.fade_start) / float(kFade);
        m.mix[std::size_t(at - base)] += fade * state.hop(t)[k];
      }
      if (to < base + kHop) v.fading = -1;  // faded (or over)
    }
    sounding += heard ? 1 : 0;
  }
  stats_.peak_voices = std::max(stats_.peak_voices, sounding);
  if (path_active_ || path_hops_left_ > 0) {
    m.path.next_hop(m.renderer, path_active_, m.path_x, m.path_y, m.path_class, m.path_pitch,
                    m.path_gain);
    for (int j = 0; j < kHop; ++j) m.mix[std::size_t(j)] += m.path.ready[std::size_t(j)];
    path_hops_left_ = path_active_ ? kFlushHops : path_hops_left_ - 1;
  }
  m.post.process(m.mix.data(), kHop);
  std::copy(m.mix.begin(), m.mix.end(), hop);
  model_samples_ += kHop;
}

void GrainSynth::make_ahead(int frames) noexcept {
  // About the voices' share of the next frames' hops, plus one: a hop's eight
  // grains spread over the blocks before it instead of landing in one.
  Impl& m = *impl_;
  const int total = model_->grains() + kFlushHops;
  const double hops = double(frames) * kSampleRate / (rate_ * kHop);
  int budget = int(std::ceil(kHitVoices * hops)) + 1;
  while (budget-- > 0) {
    HitState* next = nullptr;
    int lead = 2;
    for (Voice& v : m.voices)
      for (int k : {v.playing, v.waiting}) {
        if (k < 0) continue;
        HitState& state = v.slot[k];
        const int ahead = state.hops - state.consumed;  // hops made, not yet played
        if (state.hops < total && ahead < lead) {
          lead = ahead;
          next = &state;
        }
      }
    if (!next) return;
    next->next_hop(m.renderer);
  }
}

void GrainSynth::process(float* out, int frames) noexcept {
  frames = std::clamp(frames, 0, max_block_);
  if (!prepared_) {
    std::fill(out, out + frames, 0.0f);
    return;
  }
  Impl& m = *impl_;
  make_ahead(frames);
  m.device->pull(out, frames, [this](float* hop) { render_hop(hop); });
  m.guard.process(out, frames);
  device_frames_ += frames;
}

void GrainSynth::push_input(const float* in, int frames) noexcept {
  if (!prepared_) return;
  frames = std::clamp(frames, 0, max_block_);
  // This block is the next process() call's: blocks pushed without input were silence.
  input_lag_ = device_frames_ - input_frames_;
  input_frames_ += frames;
  if (!beatbox_.enabled) return;
  Impl& m = *impl_;
  int n = frames;
  const float* x = in;
  if (m.to_model) {
    n = m.to_model->process(in, frames, m.input_model.data());
    x = m.input_model.data();
  }
  // In chunks, so that an onset's grain is taken before the ring wraps.
  for (int done = 0; done < n;) {
    const int count = std::min(Impl::kChunk, n - done);
    for (int i = 0; i < count; ++i) {
      const float v = x[done + i];
      m.ring[std::size_t((m.input_samples + i) & (Impl::kRing - 1))] = std::isfinite(v) ? v : 0.0f;
    }
    const int found = m.detector.process(x + done, count, m.found, Impl::kPending);
    m.input_samples += count;
    done += count;
    for (int i = 0; i < found; ++i) {
      ++stats_.onsets;
      if (m.pending_count == Impl::kPending) continue;  // 16 onsets in 93 ms: a buzz
      m.pending[(m.pending_first + m.pending_count++) % Impl::kPending] = m.found[i];
    }
    while (m.pending_count > 0 && m.input_samples >= m.pending[m.pending_first] + kGrain) {
      encode_onset(m.pending[m.pending_first]);
      m.pending_first = (m.pending_first + 1) % Impl::kPending;
      --m.pending_count;
    }
  }
}

void GrainSynth::encode_onset(std::int64_t onset) noexcept {
  Impl& m = *impl_;
  int slot = 0;
  const float morph = clean(beatbox_.morph, 0.0f, 1.0f, 1.0f);
  const bool encode = beatbox_.classifier == BeatboxClassifier::kNearestCentroid ||
                      (morph < 1.0f && beatbox_.trigger);
  if (encode) {
    const float* a0 = m.renderer.window(0);
    for (int i = 0; i < kGrain; ++i)
      m.grain[std::size_t(i)] = a0[i] * m.ring[std::size_t((onset + i) & (Impl::kRing - 1))];
    model_->encode_grain(m.grain.data(), m.mu.data(), nullptr);
  }
  if (beatbox_.classifier == BeatboxClassifier::kNearestCentroid) {
    slot = nearest_kit_slot(*model_, kit_, m.mu.data());
  } else {
    for (int i = 0; i < kGrain; ++i)
      m.grain[std::size_t(i)] = m.ring[std::size_t((onset + i) & (Impl::kRing - 1))];
    slot = m.sounds.classify(m.grain.data());
  }
  const int k = kit_[std::size_t(slot)];
  GrainEvent event;
  event.time_s = double(onset) / kSampleRate - m.input_delay_s + double(input_lag_) / rate_;
  event.frame = std::int64_t(std::llround(event.time_s * rate_));
  event.slot = slot;
  event.class_index = k;
  if (m.events_count == kEventCapacity) {
    ++stats_.events_dropped;
  } else {
    m.events[(m.events_first + m.events_count++) % kEventCapacity] = event;
  }
  if (!beatbox_.trigger) return;
  GrainHit hit;
  hit.class_a = hit.class_b = k;
  hit.temperature = beatbox_.temperature;
  hit.around_class_mean = beatbox_.around_class_mean;
  hit.gain = beatbox_.gain;
  if (morph < 1.0f) {
    morph_shift(*model_, k, m.mu.data(), morph, m.shift.data());
    hit.latent_shift = m.shift.data();
  }
  const std::int64_t frame = std::max<std::int64_t>(0, event.frame + beatbox_delay_);
  start_hit(hit, frame * kSampleRate / rate_hz_ + kSchedulingDelay);
}

int GrainSynth::drain_events(GrainEvent* out, int capacity) noexcept {
  if (!impl_) return 0;
  Impl& m = *impl_;
  int n = 0;
  while (n < capacity && m.events_count > 0) {
    out[n++] = m.events[m.events_first];
    m.events_first = (m.events_first + 1) % kEventCapacity;
    --m.events_count;
  }
  return n;
}

// --- offline ---------------------------------------------------------------------

namespace {

std::vector<float> run_hit(GrainsModel& model, const float* embedding, const float* conditioning,
                           std::uint32_t noise_seed, const float* latents, float gain = 1.0f,
                           const float* latent_shift = nullptr) {
  GrainRenderer renderer(model);
  PostFilter post(model.post_filter());
  HitState state(model);
  const int de = model.embedding(), c = model.conditions(), dz = model.latent();
  std::vector<float> ec(std::size_t(de + c), 0.0f);
  for (int i = 0; i < de && embedding; ++i)
    ec[std::size_t(i)] = std::isfinite(embedding[i]) ? embedding[i] : 0.0f;
  for (int k = 0; k < c; ++k)
    ec[std::size_t(de + k)] = std::isfinite(conditioning[k]) ? conditioning[k] : 0.0f;
  state.start(renderer, ec.data(), noise_seed, gain, -1, latent_shift);
  const int g = model.grains(), total = g + kFlushHops;
  std::vector<float> out(std::size_t(total) * kHop, 0.0f);
  for (int t = 0; t < total; ++t) {
    state.next_hop(renderer,
                   latents && t < g ? latents + std::size_t(t) * std::size_t(dz) : nullptr);
    float* hop = out.data() + std::size_t(t) * kHop;
    std::copy(state.hop(t), state.hop(t) + kHop, hop);
    post.process(hop, kHop);
  }
  return out;
}

}  // namespace

std::vector<float> render_hit(GrainsModel& model, const float* embedding, const float* conditioning,
                              std::uint32_t noise_seed) {
  return run_hit(model, embedding, conditioning, noise_seed, nullptr);
}

std::vector<float> render_hit(GrainsModel& model, const GrainHit& hit) {
  const std::uint32_t seed = hit.seed == 0 ? model.noise_seed() : hit.seed;
  std::vector<float> ec(std::size_t(model.embedding() + model.conditions()));
  hit_inputs(model, hit, seed, ec.data());
  const std::uint32_t noise = hit.seed == 0 ? model.noise_seed() : hit_noise_seed(model, seed);
  return run_hit(model, ec.data(), ec.data() + model.embedding(), noise, nullptr,
                 clean(hit.gain, 0.0f, 8.0f, 0.0f), hit.latent_shift);
}

std::vector<float> render_grains(GrainsModel& model, const float* latents,
                                 const float* conditioning, std::uint32_t noise_seed) {
  return run_hit(model, nullptr, conditioning, noise_seed, latents);
}

std::vector<float> render_path(GrainsModel& model, const float* xy, int hops, int class_index,
                               std::uint32_t noise_seed, float pitch) {
  GrainRenderer renderer(model);
  PostFilter post(model.post_filter());
  PathState path(model);
  // The live voice's noise: cached streams from the model's seed (PathState).
  if (noise_seed == model.noise_seed()) renderer.cache_noise_streams();
  path.start(renderer, noise_seed);
  const int k = std::clamp(class_index, 0, model.classes() - 1);
  std::vector<float> out(std::size_t(std::max(0, hops)) * kHop, 0.0f);
  for (int t = 0; t < hops; ++t) {
    const float x = xy[2 * t], y = xy[2 * t + 1];
    path.next_hop(renderer, true, std::isfinite(x) ? x : 0.0f, std::isfinite(y) ? y : 0.0f, k,
                  pitch, 1.0f);
    float* hop = out.data() + std::size_t(t) * kHop;
    std::copy(path.ready.begin(), path.ready.end(), hop);
    post.process(hop, kHop);
  }
  return out;
}

BeatboxRender render_beatbox(GrainsModel& model, const float* input, std::size_t n,
                             const BeatboxSettings& settings) {
  BeatboxRender r;
  dsp::OnsetDetectorConfig config;
  config.threshold = clean(settings.threshold, 0.0f, 100.0f, 0.05f);
  config.floor_db = clean(settings.floor_db, -120.0f, 0.0f, -50.0f);
  dsp::OnsetDetector detector(config);
  std::int64_t found[64];
  for (std::size_t done = 0; done < n;) {
    const int count = int(std::min<std::size_t>(4096, n - done));
    const int k = detector.process(input + done, count, found, 64);
    r.onsets.insert(r.onsets.end(), found, found + k);
    done += std::size_t(count);
  }
  std::vector<float> window(kGrain), raw(kGrain), grain(kGrain), mu(std::size_t(model.latent())),
      shift(std::size_t(model.latent()));
  const float morph = clean(settings.morph, 0.0f, 1.0f, 1.0f);
  GrainsModel::grain_window(true, model.grains() == 1, window.data());
  VocalSoundClassifier sounds;
  r.kit = resolve_beatbox_kit(model, settings.kit);
  const std::size_t length = std::size_t(model.samples());
  r.samples.assign(n + length, 0.0f);
  for (std::int64_t onset : r.onsets) {
    for (int i = 0; i < kGrain; ++i) {
      const std::size_t at = std::size_t(onset) + std::size_t(i);
      raw[std::size_t(i)] = at < n && std::isfinite(input[at]) ? input[at] : 0.0f;
      grain[std::size_t(i)] = window[std::size_t(i)] * raw[std::size_t(i)];
    }
    const VocalSoundFeatures features = sounds.analyse(raw.data());
    int slot = VocalSoundClassifier::sound_of(features);
    if (settings.classifier == BeatboxClassifier::kNearestCentroid || morph < 1.0f)
      model.encode_grain(grain.data(), mu.data(), nullptr);
    if (settings.classifier == BeatboxClassifier::kNearestCentroid)
      slot = nearest_kit_slot(model, r.kit, mu.data());
    const int k = r.kit[std::size_t(slot)];
    r.slots.push_back(slot);
    r.classes.push_back(k);
    r.features.push_back(features);
    if (!settings.trigger) continue;
    const auto c = class_condition(model, k);
    if (morph < 1.0f) morph_shift(model, k, mu.data(), morph, shift.data());
    const auto hit = run_hit(model, model.class_embedding(k), c.data(), model.noise_seed(), nullptr,
                             1.0f, morph < 1.0f ? shift.data() : nullptr);
    const float gain = clean(settings.gain, 0.0f, 8.0f, 0.0f);
    for (std::size_t i = 0; i < hit.size(); ++i) r.samples[std::size_t(onset) + i] += gain * hit[i];
  }
  return r;
}

}  // namespace timbrel::engine
