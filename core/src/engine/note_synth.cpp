#include "timbrel/engine/note_synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "timbrel/dsp/output_guard.h"

namespace timbrel::engine {

using models::CrossmodalVae;
using models::NoteLabel;

namespace {

constexpr int kLatent = CrossmodalVae::kLatent;
constexpr int kBins = CrossmodalVae::kBins;
constexpr double kFrameRate = double(NoteFrameSynth::kSampleRate) / NoteFrameSynth::kHop;
// Frame m is centred on sample m hop - kCentreOffset (dsp::stft's alignment).
constexpr int kCentreOffset = NoteFrameSynth::kWindow / 2 - NoteFrameSynth::kHop;
constexpr std::uint32_t kDefaultSeed = 0x9E3779B9u;
constexpr float kMaxTemperature = 4.0f;

int frames_of(double seconds) { return std::max(1, int(std::lround(seconds * kFrameRate))); }

// Moves `pitch` by the fewest octaves into [low, high]; when no octave of it
// fits (a range narrower than an octave), the octave nearest the range.
int transpose_into(int pitch, int low, int high) {
  int p = pitch;
  while (p < low) p += 12;
  while (p > high) p -= 12;
  if (p < low && p + 12 - high < low - p) p += 12;
  return p;
}

}  // namespace

bool parse_interpolation(const std::string& text, Interpolation* interpolation) {
  if (text == "none") return *interpolation = Interpolation::kNone, true;
  if (text == "linear") return *interpolation = Interpolation::kLinear, true;
  if (text == "cubic") return *interpolation = Interpolation::kCubic, true;
  return false;
}

const char* interpolation_name(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::kNone:
      return "none";
    case Interpolation::kLinear:
      return "linear";
    case Interpolation::kCubic:
      return "cubic";
  }
  return "?";
}

bool parse_phase_method(const std::string& text, PhaseMethod* method) {
  if (text == "griffin-lim") return *method = PhaseMethod::kGriffinLim, true;
  if (text == "rtpghi") return *method = PhaseMethod::kRtpghi, true;
  return false;
}

const char* phase_method_name(PhaseMethod method) {
  return method == PhaseMethod::kRtpghi ? "rtpghi" : "griffin-lim";
}

std::string validate(const NoteSynthSettings& s) {
  if (!std::isfinite(s.temperature) || s.temperature < 0.0f || s.temperature > kMaxTemperature)
    return "temperature must be within 0-4 (got " + std::to_string(s.temperature) + ")";
  struct Time {
    const char* name;
    double value;
  };
  for (const Time& t : {Time{"transition_s", s.transition_s}, Time{"attack_s", s.attack_s},
                        Time{"release_s", s.release_s}, Time{"pad_glide_s", s.pad_glide_s}})
    if (!std::isfinite(t.value) || t.value < 0.0 || t.value > 10.0)
      return std::string(t.name) + " must be within 0-10 s (got " + std::to_string(t.value) + ")";
  return "";
}

long frame_of_time(double t_s) noexcept {
  if (!std::isfinite(t_s)) return 0;
  // The small slack keeps a time computed from a frame centre on that frame.
  const double f = (t_s * NoteFrameSynth::kSampleRate + kCentreOffset) / NoteFrameSynth::kHop;
  return std::max(0L, long(std::ceil(f - 1e-6)));
}

// --- NoteFrameSynth ------------------------------------------------------------

struct NoteFrameSynth::Voice {
  bool held = false;      // key down (or the pad on)
  bool sounding = false;  // held or releasing
  int key = -1;           // the MIDI pitch of note_on, for note_off
  int pitch = -1;         // after transposition (slot 0), for choosing a voice
  long order = 0;         // when its note started
  float level = 0.0f;     // envelope, 0-1
  float gain = 1.0f;      // velocity within the dynamics class (pad: its level)
  // Latent path: from P1 (from) to P2 (to) over transition_frames, tangent m1.
  std::array<float, kLatent> from{}, to{}, tangent{}, z{}, decoded_z{};
  bool has_point = false;   // `to` holds a point (the voice has sounded)
  bool decoded = false;     // cqt holds the decode of decoded_z
  int step = 0, steps = 0;  // transition progress (frames done / total)
  Interpolation interpolation = Interpolation::kNone;
  std::vector<float> cqt;  // kBins magnitudes of decoded_z
};

