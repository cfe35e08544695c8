// Loads a .tmbl model file (format: models/README.md) from a byte buffer: a
// file natively, a fetched ArrayBuffer in the page. Never throws: a bad file
// gives an error message naming the problem, so the caller keeps running.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/nn/graph.h"
#include "timbrel/nn/weights.h"

namespace timbrel::nn {

constexpr std::uint32_t kModelFileVersion = 1;

class ImageBlock;  // nn/model_image.h
namespace detail {
struct ModelAccess;
}

class Model {
 public:
  ~Model();
  const std::string& family() const { return family_; }
  const std::string& name() const { return name_; }
  bool has_graph(const std::string& graph) const { return graphs_.count(graph) != 0; }
  Graph& graph(const std::string& graph) { return graphs_.at(graph); }
  const Graph& graph(const std::string& graph) const { return graphs_.at(graph); }
  std::vector<std::string> graph_names() const;

  // Metadata accessors (fallback when the key is absent or of another type).
  double number(const std::string& key, double fallback) const;
  std::string text(const std::string& key, const std::string& fallback) const;
  std::vector<std::string> texts(const std::string& key) const;
  std::vector<float> numbers(const std::string& key) const;
  std::string metadata_json() const;

  // Arrays a model family computed for this model ahead of time and stored in
  // its model image (nn/model_image.h, models/prepared_model.h); null when absent.
  const Weights* prepared(const std::string& name) const;
  const std::map<std::string, Weights>& prepared_arrays() const { return prepared_; }

 private:
  friend struct detail::ModelAccess;
  Model();
  struct Metadata;
  std::string family_, name_;
  // An adopted image: the block its layers' weights view. Declared before the
  // graphs, so it is freed after them.
  std::unique_ptr<ImageBlock> image_;
  std::map<std::string, Graph> graphs_;
  std::unique_ptr<Metadata> metadata_;
  std::map<std::string, Weights> prepared_;
};

struct LoadResult {
  std::unique_ptr<Model> model;  // null on error
  std::string error;             // empty on success
};

struct LoadOptions {
  // Fold Linear -> GRU pairs (Graph::fuse_linear_into_gru): same model, less
  // arithmetic per step; off to run the file's ops exactly as written.
  bool fuse = true;
};

LoadResult load_model(const std::uint8_t* bytes, std::size_t size, const LoadOptions& options = {});
LoadResult load_model_file(const std::string& path, const LoadOptions& options = {});

// CRC-32 (IEEE 802.3, as zlib's crc32) of a byte range; chained like zlib's:
// crc32(b, n, crc32(a, m)) is the CRC of a followed by b.
std::uint32_t crc32(const std::uint8_t* bytes, std::size_t size, std::uint32_t previous = 0);

}  // namespace timbrel::nn
