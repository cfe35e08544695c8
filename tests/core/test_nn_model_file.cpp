#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "signals.h"
#include "timbrel/nn/layers.h"
#include "tmbl_writer.h"

using namespace timbrel;
using nlohmann::json;

namespace {

json small_header() {
  return {{"family", "test"},
          {"name", "small"},
          {"metadata", {{"sample_rate", 22050}, {"window", 1024}, {"hop", 256}}},
          {"graphs",
           {{"main",
             {{{"op", "linear"}, {"weight", "fc.weight"}, {"bias", "fc.bias"}},
              {{"op", "tanh"}},
              {{"op", "gru"},
               {"weight_ih", "gru.weight_ih"},
               {"weight_hh", "gru.weight_hh"},
               {"bias_ih", "gru.bias_ih"},
               {"bias_hh", "gru.bias_hh"}}}}}}};
}

std::map<std::string, test::TestTensor> small_tensors() {
  auto fill = [](std::vector<int> shape) {
    size_t n = 1;
    for (int d : shape) n *= size_t(d);
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = 0.01f * float(int(i % 17) - 8);
    return test::TestTensor{shape, v};
  };
  return {{"fc.weight", fill({4, 3})},      {"fc.bias", fill({4})},
          {"gru.weight_ih", fill({15, 4})}, {"gru.weight_hh", fill({15, 5})},
          {"gru.bias_ih", fill({15})},      {"gru.bias_hh", fill({15})}};
}

std::string load_error(const std::vector<std::uint8_t>& bytes) {
  auto r = nn::load_model(bytes.data(), bytes.size());
  CHECK((r.model == nullptr) == !r.error.empty());
  return r.error;
}

}  // namespace

TEST_CASE("A well-formed model file loads", "[nn][model_file]") {
  const auto bytes = test::write_tmbl(small_header(), small_tensors());
  auto r = nn::load_model(bytes.data(), bytes.size());
  REQUIRE(r.error.empty());
  CHECK(r.model->family() == "test");
  CHECK(r.model->name() == "small");
  CHECK(r.model->number("hop", 0) == 256);
  auto& g = r.model->graph("main");
  CHECK(g.input_size() == 3);
  CHECK(g.output_size() == 5);
  CHECK(g.streams());
}

TEST_CASE("f16 tensors load as the float32 values they hold", "[nn][model_file]") {
  // Values exact in binary16 (k / 64, the largest half 65504, the smallest
  // subnormal 2^-24, a negative zero): the f16 file computes what the f32 one does.
  auto exact = small_tensors();
  for (auto& [name, t] : exact)
    for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = float(int(i % 17) - 8) / 64.0f;
  exact["fc.bias"].data = {65504.0f, -5.9604644775390625e-08f, -0.0f, 0.75f};
  auto half = exact;
  for (auto& [name, t] : half) t.half = true;
  const auto f32 = test::write_tmbl(small_header(), exact);
  const auto f16 = test::write_tmbl(small_header(), half);
  CHECK(f16.size() < f32.size());
  auto a = nn::load_model(f32.data(), f32.size());
  auto b = nn::load_model(f16.data(), f16.size());
  REQUIRE(a.error.empty());
  REQUIRE(b.error.empty());
  nn::Sequence x(4, 3);
  for (int t = 0; t < 4; ++t)
    for (int c = 0; c < 3; ++c) x.frame(t)[c] = 0.1f * float(t - c);
  const auto ya = a.model->graph("main").forward(x), yb = b.model->graph("main").forward(x);
  for (int t = 0; t < 4; ++t)
    for (int c = 0; c < ya.channels; ++c) CHECK(ya.frame(t)[c] == yb.frame(t)[c]);

  // Refusals: another dtype, f16 data cut short, an f16 infinity or NaN.
  auto dtype = [&](const json& value) {
    auto header = small_header();
    auto bytes = test::write_tmbl(header, half);
    // Rewrite the entries with the given dtype (the data stays where it is).
    const std::string text(bytes.begin() + 12, bytes.begin() + 12 + long(bytes[8] | bytes[9] << 8));
    auto parsed = json::parse(text);
    parsed["tensors"][0]["dtype"] = value;
    return load_error(test::write_tmbl(parsed, half));
  };
  CHECK(dtype("bf16") ==
        "model file: tensor 'fc.bias' has dtype \"bf16\"; this engine reads \"f32\" and \"f16\"");
  CHECK(dtype(16) ==
        "model file: tensor 'fc.bias' has dtype 16; this engine reads \"f32\" and \"f16\"");
  auto infinite = half;
  infinite["fc.weight"].data[5] = 1e6f;  // beyond binary16: stored as infinity
  CHECK(load_error(test::write_tmbl(small_header(), infinite)) ==
        "model file: tensor 'fc.weight' contains NaN or Inf");
  auto bytes = test::write_tmbl(small_header(), half);
  bytes.erase(bytes.end() - 20, bytes.end() - 4);  // the last tensor's data cut
  test::reseal(bytes);
  CHECK(load_error(bytes).find("truncated: tensor") != std::string::npos);
}

