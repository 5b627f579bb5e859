// `kubectl diff --server-side` for plans, against the Kubernetes API stand-in (or a real
// cluster with RUNBOOK_TEST_REAL_CLUSTER, see testing/kubectl_cluster_fixture.h).
#include "steps/kubectl_diff.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/kubectl_cluster_fixture.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using testing::KubeCluster;

TEST(KubectlDiffTest, ShowsWhatAnApplyWouldChangeAndChangesNothing) {
  KubeCluster cluster;
  if (!cluster.error().empty()) GTEST_SKIP() << cluster.error();
  const KubeTarget target{cluster.kubeconfig(), cluster.context(), cluster.ns()};
  auto one = [](std::string text) {
    return ManifestSet{"/srv", false, false, {{"/srv/web.yaml", "web.yaml", std::move(text)}}};
  };
  const ManifestSet v1 = one(cluster.Deployment("web", KubeCluster::GoodImage1()));
  const ManifestSet v2 = one(cluster.Deployment("web", KubeCluster::GoodImage2()));

  auto created = DiffAgainstCluster(target, v1);
  ASSERT_TRUE(created.ok()) << created.message();
  EXPECT_TRUE(created->changes);
  EXPECT_NE(created->text.find("+++ after the apply apps.v1.Deployment." + cluster.ns() + ".web"),
            std::string::npos)
      << created->text;
  EXPECT_EQ(cluster.Kubectl({"get", "deployment", "web"}).exit_status, 1)
      << "a diff created the object";

  runbook::testing::TempDir dir;
  const std::string file = dir.path() + "/web.yaml";
  std::ofstream(file) << v1.files[0].text;
  ASSERT_EQ(cluster.Kubectl({"apply", "--server-side", "-f", file}).exit_status, 0);
  auto same = DiffAgainstCluster(target, v2);
  ASSERT_TRUE(same.ok()) << same.message();
  EXPECT_TRUE(same->changes);
  EXPECT_NE(same->text.find("-      - image: " + KubeCluster::GoodImage1()), std::string::npos)
      << same->text;
  EXPECT_NE(same->text.find("+      - image: " + KubeCluster::GoodImage2()), std::string::npos)
      << same->text;

  auto unchanged = DiffAgainstCluster(target, v1);
  ASSERT_TRUE(unchanged.ok()) << unchanged.message();
  EXPECT_FALSE(unchanged->changes) << unchanged->text;

  const KubeTarget nowhere{cluster.kubeconfig(), "no-such-context", cluster.ns()};
  auto failed = DiffAgainstCluster(nowhere, v1);
  EXPECT_FALSE(failed.ok());
}

}  // namespace
}  // namespace runbook