NoteFrameSynth::NoteFrameSynth(CrossmodalVae& model, const NoteSynthSettings& settings)
    : model_(&model),
      settings_(settings),
      cqt_(dsp::ConstantQConfig{}),
      attack_frames_(0),
      release_frames_(0),
      transition_frames_(0),
      pad_glide_(1.0f),
      voices_(kMaxVoices + 1),
      mean_(kLatent, 0.0f),
      logvar_(kLatent, 0.0f),
      features_(kBins, 0.0f),
      cqt_sum_(kBins, 0.0f),
      random_state_(kDefaultSeed) {
  if (cqt_.bins() != kBins || cqt_.fft_bins() != kFftBins)
    throw std::invalid_argument("note synth: the constant-Q front end does not have 409 bins");
  for (Voice& v : voices_) v.cqt.assign(kBins, 0.0f);
  set_model(model, settings);
}

void NoteFrameSynth::set_model(CrossmodalVae& model, const NoteSynthSettings& settings) {
  if (auto problem = validate(settings); !problem.empty())
    throw std::invalid_argument("note synth: " + problem);
  model_ = &model;
  settings_ = settings;
  if (settings_.seed == 0) settings_.seed = kDefaultSeed;
  attack_frames_ = frames_of(settings_.attack_s);
  release_frames_ = frames_of(settings_.release_s);
  transition_frames_ = frames_of(settings_.transition_s);
  pad_glide_ = settings_.pad_glide_s <= 0.0
                   ? 1.0f
                   : float(1.0 - std::exp(-1.0 / (settings_.pad_glide_s * kFrameRate)));
  one_hot_.assign(size_t(model.symbols()), 0.0f);
  model_->latent_from_point(0.0f, 0.0f, pad_target_.data());
  morph_a_.fill(0.0f);
  morph_b_.fill(0.0f);
  morph_position_ = 0.0f;
  pad_normalised_ = false;
  pad_norm_ = 1.0f;
  // The pad's reference level (computed once per model, or stored in its image).
  pad_reference_ = model_->pad_reference();
  reset();
}

NoteFrameSynth::~NoteFrameSynth() = default;

void NoteFrameSynth::reset() noexcept {
  for (Voice& v : voices_) {
    std::vector<float> cqt = std::move(v.cqt);  // keeps the buffer: no allocation
    v = Voice();
    v.cqt = std::move(cqt);
  }
  random_state_ = settings_.seed;
  spare_ready_ = false;
  order_ = 0;
  frames_ = 0;
  stats_ = NoteSynthStats();
}

void NoteFrameSynth::set_temperature(float temperature) noexcept {
  settings_.temperature = std::isfinite(temperature) ? std::clamp(temperature, 0.0f, 4.0f) : 0.0f;
}

void NoteFrameSynth::set_interpolation(Interpolation interpolation) noexcept {
  settings_.interpolation = interpolation;
}

float NoteFrameSynth::next_gaussian() noexcept {
  if (spare_ready_) {
    spare_ready_ = false;
    return spare_;
  }
  auto uniform = [this] {  // xorshift32 -> (0, 1]
    random_state_ ^= random_state_ << 13;
    random_state_ ^= random_state_ >> 17;
    random_state_ ^= random_state_ << 5;
    return (double(random_state_) + 1.0) / 4294967296.0;
  };
  const double u1 = uniform(), u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586 * u2;
  spare_ = float(radius * std::sin(angle));
  spare_ready_ = true;
  return float(radius * std::cos(angle));
}

