// Model images (nn/model_image.h, models/prepared_model.h): a model prepared
// off the audio thread and adopted by an engine behaves bit for bit as the
// same file loaded directly; a damaged image is refused with a message (and,
// under the sanitizers, without a report); adopting allocates a small number
// of blocks that does not grow with the weights.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "crossmodal_test_model.h"
#include "npy.h"
#include "signals.h"
#include "timbrel/engine/midi_player.h"
#include "timbrel/engine/voice_transfer.h"
#include "timbrel/models/code_analysis.h"
#include "timbrel/models/crossmodal_vae.h"
#include "timbrel/models/descriptor_synth.h"
#include "timbrel/models/prepared_model.h"
#include "timbrel/models/vq_timbre.h"
#include "timbrel/nn/layers.h"
#include "timbrel/nn/model_image.h"
#include "vq_test_model.h"

using namespace timbrel;

namespace {

namespace fs = std::filesystem;

const fs::path kGolden = TIMBREL_GOLDEN_DIR;
const fs::path kModels = kGolden / ".." / ".." / "models";

std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  INFO(path.string());
  REQUIRE(file);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

nn::ImageBlock block_of(const std::vector<std::uint8_t>& image) {
  auto block = nn::ImageBlock::allocate(image.size());
  REQUIRE_FALSE(block.empty());
  std::memcpy(block.data(), image.data(), image.size());
  return block;
}

models::PreparedModel prepared(const std::vector<std::uint8_t>& file, const std::string& family) {
  auto p = models::prepare_model(file.data(), file.size(), family);
  INFO(p.error);
  REQUIRE(p.error.empty());
  REQUIRE_FALSE(p.image.empty());
  return p;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// A sung-like input at 22050 Hz: a glide, then noise, then silence.
std::vector<float> voice_input() {
  std::vector<float> x(22050, 0.0f);
  double phase = 0.0;
  for (size_t i = 0; i < 12000; ++i) {
    phase += 2.0 * 3.14159265358979323846 * (220.0 + 0.02 * double(i)) / 22050.0;
    x[i] = float(0.3 * std::sin(phase) + 0.1 * std::sin(2.0 * phase));
  }
  const auto noise = test::white_noise(6000, 0.05, 3);
  std::copy(noise.begin(), noise.end(), x.begin() + 12000);
  return x;
}

// Every float of a graph's step() output for a few seeded inputs.
std::vector<float> graph_outputs(nn::Graph& graph, unsigned seed) {
  std::vector<float> out, y(size_t(graph.output_size()));
  graph.reset();
  for (int t = 0; t < 4; ++t) {
    const auto x = test::white_noise(size_t(graph.input_size()), 1.0, seed + unsigned(t));
    if (graph.step(x.data(), y.data())) out.insert(out.end(), y.begin(), y.end());
  }
  graph.reset();
  return out;
}

void require_same_graphs(nn::Model& a, nn::Model& b) {
  REQUIRE(a.graph_names() == b.graph_names());
  unsigned seed = 100;
  for (const auto& name : a.graph_names()) {
    INFO("graph " << name);
    REQUIRE(a.graph(name).size() == b.graph(name).size());
    REQUIRE(same_bits(graph_outputs(a.graph(name), seed), graph_outputs(b.graph(name), seed)));
    seed += 10;
  }
}

std::vector<fs::path> vq_files() {
  std::vector<fs::path> files = {kGolden / "vq" / "model.tmbl", kGolden / "draw" / "model.tmbl"};
  for (const char* id : {"violin", "violin-baseline"})
    if (fs::exists(kModels / id / (std::string(id) + ".tmbl")))
      files.push_back(kModels / id / (std::string(id) + ".tmbl"));
  return files;
}

std::vector<fs::path> crossmodal_files() {
  std::vector<fs::path> files = {kGolden / "crossmodal" / "solo" / "model.tmbl",
                                 kGolden / "crossmodal" / "mixture" / "model.tmbl"};
  // The smallest and the largest shipped models.
  for (const char* id : {"violin", "sax_violin"})
    if (fs::exists(kModels / "crossmodal" / id / (std::string(id) + ".tmbl")))
      files.push_back(kModels / "crossmodal" / id / (std::string(id) + ".tmbl"));
  return files;
}

// A file loaded by its family and the same file's image adopted, after the
// checks every family shares: the same description (also prepare_model's), the
// adopted model re-written to the same image byte for byte, the same graph
// outputs bit for bit.
template <class Family>
struct LoadedAndAdopted {
  std::unique_ptr<Family> loaded, adopted;
  std::vector<std::uint8_t> image;
};

template <class Family>
LoadedAndAdopted<Family> load_and_adopt(const std::vector<std::uint8_t>& file,
                                        const std::string& family) {
  auto p = prepared(file, family);
  auto loaded = Family::load(file.data(), file.size());
  REQUIRE(loaded.model);
  auto adopted = Family::adopt(block_of(p.image));
  INFO(adopted.error);
  REQUIRE(adopted.model);
  CHECK(p.info == loaded.model->info_json());
  CHECK(adopted.model->info_json() == loaded.model->info_json());
  CHECK(nn::write_model_image(adopted.model->model()) == p.image);
  require_same_graphs(const_cast<nn::Model&>(loaded.model->model()),
                      const_cast<nn::Model&>(adopted.model->model()));
  return {std::move(loaded.model), std::move(adopted.model), std::move(p.image)};
}

void check_vq_image(const std::vector<std::uint8_t>& file) {
  auto [loaded, adopted, image] = load_and_adopt<models::VqTimbre>(file, "vq_timbre");
  // The adopted layers view the image: no weight was copied.
  const auto& first = adopted->model().graph("encoder").layer(0);
  REQUIRE(dynamic_cast<const nn::Linear*>(&first));
  CHECK(dynamic_cast<const nn::Linear&>(first).weight().is_view());
  const auto x = voice_input();
  for (auto mode : {models::TransferMode::kPitch, models::TransferMode::kNoise}) {
    models::VqTimbre::RenderOptions options;
    options.mode = mode;
    options.octaves = mode == models::TransferMode::kPitch ? 1 : 0;
    CHECK(same_bits(loaded->render(x.data(), x.size(), options),
                    adopted->render(x.data(), x.size(), options)));
  }

  // Descriptor drawing, when the file has a table.
  auto synth_loaded = models::DescriptorSynth::load(file.data(), file.size());
  auto synth_adopted = models::DescriptorSynth::adopt(block_of(image));
  REQUIRE((synth_loaded.synth != nullptr) == (synth_adopted.synth != nullptr));
  if (!synth_loaded.synth) {
    CHECK(synth_adopted.error == synth_loaded.error);
    return;
  }
  CHECK(synth_adopted.synth->table().to_json() == synth_loaded.synth->table().to_json());
  CHECK(same_bits(models::codebook_projection(synth_adopted.synth->model()),
                  models::codebook_projection(synth_loaded.synth->model())));
  models::DrawCurves curves;
  curves.hops = 60;
  const auto range = synth_loaded.synth->range(models::Descriptor::kCentroid);
  for (size_t t = 0; t < curves.hops; ++t)
    curves.curve(models::Descriptor::kCentroid)
        .push_back(range.min + (range.max - range.min) * float(t) / float(curves.hops));
  std::vector<int> codes_loaded, codes_adopted;
  CHECK(same_bits(synth_loaded.synth->render(curves, &codes_loaded),
                  synth_adopted.synth->render(curves, &codes_adopted)));
  CHECK(codes_loaded == codes_adopted);
}

// The MIDI panel's live engine on one model: notes, a chord, the pad and a morph.
std::vector<float> play(engine::MidiPlayer& player) {
  std::vector<float> out(128 * 120);
  auto run = [&](int from, int to) {
    for (int b = from; b < to; ++b) player.process(out.data() + 128 * b, 128);
  };
  player.note_on(69, 80);
  run(0, 30);
  player.note_on(72, 110);
  player.note_off(69);
  run(30, 60);
  player.all_notes_off();
  player.set_pad(0.3f, -0.2f, true);
  run(60, 90);
  player.set_morph(60, 40, 67, 120, 0.4f, true);
  run(90, 120);
  return out;
}

void check_crossmodal_image(const std::vector<std::uint8_t>& file) {
  auto [loaded, adopted, image] = load_and_adopt<models::CrossmodalVae>(file, "crossmodal_vae");
  CHECK(adopted->pad_reference() == loaded->pad_reference());
  engine::MidiPlayer a({48000.0, 128}), b({48000.0, 128});
  a.set_model(std::move(loaded));
  b.set_model(std::move(adopted));
  CHECK(same_bits(play(a), play(b)));
}

}  // namespace

TEST_CASE("An adopted vq_timbre image equals the loaded file bit for bit", "[model_image]") {
  for (const auto& path : vq_files()) {
    INFO(path.string());
    check_vq_image(read_file(path));
  }
  SECTION("hand-built models: quantized and not") {
    for (bool quantized : {true, false}) {
      test::VqTestModelOptions options;
      options.quantized = quantized;
      check_vq_image(test::vq_test_model_bytes(options));
    }
  }
}

TEST_CASE("An adopted crossmodal_vae image equals the loaded file bit for bit", "[model_image]") {
  for (const auto& path : crossmodal_files()) {
    INFO(path.string());
    check_crossmodal_image(read_file(path));
  }
  SECTION("the hand-built oracle model") { check_crossmodal_image(test::oracle_model_bytes()); }
}

TEST_CASE("Engines adopt images as they load files: same switch, same output", "[model_image]") {
  const auto first = test::vq_test_model_bytes();
  test::VqTestModelOptions other;
  other.seed = 29;
  other.harmonic_bias = 1.0f;
  const auto second = test::vq_test_model_bytes(other);
  const auto second_image = prepared(second, "vq_timbre").image;
  engine::VoiceTransfer by_file({48000.0, 128}), by_image({48000.0, 128});
  REQUIRE(by_file.load_model(first.data(), first.size()).empty());
  REQUIRE(by_image.load_model(first.data(), first.size()).empty());
  by_file.reset();
  by_image.reset();

  const auto input = test::harmonic_tone(220.0, 48000.0, 2.0, 3, 0.3);
  std::vector<float> out_file(input.size()), out_image(input.size());
  const size_t switch_at = 128 * 40;
  for (size_t at = 0; at + 128 <= input.size(); at += 128) {
    if (at == switch_at) {
      REQUIRE(by_file.load_model(second.data(), second.size()).empty());
      REQUIRE(by_image.adopt_image(block_of(second_image)).empty());
      CHECK(by_image.switching());
    }
    by_file.process(input.data() + at, out_file.data() + at, 128);
    by_image.process(input.data() + at, out_image.data() + at, 128);
  }
  CHECK_FALSE(by_image.switching());
  CHECK(same_bits(out_file, out_image));
  // A bad image: the message, and the current model plays on.
  auto bad = second_image;
  bad[0] = 'X';
  CHECK_THAT(by_image.adopt_image(block_of(bad)), Catch::Contains("bad magic"));
  CHECK(by_image.has_model());
  CHECK_THAT(by_image.adopt_image(nn::ImageBlock()), Catch::Contains("truncated"));
}

TEST_CASE("A MIDI player that switches models plays the new one as a fresh player would",
          "[model_image][midi_player]") {
  // The switch keeps the synth's DSP set-up and rebinds it (NoteFrameSynth::set_model):
  // nothing of the old model's voices, pad, morph or settings may remain.
  const auto first = read_file(kGolden / "crossmodal" / "solo" / "model.tmbl");
  const auto second = read_file(kGolden / "crossmodal" / "mixture" / "model.tmbl");
  engine::MidiPlayer fresh({48000.0, 128}), switched({48000.0, 128});
  REQUIRE(fresh.load_model(second.data(), second.size()).empty());
  REQUIRE(switched.load_model(first.data(), first.size()).empty());
  switched.set_temperature(1.5f);
  switched.set_interpolation(engine::Interpolation::kNone);
  play(switched);  // voices, pad and morph in use
  REQUIRE(switched.adopt_image(block_of(prepared(second, "crossmodal_vae").image)).empty());
  CHECK(same_bits(play(fresh), play(switched)));
}

namespace {

// Header and record fields (nn/model_image.h's layout), for the damaged images.
constexpr size_t kHeader = 80, kGraphRecord = 16;

std::uint32_t get32(const std::vector<std::uint8_t>& b, size_t at) {
  std::uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
std::uint64_t get64(const std::vector<std::uint8_t>& b, size_t at) {
  std::uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}
void put32(std::vector<std::uint8_t>& b, size_t at, std::uint32_t v) {
  std::memcpy(b.data() + at, &v, 4);
}
void put64(std::vector<std::uint8_t>& b, size_t at, std::uint64_t v) {
  std::memcpy(b.data() + at, &v, 8);
}
// Recomputes the structure's CRC after an edit, so that the edit itself is what is checked.
void reseal(std::vector<std::uint8_t>& b) {
  put32(b, 36, 0);
  put32(b, 36, nn::crc32(b.data(), get32(b, 32)));
}

std::string adopt_error(const std::vector<std::uint8_t>& image) {
  auto adopted = nn::load_model_image(image.data(), image.size());
  if (adopted.model) return "";
  REQUIRE_FALSE(adopted.error.empty());
  return adopted.error;
}

}  // namespace

TEST_CASE("Damaged model images are refused with a message", "[model_image]") {
  const auto image = prepared(test::vq_test_model_bytes(), "vq_timbre").image;
  REQUIRE(adopt_error(image).empty());
  const size_t structure = get32(image, 32);
  const size_t graphs = get32(image, 40);
  const size_t layers_at = kHeader + kGraphRecord * graphs;
  REQUIRE(get32(image, 44) >= 2);

  SECTION("every truncation, and padding") {
    for (size_t n = 0; n < image.size(); ++n) {
      const std::vector<std::uint8_t> cut(image.begin(), image.begin() + long(n));
      const auto error = nn::load_model_image(cut.data(), cut.size()).error;
      REQUIRE_THAT(error, Catch::StartsWith("model image: "));
    }
    auto padded = image;
    padded.push_back(0);
    CHECK_THAT(adopt_error(padded), Catch::Contains("truncated or padded"));
  }

  SECTION("every byte of the structure flipped") {
    for (size_t at = 0; at < structure; ++at) {
      auto flipped = image;
      flipped[at] ^= 0x5A;
      const std::string error = adopt_error(flipped);
      INFO("byte " << at);
      REQUIRE_FALSE(error.empty());
    }
  }

  SECTION("random bytes of the weights changed: adopted (no check reads them), and it runs") {
    std::mt19937 rng(7);
    const size_t arena = size_t(get64(image, 16));
    for (int trial = 0; trial < 200; ++trial) {
      auto changed = image;
      for (int k = 0; k < 8; ++k)
        changed[arena + rng() % (changed.size() - arena)] = std::uint8_t(rng());
      auto adopted = models::VqTimbre::adopt(block_of(changed));
      REQUIRE(adopted.model);
      std::vector<float> frame(1024, 0.1f), out(256);
      adopted.model->process_hop(frame.data(), out.data());
    }
  }

  SECTION("huge sizes and counts") {
    auto big = image;
    put64(big, 8, std::uint64_t(1) << 62);
    CHECK_THAT(adopt_error(big), Catch::Contains("truncated or padded"));
    big = image;
    put32(big, 44, 0xFFFFFFFFu);  // layer count
    reseal(big);
    CHECK_THAT(adopt_error(big), Catch::Contains("does not match its record counts"));
    big = image;
    put32(big, layers_at + 8, 0x7FFFFFFF);  // first layer's input size
    reseal(big);
    CHECK_THAT(adopt_error(big), Catch::Contains("layer 0"));
    big = image;
    put64(big, 24, std::uint64_t(1) << 40);  // arena size
    reseal(big);
    CHECK_THAT(adopt_error(big), Catch::Contains("arena does not fit"));
  }

  SECTION("tensors out of range, overlapping, misaligned or of the wrong size") {
    const size_t tensor0 = layers_at + 64, tensor1 = tensor0 + 16;
    auto bad = image;
    put64(bad, tensor1, get64(bad, tensor0));  // bias on top of the weights
    reseal(bad);
    CHECK_THAT(adopt_error(bad), Catch::Contains("overlaps"));
    bad = image;
    put64(bad, tensor1, get64(image, 24));  // at the arena's end
    reseal(bad);
    CHECK_THAT(adopt_error(bad), Catch::Contains("outside the image"));
    bad = image;
    put64(bad, tensor1, ~std::uint64_t(0) - 15);  // offset + size would wrap around
    reseal(bad);
    CHECK_THAT(adopt_error(bad), Catch::Contains("outside the image"));
    bad = image;
    put64(bad, tensor1, get64(image, tensor1) + 4);
    reseal(bad);
    CHECK_THAT(adopt_error(bad), Catch::Contains("aligned"));
    bad = image;
    put64(bad, tensor1 + 8, get64(image, tensor1 + 8) + 1);
    reseal(bad);
    CHECK_THAT(adopt_error(bad), Catch::Contains("its shape needs"));
  }

  SECTION("records that do not fit together") {
    auto bad = image;
    put32(bad, layers_at, 99);  // layer kind
    reseal(bad);
    CHECK_THAT(adopt_error(bad), Catch::Contains("unknown layer kind 99"));
    bad = image;
    put32(bad, kHeader + 8, 1);  // first graph starts at layer 1
    reseal(bad);
    CHECK_THAT(adopt_error(bad), Catch::Contains("do not follow"));
    bad = image;
    put32(bad, 60, 100000);  // family string length
    reseal(bad);
    CHECK_THAT(adopt_error(bad), Catch::Contains("outside the string pool"));
    bad = image;
    put32(bad, 4, 2);  // version
    reseal(bad);
    CHECK_THAT(adopt_error(bad), Catch::Contains("unknown version 2"));
  }

  SECTION("a family that does not match the engine is the family's message") {
    auto crossmodal = models::CrossmodalVae::adopt(block_of(image));
    CHECK_THAT(crossmodal.error, Catch::Contains("not 'crossmodal_vae'"));
  }
}

TEST_CASE("An image of graphs that flatten and unflatten runs as the file does",
          "[model_image][unflatten]") {
  const auto file = read_file(kGolden / "nn" / "gmvae_small.tmbl");
  auto loaded = nn::load_model(file.data(), file.size());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  const auto image = nn::write_model_image(*loaded.model);
  auto adopted = nn::load_model_image(image.data(), image.size());
  INFO(adopted.error);
  REQUIRE(adopted.model);
  for (const auto& name : loaded.model->graph_names()) {
    INFO("graph " << name);
    const auto input =
        test::read_npy((kGolden / "nn" / ("gmvae_small." + name + ".input.npy")).string());
    nn::Sequence x(int(input.rows()), int(input.columns()));
    for (size_t i = 0; i < input.values.size(); ++i) x.data[i] = float(input.values[i]);
    const auto want = loaded.model->graph(name).forward(x);
    const auto got = adopted.model->graph(name).forward(x);
    CHECK(got.frames == want.frames);
    CHECK(same_bits(got.data, want.data));
  }

  // An unflatten record whose frames do not divide its input is refused.
  const size_t layers_at = kHeader + kGraphRecord * get32(image, 40);
  constexpr std::uint32_t kUnflattenKind = 8;  // nn/model_image.cpp's Kind::kUnflatten
  size_t unflatten_at = 0;
  for (size_t i = 0; i < get32(image, 44) && !unflatten_at; ++i)
    if (get32(image, layers_at + 128 * i) == kUnflattenKind) unflatten_at = layers_at + 128 * i;
  REQUIRE(unflatten_at != 0);
  CHECK(get32(image, unflatten_at + 8) == 43);  // frames, then the input size
  auto bad = image;
  put32(bad, unflatten_at + 8, 5);
  reseal(bad);
  CHECK_THAT(adopt_error(bad), Catch::Contains("layer sizes or parameters out of range"));
}

TEST_CASE("Adopting an image allocates a few blocks, however large the weights",
          "[model_image][realtime]") {
  // Same graphs, 12x the GRU and heads.
  test::VqTestModelOptions small, large;
  small.hidden = 24;
  large.hidden = 288;
  auto count = [](const test::VqTestModelOptions& options, size_t* bytes) {
    const auto image = prepared(test::vq_test_model_bytes(options), "vq_timbre").image;
    *bytes = image.size();
    auto block = block_of(image);
    long allocations = 0;
    {
      test::AllocationCounter counter;
      auto adopted = models::VqTimbre::adopt(std::move(block));
      allocations = counter.count();
      REQUIRE(adopted.model);
    }
    return allocations;
  };
  size_t small_bytes = 0, large_bytes = 0;
  count(small, &small_bytes);  // warms up one-time tables (CRC, FFT plans)
  const long small_count = count(small, &small_bytes);
  const long large_count = count(large, &large_bytes);
  INFO("allocations: " << small_count << " (" << small_bytes << " bytes) vs " << large_count << " ("
                       << large_bytes << " bytes)");
  CHECK(large_bytes > 4 * small_bytes);
  CHECK(large_count == small_count);
  CHECK(small_count < 250);

  // A cross-modal model: the anchors come from the image, so no graph runs.
  const auto oracle = prepared(test::oracle_model_bytes(), "crossmodal_vae").image;
  long crossmodal_count = 0;
  {
    auto block = block_of(oracle);
    test::AllocationCounter counter;
    auto adopted = models::CrossmodalVae::adopt(std::move(block));
    crossmodal_count = counter.count();
    REQUIRE(adopted.model);
  }
  INFO("cross-modal allocations: " << crossmodal_count);
  CHECK(crossmodal_count < 250);
}

namespace {

// Linear 3 -> 4, residual [layer_norm, Linear 4 -> 8, elu, Linear 8 -> 4], residual [tanh,
// Linear 4 -> 4], GRU 4 -> 3: a model image's records carry each residual's body after it.
std::vector<std::uint8_t> residual_model_bytes() {
  using nlohmann::json;
  auto noise = [](std::vector<int> shape, unsigned seed) {
    size_t n = 1;
    for (int d : shape) n *= size_t(d);
    return test::TestTensor{shape, test::white_noise(n, 0.4, seed)};
  };
  auto lin = [](const std::string& name) {
    return json{{"op", "linear"}, {"weight", name + ".weight"}, {"bias", name + ".bias"}};
  };
  const json block = json::array(
      {{{"op", "layer_norm"}, {"weight", "n.weight"}, {"bias", "n.bias"}, {"eps", 1e-5}},
       lin("up"),
       {{"op", "elu"}, {"alpha", 0.7}},
       lin("down")});
  const json header = {
      {"family", "test"},
      {"graphs",
       {{"main",
         json::array({lin("in"),
                      {{"op", "residual"}, {"ops", block}},
                      {{"op", "residual"}, {"ops", json::array({{{"op", "tanh"}}, lin("mix")})}},
                      {{"op", "gru"},
                       {"weight_ih", "g.weight_ih"},
                       {"weight_hh", "g.weight_hh"},
                       {"bias_ih", "g.bias_ih"},
                       {"bias_hh", "g.bias_hh"}}})}}}};
  return test::write_tmbl(header, {{"in.weight", noise({4, 3}, 1)},
                                   {"in.bias", noise({4}, 2)},
                                   {"n.weight", noise({4}, 3)},
                                   {"n.bias", noise({4}, 4)},
                                   {"up.weight", noise({8, 4}, 5)},
                                   {"up.bias", noise({8}, 6)},
                                   {"down.weight", noise({4, 8}, 7)},
                                   {"down.bias", noise({4}, 8)},
                                   {"mix.weight", noise({4, 4}, 9)},
                                   {"mix.bias", noise({4}, 10)},
                                   {"g.weight_ih", noise({9, 4}, 11)},
                                   {"g.weight_hh", noise({9, 3}, 12)},
                                   {"g.bias_ih", noise({9}, 13)},
                                   {"g.bias_hh", noise({9}, 14)}});
}

}  // namespace

TEST_CASE("An image of a graph with residuals runs as the file does, without allocating",
          "[model_image][residual]") {
  const auto file = residual_model_bytes();
  auto loaded = nn::load_model(file.data(), file.size());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  const auto image = nn::write_model_image(*loaded.model);
  CHECK(get32(image, 44) == 4 + 4 + 2);  // layer records: 4 layers, the bodies' 4 + 2
  auto adopted = nn::load_model_image(image.data(), image.size());
  INFO(adopted.error);
  REQUIRE(adopted.model);
  CHECK(nn::write_model_image(*adopted.model) == image);
  require_same_graphs(*loaded.model, *adopted.model);
  auto& graph = adopted.model->graph("main");
  REQUIRE(graph.size() == 4);
  const auto& residual = dynamic_cast<const nn::Residual&>(graph.layer(1));
  REQUIRE(residual.body_size() == 4);
  CHECK(dynamic_cast<const nn::Linear&>(residual.body(1)).weight().is_view());
  nn::Sequence x(25, 3);
  x.data = test::white_noise(x.data.size(), 1.0, 77);
  const auto want = loaded.model->graph("main").forward(x);
  CHECK(same_bits(graph.forward(x).data, want.data));
  // Streaming the adopted graph: no allocation, the offline result.
  std::vector<float> streamed, y(3);
  graph.reset();
  long allocations = 0;
  for (int t = 0; t < x.frames; ++t) {
    test::AllocationCounter counter;
    REQUIRE(graph.step(x.frame(t), y.data()));
    allocations += counter.count();
    streamed.insert(streamed.end(), y.begin(), y.end());
  }
  CHECK(allocations == 0);
  REQUIRE(streamed.size() == want.data.size());
  for (size_t i = 0; i < streamed.size(); ++i)
    CHECK(streamed[i] == Approx(want.data[i]).margin(1e-6));

  // Damaged residual records are refused with a message.
  const size_t layers_at = kHeader + kGraphRecord * get32(image, 40);
  constexpr std::uint32_t kResidualKind = 9;   // nn/model_image.cpp's Kind::kResidual
  const size_t residual_at = layers_at + 128;  // layer 1
  REQUIRE(get32(image, residual_at) == kResidualKind);
  CHECK(get32(image, residual_at + 8) == 4);   // width
  CHECK(get32(image, residual_at + 12) == 4);  // body layers
  auto bad = image;
  put32(bad, residual_at + 12, 0);
  reseal(bad);
  CHECK_THAT(adopt_error(bad), Catch::Contains("layer 1: residual body is empty"));
  bad = image;
  put32(bad, residual_at + 12, 17);
  reseal(bad);
  CHECK_THAT(adopt_error(bad), Catch::Contains("residual body of 17 ops exceeds the limit of 16"));
  bad = image;
  put32(bad, layers_at + 128 * 6 + 12, 16);  // the second residual's body: 2 records are left
  reseal(bad);
  CHECK_THAT(adopt_error(bad),
             Catch::Contains("layer 6: residual body of 16 layers runs past its graph"));
  bad = image;
  put32(bad, residual_at + 8, 5);
  reseal(bad);
  CHECK_THAT(adopt_error(bad), Catch::Contains("residual of width 5 has a body that takes 4"));
  bad = image;
  put32(bad, residual_at + 128, kResidualKind);  // its first body layer
  reseal(bad);
  CHECK_THAT(adopt_error(bad),
             Catch::Contains("residual body layer 0: a residual cannot be nested"));
  bad = image;
  put32(bad, residual_at + 12, 2);  // the body would end at 8 values
  reseal(bad);
  CHECK_THAT(adopt_error(bad), Catch::Contains("residual body gives 8 values for an input of 4"));
  bad = image;
  put32(bad, residual_at + 4, 1);  // a residual record holds no tensor
  reseal(bad);
  CHECK_THAT(adopt_error(bad), Catch::Contains("layer has 1 tensors, expected 0"));
}

TEST_CASE("prepare_model carries residuals into an engine's image", "[model_image][residual]") {
  // The oracle's decoders with a residual each: y = h + tanh(h), y = z + sigmoid(elu(z)).
  auto header = test::tmbl_header(test::oracle_model_bytes());
  auto& decoder = header["graphs"]["signal_decoder"];
  decoder.insert(
      decoder.begin() + 2,
      nlohmann::json{{"op", "residual"}, {"ops", nlohmann::json::array({{{"op", "tanh"}}})}});
  header["graphs"]["symbol_decoder"].push_back(
      {{"op", "residual"},
       {"ops", nlohmann::json::array({{{"op", "elu"}, {"alpha", 1.0}}, {{"op", "sigmoid"}}})}});
  const auto file = test::with_header(test::oracle_model_bytes(), header);
  check_crossmodal_image(file);
  auto loaded = models::CrossmodalVae::load(file.data(), file.size());
  REQUIRE(loaded.model);
  CHECK(loaded.model->model().graph("signal_decoder").layer(2).kind() == "residual");
}
