#include "steps/kubectl_diff.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "steps/kubectl_command.h"
#include "steps/process.h"

namespace runbook {

namespace fs = std::filesystem;

namespace {

std::string LastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

/// kubectl's diff names kubectl's temporary folders: say "live" and "after the apply" instead.
std::string Readable(const std::string& diff) {
  std::string out;
  size_t pos = 0;
  while (pos < diff.size()) {
    size_t end = diff.find('\n', pos);
    if (end == std::string::npos) end = diff.size();
    std::string line = diff.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("diff ", 0) == 0) continue;
    if (line.rfind("--- ", 0) == 0 || line.rfind("+++ ", 0) == 0) {
      const size_t tab = line.find('\t');
      const std::string path = line.substr(4, tab == std::string::npos ? tab : tab - 4);
      const std::string object = fs::path(path).filename().string();
      line = line.substr(0, 4) + (line[0] == '-' ? "live " : "after the apply ") + object;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

Result<ClusterDiff> DiffAgainstCluster(const KubeTarget& target,
                                       const ManifestSet& manifests,
                                       Duration timeout) {
  Result<std::string> binary = FindKubectl({});
  if (!binary.ok()) return binary.status();
  auto rendered = RenderedManifests::Write(
      manifests, [](std::string_view text) { return std::string(text); });
  if (!rendered.ok()) return rendered.status();
  ProcessSpec spec;
  spec.argv = {*binary, "diff", "--server-side", (*rendered)->apply_flag(), (*rendered)->apply_path()};
  if (!target.kubeconfig.empty()) spec.argv.push_back("--kubeconfig=" + target.kubeconfig);
  if (!target.context.empty()) spec.argv.push_back("--context=" + target.context);
  if (!target.namespace_.empty()) spec.argv.push_back("--namespace=" + target.namespace_);
  spec.env_add["KUBECTL_EXTERNAL_DIFF"] = "diff -u -N";
  spec.timeout = timeout;
  spec.kill_grace = Duration{2000};
  ProcessResult p = RunProcess(spec, -1);
  if (p.spawn_failed) return Status::Error("cannot run kubectl diff: " + p.error);
  if (p.timed_out)
    return Status::Error("kubectl diff did not finish within " + ShortDuration(timeout));
  if (p.exit_status == 0) return ClusterDiff{};
  if (p.exit_status == 1) return ClusterDiff{true, Readable(p.stdout_tail)};
  return Status::Error("kubectl diff failed (exit status " + std::to_string(p.exit_status) +
                        "): " + LastLine(p.stderr_tail));
}

}  // namespace runbook
