#include "timbrel/engine/gmvae_synth.h"

#include <algorithm>
#include <cmath>

namespace timbrel::engine {

using models::Gmvae;

namespace {

constexpr int kPatch = Gmvae::kPatch;
constexpr int kZ = Gmvae::kZ;

dsp::StftConfig stft_config() { return {GmvaeSynth::kWindow, GmvaeSynth::kHop}; }

}  // namespace

// --- GmvaeSynth -----------------------------------------------------------------

struct GmvaeSynth::Voice {
  bool sounding = false;
  bool held = false;
  int key = -1;
  long order = 0;     // when its note started
  float gain = 1.0f;  // velocity / 100
  long frame = 0;     // frames since the onset
  int release_left = 0;
  std::vector<float> patch;     // kPatch scaled values
  std::vector<float> slope;     // kMelBins, scaled units per frame, <= 0
  std::vector<float> harmonic;  // kFftBins magnitude factors at the note's f0
};

namespace {
double midi_hz(int midi) { return 440.0 * std::pow(2.0, (midi - 69) / 12.0); }
}  // namespace

GmvaeSynth::GmvaeSynth(Gmvae& model)
    : model_(&model),
      voices_(kVoices),
      z_(std::size_t(kZ), 0.0f),
      bands_(std::size_t(kMelBins), -1.0f),
      magnitude_(std::size_t(kFftBins), 0.0f) {
  for (Voice& v : voices_) {
    v.patch.assign(std::size_t(kPatch), -1.0f);
    v.slope.assign(std::size_t(kMelBins), 0.0f);
    v.harmonic.assign(std::size_t(kFftBins), 1.0f);
  }
}

GmvaeSynth::~GmvaeSynth() = default;

void GmvaeSynth::set_model(Gmvae& model) noexcept {
  model_ = &model;
  reset();
}

void GmvaeSynth::reset() noexcept {
  for (Voice& v : voices_) {
    v.sounding = v.held = false;
    v.key = -1;
  }
  order_ = 0;
  frames_ = 0;
  stats_ = GmvaeSynthStats();
}

GmvaeSynth::Voice* GmvaeSynth::allocate() noexcept {
  Voice* idle = nullptr;
  Voice* releasing = nullptr;
  Voice* oldest = nullptr;
  for (Voice& v : voices_) {
    if (!v.sounding) {
      if (!idle) idle = &v;
    } else if (!v.held) {
      if (!releasing || v.release_left < releasing->release_left) releasing = &v;
    } else if (!oldest || v.order < oldest->order) {
      oldest = &v;
    }
  }
  if (idle) return idle;
  if (releasing) return releasing;
  ++stats_.voices_stolen;
  return oldest;
}

void GmvaeSynth::start(Voice& v, int key, int velocity, int pitch_midi) noexcept {
  dsp::MelSpectrogram::harmonic_gains(midi_hz(pitch_midi), v.harmonic.data());
  v.sounding = v.held = true;
  v.key = key;
  v.order = order_++;
  v.gain = float(std::clamp(velocity, 1, 127)) / 100.0f;
  v.frame = 0;
  v.release_left = 0;
  // Least-squares slope of each band over the patch's last kSlopeFrames frames.
  const int first = kFrames - kSlopeFrames;
  const double centre = 0.5 * (kSlopeFrames - 1);
  double sxx = 0.0;
  for (int i = 0; i < kSlopeFrames; ++i) sxx += (i - centre) * (i - centre);
  for (int b = 0; b < kMelBins; ++b) {
    double sxy = 0.0;
    for (int i = 0; i < kSlopeFrames; ++i)
      sxy += (i - centre) * v.patch[std::size_t(first + i) * kMelBins + std::size_t(b)];
    v.slope[std::size_t(b)] = float(std::min(0.0, sxy / sxx));
  }
  ++stats_.notes;
}

void GmvaeSynth::note_on(int key, int velocity, const float* z) noexcept {
  if (velocity <= 0) {
    note_off(key);
    return;
  }
  for (int i = 0; i < kZ; ++i) z_[std::size_t(i)] = std::isfinite(z[i]) ? z[i] : 0.0f;
  Voice* v = allocate();
  model_->decode(z_.data(), v->patch.data());
  ++stats_.decodes;
  for (float& x : v->patch) x = std::isfinite(x) ? std::clamp(x, -1.0f, 1.0f) : -1.0f;
  // The note's f0: its z_pitch's component (a transferred note keeps its own pitch).
  start(*v, key, velocity, model_->pitch_midi()[std::size_t(model_->nearest_pitch(z_.data()))]);
}

void GmvaeSynth::note_on_patch(int key, int velocity, const float* patch) noexcept {
  if (velocity <= 0) {
    note_off(key);
    return;
  }
  Voice* v = allocate();
  for (int i = 0; i < kPatch; ++i)
    v->patch[std::size_t(i)] = std::isfinite(patch[i]) ? std::clamp(patch[i], -1.0f, 1.0f) : -1.0f;
  start(*v, key, velocity, key);  // a bare patch: the key is its pitch
}

void GmvaeSynth::note_off(int key) noexcept {
  Voice* first = nullptr;
  for (Voice& v : voices_)
    if (v.sounding && v.held && v.key == key && (!first || v.order < first->order)) first = &v;
  if (!first) return;
  first->held = false;
  first->release_left = kReleaseFrames;
}

void GmvaeSynth::all_notes_off() noexcept {
  for (Voice& v : voices_)
    if (v.sounding && v.held) {
      v.held = false;
      v.release_left = kReleaseFrames;
    }
}

void GmvaeSynth::render(Voice& v, float* sum) noexcept {
  const float* bands;
  if (v.frame < kFrames) {
    bands = v.patch.data() + std::size_t(v.frame) * kMelBins;
  } else {
    // Sustain: each band from the patch's last frame at its (non-positive) slope.
    const float* last = v.patch.data() + std::size_t(kFrames - 1) * kMelBins;
    const float steps = float(v.frame - (kFrames - 1));
    for (int b = 0; b < kMelBins; ++b)
      bands_[std::size_t(b)] = std::max(-1.0f, last[b] + v.slope[std::size_t(b)] * steps);
    bands = bands_.data();
  }
  const float level = v.held ? 1.0f : float(v.release_left) / kReleaseFrames;
  const models::Gmvae& model = *model_;
  model.mel().magnitudes(bands, model.db_min(), model.db_max(), magnitude_.data(),
                         dsp::MelSpectrogram::kPhaseScale * model.output_gain() * v.gain * level);
  for (int k = 0; k < kFftBins; ++k)
    sum[k] += magnitude_[std::size_t(k)] * v.harmonic[std::size_t(k)];
  ++v.frame;
  if (!v.held && --v.release_left <= 0) v.sounding = false;
}

void GmvaeSynth::next_frame(float* magnitude) noexcept {
  std::fill(magnitude, magnitude + kFftBins, 0.0f);
  int sounding = 0;
  for (Voice& v : voices_) {
    if (!v.sounding) continue;
    ++sounding;
    render(v, magnitude);
  }
  stats_.peak_voices = std::max(stats_.peak_voices, sounding);
  ++frames_;
}

int GmvaeSynth::sounding_voices() const noexcept {
  int n = 0;
  for (const Voice& v : voices_) n += v.sounding ? 1 : 0;
  return n;
}

// --- LiveGmvaeSynth ------------------------------------------------------------

LiveGmvaeSynth::LiveGmvaeSynth(Gmvae& model, const dsp::RtpghiOptions& phase)
    : frames_(model),
      phase_(stft_config(), phase),
      guard_(double(kSampleRate)),
      magnitude_(std::size_t(GmvaeSynth::kFftBins), 0.0f) {}

void LiveGmvaeSynth::set_model(Gmvae& model) noexcept {
  frames_.set_model(model);
  phase_.reset();
  guard_.reset();
}

void LiveGmvaeSynth::process_hop(float* out) noexcept {
  frames_.next_frame(magnitude_.data());
  phase_.push_magnitude(magnitude_.data(), out);
  guard_.process(out, kHop);
}

void LiveGmvaeSynth::reset() noexcept {
  frames_.reset();
  phase_.reset();
  guard_.reset();
}

// --- GmvaePlayer -----------------------------------------------------------------

std::string GmvaePlayer::validate(const DeviceSpec& device) { return engine::validate(device); }

GmvaePlayer::GmvaePlayer(const DeviceSpec& device)
    : config_(checked_config<GmvaePlayer>(device)),
      device_(device, GmvaeSynth::kSampleRate, GmvaeSynth::kHop),
      guard_(device.device_rate) {
  const double ratio = config_.device_rate / GmvaeSynth::kSampleRate;
  const double up = device_.resampler_delay();
  min_latency_ = int(std::lround((LiveGmvaeSynth::latency_samples() + up) * ratio));
  max_latency_ = min_latency_ + int(std::ceil(GmvaeSynth::kHop * ratio)) - 1;
}

GmvaePlayer::~GmvaePlayer() = default;

std::string GmvaePlayer::load_model(const std::uint8_t* bytes, std::size_t size) {
  auto loaded = Gmvae::load(bytes, size);
  if (!loaded.model) return loaded.error;
  set_model(std::move(loaded.model));
  return "";
}

std::string GmvaePlayer::adopt_image(nn::ImageBlock image) {
  auto loaded = Gmvae::adopt(std::move(image));
  if (!loaded.model) return loaded.error;
  set_model(std::move(loaded.model));
  return "";
}

void GmvaePlayer::set_model(std::unique_ptr<Gmvae> model) {
  if (model && synth_)
    synth_->set_model(*model);
  else if (model)
    synth_ = std::make_unique<LiveGmvaeSynth>(*model);
  else
    synth_.reset();
  model_ = std::move(model);
  guard_.reset();
  reset();
}

void GmvaePlayer::note_on(int key, int velocity, const float* z) noexcept {
  if (synth_) synth_->note_on(key, velocity, z);
}

void GmvaePlayer::note_on_patch(int key, int velocity, const float* patch) noexcept {
  if (synth_) synth_->note_on_patch(key, velocity, patch);
}

void GmvaePlayer::note_off(int key) noexcept {
  if (synth_) synth_->note_off(key);
}

void GmvaePlayer::all_notes_off() noexcept {
  if (synth_) synth_->all_notes_off();
}

void GmvaePlayer::process(float* out, int n) noexcept {
  n = std::clamp(n, 0, config_.max_block);
  if (!synth_) {
    std::fill(out, out + n, 0.0f);
    return;
  }
  device_.pull(out, n, [this](float* hop) { synth_->process_hop(hop); });
  guard_.process(out, n);
}

void GmvaePlayer::process_hop(float* out) noexcept {
  if (synth_)
    synth_->process_hop(out);
  else
    std::fill(out, out + GmvaeSynth::kHop, 0.0f);
}

void GmvaePlayer::reset() noexcept {
  if (synth_) synth_->reset();
  device_.reset();
}

// --- offline ---------------------------------------------------------------------

GmvaeRender render_patch(Gmvae& model, const float* patch, double held_s,
                         const GmvaeRenderOptions& options) {
  const double held = std::isfinite(held_s) ? std::clamp(held_s, 0.0, kMaxHeldSeconds) : 0.0;
  const long held_frames =
      std::max(1L, std::lround(held * GmvaeSynth::kSampleRate / GmvaeSynth::kHop));
  const long frames = held_frames + GmvaeSynth::kReleaseFrames;
  GmvaeSynth synth(model);
  const int key = std::clamp(options.midi, 0, 127);
  synth.note_on_patch(key, std::clamp(options.velocity, 1, 127), patch);
  const std::vector<float> silence(GmvaeSynth::kFftBins, 0.0f);
  dsp::MagnitudeFrames magnitudes(static_cast<std::size_t>(frames), silence);
  for (long m = 0; m < frames; ++m) {
    if (m == held_frames) synth.note_off(key);
    synth.next_frame(magnitudes[std::size_t(m)].data());
  }
  std::vector<float> raw;
  if (options.griffin_lim) {
    dsp::GriffinLimOptions gl;
    gl.iterations = std::clamp(options.iterations, 0, 1000);
    gl.rtpghi = options.rtpghi;
    raw = dsp::griffin_lim(magnitudes, stft_config(), gl);
  } else {
    raw = dsp::rtpghi(magnitudes, stft_config(), options.rtpghi);
  }
  // Frame m covers raw[m hop, m hop + window): its centre, note sample m hop,
  // is raw[m hop + window / 2].
  GmvaeRender result;
  result.frames = frames;
  const std::size_t offset = GmvaeSynth::kWindow / 2;
  const std::size_t length = std::size_t(frames - 1) * GmvaeSynth::kHop + offset;
  result.samples.assign(length, 0.0f);
  for (std::size_t i = 0; i < length && i + offset < raw.size(); ++i)
    result.samples[i] = raw[i + offset];
  for (float v : result.samples)
    if (std::isfinite(v)) result.peak = std::max(result.peak, std::fabs(v));
  if (result.peak > 1.0f) {
    result.normalised = true;
    result.gain = float(std::pow(10.0, -1.0 / 20.0)) / result.peak;
    for (float& v : result.samples) v *= result.gain;
  }
  result.guard =
      dsp::guard_offline(result.samples.data(), long(length), double(GmvaeSynth::kSampleRate));
  return result;
}

GmvaeRender render_note(Gmvae& model, const float* z, double held_s,
                        const GmvaeRenderOptions& options) {
  std::vector<float> clean(kZ, 0.0f), patch(kPatch, 0.0f);
  for (int i = 0; i < kZ; ++i) clean[std::size_t(i)] = std::isfinite(z[i]) ? z[i] : 0.0f;
  model.decode(clean.data(), patch.data());
  GmvaeRenderOptions at_pitch = options;
  at_pitch.midi = model.pitch_midi()[std::size_t(model.nearest_pitch(clean.data()))];
  return render_patch(model, patch.data(), held_s, at_pitch);
}

}  // namespace timbrel::engine
