#include "runtime/model_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <filesystem>
#include <system_error>

#include "devices/cpu/simd.hpp"
#include "io/compiled_model.hpp"

namespace celer {

namespace {

constexpr const char* kKeyMeta = "celer.cache_key";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// What the key covers, readable (stored in the entry's metadata for `celer info` and debugging).
std::string key_description(const std::string& device, const CompileOptions& options) {
  return detail::concat(
      "device=", device, ";precision=", element_type_name(options.inference_precision),
      ";fusion=", options.enable_fusion ? 1 : 0, ";celer=", kCelerVersion, ";format=", kCompiledModelFormat,
      ";schema=", hex64(op_schema_fingerprint()), ";isa=", cpu::isa_name(cpu::simd().isa),
      ";dnnl_isa=", static_cast<unsigned>(dnnl::get_effective_cpu_isa()), ";dnnl=", dnnl::version()->major, ".",
      dnnl::version()->minor, ".", dnnl::version()->patch, ";CELER_CPU_LAYOUT=", env("CELER_CPU_LAYOUT"),
      ";CELER_CPU_ISA=", env("CELER_CPU_ISA"), ";DNNL_MAX_CPU_ISA=", env("DNNL_MAX_CPU_ISA"));
}

// Reads exactly n bytes of a small file; false when it is missing or has another size.
bool read_small(const std::string& path, void* out, size_t n) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t got = ::read(fd, out, n);
  char extra;
  const bool ok = got == ssize_t(n) && ::read(fd, &extra, 1) == 0;
  ::close(fd);
  return ok;
}

// Writes a small file atomically (temporary file, rename); errors are ignored (the cache is an optimisation).
void write_small(const std::string& path, const void* data, size_t n) {
  const std::string tmp = detail::concat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const bool ok = ::write(fd, data, n) == ssize_t(n);
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace

uint64_t model_file_hash(const std::string& dir, const std::string& path) {
  struct stat st {};
  CELER_CHECK(::stat(path.c_str(), &st) == 0, kIo, "cannot open model '", path, "': ", std::strerror(errno));
  // Timestamps of the last two seconds may still move within the file system's granularity: not remembered.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const bool settled = std::chrono::seconds(st.st_ctim.tv_sec) + std::chrono::seconds(2) < now;
  const uint64_t identity[] = {uint64_t(st.st_dev),         uint64_t(st.st_ino),          uint64_t(st.st_size),
                               uint64_t(st.st_mtim.tv_sec), uint64_t(st.st_mtim.tv_nsec), uint64_t(st.st_ctim.tv_sec),
                               uint64_t(st.st_ctim.tv_nsec)};
  const uint64_t id = hash_bytes(std::string_view(reinterpret_cast<const char*>(identity), sizeof(identity)), 0x5352);
  const std::string memo = (std::filesystem::path(dir) / (hex64(id) + ".src")).string();
  uint64_t stored[2];  // the hash, and a check of it against the identity
  if (settled && read_small(memo, stored, sizeof(stored)) && stored[1] == (hash_bytes(hex64(stored[0])) ^ id))
    return stored[0];
  const uint64_t h = hash_file(path);
  if (settled) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    stored[0] = h;
    stored[1] = hash_bytes(hex64(h)) ^ id;
    write_small(memo, stored, sizeof(stored));
  }
  return h;
}

uint64_t cache_key(uint64_t model_hash, const std::string& device, const CompileOptions& options) {
  Hasher h;
  h.update(&model_hash, sizeof(model_hash));
  h.add_field(key_description(device, options));
  return h.digest();
}

std::string cache_entry_path(const std::string& dir, uint64_t key) {
  return (std::filesystem::path(dir) / (hex64(key) + ".celer")).string();
}

std::optional<LoadedGraph> cache_lookup(const std::string& dir, uint64_t key, std::string* note) {
  const std::string path = cache_entry_path(dir, key);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  std::string why;
  try {
    LoadedGraph loaded = load_compiled_graph(path);
    auto it = loaded.meta.find(kKeyMeta);
    if (it != loaded.meta.end() && it->second == hex64(key)) return loaded;
    why = detail::concat("cache entry '", path, "' was written for another key");
  } catch (const Error& e) {
    why = e.message();
  } catch (const std::exception& e) {  // e.g. std::bad_alloc
    why = detail::concat("cache entry '", path, "': ", e.what());
  }
  // A damaged or stale entry: removed so that this compile writes a good one.
  cache_remove(dir, key);
  if (note) *note = why;
  return std::nullopt;
}

void cache_remove(const std::string& dir, uint64_t key) { ::unlink(cache_entry_path(dir, key).c_str()); }

bool cache_store(const std::string& dir, uint64_t key, const Graph& graph,
                 const std::map<std::string, std::string>& meta, std::string* error, const CompiledExtras* extras) {
  try {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    CELER_CHECK(!ec, kIo, "cannot create the cache folder '", dir, "': ", ec.message());
    std::map<std::string, std::string> m = meta;
    m[kKeyMeta] = hex64(key);
    save_compiled_graph(graph, m, cache_entry_path(dir, key), extras);
    return true;
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return false;
  }
}

}  // namespace celer
