#include "steps/kubectl_objects.h"

#include <algorithm>
#include <cctype>

namespace runbook {

std::string KubeObjectRef::Group() const {
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

std::string KubeObjectRef::ResourceArg() const {
  std::string lower = kind;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string group = Group();
  if (group.empty()) return lower;
  std::string version = api_version.substr(api_version.find('/') + 1);
  return lower + "." + version + "." + group;
}

std::string KubeObjectRef::Display() const {
  std::string lower = kind;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower + "/" + name;
}

bool operator==(const KubeObjectRef& a, const KubeObjectRef& b) {
  return a.Group() == b.Group() && a.kind == b.kind && a.name == b.name &&
         a.namespace_ == b.namespace_;
}

std::optional<WorkloadKind> WorkloadKindOf(const KubeObjectRef& ref) {
  if (ref.Group() != "apps") return std::nullopt;
  if (ref.kind == "Deployment") return WorkloadKind::kDeployment;
  if (ref.kind == "StatefulSet") return WorkloadKind::kStatefulSet;
  if (ref.kind == "DaemonSet") return WorkloadKind::kDaemonSet;
  return std::nullopt;
}

std::string StringAt(const nlohmann::json& object, std::string_view dotted_path) {
  const nlohmann::json* node = &object;
  size_t start = 0;
  while (start <= dotted_path.size()) {
    size_t dot = dotted_path.find('.', start);
    std::string key(
        dotted_path.substr(start, dot == std::string_view::npos ? std::string::npos : dot - start));
    if (!node->is_object()) return "";
    auto it = node->find(key);
    if (it == node->end()) return "";
    node = &*it;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return node->is_string() ? node->get<std::string>() : "";
}

KubeObjectRef RefOf(const nlohmann::json& object) {
  KubeObjectRef ref;
  ref.api_version = StringAt(object, "apiVersion");
  ref.kind = StringAt(object, "kind");
  ref.name = StringAt(object, "metadata.name");
  ref.namespace_ = StringAt(object, "metadata.namespace");
  return ref;
}

Result<std::vector<KubeObjectRef>> ParseObjectRefs(std::string_view json_text) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Result<std::vector<KubeObjectRef>>::Error(
        "kubectl printed something that is not a JSON object");
  }
  std::vector<KubeObjectRef> refs;
  auto add = [&refs](const nlohmann::json& object) {
    KubeObjectRef ref = RefOf(object);
    if (!ref.kind.empty() && !ref.name.empty()) refs.push_back(std::move(ref));
  };
  auto items = doc.find("items");
  if (items != doc.end() && items->is_array()) {
    for (const auto& item : *items) add(item);
  } else {
    add(doc);
  }
  return refs;
}

std::map<std::string, std::string> PodTemplateImages(const nlohmann::json& object) {
  std::map<std::string, std::string> images;
  const nlohmann::json* spec = &object;
  for (const char* key : {"spec", "template", "spec"}) {
    if (!spec->is_object() || !spec->contains(key)) return images;
    spec = &(*spec)[key];
  }
  for (const char* list : {"initContainers", "containers"}) {
    auto it = spec->find(list);
    if (it == spec->end() || !it->is_array()) continue;
    const std::string prefix = std::string_view(list) == "initContainers" ? "init:" : "";
    for (const auto& c : *it) {
      const std::string name = StringAt(c, "name");
      const std::string image = StringAt(c, "image");
      if (!name.empty() && !image.empty()) images[prefix + name] = image;
    }
  }
  return images;
}

std::vector<std::pair<KubeObjectRef, std::map<std::string, std::string>>> WorkloadImages(
    std::string_view json_text) {
  std::vector<std::pair<KubeObjectRef, std::map<std::string, std::string>>> out;
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return out;
  auto add = [&out](const nlohmann::json& object) {
    KubeObjectRef ref = RefOf(object);
    if (WorkloadKindOf(ref)) out.emplace_back(std::move(ref), PodTemplateImages(object));
  };
  auto items = doc.find("items");
  if (items != doc.end() && items->is_array()) {
    for (const auto& item : *items) add(item);
  } else {
    add(doc);
  }
  return out;
}

std::string SelectorString(const nlohmann::json& selector) {
  if (!selector.is_object()) return "";
  std::vector<std::string> parts;
  auto labels = selector.find("matchLabels");
  if (labels != selector.end() && labels->is_object()) {
    for (const auto& [key, value] : labels->items()) {
      if (value.is_string()) parts.push_back(key + "=" + value.get<std::string>());
    }
  }
  auto exprs = selector.find("matchExpressions");
  if (exprs != selector.end() && exprs->is_array()) {
    for (const auto& e : *exprs) {
      std::string key = StringAt(e, "key");
      std::string op = StringAt(e, "operator");
      std::vector<std::string> values;
      if (e.contains("values") && e["values"].is_array()) {
        for (const auto& v : e["values"])
          if (v.is_string()) values.push_back(v.get<std::string>());
      }
      std::sort(values.begin(), values.end());
      std::string joined;
      for (const auto& v : values) joined += (joined.empty() ? "" : ",") + v;
      if (op == "In") parts.push_back(key + " in (" + joined + ")");
      if (op == "NotIn") parts.push_back(key + " notin (" + joined + ")");
      if (op == "Exists") parts.push_back(key);
      if (op == "DoesNotExist") parts.push_back("!" + key);
    }
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

std::optional<int64_t> RevisionAnnotation(const nlohmann::json& object) {
  // Annotation keys contain dots, so StringAt's dotted path cannot reach them.
  std::string text;
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    const auto& meta = object["metadata"];
    auto ann = meta.find("annotations");
    if (ann != meta.end() && ann->is_object()) {
      auto it = ann->find("deployment.kubernetes.io/revision");
      if (it != ann->end() && it->is_string()) text = it->get<std::string>();
    }
  }
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace runbook
