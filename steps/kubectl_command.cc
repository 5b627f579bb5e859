#include "steps/kubectl_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "engine/step_runner.h"
#include "steps/kubectl_objects.h"
#include "steps/step_runners.h"

namespace runbook {
namespace {

constexpr size_t kJsonTail = 16 * 1024 * 1024;

/// The most telling line of kubectl's stderr: its last "error:"/"Error from server" line,
/// else its last non-empty line.
std::string ErrorLine(std::string_view text) {
  std::string best, last;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(start, end - start));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) {
      last = line;
      if (line.rfind("error:", 0) == 0 || line.rfind("Error from server", 0) == 0 ||
          line.rfind("The ", 0) == 0 || line.rfind("Unable to connect", 0) == 0)
        best = line;
    }
    start = end + 1;
  }
  std::string line = best.empty() ? last : best;
  // "Error from server (BadRequest): error when applying patch:" heads a block whose last line
  // says what was wrong.
  if (!best.empty() && best.back() == ':' && last != best) line = best + " ... " + last;
  if (line.rfind("error: ", 0) == 0) line = line.substr(7);
  constexpr size_t kMax = 600;
  if (line.size() > kMax) line = line.substr(0, kMax) + "...";
  return line;
}

/// The part of a connection error that says what went wrong ("dial tcp 127.0.0.1:1: connect:
/// connection refused").
std::string ConnectionProblem(std::string_view text) {
  for (std::string_view marker : {"dial tcp", "net/http:", "x509:", "tls:"}) {
    size_t at = text.rfind(marker);
    if (at == std::string_view::npos) continue;
    size_t end = text.find_first_of("\n\";", at);
    return std::string(
        text.substr(at, end == std::string_view::npos ? std::string::npos : end - at));
  }
  return ErrorLine(text);
}

bool IsExecutable(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

nlohmann::json KubeEndpoint::ToJson() const {
  return {{"kubeconfig", kubeconfig.empty() ? "(kubectl default)" : kubeconfig},
          {"context", context},
          {"namespace", namespace_},
          {"server", server}};
}

std::string ShortDuration(Duration d) {
  long long ms = d.count();
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms % 1000 != 0) {
    std::string frac = std::to_string(1000 + ms % 1000).substr(1);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    return std::to_string(ms / 1000) + "." + frac + "s";
  }
  long long s = ms / 1000;
  if (s < 60 || s % 60 != 0) return std::to_string(s) + "s";
  if (s % 3600 != 0 || s < 3600) return std::to_string(s / 60) + "m";
  return std::to_string(s / 3600) + "h";
}

Result<std::string> FindKubectl(const std::map<std::string, std::string>& extra_env) {
  std::string path;
  auto it = extra_env.find("PATH");
  if (it != extra_env.end()) {
    path = it->second;
  } else if (const char* env = std::getenv("PATH")) {
    path = env;
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/kubectl";
    if (IsExecutable(candidate)) return candidate;
    start = end + 1;
  }
  return Result<std::string>::Error("kubectl not found on PATH (install kubernetes-client)");
}

Deadline Deadline::After(Duration limit) {
  Deadline d;
  if (limit.count() > 0) d.at_ = std::chrono::steady_clock::now() + limit;
  return d;
}

Duration Deadline::Remaining(Duration fallback) const {
  if (!at_) return fallback;
  auto left = std::chrono::duration_cast<Duration>(*at_ - std::chrono::steady_clock::now());
  return left.count() > 0 ? left : Duration{0};
}

bool Deadline::Passed() const { return at_ && std::chrono::steady_clock::now() >= *at_; }

Kubectl::Kubectl(std::string binary, KubeEndpoint endpoint, StepContext& context, Phase phase,
                 Duration kill_grace, Deadline limit)
    : binary_(std::move(binary)),
      endpoint_(std::move(endpoint)),
      context_(context),
      phase_(phase),
      kill_grace_(kill_grace),
      deadline_(limit) {}

