#include "timbrel/nn/model_image.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "model_access.h"
#include "timbrel/nn/layers.h"
#include "timbrel/nn/model_limits.h"

namespace timbrel::nn {

using Json = nlohmann::json;

// --- ImageBlock ----------------------------------------------------------------

void ImageBlock::Free::operator()(std::uint8_t* p) const noexcept { std::free(p); }

ImageBlock ImageBlock::allocate(std::size_t size) noexcept {
  ImageBlock block;
  if (size == 0 || size > kMaxModelImageSize) return block;
  void* p = nullptr;
  // posix_memalign reports failure instead of throwing or aborting (in
  // WebAssembly malloc returns null when the heap cannot grow).
  if (posix_memalign(&p, 16, size) != 0 || !p) return block;
  block.data_.reset(static_cast<std::uint8_t*>(p));
  block.size_ = size;
  return block;
}

namespace {

// --- layout ----------------------------------------------------------------------

constexpr char kMagic[4] = {'T', 'M', 'B', 'I'};
constexpr std::uint64_t kGraphRecord = 16, kLayerRecord = 128, kPreparedRecord = 32;
constexpr int kMaxTensors = 4, kInts = 8, kReals = 4;
// Header fields.
constexpr std::size_t kTotalSize = 8, kArenaOffset = 16, kArenaSize = 24, kStructureSize = 32,
                      kStructureCrc = 36, kGraphCount = 40, kLayerCount = 44, kPreparedCount = 48,
                      kStringsSize = 52, kFamily = 56, kName = 64, kMetadata = 72;
// Layer record fields.
constexpr std::size_t kKind = 0, kTensorCount = 4, kIntsAt = 8, kRealsAt = 40, kTensorsAt = 64;
// Sizes a layer dimension and a tensor may take: the .tmbl loader's limits.
constexpr std::uint64_t kMaxDimension = limits::kMaxDimension;
constexpr std::uint64_t kMaxTensorValues = limits::kMaxParameters;

enum class Kind : std::uint32_t {
  kLinear = 1,
  kConv1d,
  kGru,
  kLayerNorm,
  kVq,
  kActivation,
  kFlatten,
  kUnflatten,
  // ints: width, body layers N; the N body layers' records follow it directly
  // (counted in its graph's layer count).
  kResidual,
};

std::uint64_t align16(std::uint64_t n) { return (n + 15) / 16 * 16; }

std::uint32_t u32_at(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);  // little-endian hosts (x86-64, WebAssembly)
  return v;
}
std::uint64_t u64_at(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
float f32_at(const std::uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// --- writing ---------------------------------------------------------------------

struct TensorRef {
  const float* data;
  std::size_t count;
};

struct LayerRecord {
  Kind kind{};
  std::int32_t ints[kInts] = {};
  float reals[kReals] = {};
  std::vector<TensorRef> tensors;
};

TensorRef ref(const Weights& w) { return {w.data(), w.size()}; }

LayerRecord record_of(const Layer& layer) {
  LayerRecord r;
  if (const auto* l = dynamic_cast<const Linear*>(&layer)) {
    r.kind = Kind::kLinear;
    r.ints[0] = l->input_size();
    r.ints[1] = l->output_size();
    r.tensors = {ref(l->weight()), ref(l->bias())};
  } else if (const auto* c = dynamic_cast<const Conv1d*>(&layer)) {
    const Conv1d::Shape& s = c->shape();
    r.kind = Kind::kConv1d;
    const std::int32_t ints[] = {s.in,       s.out,          s.kernel,       s.stride,
                                 s.dilation, s.padding_left, s.padding_right};
    std::copy(std::begin(ints), std::end(ints), r.ints);
    r.tensors = {ref(c->weight()), ref(c->bias())};
  } else if (const auto* g = dynamic_cast<const Gru*>(&layer)) {
    r.kind = Kind::kGru;
    r.ints[0] = g->input_size();
    r.ints[1] = g->output_size();
    r.tensors = {ref(g->weight_ih()), ref(g->weight_hh()), ref(g->bias_ih()), ref(g->bias_hh())};
  } else if (const auto* n = dynamic_cast<const LayerNorm*>(&layer)) {
    r.kind = Kind::kLayerNorm;
    r.ints[0] = n->input_size();
    r.reals[0] = n->eps();
    r.tensors = {ref(n->weight()), ref(n->bias())};
  } else if (const auto* q = dynamic_cast<const VectorQuantizer*>(&layer)) {
    r.kind = Kind::kVq;
    r.ints[0] = q->codes();
    r.ints[1] = q->input_size();
    r.tensors = {ref(q->codebook())};
  } else if (const auto* a = dynamic_cast<const Activation*>(&layer)) {
    r.kind = Kind::kActivation;
    r.ints[0] = std::int32_t(a->activation());
    r.ints[1] = a->input_size();
    r.reals[0] = a->a();
    r.reals[1] = a->b();
  } else if (const auto* f = dynamic_cast<const Flatten*>(&layer)) {
    r.kind = Kind::kFlatten;
    r.ints[0] = f->frames();
    r.ints[1] = f->input_size();
  } else if (const auto* u = dynamic_cast<const Unflatten*>(&layer)) {
    r.kind = Kind::kUnflatten;
    r.ints[0] = u->frames();
    r.ints[1] = u->input_size();
  } else if (const auto* res = dynamic_cast<const Residual*>(&layer)) {
    r.kind = Kind::kResidual;
    r.ints[0] = res->input_size();
    r.ints[1] = std::int32_t(res->body_size());
  }
  return r;
}

// The records of one layer: itself, then a residual's body layers.
void append_records(const Layer& layer, std::vector<LayerRecord>* out) {
  out->push_back(record_of(layer));
  if (const auto* res = dynamic_cast<const Residual*>(&layer))
    for (std::size_t i = 0; i < res->body_size(); ++i) out->push_back(record_of(res->body(i)));
}

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>* out) : out_(*out) {}
  void u32(std::size_t at, std::uint32_t v) { std::memcpy(out_.data() + at, &v, 4); }
  void u64(std::size_t at, std::uint64_t v) { std::memcpy(out_.data() + at, &v, 8); }
  void f32(std::size_t at, float v) { std::memcpy(out_.data() + at, &v, 4); }
  // A string reference (offset into the pool, length) at `at`.
  void str(std::size_t at, const std::string& s) {
    u32(at, std::uint32_t(pool_.size()));
    u32(at + 4, std::uint32_t(s.size()));
    pool_ += s;
  }
  // Reserves room in the arena for a tensor; returns its arena offset.
  std::uint64_t place(TensorRef t) {
    const std::uint64_t at = arena_;
    pending_.push_back({at, t});
    arena_ = align16(arena_ + std::uint64_t(t.count) * 4);
    return at;
  }
  const std::string& pool() const { return pool_; }
  std::uint64_t arena_size() const { return arena_; }
  void copy_arena(std::size_t arena_offset) {
    for (const auto& [at, t] : pending_)
      if (t.count > 0) std::memcpy(out_.data() + arena_offset + at, t.data, t.count * 4);
  }

 private:
  std::vector<std::uint8_t>& out_;
  std::string pool_;
  std::uint64_t arena_ = 0;
  std::vector<std::pair<std::uint64_t, TensorRef>> pending_;
};

// --- reading ---------------------------------------------------------------------

class Reader {
 public:
  Reader(const std::uint8_t* image, std::uint64_t strings_at, std::uint64_t strings_size,
         std::uint64_t arena_at, std::uint64_t arena_size)
      : image_(image),
        strings_at_(strings_at),
        strings_size_(strings_size),
        arena_at_(arena_at),
        arena_size_(arena_size) {}