bool NoteFrameSynth::labels_for(int pitch, int velocity, NoteLabel* labels) const noexcept {
  bool transposed = false;
  const auto& velocities = model_->dynamics_velocity();
  for (int i = 0; i < model_->instruments(); ++i) {
    const auto [low, high] = model_->pitch_range(i);
    const int p = transpose_into(pitch, low, high);
    transposed = transposed || p != pitch;
    labels[i] = models::label_from_midi(p, velocity, velocities);
  }
  return transposed;
}

void NoteFrameSynth::encode(const NoteLabel* labels, float* mean, float* point,
                            bool draw) noexcept {
  model_->one_hot(labels, one_hot_.data());
  model_->encode_symbols(one_hot_.data(), mean_.data(), logvar_.data());
  const float temperature = draw ? settings_.temperature : 0.0f;
  for (int i = 0; i < kLatent; ++i) {
    const float m = mean_[size_t(i)];
    if (mean) mean[i] = m;
    if (!point) continue;
    // Draws happen at temperature 0 too, so a seed gives the same notes the
    // same draws whatever the temperature of the notes before them.
    const float eps = draw ? next_gaussian() : 0.0f;
    const float logvar = std::clamp(logvar_[size_t(i)], -30.0f, 30.0f);
    point[i] = m + temperature * std::exp(0.5f * logvar) * eps;
  }
}

NoteFrameSynth::Voice* NoteFrameSynth::allocate(int pitch) noexcept {
  Voice* best = nullptr;
  for (int i = 0; i < kMaxVoices; ++i) {  // the releasing voice nearest in pitch
    Voice& v = voices_[size_t(i)];
    if (v.sounding && !v.held &&
        (!best || std::abs(v.pitch - pitch) < std::abs(best->pitch - pitch)))
      best = &v;
  }
  if (best) return best;
  for (int i = 0; i < kMaxVoices; ++i)
    if (!voices_[size_t(i)].sounding) return &voices_[size_t(i)];
  for (int i = 0; i < kMaxVoices; ++i) {  // the note that started first
    Voice& v = voices_[size_t(i)];
    if (!best || v.order < best->order) best = &v;
  }
  ++stats_.voices_stolen;
  return best;
}

void NoteFrameSynth::start_note(Voice& v, bool join, const float* point) noexcept {
  const bool interpolate = join && v.has_point && settings_.interpolation != Interpolation::kNone;
  if (interpolate) {
    // P0: where the voice's last path started (its previous note's point, or
    // P1 itself after a jump); P1: where it is now, even mid-path.
    const std::array<float, kLatent> before = v.from;
    v.from = v.z;
    for (int i = 0; i < kLatent; ++i) v.tangent[size_t(i)] = 0.5f * (point[i] - before[size_t(i)]);
    v.step = 0;
    v.steps = transition_frames_;
    v.interpolation = settings_.interpolation;
  } else {
    std::copy(point, point + kLatent, v.from.begin());
    v.tangent.fill(0.0f);
    v.step = v.steps = 0;
    if (!join) v.level = 0.0f;
  }
  std::copy(point, point + kLatent, v.to.begin());
  v.has_point = true;
  v.sounding = true;
}

void NoteFrameSynth::note_on(int pitch, int velocity) noexcept {
  if (velocity <= 0) return note_off(pitch);
  pitch = std::clamp(pitch, 0, 127);
  velocity = std::clamp(velocity, 1, 127);
  NoteLabel labels[models::CrossmodalVae::kMaxInstruments];
  if (labels_for(pitch, velocity, labels)) ++stats_.notes_transposed;
  Voice* v = allocate(midi_from_label(labels[0]));
  const bool join = v->sounding;  // releasing or stolen: the line goes on
  float point[kLatent];
  encode(labels, nullptr, point, true);
  start_note(*v, join, point);
  v->held = true;
  v->key = pitch;
  v->pitch = midi_from_label(labels[0]);
  v->order = ++order_;
  const int dynamics = labels[0].dynamics;
  v->gain = float(velocity) / float(model_->dynamics_velocity()[size_t(dynamics)]);
  ++stats_.notes;
}

