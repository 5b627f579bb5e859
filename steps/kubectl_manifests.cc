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

#include "engine/placeholder.h"
#include "engine/sha256.h"
#include "engine/step_runner.h"

namespace runbook {
namespace fs = std::filesystem;

namespace {

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

Status WriteDurablePrivate(const std::string& dir, const std::string& file,
                           const std::string& text) {
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path d = dir; !d.empty() && !fs::exists(d, ec); d = d.parent_path()) {
    missing.insert(missing.begin(), d);
    if (d == d.parent_path()) break;
  }
  for (const fs::path& d : missing) {
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::Error("cannot create " + d.string() + ": " + std::strerror(errno));
  }
  Status written = WritePrivate(file, text);
  if (!written.ok()) return written;
  for (const std::string& path : {file, dir}) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      std::string why = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return Status::Error("cannot make " + path + " durable: " + why);
    }
    ::close(fd);
  }
  return Status::Ok();
}

Result<std::string> ReadKeptFile(const std::string& file, const std::string& sha256) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Result<std::string>::Error(
        "its earlier form was kept in " + file +
        ", which is not here (it stays on the machine that ran the step: recover there)");
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Result<std::string>::Error("cannot read " + file);
  if (Sha256Hex(text.str()) != sha256) {
    return Result<std::string>::Error("the kept file " + file +
                                      " was changed after it was written; not using it");
  }
  return text.str();
}

RenderedManifests::~RenderedManifests() {
  if (temp_dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(temp_dir_, ec);
}

Result<ManifestSet> ReadManifests(const std::string& path, const std::string& runbook_dir,
                                  const ManifestValue& value) {
  using R = Result<ManifestSet>;
  auto listed = ListManifestFiles(path, runbook_dir);
  if (!listed.ok()) return listed.status();
  ManifestSet set;
  set.folder = listed->folder;
  set.kustomize = listed->kustomize;
  set.source_dir = listed->folder ? listed->path : fs::path(listed->path).parent_path().string();
  for (const std::string& file : listed->files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return R::Error("cannot read manifest " + file);
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) return R::Error("cannot read manifest " + file);
    auto noting = [&set, &value](const TemplateRef& ref) {
      set.uses_step_outputs = set.uses_step_outputs || ref.kind == TemplateRef::Kind::kStepStdout ||
                              ref.kind == TemplateRef::Kind::kStepStderr ||
                              ref.kind == TemplateRef::Kind::kStepOutput;
      return value(ref);
    };
    set.files.push_back({file, fs::path(file).lexically_relative(set.source_dir).string(),
                         RenderManifestText(text.str(), noting)});
  }
  return set;
}

Result<std::unique_ptr<RenderedManifests>> RenderedManifests::Render(const std::string& path,
                                                                     const StepContext& context) {
  auto set = ReadManifests(path, context.runbook().dir,
                           [&context](const TemplateRef& ref) -> std::optional<std::string> {
                             return context.Render(PlaceholderText(ref), Quoting::kNone);
                           });
  if (!set.ok()) return set.status();
  return Write(*set, [&context](std::string_view text) { return context.Redact(text); });
}

Result<std::unique_ptr<RenderedManifests>> RenderedManifests::Write(
    const ManifestSet& set, const std::function<std::string(std::string_view)>& redact) {
  using R = Result<std::unique_ptr<RenderedManifests>>;
  if (set.files.empty()) return R::Error("no manifests to apply");
  std::unique_ptr<RenderedManifests> out(new RenderedManifests());
  out->source_dir_ = set.source_dir;
  out->kustomize_ = set.kustomize;
  out->uses_step_outputs_ = set.uses_step_outputs;
  std::error_code ec;
  std::string tmpl = (fs::temp_directory_path(ec) / "runbook-kubectl-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return R::Error("cannot create a temporary folder for the rendered manifests: " +
                    std::string(std::strerror(errno)));
  }
  out->temp_dir_ = tmpl;
  for (const ManifestFile& file : set.files) {
    out->sources_.push_back(file.source);
    const std::string shown = redact(file.text);
    nlohmann::json digest = {{"path", file.source}, {"sha256", Sha256Hex(shown)}};
    if (shown != file.text) digest["secrets_masked"] = true;
    out->digests_.push_back(std::move(digest));
    const fs::path target = fs::path(out->temp_dir_) / file.relative;
    // Subfolders of a kustomization keep their place, private like the folder itself.
    std::vector<fs::path> parents;
    for (fs::path d = target.parent_path(); d != fs::path(out->temp_dir_); d = d.parent_path())
      parents.insert(parents.begin(), d);
    for (const fs::path& d : parents) {
      if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST)
        return R::Error("cannot create " + d.string() + ": " + std::strerror(errno));
    }
    Status written = WritePrivate(target.string(), file.text);
    if (!written.ok()) return R::Error(written.message());
  }
  out->apply_path_ = set.folder ? out->temp_dir_
                                : (fs::path(out->temp_dir_) / set.files.front().relative).string();
  return out;
}

}  // namespace runbook