  // The string referenced at `at`, or false.
  bool str(std::size_t at, std::string* out) const {
    const std::uint64_t offset = u32_at(image_ + at), length = u32_at(image_ + at + 4);
    if (offset > strings_size_ || length > strings_size_ - offset) return false;
    out->assign(reinterpret_cast<const char*>(image_ + strings_at_ + offset), size_t(length));
    return true;
  }

  // A view of `count` floats at arena offset `offset`, which must follow the
  // previous tensor (no overlap, record order) and fit; else the problem.
  std::string take(std::uint64_t offset, std::uint64_t count, std::uint64_t expected,
                   Weights* out) {
    if (count != expected)
      return "holds " + std::to_string(count) + " values, its shape needs " +
             std::to_string(expected);
    if (offset % 16 != 0) return "is not 16-byte aligned";
    if (offset < next_free_) return "overlaps the data before it";
    if (offset > arena_size_ || count > (arena_size_ - offset) / 4)
      return "lies outside the image (offset " + std::to_string(offset) + ", " +
             std::to_string(count) + " floats, arena of " + std::to_string(arena_size_) + " bytes)";
    next_free_ = offset + count * 4;
    *out = Weights::view(reinterpret_cast<const float*>(image_ + arena_at_ + offset),
                         std::size_t(count));
    return "";
  }

