// A plan's hash binds its approvals: the same runbook text must hash as it always has. The
// canonical form was first computed from yaml-cpp's node tree (YAML::Load); the reference
// below keeps that computation, and every text here must hash alike both ways.
#include "engine/plan.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

namespace runbook {
namespace {

nlohmann::json ReferenceJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) out[kv.first.Scalar()] = ReferenceJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& v : node) out.push_back(ReferenceJson(v));
      return out;
    }
    case YAML::NodeType::Scalar:
      return node.Scalar();
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
  }
  return nullptr;
}

std::string ReferenceHash(const std::string& text,
                          const std::map<std::string, std::string>& params) {
  nlohmann::json canonical;
  try {
    canonical["runbook"] = ReferenceJson(YAML::Load(text));
  } catch (const std::exception&) {
    canonical["runbook"] = text;
  }
  canonical["params"] = params;
  return Sha256Hex(canonical.dump());
}

TEST(PlanHashTest, IsTheHashOfYamlCppsReadingOfTheText) {
  const std::map<std::string, std::string> params = {{"version", "1.2"}};
  const char* const texts[] = {
      "runbook: a\nsteps:\n  - id: one\n    shell: echo {{ params.version }}\n",
      "runbook: a\n# a comment\nsteps: [{id: one, shell: 'echo hi'}]\n",
      ("runbook: a\nx-base: &b {timeout: 5s, retries: 2}\n"
       "steps:\n  - <<: *b\n    id: one\n    shell: x\n  - {<<: [*b], id: two, shell: y}\n"),
      "runbook: a\nsteps: []\nsteps: [{id: dup}]\n",              // the later key wins
      "runbook: a\n? [k]\n: v\n? {m: 1}\n: w\nsteps: []\n",       // keys that are not scalars
      "runbook: a\nv: [~, null, '', \"q\", !!str 5, 5, true]\n",  // nulls, tags, quoting
      "runbook: a\nsteps: []\n---\nrunbook: b\n",                 // only the first document
      "runbook: a\nsteps: []\n---\n[unclosed\n",  // ... even when the rest is not YAML
      "",
      "# only a comment\n",
      "[unclosed\n",  // not YAML: the text itself
  };
  for (const char* text : texts) {
    Runbook rb;
    rb.text = text;
    EXPECT_EQ(PlanHash(rb, params, {}), ReferenceHash(text, params)) << text;
  }
}

}  // namespace
}  // namespace runbook
