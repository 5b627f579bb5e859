#include "steps/kubectl_manifests.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/sha256.h"
#include "engine/step_runner.h"

namespace runbook {
namespace fs = std::filesystem;

namespace {

bool IsManifestName(const fs::path& p) {
  std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

Status WritePrivate(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error("cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string why = std::strerror(errno);
      ::close(fd);
      return Status::Error("cannot write " + path + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Status::Error("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

RenderedManifests::~RenderedManifests() {
  if (temp_dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(temp_dir_, ec);
}

Result<ManifestSet> ReadManifests(const std::string& path, const std::string& runbook_dir,
                                  const ManifestRenderer& render) {
  using R = Result<ManifestSet>;
  if (path.empty()) return R::Error("the apply path is empty");
  fs::path source = path;
  if (source.is_relative() && !runbook_dir.empty()) source = fs::path(runbook_dir) / source;
  source = source.lexically_normal();

  std::error_code ec;
  fs::file_status st = fs::status(source, ec);
  if (ec || !fs::exists(st))
    return R::Error("manifest path " + source.string() + " does not exist");

  ManifestSet set;
  std::vector<std::string> sources;
  if (fs::is_directory(st)) {
    for (const auto& entry : fs::directory_iterator(source, ec)) {
      if (entry.is_regular_file(ec) && IsManifestName(entry.path()))
        sources.push_back(entry.path().string());
    }
    if (ec) return R::Error("cannot read folder " + source.string() + ": " + ec.message());
    std::sort(sources.begin(), sources.end());
    if (sources.empty()) {
      return R::Error("no manifests (*.yaml, *.yml, *.json) in " + source.string());
    }
    set.source_dir = source.string();
    set.folder = true;
  } else {
    sources.push_back(source.string());
    set.source_dir = source.parent_path().string();
  }
  for (const auto& file : sources) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return R::Error("cannot read manifest " + file);
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) return R::Error("cannot read manifest " + file);
    set.files.push_back({file, render(text.str())});
  }
  return set;
}

Result<std::unique_ptr<RenderedManifests>> RenderedManifests::Render(const std::string& path,
                                                                     const StepContext& context) {
  using R = Result<std::unique_ptr<RenderedManifests>>;
  auto set = ReadManifests(path, context.runbook().dir, [&context](std::string_view text) {
    return context.Render(text, Quoting::kNone);
  });
  if (!set.ok()) return set.status();

  std::unique_ptr<RenderedManifests> out(new RenderedManifests());
  out->source_dir_ = set->source_dir;
  std::error_code ec;
  std::string tmpl = (fs::temp_directory_path(ec) / "runbook-kubectl-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return R::Error("cannot create a temporary folder for the rendered manifests: " +
                    std::string(std::strerror(errno)));
  }
  out->temp_dir_ = tmpl;
  for (const ManifestFile& file : set->files) {
    out->sources_.push_back(file.source);
    const std::string shown = context.Redact(file.text);
    nlohmann::json digest = {{"path", file.source}, {"sha256", Sha256Hex(shown)}};
    if (shown != file.text) digest["secrets_masked"] = true;
    out->digests_.push_back(std::move(digest));
    std::string target = out->temp_dir_ + "/" + fs::path(file.source).filename().string();
    Status written = WritePrivate(target, file.text);
    if (!written.ok()) return R::Error(written.message());
  }
  out->apply_path_ =
      set->folder ? out->temp_dir_
                  : out->temp_dir_ + "/" + fs::path(set->files.front().source).filename().string();
  return out;
}

}  // namespace runbook