std::vector<std::string> Kubectl::Argv(const std::vector<std::string>& args,
                                       std::string_view ns) const {
  std::vector<std::string> argv = {binary_};
  if (!endpoint_.kubeconfig.empty()) argv.push_back("--kubeconfig=" + endpoint_.kubeconfig);
  if (!endpoint_.context.empty()) argv.push_back("--context=" + endpoint_.context);
  std::string namespace_ =
      !ns.empty() ? std::string(ns) : endpoint_.namespace_given ? endpoint_.namespace_ : "";
  if (!namespace_.empty()) argv.push_back("--namespace=" + namespace_);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string Kubectl::Display(const std::vector<std::string>& args, std::string_view ns) const {
  std::vector<std::string> argv = Argv(args, ns);
  std::string out = "kubectl";
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    bool plain = !a.empty() && a.find_first_of(" \t\n'\"$`\\|&;<>()*?[]{}!") == std::string::npos;
    out += " " + (plain ? Rewrite(a) : ShellQuote(Rewrite(a)));
  }
  return out;
}

void Kubectl::RewritePaths(std::string from, std::string to) {
  rewrite_from_ = std::move(from);
  rewrite_to_ = std::move(to);
}

std::string Kubectl::Rewrite(std::string_view text) const {
  std::string s(text);
  if (rewrite_from_.empty()) return s;
  for (size_t at = 0; (at = s.find(rewrite_from_, at)) != std::string::npos;) {
    s.replace(at, rewrite_from_.size(), rewrite_to_);
    at += rewrite_to_.size();
  }
  return s;
}

ProcessResult Kubectl::Start(const std::vector<std::string>& args, std::string_view ns,
                             Duration limit, bool stream_stdout, size_t tail_bytes) {
  ProcessSpec spec;
  spec.argv = Argv(args, ns);
  spec.env_add = context_.extra_env();
  spec.kill_grace = kill_grace_;
  spec.tail_bytes = tail_bytes;
  Duration step_left = deadline_.Remaining(Duration{0});
  bool step_bounds = false;
  if (!deadline_.unlimited()) {
    if (step_left.count() <= 0) {
      deadline_hit_ = true;
      ProcessResult r;
      r.timed_out = true;
      return r;
    }
    if (limit.count() == 0 || step_left < limit) {
      limit = step_left;
      step_bounds = true;
    }
  }
  spec.timeout = limit;
  ProcessResult p = RunProcess(
      spec, context_.cancel_fd(),
      [this, stream_stdout](bool is_stderr, std::string_view line, bool continues) {
        if (!is_stderr && !stream_stdout) return;
        std::string text = Rewrite(line);
        context_.OutputLine("", is_stderr, text, continues);
        (is_stderr ? stderr_ : stdout_).Append(continues ? text : text + "\n");
      },
      RecordProcessStarted(context_, phase_, Display(args, ns)));
  if (p.timed_out && step_bounds) deadline_hit_ = true;
  return p;
}

ProcessResult Kubectl::Stream(const std::vector<std::string>& args, Duration limit,
                              std::string_view ns) {
  return Start(args, ns, limit, /*stream_stdout=*/true, 64 * 1024);
}

ProcessResult Kubectl::Capture(const std::vector<std::string>& args, std::string_view ns) {
  return Start(args, ns, Duration{0}, /*stream_stdout=*/false, kJsonTail);
}

Result<nlohmann::json> Kubectl::GetJson(const std::vector<std::string>& args, std::string_view ns) {
  std::vector<std::string> full = {"get"};
  full.insert(full.end(), args.begin(), args.end());
  full.insert(full.end(), {"-o", "json"});
  ProcessResult p = Capture(full, ns);
  if (!p.ok())
    return Result<nlohmann::json>::Error(
        Describe(p, "kubectl " + full[0] + " " + (args.empty() ? "" : args[0])));
  if (p.stdout_tail.find_first_not_of(" \t\r\n") == std::string::npos) {
    return nlohmann::json();  // --ignore-not-found and nothing there
  }
  nlohmann::json doc = nlohmann::json::parse(p.stdout_tail, nullptr, false);
  if (doc.is_discarded()) {
    return Result<nlohmann::json>::Error("kubectl get printed output that is not JSON");
  }
  return doc;
}

bool Kubectl::Unreachable(const ProcessResult& p) {
  const std::string& err = p.stderr_tail;
  for (std::string_view marker :
       {"Unable to connect to the server", "The connection to the server", "dial tcp",
        "connect: connection refused", "no such host", "i/o timeout", "TLS handshake timeout",
        "Client.Timeout exceeded", "connection reset by peer", "x509: certificate"}) {
    if (err.find(marker) != std::string::npos) return true;
  }
  return false;
}

