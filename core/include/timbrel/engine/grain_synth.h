// Drum hits, grain paths and beat-box with a neural granular model
// (models/grains.h; contract docs/grains.md, "Synthesis" and "Engine,
// bindings and page").
//
// Voices, all at 22050 Hz, mixed, through the model's FIR post-filter (linear
// and time-invariant, so one filter on the mix equals one per voice), resampled
// to the device rate and through the output guard:
//   - 8 hit voices. A voice holds a hit and the next one, which starts on its
//     own sample (the first, if it still sounds, fades out over 128 samples); a
//     new hit goes to the voice whose newest hit is over first by then, else to
//     the one whose newest hit came first (stolen). Voices make their next hops
//     ahead, a few per process() call, so a hop's grains spread over the blocks.
//     A hit runs the streaming order of docs/grains.md for g + 3 hops of 512: per hop
//     t < g one sequence-decoder step from [e, c] (its GRU input projection
//     computed once per hit), the grain decoder on [z_t, c] -> H_t, 2048 noise
//     values (one of kNoiseStreams xorshift32 streams, hit_noise_seed()),
//     zero-phase filter (KissFFT), window a_t (flat-ended Hann), overlap-add;
//     then 512 samples / W. The streams' spectra are computed in prepare()
//     (up to kMaxCachedGrains grains), so a hit's grain costs one inverse FFT,
//     not the noise, a forward FFT and an inverse one.
//   - 1 path voice: each hop, z = map mean + x axes[0] + y axes[1] decoded with
//     the chosen class, periodic Hann, overlap-added with W = 2: an endless
//     stream of grains; x, y, class and gain change per grain (the overlap
//     crossfades them); off, it plays out the grains it holds (3 hops). Its
//     noise restarts from the model's seed whenever it starts from silence.
//   - beat-box: input at the device rate -> 22050 Hz -> dsp::OnsetDetector;
//     the 2048 samples from each onset tell which of the kit's three vocal
//     sounds it is ("boom", "tss", "ka": by what the sound is made of,
//     VocalSoundClassifier; or, BeatboxClassifier::kNearestCentroid, the
//     grain encoder's mu nearest to the kit classes' onset centroids); a hit
//     of that slot's class starts beatbox_latency_samples() after the onset
//     (93 ms + a block + the resamplers) and an event (onset time, slot,
//     class) is queued for the caller.
//
// Timing: the 22050 Hz stream runs on a fixed schedule, so a hit lands on the
// same model sample whatever the block sizes: a trigger with frame offset o,
// given before the process() call whose block starts at device frame F, starts
// at model sample floor((F + o) 22050 / rate) + kSchedulingDelay, which the
// output reaches latency_samples() device frames after frame F + o (at 22050
// Hz exactly kSchedulingDelay). Blocks of any size give the same output.
//
// Real time: prepare() and the constructor allocate; trigger(), set_path(),
// push_input(), process(), drain_events(), reset() and the setters never
// allocate, lock, throw or log. One thread drives one GrainSynth, and nothing
// else may run the model's graphs meanwhile (they carry scratch).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/dsp/output_guard.h"
#include "timbrel/models/grains.h"
#include "timbrel/realtime.h"