 private:
  const std::uint8_t* image_;
  std::uint64_t strings_at_, strings_size_, arena_at_, arena_size_;
  std::uint64_t next_free_ = 0;
};

bool dimension_ok(std::int64_t d) { return d >= 1 && std::uint64_t(d) <= kMaxDimension; }

// Builds the layer of one record; null and *problem set when the record is bad.
std::unique_ptr<Layer> build_layer(const std::uint8_t* record, Reader& reader,
                                   std::string* problem) {
  const auto kind = Kind(u32_at(record + kKind));
  const std::uint32_t tensor_count = u32_at(record + kTensorCount);
  std::int64_t ints[kInts];
  float reals[kReals];
  for (int i = 0; i < kInts; ++i)
    ints[i] = std::int32_t(u32_at(record + kIntsAt + 4 * std::size_t(i)));
  for (int i = 0; i < kReals; ++i) reals[i] = f32_at(record + kRealsAt + 4 * std::size_t(i));

  // Expected float counts of the tensors, from the sizes; each size within
  // the loader's limits (nn/model_limits.h), each count within kMaxTensorValues.
  bool sizes_ok = true;
  auto dims = [&](std::initializer_list<int> which) {
    for (int d : which) sizes_ok = sizes_ok && dimension_ok(ints[d]);
    return sizes_ok;
  };
  auto count = [&](std::initializer_list<std::int64_t> factors) {
    std::uint64_t n = 1;
    for (std::int64_t f : factors) {
      n *= std::uint64_t(f);  // n <= 2^24 and f <= 3 x 2^16 before: no wrap
      if (n > kMaxTensorValues) sizes_ok = false, n = 1;
    }
    return n;
  };
  std::vector<std::uint64_t> expected;
  switch (kind) {
    case Kind::kLinear:
      if (dims({0, 1})) expected = {count({ints[0], ints[1]}), count({ints[1]})};
      break;
    case Kind::kConv1d:
      if (limits::conv1d_problem({ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6]})
              .empty())
        expected = {count({ints[2], ints[1], ints[0]}), count({ints[1]})};
      else
        sizes_ok = false;
      break;
    case Kind::kGru:
      if (dims({0, 1}))
        expected = {count({3, ints[1], ints[0]}), count({3, ints[1], ints[1]}), count({3, ints[1]}),
                    count({3, ints[1]})};
      break;
    case Kind::kLayerNorm:
      if (dims({0}) && reals[0] > 0.0f && std::isfinite(reals[0]))
        expected = {count({ints[0]}), count({ints[0]})};
      else
        sizes_ok = false;
      break;
    case Kind::kVq:
      if (dims({0, 1})) expected = {count({ints[0], ints[1]})};
      break;
    case Kind::kActivation:
      sizes_ok = ints[0] >= 0 && ints[0] <= std::int64_t(ActivationKind::kLog1p) && dims({1}) &&
                 std::isfinite(reals[0]) && std::isfinite(reals[1]) &&
                 (ActivationKind(ints[0]) != ActivationKind::kSoftplus || reals[0] > 0.0f);
      break;
    case Kind::kFlatten:
      sizes_ok = limits::flatten_problem(ints[0], ints[1]).empty();
      break;
    case Kind::kUnflatten:
      sizes_ok = limits::unflatten_problem(ints[0], ints[1]).empty();
      break;
    case Kind::kResidual:  // built by build_residual, which reads its body's records
    default:
      *problem = "unknown layer kind " + std::to_string(std::uint32_t(kind));
      return nullptr;
  }
  if (!sizes_ok) {
    *problem = "layer sizes or parameters out of range";
    return nullptr;
  }
  if (tensor_count != expected.size()) {
    *problem = "layer has " + std::to_string(tensor_count) + " tensors, expected " +
               std::to_string(expected.size());
    return nullptr;
  }
  Weights w[kMaxTensors];
  for (std::size_t t = 0; t < expected.size(); ++t) {
    const std::uint8_t* entry = record + kTensorsAt + 16 * t;
    if (auto p = reader.take(u64_at(entry), u64_at(entry + 8), expected[t], &w[t]); !p.empty()) {
      *problem = "tensor " + std::to_string(t) + " " + p;
      return nullptr;
    }
  }
  const int a = int(ints[0]), b = int(ints[1]);
  switch (kind) {
    case Kind::kLinear:
      return std::make_unique<Linear>(a, b, std::move(w[0]), std::move(w[1]));
    case Kind::kConv1d: {
      Conv1d::Shape shape;
      shape.in = a;
      shape.out = b;
      shape.kernel = int(ints[2]);
      shape.stride = int(ints[3]);
      shape.dilation = int(ints[4]);
      shape.padding_left = int(ints[5]);
      shape.padding_right = int(ints[6]);
      return std::make_unique<Conv1d>(shape, std::move(w[0]), std::move(w[1]));
    }
    case Kind::kGru:
      return std::make_unique<Gru>(a, b, std::move(w[0]), std::move(w[1]), std::move(w[2]),
                                   std::move(w[3]));
    case Kind::kLayerNorm:
      return std::make_unique<LayerNorm>(a, reals[0], std::move(w[0]), std::move(w[1]));
    case Kind::kVq:
      return std::make_unique<VectorQuantizer>(a, b, std::move(w[0]));
    case Kind::kActivation:
      return std::make_unique<Activation>(ActivationKind(a), b, reals[0], reals[1]);
    case Kind::kUnflatten:
      return std::make_unique<Unflatten>(a, b / a);
    default:  // kFlatten
      return std::make_unique<Flatten>(a, b);
  }
}