TEST_CASE("The loader names what is wrong with a bad model file", "[nn][model_file]") {
  const auto good = test::write_tmbl(small_header(), small_tensors());

  SECTION("truncated") {
    CHECK_THAT(load_error({good.begin(), good.begin() + 10}), Catch::Contains("truncated"));
    CHECK_THAT(load_error({good.begin(), good.end() - 37}),
               Catch::Contains("truncated") || Catch::Contains("checksum"));
    auto short_header = good;
    short_header[8] = 0xFF;
    short_header[9] = 0xFF;
    test::reseal(short_header);
    CHECK_THAT(load_error(short_header), Catch::Contains("truncated"));
  }
  SECTION("bad magic") {
    auto bad = good;
    bad[0] = 'X';
    CHECK_THAT(load_error(bad), Catch::Contains("bad magic"));
  }
  SECTION("unknown version") {
    CHECK_THAT(load_error(test::write_tmbl(small_header(), small_tensors(), 7)),
               Catch::Contains("unknown version 7"));
  }
  SECTION("corrupted byte") {
    auto bad = good;
    bad[bad.size() - 20] ^= 0x40;
    CHECK_THAT(load_error(bad), Catch::Contains("checksum"));
  }
  SECTION("missing tensor") {
    auto tensors = small_tensors();
    tensors.erase("gru.bias_hh");
    CHECK_THAT(load_error(test::write_tmbl(small_header(), tensors)),
               Catch::Contains("missing tensor 'gru.bias_hh'"));
  }
  SECTION("extra tensor") {
    auto tensors = small_tensors();
    tensors["unused.weight"] = {{2}, {1.0f, 2.0f}};
    CHECK_THAT(load_error(test::write_tmbl(small_header(), tensors)),
               Catch::Contains("extra tensor 'unused.weight'"));
  }
  SECTION("wrong shape") {
    auto tensors = small_tensors();
    tensors["gru.weight_hh"] = {{15, 4}, std::vector<float>(60, 0.0f)};
    CHECK_THAT(load_error(test::write_tmbl(small_header(), tensors)),
               Catch::Contains("wrong shape"));
    tensors = small_tensors();
    tensors["gru.weight_ih"] = {{15, 6}, std::vector<float>(90, 0.0f)};  // linear gives 4
    CHECK_THAT(load_error(test::write_tmbl(small_header(), tensors)),
               Catch::Contains("wrong shape"));
  }
  SECTION("NaN or Inf weights") {
    auto tensors = small_tensors();
    tensors["fc.bias"].data[2] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THAT(load_error(test::write_tmbl(small_header(), tensors)),
               Catch::Contains("NaN or Inf"));
    tensors = small_tensors();
    tensors["fc.weight"].data[0] = std::numeric_limits<float>::infinity();
    CHECK_THAT(load_error(test::write_tmbl(small_header(), tensors)),
               Catch::Contains("NaN or Inf"));
  }
  SECTION("metadata out of range") {
    auto header = small_header();
    header["metadata"]["sample_rate"] = 1000;
    CHECK_THAT(load_error(test::write_tmbl(header, small_tensors())),
               Catch::Contains("metadata out of range") && Catch::Contains("sample_rate"));
    header = small_header();
    header["metadata"]["hop"] = 4096;
    CHECK_THAT(load_error(test::write_tmbl(header, small_tensors())), Catch::Contains("hop"));
  }
  SECTION("header problems") {
    auto header = small_header();
    header["graphs"]["main"][1] = {{"op", "swish"}};
    CHECK_THAT(load_error(test::write_tmbl(header, small_tensors())),
               Catch::Contains("unknown op 'swish'"));
    header = small_header();
    header["family"] = "diffusion";
    CHECK_THAT(load_error(test::write_tmbl(header, small_tensors())),
               Catch::Contains("unknown model family"));
    header = small_header();
    header["family"] = "vq_timbre";
    CHECK_THAT(load_error(test::write_tmbl(header, small_tensors())),
               Catch::Contains("no 'encoder' graph"));
    auto not_json = good;
    not_json[12] = '[';
    test::reseal(not_json);
    CHECK_THAT(load_error(not_json), Catch::Contains("not valid JSON"));
  }
}