void NoteFrameSynth::note_off(int pitch) noexcept {
  Voice* first = nullptr;
  for (int i = 0; i < kMaxVoices; ++i) {
    Voice& v = voices_[size_t(i)];
    if (v.held && v.key == pitch && (!first || v.order < first->order)) first = &v;
  }
  if (first) first->held = false;
}

void NoteFrameSynth::all_notes_off() noexcept {
  for (int i = 0; i < kMaxVoices; ++i) voices_[size_t(i)].held = false;
}

void NoteFrameSynth::pad_on(float level) noexcept {
  Voice& pad = voices_[kMaxVoices];
  pad.gain = std::isfinite(level) ? std::clamp(level, 0.0f, 1.0f) : 0.0f;
  if (!pad.sounding) {
    start_note(pad, false, pad_target_.data());
    pad.z = pad_target_;
  }
  pad.held = true;
}

void NoteFrameSynth::pad_off() noexcept { voices_[kMaxVoices].held = false; }

void NoteFrameSynth::set_latent_point(float x, float y) noexcept {
  pad_normalised_ = true;
  model_->latent_from_point(std::isfinite(x) ? x : 0.0f, std::isfinite(y) ? y : 0.0f,
                            pad_target_.data());
}

void NoteFrameSynth::set_latent(const float* z) noexcept {
  pad_normalised_ = false;
  for (int i = 0; i < kLatent; ++i) pad_target_[size_t(i)] = std::isfinite(z[i]) ? z[i] : 0.0f;
}

void NoteFrameSynth::set_morph(int pitch_a, int velocity_a, int pitch_b, int velocity_b) noexcept {
  NoteLabel labels[models::CrossmodalVae::kMaxInstruments];
  labels_for(std::clamp(pitch_a, 0, 127), std::clamp(velocity_a, 1, 127), labels);
  encode(labels, morph_a_.data(), nullptr, false);
  labels_for(std::clamp(pitch_b, 0, 127), std::clamp(velocity_b, 1, 127), labels);
  encode(labels, morph_b_.data(), nullptr, false);
  set_morph_position(morph_position_);
}

void NoteFrameSynth::set_morph_position(float position) noexcept {
  pad_normalised_ = false;
  morph_position_ = std::isfinite(position) ? std::clamp(position, 0.0f, 1.0f) : 0.0f;
  for (int i = 0; i < kLatent; ++i)
    pad_target_[size_t(i)] =
        (1.0f - morph_position_) * morph_a_[size_t(i)] + morph_position_ * morph_b_[size_t(i)];
}

