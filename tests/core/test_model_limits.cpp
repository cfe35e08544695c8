// The loader's limits (nn/model_limits.h, models/README.md "Limits"): one
// case per finding of the hostile-file review (issue 12), each a file that
// read memory outside the buffer, asked for gigabytes, overflowed the stack or
// kept the loader busy for minutes before the limits, and now gives a message
// naming the limit.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>

#include "crossmodal_test_model.h"
#include "timbrel/models/crossmodal_vae.h"
#include "timbrel/models/vq_timbre.h"
#include "timbrel/nn/layers.h"
#include "timbrel/nn/model_limits.h"
#include "tmbl_writer.h"

using namespace timbrel;
using nlohmann::json;

namespace {

std::string load_error(const std::vector<std::uint8_t>& bytes) {
  auto r = nn::load_model(bytes.data(), bytes.size());
  CHECK((r.model == nullptr) == !r.error.empty());
  return r.error;
}

test::TestTensor filled(std::vector<int> shape, float value = 0.01f) {
  size_t n = 1;
  for (int d : shape) n *= size_t(d);
  return {shape, std::vector<float>(n, value)};
}

// ops: a JSON array (json::array({...}): a one-element braced list would be an
// array with GCC but a copy of its element with clang).
json one_graph(json ops) {
  return {{"family", "test"}, {"name", "hostile"}, {"graphs", {{"main", std::move(ops)}}}};
}

json linear_op(const std::string& weight) {
  return {{"op", "linear"}, {"weight", weight}, {"bias", nullptr}};
}

// A file whose header is `text` verbatim (any JSON, valid or not) and whose
// tensor data is `data_bytes` zero bytes.
std::vector<std::uint8_t> raw_file(const std::string& text, size_t data_bytes = 0) {
  std::vector<std::uint8_t> out = {'T', 'M', 'B', 'L', 1, 0, 0, 0};
  for (int i = 0; i < 4; ++i) out.push_back(std::uint8_t(text.size() >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  while (out.size() % 16) out.push_back(0);
  out.resize(out.size() + data_bytes + 4, 0);
  test::reseal(out);
  return out;
}

}  // namespace

TEST_CASE("A tensor offset whose bounds check wrapped is outside the file", "[nn][limits]") {
  // Before: data_start + offset + bytes wrapped past 2^64 to a small number,
  // so the check passed and the copy read 16 bytes before the file buffer.
  json header = one_graph(json::array({linear_op("w")}));
  header["tensors"] = {{{"name", "w"},
                        {"shape", {2, 2}},
                        {"offset", std::numeric_limits<std::uint64_t>::max() - 15}}};
  const auto bytes = raw_file(header.dump(), 64);
  CHECK(load_error(bytes) ==
        "model file: truncated: tensor 'w' (16 bytes) lies outside the file's 64 bytes of tensor "
        "data");
}

TEST_CASE("A conv1d whose history wraps 32-bit sizes is refused", "[nn][limits]") {
  // span 65537 frames x 65536 channels = 2^32 + 65536 floats: 65536 after a
  // 32-bit size_t wrapped (WebAssembly), and the history writes ran past it.
  const json ops = {{{"op", "conv1d"}, {"weight", "w"}, {"bias", nullptr}, {"dilation", 65536}}};
  auto bytes = test::write_tmbl(one_graph(ops), {{"w", filled({2, 1, 65536})}});
  CHECK_THAT(load_error(bytes),
             Catch::Contains("conv1d span (kernel - 1) x dilation + 1 = 65537 frames exceeds the "
                             "limit of 65536"));
  // Within the span, still too much history (16 GB asked for by a 4 KB file before).
  const json wide = {{{"op", "conv1d"}, {"weight", "w"}, {"bias", nullptr}, {"dilation", 40000}}};
  bytes = test::write_tmbl(one_graph(wide), {{"w", filled({2, 1, 512})}});
  CHECK_THAT(load_error(bytes), Catch::Contains("conv1d history of 40001 frames x 512 channels = "
                                                "20480512 values exceeds the limit of 4194304"));
  // A dilation beyond 32 bits (2^30 x 2 channels: 8 GB from a 244-byte file before).
  const json far = {
      {{"op", "conv1d"}, {"weight", "w"}, {"bias", nullptr}, {"dilation", 1073741824}}};
  bytes = test::write_tmbl(one_graph(far), {{"w", filled({2, 1, 2})}});
  CHECK_THAT(load_error(bytes), Catch::Contains("'dilation' must be a whole number in 1-65536"));
  const json huge = {{{"op", "conv1d"},
                      {"weight", "w"},
                      {"bias", nullptr},
                      {"dilation", std::numeric_limits<std::uint64_t>::max()}}};
  bytes = test::write_tmbl(one_graph(huge), {{"w", filled({2, 1, 2})}});
  CHECK_THAT(load_error(bytes), Catch::Contains("'dilation' must be a whole number in 1-65536"));
}

TEST_CASE("Deeply nested JSON is refused before it is parsed", "[nn][limits]") {
  for (const int levels : {33, 10000, 100000}) {
    CAPTURE(levels);
    // {"family":"test","metadata":{"x":[[[...]]]},...}: the stack overflowed at 100,000.
    const std::string nested = std::string(size_t(levels), '[') + std::string(size_t(levels), ']');
    const std::string text =
        R"({"family":"test","metadata":{"x":)" + nested + R"(},"graphs":{},"tensors":[]})";
    CHECK_THAT(load_error(raw_file(text)),
               Catch::StartsWith("model file: header JSON nests deeper than 32 levels"));
  }
  // Brackets inside strings do not count; 32 levels load as far as the graphs.
  const std::string strings = R"({"family":"test","name":"[[[[{{{{\"[[[[","metadata":{"x":)" +
                              std::string(30, '[') + std::string(30, ']') +
                              R"(},"graphs":{},"tensors":[]})";
  CHECK(load_error(raw_file(strings)) == "model file: 'graphs' must be a non-empty object");
}

TEST_CASE("Size products are checked before they can overflow", "[nn][limits]") {
  SECTION("a dimension over the limit") {
    json header = one_graph(json::array({linear_op("w")}));
    header["tensors"] = {
        {{"name", "w"}, {"shape", {268435456, 268435456, 268435456}}, {"offset", 0}}};
    CHECK_THAT(load_error(raw_file(header.dump(), 16)),
               Catch::Contains("tensor 'w' has an invalid shape: each dimension must be 1-65536"));
  }
  SECTION("too many dimensions") {
    json header = one_graph(json::array({linear_op("w")}));
    header["tensors"] = {{{"name", "w"}, {"shape", {1, 1, 1, 1, 1}}, {"offset", 0}}};
    CHECK_THAT(load_error(raw_file(header.dump(), 16)),
               Catch::Contains("tensor 'w' has 5 dimensions, expected 1-4"));
  }
  SECTION("a product over the parameter limit") {
    json header = one_graph(json::array({linear_op("w")}));
    header["tensors"] = {{{"name", "w"}, {"shape", {65536, 65536, 65536, 65536}}, {"offset", 0}}};
    // 2^64 values: the product wrapped to 0 before.
    CHECK(load_error(raw_file(header.dump(), 16)) ==
          "model file: tensor 'w' has shape [65536, 65536]...: more values than the limit of "
          "16777216");
  }
  SECTION("a flatten whose frames x channels overflowed int") {
    // frames 2^28: frames x 16 channels overflowed a signed int (undefined
    // behaviour) and sized the scratch buffers by the result.
    const json ops = {linear_op("w"), {{"op", "flatten"}, {"frames", 268435456}}};
    CHECK_THAT(load_error(test::write_tmbl(one_graph(ops), {{"w", filled({16, 4})}})),
               Catch::Contains("'frames' must be a whole number in 1-65536"));
    const json wide = {linear_op("w"), {{"op", "flatten"}, {"frames", 65536}}};
    CHECK_THAT(load_error(test::write_tmbl(one_graph(wide), {{"w", filled({16, 4})}})),
               Catch::Contains("flatten output of 65536 frames x 16 channels = 1048576 values "
                               "exceeds the limit of 65536"));
  }
  SECTION("a flatten whose output does not feed the next op") {
    // The model image's adoption skipped this check after a flatten; both check it now.
    const json ops = {linear_op("a"), {{"op", "flatten"}, {"frames", 3}}, linear_op("b")};
    CHECK_THAT(load_error(test::write_tmbl(one_graph(ops),
                                           {{"a", filled({4, 2})}, {"b", filled({2, 20})}})),
               Catch::Contains("linear weight has wrong shape [2, 20] for 12 inputs"));
  }
  SECTION("Linear->GRU fusion in 64 bits") {
    // Its arithmetic count was `long`, 32 bits in WebAssembly: now 64-bit and budgeted.
    nn::Linear projection(65536, 4, std::vector<float>(size_t(4) * 65536, 0.0f), {});
    nn::Gru gru(4, 21845, std::vector<float>(size_t(3) * 21845 * 4, 0.0f), {}, {}, {});
    CHECK(gru.fusion_work(projection) == std::uint64_t(3) * 21845 * 65536 * 4);
  }
}

TEST_CASE("Huge claims are refused before anything is allocated", "[nn][limits]") {
  SECTION("many tensor entries over one block of data") {
    // 4096 entries naming the same 4 MB: 16 GB of copies before.
    json header = one_graph(json::array({linear_op("t0")}));
    header["tensors"] = json::array();
    for (int i = 0; i < 5; ++i)
      header["tensors"].push_back(
          {{"name", "t" + std::to_string(i)}, {"shape", {4096, 1024}}, {"offset", 0}});
    CHECK(load_error(raw_file(header.dump(), size_t(4096) * 1024 * 4)) ==
          "model file: the tensors hold more than 16777216 values in all (limit)");
  }
  SECTION("one tensor named by many ops") {
    json ops = json::array();
    for (int i = 0; i < 5; ++i) ops.push_back(linear_op("w"));
    const auto bytes = test::write_tmbl(one_graph(ops), {{"w", filled({2048, 2048})}});
    CHECK_THAT(load_error(bytes),
               Catch::Contains("the ops' weights hold more than 16777216 values"));
  }
  SECTION("counts over the limits") {
    json ops = json::array();
    for (int i = 0; i < 1025; ++i) ops.push_back({{"op", "relu"}});
    CHECK(load_error(test::write_tmbl(one_graph(ops), {})) ==
          "model file: the graphs hold 1025 ops in all, more than the limit of 1024");
    json header = one_graph(json::array({linear_op("w")}));
    header["tensors"] = json::array();
    for (int i = 0; i < 4097; ++i)
      header["tensors"].push_back({{"name", std::to_string(i)}, {"shape", {1}}, {"offset", 0}});
    CHECK(load_error(raw_file(header.dump(), 16)) ==
          "model file: the file lists 4097 tensors, more than the limit of 4096");
  }
  SECTION("a header over the limit") {
    const std::string text = R"({"family":"test","name":")" + std::string(size_t(4) << 20, 'x') +
                             R"(","graphs":{},"tensors":[]})";
    CHECK_THAT(load_error(raw_file(text)), Catch::Contains("exceeds the limit of 4194304"));
  }
  SECTION("a file over the limit") {
    std::vector<std::uint8_t> big((size_t(64) << 20) + 16, 0);
    std::memcpy(big.data(), "TMBL\1\0\0\0", 8);
    CHECK(load_error(big) ==
          "model file: the file has 67108880 bytes, more than the limit of 67108864");
  }
}

TEST_CASE("Family limits bound what set-up computes", "[nn][limits][models]") {
  // A vq_timbre latent of 50,000 made the codebook map's covariance 20 GB.
  json header = {{"family", "vq_timbre"},
                 {"metadata",
                  {{"sample_rate", 22050},
                   {"window", 1024},
                   {"hop", 256},
                   {"synthesis_window", 512},
                   {"latent", 50000},
                   {"hidden", 8},
                   {"codes", 1}}},
                 {"graphs",
                  {{"encoder", {linear_op("e")}},
                   {"decoder", {linear_op("d")}},
                   {"harmonic", {linear_op("h")}},
                   {"noise", {linear_op("n")}},
                   {"gain", {linear_op("g")}}}}};
  const auto bytes = test::write_tmbl(header, {{"e", filled({8, 513})},
                                               {"d", filled({8, 8})},
                                               {"h", filled({257, 8})},
                                               {"n", filled({257, 8})},
                                               {"g", filled({1, 8})}});
  const auto r = models::VqTimbre::load(bytes.data(), bytes.size());
  CHECK(r.error == "vq_timbre model: metadata 'latent' 50000 exceeds the limit of 256");
}

TEST_CASE("crossmodal_vae set-up graphs are limited in size", "[nn][limits][models]") {
  // Set-up runs symbol_encoder 324 times and signal_decoder 108 times: 2.5 M
  // weights there would cost ~0.6 G multiply-adds per load; the limit is 2 M.
  std::map<std::string, test::TestTensor> t;
  t["se.weight"] = test::zero_tensor({64, 409});
  t["se.bias"] = test::zero_tensor({64});
  t["ye0.weight"] = test::zero_tensor({8192, 24});
  t["ye0.bias"] = test::zero_tensor({8192});
  t["ye1.weight"] = test::zero_tensor({64, 8192});
  t["ye1.bias"] = test::zero_tensor({64});
  t["yd.weight"] = test::zero_tensor({24, 32});
  t["yd.bias"] = test::zero_tensor({24});
  t["sd0.weight"] = test::zero_tensor({4096, 32});
  t["sd0.bias"] = test::zero_tensor({4096});
  t["sd1.weight"] = test::zero_tensor({409, 4096});
  t["sd1.bias"] = test::zero_tensor({409});
  std::vector<float> mean(32, 0.0f), x(32, 0.0f), y(32, 0.0f);
  x[0] = y[1] = 1.0f;
  const json projection = {{"mean", mean}, {"axes", {x, y}}, {"extent", {{-1, 1}, {-1, 1}}}};
  const json header = {
      {"family", "crossmodal_vae"},
      {"metadata", test::crossmodal_metadata({"violin"}, {{55, 96}}, projection)},
      {"graphs",
       {{"signal_encoder", {test::linear_op("se")}},
        {"signal_decoder", {test::linear_op("sd0"), {{"op", "relu"}}, test::linear_op("sd1")}},
        {"symbol_encoder", {test::linear_op("ye0"), {{"op", "relu"}}, test::linear_op("ye1")}},
        {"symbol_decoder", {test::linear_op("yd")}}}}};
  const auto bytes = test::write_tmbl(header, t);
  const auto r = models::CrossmodalVae::load(bytes.data(), bytes.size());
  CHECK(r.error ==
        "crossmodal_vae model: graphs 'symbol_encoder' and 'signal_decoder' hold 2539993 weights, "
        "more than the limit of 2097152");
}

TEST_CASE("A file at the limits loads in bounded time", "[nn][limits][slow]") {
  // The 63 MB worst case: 16 M weights, and a Linear->GRU pair whose fusion
  // (2049 x 2048 x 2048 = 8.6 G multiply-adds, minutes in WebAssembly) is
  // over the fusion budget, so it stays unfused.
  const json ops = {linear_op("a"),
                    {{"op", "gru"},
                     {"weight_ih", "ih"},
                     {"weight_hh", "hh"},
                     {"bias_ih", nullptr},
                     {"bias_hh", nullptr}}};
  const auto bytes = test::write_tmbl(
      one_graph(ops),
      {{"a", filled({2048, 2048})}, {"ih", filled({2049, 2048})}, {"hh", filled({2049, 683})}});
  const auto start = std::chrono::steady_clock::now();
  auto r = nn::load_model(bytes.data(), bytes.size());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(r.error.empty());
  CHECK(r.model->graph("main").size() == 2);  // not fused
  CHECK(seconds < 5.0);
}

TEST_CASE("The hostile model files give their expected messages", "[nn][limits]") {
  // tests/hostile/models (python -m timbrel.fuzz_files): the same files and
  // messages as tests/wasm/hostile_models.test.mjs, through VqTimbre::load,
  // which the page's prepareModel calls.
  const std::string dir = std::string(TIMBREL_GOLDEN_DIR) + "/../hostile/models/";
  std::ifstream list(dir + "expected.json");
  REQUIRE(list);
  const json expected = json::parse(list);
  REQUIRE(expected.size() >= 10);
  for (const auto& [name, message] : expected.items()) {
    CAPTURE(name);
    std::ifstream in(dir + name, std::ios::binary);
    REQUIRE(in);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
    const auto r = models::VqTimbre::load(bytes.data(), bytes.size());
    CHECK(r.model == nullptr);
    CHECK(r.error == message.get<std::string>());
  }
}

TEST_CASE("A residual's body ops count towards the limit on ops", "[nn][limits][residual]") {
  // 61 residuals of 16 ReLUs and a linear: 62 + 976 = 1038 ops, over 1024.
  json ops = json::array({linear_op("w")});
  json body = json::array();
  for (std::uint64_t i = 0; i < nn::limits::kMaxResidualBody; ++i) body.push_back({{"op", "relu"}});
  for (int i = 0; i < 61; ++i) ops.push_back({{"op", "residual"}, {"ops", body}});
  CHECK(load_error(test::write_tmbl(one_graph(ops), {{"w", filled({4, 4})}})) ==
        "model file: the graphs hold 1038 ops in all, more than the limit of 1024");
  // 60 of them (61 + 960 = 1021 ops) load.
  ops.erase(ops.size() - 1);
  const auto bytes = test::write_tmbl(one_graph(ops), {{"w", filled({4, 4})}});
  auto r = nn::load_model(bytes.data(), bytes.size());
  INFO(r.error);
  CHECK(r.error.empty());
}