std::string Kubectl::Describe(const ProcessResult& p, std::string_view what) const {
  std::string prefix(what);
  if (p.spawn_failed) return prefix + ": could not run kubectl (" + binary_ + "): " + p.error;
  if (p.cancelled) return "interrupted during " + prefix;
  if (p.timed_out) {
    return prefix + ": timed out" + (deadline_hit_ ? " (the step's timeout ran out)" : "");
  }
  if (Unreachable(p)) {
    return "could not reach the Kubernetes API server at " +
           (endpoint_.server.empty() ? std::string("(unknown server)") : endpoint_.server) +
           " (context " + endpoint_.context + "): " + ConnectionProblem(p.stderr_tail);
  }
  std::string line = ErrorLine(p.stderr_tail);
  if (line.empty()) line = ErrorLine(p.stdout_tail);
  if (line.empty()) line = "exit status " + std::to_string(p.exit_status);
  return prefix + " failed: " + Rewrite(line);
}

Result<KubeEndpoint> ResolveKubeTarget(const KubeTarget& target) {
  Result<std::string> binary = FindKubectl({});
  if (!binary.ok()) return binary.status();
  return ResolveEndpoint(*binary, target, "", {}, -1);
}

Result<KubeEndpoint> ResolveEndpoint(const std::string& binary, const KubeTarget& target,
                                     const std::string& recorded,
                                     const std::map<std::string, std::string>& env, int cancel_fd) {
  KubeEndpoint endpoint;
  endpoint.kubeconfig = target.kubeconfig;
  endpoint.context = target.context.empty() ? recorded : target.context;
  if (!endpoint.kubeconfig.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(endpoint.kubeconfig, ec)) {
      return Result<KubeEndpoint>::Error("kubeconfig " + endpoint.kubeconfig + " does not exist");
    }
  }
  ProcessSpec spec;
  spec.argv = {binary, "config", "view", "--minify", "-o", "json"};
  if (!endpoint.kubeconfig.empty()) spec.argv.push_back("--kubeconfig=" + endpoint.kubeconfig);
  if (!endpoint.context.empty()) spec.argv.push_back("--context=" + endpoint.context);
  spec.env_add = env;
  spec.timeout = Duration{30000};
  spec.tail_bytes = kJsonTail;
  ProcessResult p = RunProcess(spec, cancel_fd);
  if (p.spawn_failed) {
    return Result<KubeEndpoint>::Error("could not run kubectl (" + binary + "): " + p.error);
  }
  if (p.cancelled) return Result<KubeEndpoint>::Error("interrupted");
  if (!p.ok()) {
    std::string why = ErrorLine(p.stderr_tail);
    if (endpoint.context.empty()) {
      return Result<KubeEndpoint>::Error(
          "the target names no context and the kubeconfig " +
          (endpoint.kubeconfig.empty() ? std::string("(kubectl's default)") : endpoint.kubeconfig) +
          " has no usable current-context: " + why);
    }
    return Result<KubeEndpoint>::Error(
        "context " + endpoint.context + " of kubeconfig " +
        (endpoint.kubeconfig.empty() ? std::string("(default)") : endpoint.kubeconfig) +
        " cannot be used: " + why);
  }
  nlohmann::json config = nlohmann::json::parse(p.stdout_tail, nullptr, false);
  if (config.is_discarded() || !config.is_object()) {
    return Result<KubeEndpoint>::Error("kubectl config view printed output that is not JSON");
  }
  const auto& contexts = config["contexts"];
  if (contexts.is_array() && !contexts.empty()) {
    if (endpoint.context.empty()) endpoint.context = StringAt(contexts[0], "name");
    endpoint.namespace_ = StringAt(contexts[0], "context.namespace");
  }
  const auto& clusters = config["clusters"];
  if (clusters.is_array() && !clusters.empty()) {
    endpoint.server = StringAt(clusters[0], "cluster.server");
  }
  if (endpoint.context.empty()) {
    return Result<KubeEndpoint>::Error(
        "the kubeconfig has no current-context and the target "
        "names none");
  }
  if (!target.namespace_.empty()) endpoint.namespace_ = target.namespace_;
  endpoint.namespace_given = !target.namespace_.empty();
  if (endpoint.namespace_.empty()) endpoint.namespace_ = "default";
  return endpoint;
}

}  // namespace runbook