// A residual's record and the body records after it; `left`: records of its
// graph after this one. *used: records read (1 + body layers). Null and
// *problem set when a record is bad.
std::unique_ptr<Layer> build_residual(const std::uint8_t* record, std::uint64_t left,
                                      Reader& reader, std::string* problem, std::uint64_t* used) {
  const std::uint32_t tensor_count = u32_at(record + kTensorCount);
  const std::int64_t width = std::int32_t(u32_at(record + kIntsAt));
  const std::int64_t count = std::int32_t(u32_at(record + kIntsAt + 4));
  if (tensor_count != 0) {
    *problem = "layer has " + std::to_string(tensor_count) + " tensors, expected 0";
    return nullptr;
  }
  if (!dimension_ok(width)) {
    *problem = "layer sizes or parameters out of range";
    return nullptr;
  }
  if (auto p = limits::residual_body_problem(count); !p.empty()) {
    *problem = p;
    return nullptr;
  }
  if (std::uint64_t(count) > left) {
    *problem = "residual body of " + std::to_string(count) + " layers runs past its graph";
    return nullptr;
  }
  std::vector<std::unique_ptr<Layer>> body;
  for (std::int64_t j = 0; j < count; ++j) {
    const std::uint8_t* inner = record + kLayerRecord * std::uint64_t(j + 1);
    if (Kind(u32_at(inner + kKind)) == Kind::kResidual) {
      *problem = "residual body layer " + std::to_string(j) + ": a residual cannot be nested";
      return nullptr;
    }
    std::string p;
    auto layer = build_layer(inner, reader, &p);
    if (!layer) {
      *problem = "residual body layer " + std::to_string(j) + ": " + p;
      return nullptr;
    }
    body.push_back(std::move(layer));
  }
  // Kinds and sizes checked before the constructor (which would throw).
  if (auto p = Residual::body_problem(body); !p.empty()) {
    *problem = p;
    return nullptr;
  }
  if (body.front()->input_size() != width) {
    *problem = "residual of width " + std::to_string(width) + " has a body that takes " +
               std::to_string(body.front()->input_size());
    return nullptr;
  }
  *used = 1 + std::uint64_t(count);
  return std::make_unique<Residual>(std::move(body));
}

}  // namespace