TEST_CASE("An unflatten op loads with its frames and refuses frames that do not divide",
          "[nn][model_file][unflatten]") {
  auto header_with = [](json unflatten) {
    return json{{"family", "test"},
                {"graphs",
                 {{"main",
                   {{{"op", "linear"}, {"weight", "fc.weight"}, {"bias", nullptr}},
                    std::move(unflatten),
                    {{"op", "conv1d"}, {"weight", "c.weight"}, {"bias", nullptr}}}}}}};
  };
  // Linear 2 -> 12, unflatten to 4 frames x 3, conv1d (kernel 1) 3 -> 1.
  const std::map<std::string, test::TestTensor> tensors = {
      {"fc.weight", {{12, 2}, std::vector<float>(24, 0.5f)}},
      {"c.weight", {{1, 1, 3}, {1.0f, 1.0f, 1.0f}}}};
  const auto bytes = test::write_tmbl(header_with({{"op", "unflatten"}, {"frames", 4}}), tensors);
  auto r = nn::load_model(bytes.data(), bytes.size());
  REQUIRE(r.error.empty());
  auto& graph = r.model->graph("main");
  CHECK_FALSE(graph.streams());
  REQUIRE(graph.layer(1).kind() == "unflatten");
  CHECK(graph.layer(1).output_size() == 3);
  nn::Sequence x(1, 2);
  x.data = {1.0f, 1.0f};
  const auto y = graph.forward(x);
  CHECK(y.frames == 4);
  CHECK(y.channels == 1);
  CHECK(y.data == std::vector<float>(4, 3.0f));

  CHECK_THAT(
      load_error(test::write_tmbl(header_with({{"op", "unflatten"}, {"frames", 5}}), tensors)),
      Catch::Contains("graph 'main' op 1: unflatten input of 12 values is not a whole "
                      "number of 5 frames"));
  CHECK_THAT(load_error(test::write_tmbl(header_with({{"op", "unflatten"}}), tensors)),
             Catch::Contains("op 1: unflatten needs 'frames'"));
  CHECK_THAT(
      load_error(test::write_tmbl(header_with({{"op", "unflatten"}, {"frames", 0}}), tensors)),
      Catch::Contains("op 1: 'frames' must be a whole number in 1-65536"));
  CHECK_THAT(load_error(test::write_tmbl(header_with({{"op", "unflatten"}, {"frames", 268435456}}),
                                         tensors)),
             Catch::Contains("op 1: 'frames' must be a whole number in 1-65536"));
  // 12 values into 6 frames of 2 channels: the conv1d's 3 inputs no longer fit.
  CHECK_THAT(
      load_error(test::write_tmbl(header_with({{"op", "unflatten"}, {"frames", 6}}), tensors)),
      Catch::Contains("op 2: conv1d weight has wrong shape [1, 1, 3] for 2 input channels"));
  auto starts = header_with({{"op", "unflatten"}, {"frames", 4}});
  starts["graphs"]["main"].erase(0);
  CHECK_THAT(load_error(test::write_tmbl(starts, {{"c.weight", tensors.at("c.weight")}})),
             Catch::Contains("op 0: unflatten cannot start a graph"));
}

TEST_CASE("Fusing Linear into the GRU changes outputs only by rounding", "[nn][model_file]") {
  json header = {{"family", "test"},
                 {"graphs",
                  {{"main",
                    {{{"op", "linear"}, {"weight", "fc.weight"}, {"bias", "fc.bias"}},
                     {{"op", "gru"},
                      {"weight_ih", "gru.weight_ih"},
                      {"weight_hh", "gru.weight_hh"},
                      {"bias_ih", "gru.bias_ih"},
                      {"bias_hh", "gru.bias_hh"}}}}}}};
  auto noise = [](std::vector<int> shape, unsigned seed) {
    size_t n = 1;
    for (int d : shape) n *= size_t(d);
    return test::TestTensor{shape, test::white_noise(n, 0.3, seed)};
  };
  const auto bytes = test::write_tmbl(header, {{"fc.weight", noise({12, 8}, 1)},
                                               {"fc.bias", noise({12}, 2)},
                                               {"gru.weight_ih", noise({30, 12}, 3)},
                                               {"gru.weight_hh", noise({30, 10}, 4)},
                                               {"gru.bias_ih", noise({30}, 5)},
                                               {"gru.bias_hh", noise({30}, 6)}});
  auto fused = nn::load_model(bytes.data(), bytes.size());
  auto exact = nn::load_model(bytes.data(), bytes.size(), nn::LoadOptions{false});
  REQUIRE(fused.error.empty());
  REQUIRE(exact.error.empty());
  CHECK(fused.model->graph("main").size() == 1);
  CHECK(exact.model->graph("main").size() == 2);
  nn::Sequence x(40, 8);
  x.data = test::white_noise(x.data.size(), 1.0, 7);
  const auto a = fused.model->graph("main").forward(x);
  const auto b = exact.model->graph("main").forward(x);
  double worst = 0.0;
  for (size_t i = 0; i < a.data.size(); ++i)
    worst = std::max(worst, double(std::fabs(a.data[i] - b.data[i])));
  CHECK(worst < 1e-5);
}

