#include "engine/bound_file.h"

#include <tuple>

namespace runbook {
namespace {

std::string StringField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

bool operator<(const BoundFile& a, const BoundFile& b) {
  return std::tie(a.path, a.use, a.sha256) < std::tie(b.path, b.use, b.sha256);
}

void to_json(nlohmann::json& j, const BoundFile& f) {
  j = {{"path", f.path}, {"use", f.use}, {"sha256", f.sha256}};
}

void from_json(const nlohmann::json& j, BoundFile& f) {
  f.path = StringField(j, "path");
  f.use = StringField(j, "use");
  f.sha256 = StringField(j, "sha256");
}

std::vector<BoundFile> BoundFilesFromJson(const nlohmann::json& list) {
  std::vector<BoundFile> out;
  if (!list.is_array()) return out;
  for (const auto& entry : list)
    if (entry.is_object()) out.push_back(entry.get<BoundFile>());
  return out;
}

}  // namespace runbook