namespace timbrel::engine {

struct GrainHit {
  // Conditioning c = (1 - mix) onehot(class_a) + mix onehot(class_b) (and a
  // pitched model's pitch code); indices are clamped to the model's classes,
  // mix to [0, 1].
  int class_a = 0;
  int class_b = 0;
  float mix = 0.0f;
  // A pitched model's MIDI pitch (models::GrainsModel::condition(): clamped to
  // 127; non-finite or negative, the classes' typical pitch). Drum models ignore it.
  float pitch = -1.0f;
  // The one-shot embedding (d_e values, non-finite ones count as 0), or null:
  // a fresh draw e = centre + temperature N(0, I), centre 0 (the sequence
  // prior) or, with around_class_mean, the classes' mean embeddings mixed as
  // c is.
  const float* embedding = nullptr;
  float temperature = 1.0f;  // clamped to [0, 10]
  bool around_class_mean = false;
  float gain = 1.0f;  // linear, clamped to [0, 8]
  // Device frames into the next process() block (clamped to 0 .. 1 s).
  int offset = 0;
  // What makes the hit: a drawn embedding comes from a generator seeded with
  // `seed`, and its noise is stream seed % kNoiseStreams (hit_noise_seed();
  // docs/grains.md step 1), so a seed replays a hit exactly. 0: the next seed of
  // the synth's own generator.
  std::uint32_t seed = 0;
  // d_z values added to every z the sequence decoder makes, or null: the
  // beat-box's morph, (1 - morph)(mu of the voice's onset grain - the class's
  // onset centroid), which moves the hit's grains toward the voice's.
  const float* latent_shift = nullptr;
};

struct GrainEvent {
  double time_s = 0.0;     // the onset in the input stream, seconds since prepare()/reset()
  std::int64_t frame = 0;  // the same in input (device-rate) frames
  int slot = 0;            // the kit's vocal sound it was heard as (BeatboxSound)
  int class_index = 0;     // the class that slot plays
};

// A beat-box kit: the three vocal sounds a beat-boxer makes, each playing a
// class the user picks.
enum BeatboxSound : int {
  kBoom = 0,  // low, voiced: a kick
  kTss = 1,   // noisy and bright: a hat
  kKa = 2,    // the rest (a sharp "ka", "pf", "psh"): a snare
  kBeatboxSounds = 3
};
using BeatboxKit = std::array<int, kBeatboxSounds>;  // class per sound; -1: the default

// The default kit of a model: per sound the first class it has among
// boom: kick, bass_drum, bd, tom; tss: closed_hat, hat, hihat, hi_hat,
// open_hat, shaker, ride, cymbal; ka: snare, clap, rim, rimshot, cowbell;
// a sound whose names it lacks takes the model's first class not yet in the
// kit (the first class when all are).
BeatboxKit default_beatbox_kit(const models::GrainsModel& model);
// kit with its -1 and out-of-range entries replaced by the default's.
BeatboxKit resolve_beatbox_kit(const models::GrainsModel& model, const BeatboxKit& kit);

enum class BeatboxClassifier {
  kSound,            // VocalSoundClassifier on the onset's 2048 samples
  kNearestCentroid,  // the encoder's mu, the nearest of the kit classes' onset centroids
};

// What a vocal onset is made of: descriptors of the 2048 samples (22050 Hz)
// from the onset, Hann windowed (dsp/descriptors.h's conventions).
struct VocalSoundFeatures {
  float low_share = 0.0f;   // power share of 50-200 Hz (a kick's body; below 50 Hz
                            // a plosive's pressure pulse is left out: "pf" has much)
  float high_share = 0.0f;  // power share above 4 kHz (a hiss)
  float flatness = 1.0f;    // spectral flatness (voiced, harmonic sounds: near 0)
  float centroid_hz = 0.0f;
  float level_db = -120.0f;  // rms of the raw samples
};

// Which of the kit's sounds a vocal onset is. The thresholds were chosen on a
// tuning set of synthesised vocal percussion kept apart from the evaluation's
// (timbrel.eval.beatbox --set tune: other espeak-ng voices, pitches, speeds and
// syllables, other sox bursts, another seed; docs/grains.md "Beat-box kit"):
//   boom: low_share >= kLowShare (a low thump), or flatness < kVoicedFlatness
//         (a voiced, harmonic sound: a hummed "boom"/"bum") with centroid below
//         kVoicedCentroidHz (a vowel, not a voiced hiss);
//   tss:  high_share >= kHighShare (most power above 4 kHz: "ts", a hat);
//   ka:   otherwise (a burst of mid-band noise: "ka", "pf", "psh").
class VocalSoundClassifier {
 public:
  static constexpr float kLowShare = 0.5f;
  static constexpr float kVoicedFlatness = 0.004f;
  static constexpr float kVoicedCentroidHz = 3000.0f;
  static constexpr float kHighShare = 0.5f;