TEST_CASE("CRC-32 (slicing-by-8) equals the bytewise definition at every length and alignment",
          "[nn][model_file]") {
  const std::string check = "123456789";
  CHECK(nn::crc32(reinterpret_cast<const std::uint8_t*>(check.data()), check.size()) ==
        0xCBF43926u);
  CHECK(nn::crc32(nullptr, 0) == 0u);
  std::vector<std::uint8_t> bytes(300);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::uint8_t((i * 131u + 7u) ^ (i >> 3));
  auto bytewise = [](const std::uint8_t* p, size_t n) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
      crc ^= p[i];
      for (int k = 0; k < 8; ++k) crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return crc ^ 0xFFFFFFFFu;
  };
  bool all_equal = true;
  for (size_t offset = 0; offset < 8; ++offset)
    for (size_t n = 0; n + offset <= bytes.size(); n += 1 + n / 16)
      all_equal &= nn::crc32(bytes.data() + offset, n) == bytewise(bytes.data() + offset, n);
  CHECK(all_equal);
}

namespace {

// main: Linear 2 -> 3 ("in"), residual [Linear 3 -> 4 ("up"), ReLU, Linear 4 -> 3 ("down")], tanh.
json residual_header(json body) {
  return {{"family", "test"},
          {"graphs",
           {{"main",
             {{{"op", "linear"}, {"weight", "in.weight"}, {"bias", nullptr}},
              {{"op", "residual"}, {"ops", std::move(body)}},
              {{"op", "tanh"}}}}}}};
}

json residual_body() {
  return json::array({{{"op", "linear"}, {"weight", "up.weight"}, {"bias", "up.bias"}},
                      {{"op", "relu"}},
                      {{"op", "linear"}, {"weight", "down.weight"}, {"bias", nullptr}}});
}

std::map<std::string, test::TestTensor> residual_tensors() {
  return {{"in.weight", {{3, 2}, {1, 0, 0, 1, 1, 1}}},
          {"up.weight", {{4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, -1, -1, -1}}},
          {"up.bias", {{4}, {0, 0, 0, 0.5f}}},
          {"down.weight", {{3, 4}, {0.5f, 0, 0, 1, 0, 0.5f, 0, 1, 0, 0, 0.5f, 1}}}};
}

}  // namespace

TEST_CASE("A residual op loads, counts its body's weights and computes x + body(x)",
          "[nn][model_file][residual]") {
  const auto bytes = test::write_tmbl(residual_header(residual_body()), residual_tensors());
  auto r = nn::load_model(bytes.data(), bytes.size());
  INFO(r.error);
  REQUIRE(r.error.empty());
  auto& graph = r.model->graph("main");
  REQUIRE(graph.size() == 3);
  REQUIRE(graph.layer(1).kind() == "residual");
  CHECK(graph.streams());
  CHECK(graph.input_size() == 2);
  CHECK(graph.output_size() == 3);
  CHECK(graph.parameters() == (6 + 3) + (12 + 4) + (12 + 3));
  const auto& residual = dynamic_cast<const nn::Residual&>(graph.layer(1));
  REQUIRE(residual.body_size() == 3);
  CHECK(residual.body(2).kind() == "linear");
  // x = [1, -2]: h = [1, -2, -1]; up: [1, -2, -1, 2.5], relu [1, 0, 0, 2.5];
  // down: [0.5 + 2.5, 2.5, 2.5] = [3, 2.5, 2.5]; h + body = [4, 0.5, 1.5]; then tanh.
  nn::Sequence x(1, 2);
  x.data = {1.0f, -2.0f};
  const auto y = graph.forward(x);
  REQUIRE(y.frames == 1);
  CHECK(y.data[0] == Approx(std::tanh(4.0)).epsilon(1e-6));
  CHECK(y.data[1] == Approx(std::tanh(0.5)).epsilon(1e-6));
  CHECK(y.data[2] == Approx(std::tanh(1.5)).epsilon(1e-6));

  // A residual may start a graph when its body's first op carries weights.
  json first = residual_header(residual_body());
  first["graphs"]["main"].erase(0);
  auto tensors = residual_tensors();
  tensors.erase("in.weight");
  const auto starts = test::write_tmbl(first, tensors);
  auto s = nn::load_model(starts.data(), starts.size());
  INFO(s.error);
  REQUIRE(s.error.empty());
  CHECK(s.model->graph("main").input_size() == 3);
}