void NoteFrameSynth::render_voice(Voice& v, bool note_voice) noexcept {
  // 1. Latent: along the path between notes, or (pad) gliding to its target.
  if (!note_voice) {
    for (int i = 0; i < kLatent; ++i)
      v.z[size_t(i)] += pad_glide_ * (pad_target_[size_t(i)] - v.z[size_t(i)]);
  } else if (v.step < v.steps) {
    ++v.step;
    const float u = float(v.step) / float(v.steps);
    if (v.interpolation == Interpolation::kCubic) {
      // Hermite basis with m2 = 0.
      const float h00 = (2.0f * u - 3.0f) * u * u + 1.0f, h10 = ((u - 2.0f) * u + 1.0f) * u;
      const float h01 = (3.0f - 2.0f * u) * u * u;
      for (int i = 0; i < kLatent; ++i)
        v.z[size_t(i)] =
            h00 * v.from[size_t(i)] + h10 * v.tangent[size_t(i)] + h01 * v.to[size_t(i)];
    } else {
      for (int i = 0; i < kLatent; ++i)
        v.z[size_t(i)] = (1.0f - u) * v.from[size_t(i)] + u * v.to[size_t(i)];
    }
    if (v.step == v.steps) v.z = v.to;  // lands exactly on the point it then holds
  } else {
    v.z = v.to;
  }
  // 2. Decode only when z moved.
  if (!v.decoded || v.z != v.decoded_z) {
    model_->decode_signal(v.z.data(), features_.data());
    cqt_.magnitudes_from_features(features_.data(), v.cqt.data());
    if (!note_voice) {
      float sum = 0.0f;
      for (int k = 0; k < kBins; ++k) sum += v.cqt[size_t(k)] * v.cqt[size_t(k)];
      sum = std::sqrt(sum);
      const float max_boost = std::pow(10.0f, kPadMaxBoostDb / 20.0f);
      pad_norm_ = sum > 0.0f ? std::min(max_boost, pad_reference_ / sum) : 1.0f;
    }
    v.decoded_z = v.z;
    v.decoded = true;
    ++stats_.decodes;
  }
  // 3. Envelope, linear per frame.
  if (v.held)
    v.level = std::min(1.0f, v.level + 1.0f / float(attack_frames_));
  else
    v.level = std::max(0.0f, v.level - 1.0f / float(release_frames_));
  const float gain = v.level * v.gain * (!note_voice && pad_normalised_ ? pad_norm_ : 1.0f);
  for (int k = 0; k < kBins; ++k) cqt_sum_[size_t(k)] += gain * v.cqt[size_t(k)];
  if (!v.held && v.level <= 0.0f) v.sounding = false;
}

void NoteFrameSynth::next_frame(float* stft_magnitude) noexcept {
  std::fill(cqt_sum_.begin(), cqt_sum_.end(), 0.0f);
  int sounding = 0;
  for (int i = 0; i <= kMaxVoices; ++i) {
    Voice& v = voices_[size_t(i)];
    if (!v.sounding) continue;
    if (i < kMaxVoices) ++sounding;
    render_voice(v, i < kMaxVoices);
  }
  stats_.peak_voices = std::max(stats_.peak_voices, sounding);
  cqt_.stft_magnitude_from_cqt(cqt_sum_.data(), stft_magnitude);
  ++frames_;
}

int NoteFrameSynth::sounding_voices() const noexcept {
  int n = 0;
  for (int i = 0; i < kMaxVoices; ++i) n += voices_[size_t(i)].sounding ? 1 : 0;
  return n;
}

const float* NoteFrameSynth::voice_latent(int voice) const noexcept {
  if (voice < 0 || voice > kMaxVoices) return nullptr;
  const Voice& v = voices_[size_t(voice)];
  return v.sounding && v.decoded ? v.decoded_z.data() : nullptr;
}

// --- LiveNoteSynth ---------------------------------------------------------------

LiveNoteSynth::LiveNoteSynth(CrossmodalVae& model, const NoteSynthSettings& settings,
                             const dsp::RtpghiOptions& phase)
    : frames_(model, settings),
      phase_(frames_.constant_q().stft_config(), phase),
      magnitude_(NoteFrameSynth::kFftBins, 0.0f) {}

void LiveNoteSynth::set_model(CrossmodalVae& model, const NoteSynthSettings& settings) {
  frames_.set_model(model, settings);
  phase_.reset();
}

void LiveNoteSynth::process_hop(float* out) noexcept {
  frames_.next_frame(magnitude_.data());
  phase_.push_magnitude(magnitude_.data(), out);
}

void LiveNoteSynth::reset() noexcept {
  frames_.reset();
  phase_.reset();
}

// --- render_song -------------------------------------------------------------------