// --- write_model_image -------------------------------------------------------------

std::vector<std::uint8_t> write_model_image(const Model& model, const ImageExtras& extras) {
  std::map<std::string, TensorRef> prepared;
  for (const auto& [name, values] : model.prepared_arrays()) prepared[name] = ref(values);
  for (const auto& [name, values] : extras.arrays) prepared[name] = {values.data(), values.size()};

  std::vector<std::string> graph_names = model.graph_names();
  std::vector<LayerRecord> layers;
  for (const auto& name : graph_names) {
    const Graph& g = model.graph(name);
    for (std::size_t i = 0; i < g.size(); ++i) append_records(g.layer(i), &layers);
  }
  const std::uint64_t records = kModelImageHeaderSize + kGraphRecord * graph_names.size() +
                                kLayerRecord * layers.size() + kPreparedRecord * prepared.size();

  // First pass: string pool and arena offsets (the buffer is sized after).
  std::vector<std::uint8_t> image(records, 0);
  Writer w(&image);
  w.str(kFamily, model.family());
  w.str(kName, model.name());
  w.str(kMetadata, extras.metadata_json.empty() ? model.metadata_json() : extras.metadata_json);
  std::size_t at = kModelImageHeaderSize;
  std::uint32_t first = 0;
  for (const auto& name : graph_names) {
    std::uint32_t count = 0;  // records: a residual's body layers included
    const Graph& g = model.graph(name);
    for (std::size_t i = 0; i < g.size(); ++i) {
      const auto* res = dynamic_cast<const Residual*>(&g.layer(i));
      count += 1 + (res ? std::uint32_t(res->body_size()) : 0);
    }
    w.str(at, name);
    w.u32(at + 8, first);
    w.u32(at + 12, count);
    first += count;
    at += kGraphRecord;
  }
  for (const LayerRecord& r : layers) {
    w.u32(at + kKind, std::uint32_t(r.kind));
    w.u32(at + kTensorCount, std::uint32_t(r.tensors.size()));
    for (int i = 0; i < kInts; ++i)
      w.u32(at + kIntsAt + 4 * std::size_t(i), std::uint32_t(r.ints[i]));
    for (int i = 0; i < kReals; ++i) w.f32(at + kRealsAt + 4 * std::size_t(i), r.reals[i]);
    for (std::size_t t = 0; t < r.tensors.size(); ++t) {
      w.u64(at + kTensorsAt + 16 * t, w.place(r.tensors[t]));
      w.u64(at + kTensorsAt + 16 * t + 8, r.tensors[t].count);
    }
    at += kLayerRecord;
  }
  for (const auto& [name, t] : prepared) {
    w.str(at, name);
    w.u64(at + 8, w.place(t));
    w.u64(at + 16, t.count);
    at += kPreparedRecord;
  }
  const std::uint64_t structure = records + w.pool().size();
  const std::uint64_t arena_offset = align16(structure);
  image.resize(std::size_t(arena_offset + w.arena_size()), 0);
  std::memcpy(image.data() + records, w.pool().data(), w.pool().size());
  w.copy_arena(std::size_t(arena_offset));

  std::memcpy(image.data(), kMagic, 4);
  w.u32(4, kModelImageVersion);
  w.u64(kTotalSize, image.size());
  w.u64(kArenaOffset, arena_offset);
  w.u64(kArenaSize, w.arena_size());
  w.u32(kStructureSize, std::uint32_t(structure));
  w.u32(kGraphCount, std::uint32_t(graph_names.size()));
  w.u32(kLayerCount, std::uint32_t(layers.size()));
  w.u32(kPreparedCount, std::uint32_t(prepared.size()));
  w.u32(kStringsSize, std::uint32_t(w.pool().size()));
  w.u32(kStructureCrc, 0);
  w.u32(kStructureCrc, crc32(image.data(), std::size_t(structure)));
  return image;
}

