#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/loader.h"

namespace runbook {
namespace {

using ::testing::HasSubstr;

const char* kRunbook = R"(runbook: t
params:
  ns: {required: true}
  host: {default: "web9:2222"}
  who: {default: deploy}
targets:
  cluster: {kubeconfig: "kube/{{ params.ns }}.conf", context: "ctx-{{ params.ns }}", namespace: "{{ params.ns }}"}
  web: {hosts: [web1, "{{ params.host }}"], user: "{{ params.who }}"}
steps:
  - id: apply
    kubectl: {target: cluster, args: [get, pods]}
    rollback:
      kubectl: {target: cluster, namespace: "{{ params.ns }}-undo", args: [get, pods]}
  - id: ssh
    ssh: {target: web, command: "true"}
)";

TEST(BindTargets, RendersParamsInEveryTextFieldOfTargetsAndActions) {
  LoadResult loaded = LoadRunbookText(kRunbook, "t.yaml", "/srv/rb");
  ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].ToString());
  Runbook& rb = *loaded.runbook;
  ASSERT_TRUE(BindTargets(&rb, {{"ns", "team-a"}, {"host", "web9:2222"}, {"who", "deploy"}}).ok());

  const KubeTarget& named = rb.targets.at("cluster").kube;
  EXPECT_EQ(named.namespace_, "team-a");
  EXPECT_EQ(named.context, "ctx-team-a");
  EXPECT_EQ(named.kubeconfig, "/srv/rb/kube/team-a.conf");
  const auto& apply = std::get<KubectlAction>(rb.steps[0].action);
  EXPECT_EQ(apply.resolved.namespace_, "team-a");
  const auto& undo = std::get<KubectlAction>(rb.steps[0].rollback.actions[0].action);
  EXPECT_EQ(undo.resolved.namespace_, "team-a-undo");
  const auto& ssh = std::get<SshAction>(rb.steps[1].action);
  EXPECT_EQ(ssh.resolved.hosts, (std::vector<std::string>{"web1", "web9:2222"}));
  EXPECT_EQ(ssh.resolved.user, "deploy");
}

TEST(BindTargets, AHostThatRendersToSomethingElseIsRefused) {
  LoadResult loaded = LoadRunbookText(kRunbook, "t.yaml", "/srv/rb");
  ASSERT_TRUE(loaded.ok());
  Status s = BindTargets(loaded.runbook.get(), {{"ns", "a"}, {"host", "web1 -oProxyCommand=x"}, {"who", "d"}});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("target web: hosts: {{ params.host }} renders to "
                                     "'web1 -oProxyCommand=x', which is not a host"));
}

TEST(BindTargets, OnlyParamsAreAcceptedInTargets) {
  LoadResult loaded = LoadRunbookText(R"(runbook: t
targets:
  cluster: {kubeconfig: ./k, namespace: "{{ steps.a.stdout }}"}
steps:
  - id: a
    kubectl: {target: cluster, context: "{{ secrets.x }}", args: [get, pods]}
)",
                                      "t.yaml", "/srv/rb");
  ASSERT_FALSE(loaded.ok());
  ASSERT_EQ(loaded.diagnostics.size(), 2u);
  EXPECT_EQ(loaded.diagnostics[0].ToString(),
            "t.yaml:3:41: error: placeholder {{ steps.a.stdout }} is not allowed here: only params "
            "are known before the run starts");
  EXPECT_THAT(loaded.diagnostics[1].ToString(), HasSubstr("{{ secrets.x }} is not allowed here"));
}

}  // namespace
}  // namespace runbook