namespace {

struct Event {
  long frame;
  bool on;     // key-ups (false) sort first within a frame
  long order;  // the song's note order
  int pitch, velocity;
  bool operator<(const Event& o) const {
    if (frame != o.frame) return frame < o.frame;
    if (on != o.on) return !on;
    return order < o.order;
  }
};

constexpr int kProgressBlock = 64;  // frames between progress reports

}  // namespace

RenderResult render_song(CrossmodalVae& model, const midi::Song& song, const RenderOptions& options,
                         const RenderProgress& progress, const RenderChunk& chunk) {
  if (auto problem = validate(options.synth); !problem.empty())
    throw std::invalid_argument("render options: " + problem);
  if (options.iterations < 0 || options.iterations > 1000)
    throw std::invalid_argument(
        "render options: Griffin-Lim iterations must be within 0-1000 (got " +
        std::to_string(options.iterations) + ")");
  RenderResult result;
  RenderReport& report = result.report;
  report.notes = int(song.notes.size());

  std::vector<Event> events;
  double end_s = std::max(0.0, std::isfinite(song.duration_s) ? song.duration_s : 0.0);
  long order = 0;
  for (const midi::Note& n : song.notes) {
    if (n.drum()) {
      ++report.drum_notes_skipped;
      continue;
    }
    const long on = frame_of_time(n.start_s);
    const long off = std::max(on + 1, frame_of_time(n.end_s));
    events.push_back({on, true, order, n.pitch, n.velocity});
    events.push_back({off, false, order, n.pitch, n.velocity});
    ++order;
    if (std::isfinite(n.end_s)) end_s = std::max(end_s, n.end_s);
  }
  report.notes_rendered = int(order);
  std::sort(events.begin(), events.end());
  if (!events.empty())
    end_s = std::max(end_s, (double(events.back().frame) * NoteFrameSynth::kHop - kCentreOffset) /
                                NoteFrameSynth::kSampleRate);
  // parse_smf refuses longer files; a song built in code meets the same limit.
  if (!(end_s <= midi::kMaxSongSeconds) || song.notes.size() > size_t(midi::kMaxNotes))
    throw std::invalid_argument("render: the song lasts " + std::to_string(end_s) + " s with " +
                                std::to_string(song.notes.size()) + " notes; at most " +
                                std::to_string(int(midi::kMaxSongSeconds)) + " s and " +
                                std::to_string(midi::kMaxNotes) + " notes are rendered");
  end_s += options.synth.release_s;

  // Output: [0, end_s) plus one window of tail, in analysis time; the phase
  // reconstruction's output lags it by window - hop samples.
  const long lag = NoteFrameSynth::kWindow - NoteFrameSynth::kHop;
  const long length =
      long(std::ceil(end_s * NoteFrameSynth::kSampleRate)) + NoteFrameSynth::kWindow;
  const long frames = (length + lag + NoteFrameSynth::kHop - 1) / NoteFrameSynth::kHop;
  report.frames = frames;

  NoteFrameSynth synth(model, options.synth);
  const dsp::StftConfig config = synth.constant_q().stft_config();
  auto report_frames = [&](long done) {
    if (progress && !progress("frames", int(done), int(frames)))
      throw dsp::Cancelled("render cancelled");
  };
  std::vector<float> raw;
  dsp::MagnitudeFrames magnitudes;
  std::vector<float> magnitude(NoteFrameSynth::kFftBins);
  std::unique_ptr<dsp::RtpghiSynth> rtpghi;
  std::unique_ptr<dsp::StreamingGriffinLim> segmented;
  // The samples finished so far (raw, in istft alignment), handed on in output
  // time: output sample n is raw[n + lag], for n < length.
  size_t delivered = 0;
  dsp::OutputGuard chunk_guard{double(NoteFrameSynth::kSampleRate)};
  std::vector<float> guarded;
  auto send = [&](const float* samples, size_t offset, size_t count) {
    guarded.assign(samples, samples + count);
    chunk_guard.process(guarded.data(), int(count));
    chunk(guarded.data(), offset, count);
  };
  auto deliver = [&](size_t raw_ready) {
    if (!chunk) return;
    const size_t ready =
        raw_ready > size_t(lag) ? std::min(raw_ready - size_t(lag), size_t(length)) : 0;
    if (ready <= delivered) return;
    send(raw.data() + lag + delivered, delivered, ready - delivered);
    delivered = ready;
  };
  if (options.phase == PhaseMethod::kRtpghi) {
    rtpghi = std::make_unique<dsp::RtpghiSynth>(config, options.rtpghi);
    raw.resize(size_t(frames) * NoteFrameSynth::kHop);
  } else if (chunk) {
    dsp::StreamingGriffinLim::Options segments;
    segments.gl.iterations = options.iterations;
    segments.gl.rtpghi = options.rtpghi;
    raw.reserve(size_t(frames - 1) * NoteFrameSynth::kHop + NoteFrameSynth::kWindow);
    segmented = std::make_unique<dsp::StreamingGriffinLim>(
        config, segments, [&](const float* samples, size_t count) {
          raw.insert(raw.end(), samples, samples + count);
          deliver(raw.size());
        });
  } else {
    magnitudes.reserve(size_t(frames));
  }
  size_t next = 0;
  for (long m = 0; m < frames; ++m) {
    for (; next < events.size() && events[next].frame == m; ++next) {
      const Event& e = events[next];
      if (e.on)
        synth.note_on(e.pitch, e.velocity);
      else
        synth.note_off(e.pitch);
    }
    synth.next_frame(magnitude.data());
    if (rtpghi) {
      rtpghi->push_magnitude(magnitude.data(), raw.data() + m * NoteFrameSynth::kHop);
      deliver(size_t(m + 1) * NoteFrameSynth::kHop);
    } else if (segmented) {
      segmented->push(magnitude.data());
    } else {
      magnitudes.push_back(magnitude);
    }
    if ((m + 1) % kProgressBlock == 0 || m + 1 == frames) report_frames(m + 1);
  }
  if (segmented) {
    segmented->finish();
  } else if (!rtpghi) {
    dsp::GriffinLimOptions gl;
    gl.iterations = options.iterations;
    gl.rtpghi = options.rtpghi;
    if (progress) gl.progress = [&](int done, int total) { return progress("phase", done, total); };
    raw = dsp::griffin_lim(magnitudes, config, gl);
  }

  // Back to analysis time: sample n at n / 22050 s.
  result.samples.assign(size_t(length), 0.0f);
  for (long n = 0; n < length && n + lag < long(raw.size()); ++n)
    result.samples[size_t(n)] = raw[size_t(n + lag)];
  // The tail past the last frame's samples (silence), so every sample is streamed.
  if (chunk && delivered < size_t(length))
    send(result.samples.data() + delivered, delivered, size_t(length) - delivered);
  float peak = 0.0f;
  for (float v : result.samples)
    if (std::isfinite(v)) peak = std::max(peak, std::fabs(v));
  report.peak = peak;
  if (peak > 1.0f) {
    report.normalised = true;
    report.gain = float(std::pow(10.0, -1.0 / 20.0)) / peak;
    for (float& v : result.samples) v *= report.gain;
  }
  const dsp::GuardReport guard =
      dsp::guard_offline(result.samples.data(), long(length), double(NoteFrameSynth::kSampleRate));
  report.limited = guard.limited;
  report.muted = guard.muted;
  report.mute_reason = guard.mute_reason;
  const NoteSynthStats& stats = synth.stats();
  report.notes_transposed = stats.notes_transposed;
  report.voices_stolen = stats.voices_stolen;
  report.peak_voices = stats.peak_voices;
  report.duration_s = double(length) / NoteFrameSynth::kSampleRate;
  return result;
}

}  // namespace timbrel::engine