  VocalSoundClassifier();  // allocates
  ~VocalSoundClassifier();
  VocalSoundClassifier(const VocalSoundClassifier&) = delete;
  VocalSoundClassifier& operator=(const VocalSoundClassifier&) = delete;
  // grain: models::GrainsModel::kGrain samples at 22050 Hz from the onset (non-finite read as 0).
  VocalSoundFeatures analyse(const float* grain) noexcept TIMBREL_REALTIME;
  static BeatboxSound sound_of(const VocalSoundFeatures& f) noexcept TIMBREL_REALTIME;
  BeatboxSound classify(const float* grain) noexcept TIMBREL_REALTIME {
    return sound_of(analyse(grain));
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct BeatboxSettings {
  bool enabled = true;       // false: input is analysed for nothing (no hits, no events)
  bool trigger = true;       // false: events only
  float temperature = 0.5f;  // of each hit's embedding draw
  bool around_class_mean = true;
  float gain = 1.0f;
  float threshold = 0.05f;        // dsp::OnsetDetectorConfig::threshold (applied at prepare())
  float floor_db = -50.0f;        // dsp::OnsetDetectorConfig::floor_db (applied at prepare())
  BeatboxKit kit = {-1, -1, -1};  // the class per sound (-1: default_beatbox_kit's)
  BeatboxClassifier classifier = BeatboxClassifier::kSound;
  // How far each hit is its class's (1) rather than the voice's (0): the
  // onset's first grain, encoded (mu_v), shifts every grain latent of the hit
  // by (1 - morph)(mu_v - the class's onset centroid); at 0 the hit's attack
  // sits on the voice's grain. Clamped to [0, 1].
  float morph = 1.0f;
};

struct GrainSynthStats {
  long hits = 0;            // trigger() calls that started a voice
  long voices_stolen = 0;   // hits that took a sounding voice
  long late_hits = 0;       // hits whose start had already been rendered (moved later)
  long onsets = 0;          // beat-box onsets detected
  long events_dropped = 0;  // events the caller did not drain in time (queue full)
  int peak_voices = 0;      // most hit voices sounding in one hop
};

class GrainSynth {
 public:
  static constexpr int kSampleRate = models::GrainsModel::kSampleRate;
  static constexpr int kHop = models::GrainsModel::kHop;
  static constexpr int kGrain = models::GrainsModel::kGrain;
  static constexpr int kHitVoices = 8;
  static constexpr int kEventCapacity = 64;
  // Model samples between a trigger's target and its start: the 22050 Hz
  // stream runs up to one hop (plus the resampler's few samples) ahead of the
  // device, so a hit given now can still start on its sample.
  static constexpr int kSchedulingDelay = kHop + 32;

  // The model must outlive the synth.
  explicit GrainSynth(models::GrainsModel& model);
  ~GrainSynth();
  GrainSynth(const GrainSynth&) = delete;
  GrainSynth& operator=(const GrainSynth&) = delete;

  // Allocates everything for a device at output_rate (a whole number of Hz,
  // 8000-192000) and blocks of at most max_block (1-8192) frames: "" or the
  // problem (then process() gives silence). Starts from silence.
  std::string prepare(double output_rate, int max_block);
  bool prepared() const { return prepared_; }

  // --- real time --------------------------------------------------------------
  void trigger(const GrainHit& hit) noexcept TIMBREL_REALTIME;
  // The path voice: playing at (x, y) on the grain map with a class's
  // conditioning (clamped; a pitched model's at `pitch`, as GrainHit::pitch)
  // and a linear gain (clamped to [0, 8]).
  void set_path(bool active, float x, float y, int class_index, float gain,
                float pitch = -1.0f) noexcept TIMBREL_REALTIME;
  // Beat-box input: frames (<= max_block) device-rate samples, before process().
  void push_input(const float* in, int frames) noexcept TIMBREL_REALTIME;
  // frames (<= max_block; more are clamped) device-rate samples, finite, in [-1, 1].
  void process(float* out, int frames) noexcept TIMBREL_REALTIME;
  // Moves up to capacity queued beat-box events to out, oldest first; returns how many.
  int drain_events(GrainEvent* out, int capacity) noexcept TIMBREL_REALTIME;
  // Silence: voices, path, input, events, guard, stats and clocks cleared.
  void reset() noexcept TIMBREL_REALTIME;
  // The generator of embedding draws and noise seeds (0 selects a fixed default).
  void set_seed(std::uint32_t seed) noexcept TIMBREL_REALTIME;
  void set_beatbox(const BeatboxSettings& settings) noexcept TIMBREL_REALTIME;

  // --- state ------------------------------------------------------------------
  int sounding_voices() const noexcept TIMBREL_REALTIME;  // hit voices (pending ones too)
  bool path_sounding() const { return path_hops_left_ > 0 || path_active_; }
  // Device frames from a hit's target frame to its first sample at the output.
  int latency_samples() const { return latency_; }
  // Device frames from a beat-box onset (its event's frame) to the first sample
  // of the hit it triggers at the output: the grain's 2048 samples, the input
  // resampler, one block and latency_samples(). Fixed, so those hits too land
  // on the same sample whatever the block sizes.
  int beatbox_latency_samples() const { return beatbox_latency_; }
  dsp::GuardState guard_state() const;
  const GrainSynthStats& stats() const { return stats_; }
  const BeatboxSettings& beatbox() const { return beatbox_; }
  // The kit in use: beatbox().kit with its defaults filled in.
  const BeatboxKit& beatbox_kit() const { return kit_; }
  double output_rate() const { return rate_; }
  int max_block() const { return max_block_; }
  const models::GrainsModel& model() const { return *model_; }

 private:
  struct Voice;
  struct Impl;
  void render_hop(float* hop) noexcept TIMBREL_REALTIME;
  void make_ahead(int frames) noexcept TIMBREL_REALTIME;
  void start_hit(const GrainHit& hit, std::int64_t start) noexcept TIMBREL_REALTIME;
  void encode_onset(std::int64_t onset) noexcept TIMBREL_REALTIME;
  std::uint32_t next_random() noexcept TIMBREL_REALTIME;

  models::GrainsModel* model_;
  std::unique_ptr<Impl> impl_;
  bool prepared_ = false;
  double rate_ = 0.0;
  int rate_hz_ = 0, max_block_ = 0, latency_ = 0, beatbox_delay_ = 0, beatbox_latency_ = 0;
  std::int64_t device_frames_ = 0;  // output frames produced since prepare()/reset()
  std::int64_t model_samples_ = 0;  // 22050 Hz samples rendered
  std::int64_t input_frames_ = 0;   // device-rate input frames pushed
  std::int64_t input_lag_ = 0;      // output frames that had no input pushed (beat-box off)
  long order_ = 0;
  std::uint32_t seed_ = 0, rng_ = 0;
  bool path_active_ = false;
  int path_hops_left_ = 0;
  BeatboxSettings beatbox_;
  BeatboxKit default_kit_{}, kit_{};
  GrainSynthStats stats_;
};

// --- offline ---------------------------------------------------------------------
// One-shots at 22050 Hz of the model's L = (g - 1) 512 + 2048 samples, the
// post-filter included, no output guard (the parity renders); nothing clamped
// beyond the engine's own rules (H >= 0). The model must not be shared with a
// running synth meanwhile.

// A hit's excitation is one of kNoiseStreams noise streams: xorshift32 from
// hit_noise_seed(model, seed) = the model's noise seed (stream 0, the parity
// renders') for seed % kNoiseStreams == 0, else a mix of it and the stream's
// number. Why a few fixed streams and not one per hit: the synth computes their
// grains' spectra once, which takes a third of a voice's work out of the audio
// thread; the hits still differ by their embeddings (and 8 streams keep
// repeated fixed hits from sounding machine-gunned).
inline constexpr int kNoiseStreams = 8;
inline constexpr int kMaxCachedGrains = 128;  // longer one-shots: noise made per grain
std::uint32_t hit_noise_seed(const models::GrainsModel& model, std::uint32_t seed) noexcept;

// The sequence path: e (d_e values) and c (conditions() values) -> the hit a voice plays.
std::vector<float> render_hit(models::GrainsModel& model, const float* embedding,
                              const float* conditioning, std::uint32_t noise_seed);
// The hit GrainSynth::trigger() plays for `hit` (its seed 0: an embedding drawn
// from the model's noise seed, noise stream 0), gain included: the live output
// at 22050 Hz, latency_samples() later.
std::vector<float> render_hit(models::GrainsModel& model, const GrainHit& hit);
// The grain path: the grains' latents z (g x d_z, e.g. EncodedClip::mu) and c.
std::vector<float> render_grains(models::GrainsModel& model, const float* latents,
                                 const float* conditioning, std::uint32_t noise_seed);
// The path voice alone from silence: hop t plays the map point (xy[2 t],
// xy[2 t + 1]) with class class_index (a pitched model's at `pitch`), W = 2
// (hops x 512 samples).
std::vector<float> render_path(models::GrainsModel& model, const float* xy, int hops,
                               int class_index, std::uint32_t noise_seed, float pitch = -1.0f);

// Beat-box offline: onsets of `input` (22050 Hz) found as live, each
// classified as live (settings' classifier and kit), and a hit of its class
// (embedding: the class's mean embedding, a pitched model's class at its typical
// pitch, the model's noise seed; its grains
// moved toward the onset's as settings.morph says) placed at its onset sample.
struct BeatboxRender {
  std::vector<float> samples;  // input length + one one-shot
  std::vector<std::int64_t> onsets;
  std::vector<int> slots;    // per onset, its BeatboxSound
  std::vector<int> classes;  // per onset, the class its slot plays
  std::vector<VocalSoundFeatures> features;
  BeatboxKit kit{};  // resolved
};
BeatboxRender render_beatbox(models::GrainsModel& model, const float* input, std::size_t n,
                             const BeatboxSettings& settings = {});

}  // namespace timbrel::engine