TEST_CASE("The loader names what is wrong with a residual op", "[nn][model_file][residual]") {
  const auto tensors = residual_tensors();
  auto error_with = [&](json residual_op) {
    json header = residual_header(residual_body());
    header["graphs"]["main"][1] = std::move(residual_op);
    return load_error(test::write_tmbl(header, tensors));
  };
  auto body_with = [](size_t index, json op) {
    json body = residual_body();
    body[index] = std::move(op);
    return json{{"op", "residual"}, {"ops", body}};
  };
  CHECK(error_with({{"op", "residual"}}) ==
        "model file: graph 'main' op 1: residual needs 'ops', the list of its body's ops");
  CHECK(error_with({{"op", "residual"}, {"ops", "up"}}) ==
        "model file: graph 'main' op 1: residual needs 'ops', the list of its body's ops");
  CHECK(error_with({{"op", "residual"}, {"ops", json::array()}}) ==
        "model file: graph 'main' op 1: residual body is empty: y = x + body(x) needs at least "
        "one op");
  // Width change: the body ends at 4 values for an input of 3.
  json wide = residual_body();
  wide.erase(2);
  CHECK_THAT(error_with({{"op", "residual"}, {"ops", wide}}),
             Catch::Contains("graph 'main' op 1: residual body gives 4 values for an input of 3: "
                             "y = x + body(x) needs the same width"));
  CHECK_THAT(
      error_with(body_with(1, {{"op", "residual"}, {"ops", json::array({{{"op", "relu"}}})}})),
      Catch::Contains("graph 'main' op 1 body op 1: a residual cannot be nested in a "
                      "residual body"));
  CHECK_THAT(error_with(body_with(1, {{"op", "swish"}})),
             Catch::Contains("graph 'main' op 1 body op 1: unknown op 'swish'"));
  CHECK_THAT(error_with(body_with(1, {{"op", "flatten"}, {"frames", 2}})),
             Catch::Contains("graph 'main' op 1 body op 1: 'flatten' is not allowed in a residual "
                             "body (frame-wise ops only: linear, layer_norm, activations)"));
  CHECK_THAT(
      error_with(body_with(0, {{"op", "conv1d"}, {"weight", "up.weight"}, {"bias", nullptr}})),
      Catch::Contains("body op 0: 'conv1d' is not allowed in a residual body"));
  CHECK_THAT(error_with(body_with(1, 7)),
             Catch::Contains("graph 'main' op 1 body op 1: an op must be an object"));
  // A body op whose weights do not fit the residual's input.
  CHECK_THAT(
      error_with(body_with(0, {{"op", "linear"}, {"weight", "down.weight"}, {"bias", nullptr}})),
      Catch::Contains("graph 'main' op 1 body op 0: linear weight has wrong shape [3, 4] for "
                      "3 inputs"));
  json long_body = json::array();
  for (int i = 0; i < 17; ++i) long_body.push_back({{"op", "relu"}});
  CHECK(error_with({{"op", "residual"}, {"ops", long_body}}) ==
        "model file: graph 'main' op 1: residual body of 17 ops exceeds the limit of 16");
  // A body's tensor that is missing, and one no op names.
  auto missing = tensors;
  missing.erase("up.bias");
  CHECK_THAT(load_error(test::write_tmbl(residual_header(residual_body()), missing)),
             Catch::Contains("body op 0: missing tensor 'up.bias'"));
  json no_bias = residual_body();
  no_bias[0]["bias"] = nullptr;
  CHECK_THAT(load_error(test::write_tmbl(residual_header(no_bias), tensors)),
             Catch::Contains("extra tensor 'up.bias'"));
  // At the start of a graph, a body that starts sizeless has no width.
  json first = json{
      {"family", "test"},
      {"graphs",
       {{"main", json::array({{{"op", "residual"}, {"ops", json::array({{{"op", "relu"}}})}}})}}}};
  CHECK(load_error(test::write_tmbl(first, {})) ==
        "model file: graph 'main' op 0 body op 0: relu cannot start a graph (its size is unknown)");
}
