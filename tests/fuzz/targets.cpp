#include "targets.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "curve_file.h"  // core/cli
#include "timbrel/engine/gmvae_synth.h"
#include "timbrel/engine/grain_synth.h"
#include "timbrel/io/wav.h"
#include "timbrel/midi/smf.h"
#include "timbrel/models/crossmodal_vae.h"
#include "timbrel/models/gmvae.h"
#include "timbrel/models/grains.h"
#include "timbrel/models/prepared_model.h"
#include "timbrel/models/vq_timbre.h"
#include "timbrel/nn/model_file.h"
#include "timbrel/nn/model_image.h"

namespace timbrel::fuzz {

namespace {

// A broken contract: stop as a sanitizer would, with the reason.
[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz target: %s\n", what);
  std::abort();
}

// Every graph of a loaded model: a few streaming steps (or one offline pass).
void run_graphs(nn::Model& model) {
  for (const auto& name : model.graph_names()) {
    nn::Graph& g = model.graph(name);
    const auto in = std::size_t(g.input_size()), out = std::size_t(g.output_size());
    if (g.streams()) {
      std::vector<float> x(in), y(out);
      for (int step = 0; step < 3; ++step) {
        for (std::size_t i = 0; i < in; ++i) x[i] = std::sin(0.37f * float(i + 7 * step));
        g.step(x.data(), y.data());
      }
      g.reset();
    } else {
      // 4 frames, and 1: what a graph that unflattens one dense frame takes.
      for (int frames : {4, 1}) {
        nn::Sequence x(frames, int(in));
        for (std::size_t i = 0; i < x.data.size(); ++i) x.data[i] = std::cos(0.21f * float(i));
        try {
          (void)g.forward(x);
        } catch (const std::invalid_argument&) {
          // A flatten of a fixed frame count, an unflatten of more than one frame, refuses
          // other lengths: documented.
        }
      }
    }
  }
}

void run_vq_timbre(models::VqTimbre& model) {
  std::vector<float> frame(models::VqTimbre::kWindow), out(models::VqTimbre::kHop);
  for (std::size_t i = 0; i < frame.size(); ++i)
    frame[i] = 0.5f * std::sin(2.0f * 3.14159265f * 220.0f * float(i) / 22050.0f);
  for (int hop = 0; hop < 3; ++hop) model.process_hop(frame.data(), out.data());
  dsp::PitchEstimate pitch;
  pitch.f0_hz = 330.0f;
  pitch.voiced = true;
  model.decode_hop(1, pitch, 0.2f, out.data());
}

void run_crossmodal(models::CrossmodalVae& model) {
  std::vector<float> z(models::CrossmodalVae::kLatent, 0.1f),
      features(models::CrossmodalVae::kBins, 1.0f), mean(models::CrossmodalVae::kLatent),
      logvar(models::CrossmodalVae::kLatent), logits(std::size_t(model.symbols()));
  model.decode_signal(z.data(), features.data());
  model.encode_signal(features.data(), mean.data(), logvar.data());
  model.decode_symbols(mean.data(), logits.data());
  model.latent_from_point(0.25f, -0.5f, z.data());
  model.decode_signal(z.data(), features.data());
}

void run_gmvae(models::Gmvae& model) {
  using models::Gmvae;
  std::vector<float> z(Gmvae::kZ), patch(Gmvae::kPatch), audio(3000), hop(Gmvae::kHop);
  for (std::size_t i = 0; i < audio.size(); ++i)
    audio[i] = 0.3f * std::sin(2.0f * 3.14159265f * 330.0f * float(i) / 22050.0f);
  model.sample(model.instruments() - 1, model.pitches() - 1, 0.5f, 9, z.data());
  model.decode(z.data(), patch.data());
  model.encode(patch.data(), z.data(), nullptr, z.data() + Gmvae::kLatent, nullptr);
  model.encode_audio(audio.data(), audio.size(), z.data());
  model.transfer(z.data(), 0, 1.0f, z.data());
  model.map_point(0.5f, -0.5f, z.data() + Gmvae::kLatent);
  model.set_brightness(1.0f, z.data() + Gmvae::kLatent);
  engine::LiveGmvaeSynth live(model);
  live.note_on(60, 100, z.data());
  live.note_on_patch(62, 100, patch.data());
  for (int i = 0; i < 3; ++i) {
    live.process_hop(hop.data());
    for (float v : hop)
      if (!(std::fabs(v) <= 1.0f)) broken("a GMVAE note left [-1, 1] through the output guard");
  }
}

void run_grains(models::GrainsModel& model) {
  using models::GrainsModel;
  std::vector<float> zc(std::size_t(model.latent() + model.classes()), 0.1f), h(GrainsModel::kBins),
      grain(GrainsModel::kGrain), ec(std::size_t(model.embedding() + model.classes()), 0.2f),
      projected(std::size_t(3 * model.sequence_hidden())),
      state(std::size_t(model.sequence_hidden()), 0.0f), z(std::size_t(model.latent()));
  model.decode_filter(zc.data(), h.data());
  model.sequence_input(ec.data(), projected.data());
  model.sequence_step(projected.data(), state.data(), z.data());
  GrainsModel::grain_window(true, false, grain.data());
  model.encode_grain(grain.data(), z.data(), nullptr);
  (void)model.nearest_onset_class(z.data());
  model.map_point(0.5f, -0.5f, z.data());
  // The live engine: two hits, the path voice and a click into the beat-box, 40 blocks.
  engine::GrainSynth synth(model);
  if (!synth.prepare(48000.0, 128).empty()) broken("GrainSynth refused a valid device");
  std::vector<float> block(128), click(128, 0.0f);
  click[3] = 0.8f;
  engine::GrainHit hit;
  synth.trigger(hit);
  hit.class_b = model.classes() - 1;
  hit.mix = 0.5f;
  hit.offset = 64;
  synth.trigger(hit);
  synth.set_path(true, 0.2f, -0.1f, 0, 1.0f);
  for (int i = 0; i < 40; ++i) {
    synth.push_input(i == 2 ? click.data() : block.data(), 128);
    synth.process(block.data(), 128);
    for (float v : block)
      if (!(std::fabs(v) <= 1.0f)) broken("a grains hit left [-1, 1] through the output guard");
  }
}

template <class Family, class Run>
void run_family(const std::uint8_t* bytes, std::size_t size, const char* family, Run run) {
  auto loaded = Family::load(bytes, size);
  if (!loaded.model) {
    if (loaded.error.empty()) broken("a family load failed without a message");
    return;
  }
  run(*loaded.model);
  const auto prepared = models::prepare_model(bytes, size, family);
  if (!prepared.error.empty()) broken("a model that loads could not be prepared");
  nn::ImageBlock block = nn::ImageBlock::allocate(prepared.image.size());
  if (block.empty()) broken("no block for a prepared image");
  std::copy(prepared.image.begin(), prepared.image.end(), block.data());
  auto adopted = Family::adopt(std::move(block));
  if (!adopted.model) broken("a prepared image was not adopted");
  run(*adopted.model);
}

}  // namespace

int model(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> bytes(data, data + size);
  if (bytes.size() >= 16) {
    const std::uint32_t crc = nn::crc32(bytes.data(), bytes.size() - 4);
    for (int i = 0; i < 4; ++i)
      bytes[bytes.size() - 4 + std::size_t(i)] = std::uint8_t(crc >> (8 * i));
  }
  auto loaded = nn::load_model(bytes.data(), bytes.size());
  if (!loaded.model) {
    if (loaded.error.empty()) broken("a load failed without a message");
    return 0;
  }
  run_graphs(*loaded.model);
  const std::string family = loaded.model->family();
  loaded.model.reset();
  if (family == "vq_timbre")
    run_family<models::VqTimbre>(bytes.data(), bytes.size(), "vq_timbre", run_vq_timbre);
  else if (family == "crossmodal_vae")
    run_family<models::CrossmodalVae>(bytes.data(), bytes.size(), "crossmodal_vae", run_crossmodal);
  else if (family == "gmvae")
    run_family<models::Gmvae>(bytes.data(), bytes.size(), "gmvae", run_gmvae);
  else if (family == "grains")
    run_family<models::GrainsModel>(bytes.data(), bytes.size(), "grains", run_grains);
  return 0;
}

int midi(const std::uint8_t* data, std::size_t size) {
  const auto parsed = midi::parse_smf(data, size);
  if (!parsed.ok()) return 0;
  (void)parsed.song.drum_notes();
  if (parsed.song.notes.size() > 4096) return 0;
  // Notes with finite times inside the writer's range go back out and in.
  std::vector<midi::Note> notes;
  for (const auto& n : parsed.song.notes)
    if (std::isfinite(n.start_s) && std::isfinite(n.end_s) && n.end_s < 3600.0) notes.push_back(n);
  const auto written = midi::write_smf(notes);
  const auto again = midi::parse_smf(written.data(), written.size());
  if (!again.ok()) broken("a written song does not parse");
  return 0;
}

int wav(const std::uint8_t* data, std::size_t size) {
  try {
    const auto audio = io::parse_wav(std::vector<std::uint8_t>(data, data + size), "fuzz.wav");
    (void)audio;
  } catch (const std::runtime_error&) {
    // A named rejection: the reader's contract.
  }
  return 0;
}

int curve(const std::uint8_t* data, std::size_t size) {
  // The reader takes a path: one scratch file per process.
  static const std::string path = [] {
    char name[] = "/tmp/timbrel-fuzz-curve-XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) broken("no scratch file");
    close(fd);
    return std::string(name);
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) broken("cannot write the scratch file");
  if (size > 0 && std::fwrite(data, 1, size, f) != size) broken("short write");
  std::fclose(f);
  try {
    const cli::Curve c = cli::read_curve_file(path);
    const double hop_s = 256.0 / 22050.0;
    const std::size_t hops = c.timed ? std::size_t(std::min(4095.0, c.duration_s() / hop_s)) + 1
                                     : std::min<std::size_t>(4096, c.value.size());
    (void)c.at_hops(hops, hop_s);
  } catch (const std::runtime_error&) {
  }
  return 0;
}

Target target(const std::string& name) {
  if (name == "model") return model;
  if (name == "midi") return midi;
  if (name == "wav") return wav;
  if (name == "curve") return curve;
  return nullptr;
}

}  // namespace timbrel::fuzz