// --- adopt_model_image -------------------------------------------------------------

LoadResult adopt_model_image(ImageBlock block) {
  LoadResult result;
  auto fail = [&](const std::string& message) {
    result.error = "model image: " + message;
    return std::move(result);  // the block is freed on return
  };
  const std::uint8_t* p = block.data();
  const std::uint64_t size = block.size();
  if (!p || size < kModelImageHeaderSize)
    return fail("truncated (" + std::to_string(size) + " bytes)");
  if (std::memcmp(p, kMagic, 4) != 0) return fail("bad magic: not a Timbrel model image");
  if (const auto version = u32_at(p + 4); version != kModelImageVersion)
    return fail("unknown version " + std::to_string(version) + " (this build reads version " +
                std::to_string(kModelImageVersion) + ")");
  if (const auto total = u64_at(p + kTotalSize); total != size)
    return fail("truncated or padded: the image says " + std::to_string(total) +
                " bytes, the buffer holds " + std::to_string(size));
  const std::uint64_t structure = u32_at(p + kStructureSize);
  const std::uint64_t graphs = u32_at(p + kGraphCount), layers = u32_at(p + kLayerCount),
                      arrays = u32_at(p + kPreparedCount), strings = u32_at(p + kStringsSize);
  const std::uint64_t strings_at = kModelImageHeaderSize + kGraphRecord * graphs +
                                   kLayerRecord * layers + kPreparedRecord * arrays;
  if (structure != strings_at + strings || structure > size)
    return fail("the structure's size does not match its record counts or the buffer");
  // Before any record is read: a flipped byte anywhere in the structure is caught here.
  const std::uint8_t zero[4] = {0, 0, 0, 0};
  std::uint32_t crc = crc32(p, kStructureCrc);
  crc = crc32(zero, 4, crc);
  crc = crc32(p + kStructureCrc + 4, std::size_t(structure - kStructureCrc - 4), crc);
  if (crc != u32_at(p + kStructureCrc)) return fail("checksum mismatch: the image is corrupted");
  const std::uint64_t arena_at = u64_at(p + kArenaOffset), arena_size = u64_at(p + kArenaSize);
  if (arena_at != align16(structure) || arena_at > size || arena_size != size - arena_at)
    return fail("the weight arena does not fit the image");

  Reader reader(p, strings_at, strings, arena_at, arena_size);
  std::string family, name, metadata_text;
  if (!reader.str(kFamily, &family) || !reader.str(kName, &name) ||
      !reader.str(kMetadata, &metadata_text))
    return fail("a header string lies outside the string pool");
  if (!detail::known_family(family)) return fail("unknown model family '" + family + "'");
  if (auto problem = limits::json_depth_problem(
          reinterpret_cast<const std::uint8_t*>(metadata_text.data()), metadata_text.size());
      !problem.empty())
    return fail("metadata: " + problem);
  Json metadata = Json::parse(metadata_text, nullptr, false);
  if (metadata.is_discarded() || !metadata.is_object())
    return fail("metadata is not a JSON object");
  if (std::string problem; !detail::check_metadata(metadata, family, &problem))
    return fail(problem);

  auto model = detail::ModelAccess::make();
  detail::ModelAccess::set(*model, family, name, std::move(metadata));
  std::uint64_t next_layer = 0;
  for (std::uint64_t g = 0; g < graphs; ++g) {
    const std::uint8_t* record = p + kModelImageHeaderSize + kGraphRecord * g;
    std::string graph_name;
    if (!reader.str(std::size_t(record - p), &graph_name))
      return fail("graph " + std::to_string(g) + ": its name lies outside the string pool");
    const std::uint64_t first = u32_at(record + 8), count = u32_at(record + 12);
    if (first != next_layer || count == 0 || count > layers - first)
      return fail("graph '" + graph_name + "': layers " + std::to_string(first) + " + " +
                  std::to_string(count) + " do not follow the previous graph's");
    next_layer += count;
    Graph graph;
    int previous = 0;
    for (std::uint64_t i = first; i < first + count; ++i) {
      const std::uint8_t* layer_record =
          p + kModelImageHeaderSize + kGraphRecord * graphs + kLayerRecord * i;
      std::string problem;
      const std::string where = "graph '" + graph_name + "' layer " + std::to_string(i - first);
      std::unique_ptr<Layer> layer;
      if (Kind(u32_at(layer_record + kKind)) == Kind::kResidual) {
        std::uint64_t used = 1;
        layer = build_residual(layer_record, first + count - i - 1, reader, &problem, &used);
        i += used - 1;  // past its body's records
      } else {
        layer = build_layer(layer_record, reader, &problem);
      }
      if (!layer) return fail(where + ": " + problem);
      // Graph::add would throw on a size mismatch: check first.
      if (previous > 0 && layer->input_size() != previous)
        return fail(where + ": expects " + std::to_string(layer->input_size()) +
                    " inputs but receives " + std::to_string(previous));
      previous = layer->output_size();
      graph.add(std::move(layer));
    }
    if (!detail::ModelAccess::add_graph(*model, graph_name, std::move(graph)))
      return fail("graph '" + graph_name + "' appears twice");
  }
  if (next_layer != layers) return fail("layers outside every graph");
  for (std::uint64_t a = 0; a < arrays; ++a) {
    const std::uint8_t* record = p + kModelImageHeaderSize + kGraphRecord * graphs +
                                 kLayerRecord * layers + kPreparedRecord * a;
    std::string array_name;
    if (!reader.str(std::size_t(record - p), &array_name))
      return fail("prepared array " + std::to_string(a) + ": its name lies outside the pool");
    const std::uint64_t count = u64_at(record + 16);
    Weights values;
    if (auto problem = reader.take(u64_at(record + 8), count, count, &values); !problem.empty())
      return fail("prepared array '" + array_name + "' " + problem);
    if (!detail::ModelAccess::add_prepared(*model, array_name, std::move(values)))
      return fail("prepared array '" + array_name + "' appears twice");
  }
  detail::ModelAccess::own(*model, std::make_unique<ImageBlock>(std::move(block)));
  result.model = std::move(model);
  return result;
}

LoadResult load_model_image(const std::uint8_t* bytes, std::size_t size) {
  ImageBlock block = ImageBlock::allocate(size);
  if (block.empty())
    return {nullptr, "model image: cannot allocate " + std::to_string(size) + " bytes"};
  std::memcpy(block.data(), bytes, size);
  return adopt_model_image(std::move(block));
}

}  // namespace timbrel::nn
