#include "engine/manifest_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/loader.h"
#include "testing/temp_dir.h"

namespace runbook {
namespace {

using ::testing::HasSubstr;

std::map<std::string, std::string> kParams = {{"tag", "2.0"}, {"ns", "shop"}};

TEST(ManifestTemplate, RendersOursAndLeavesOtherTemplatesAsWritten) {
  const std::string text =
      "image: web:{{ params.tag }}\n"
      "alert: '{{ $labels.instance }} is down'\n"
      "values: {{ .Values.x }}\n"
      "loop: {{- range .Alerts }}{{ end }}\n"
      "include: {{ include \"x\" . }}\n";
  EXPECT_EQ(RenderManifestText(text, KnownParamValues(kParams)),
            "image: web:2.0\n"
            "alert: '{{ $labels.instance }} is down'\n"
            "values: {{ .Values.x }}\n"
            "loop: {{- range .Alerts }}{{ end }}\n"
            "include: {{ include \"x\" . }}\n");
  EXPECT_TRUE(ParseManifestTemplate(text).errors.empty());
}

TEST(ManifestTemplate, PlaceholdersItCannotFillStayAsWritten) {
  EXPECT_EQ(RenderManifestText("a: {{  secrets.db }}/{{ params.tag }}", KnownParamValues(kParams)),
            "a: {{  secrets.db }}/2.0");
  EXPECT_EQ(RenderManifestText("no braces", KnownParamValues(kParams)), "no braces");
  EXPECT_EQ(RenderManifestText("open {{ params.tag", KnownParamValues(kParams)),
            "open {{ params.tag");
}

TEST(ManifestTemplate, NearMissesOfOurRootsAreErrorsNotText) {
  for (const char* bad : {"{{ parms.tag }}", "{{ param.tag }}", "{{ secret.db }}",
                          "{{ step.a.stdout }}", "{{ params.tag.x }}", "{{ steps.a }}",
                          "{{ run.number }}"}) {
    const ManifestTemplate t = ParseManifestTemplate(std::string("x: ") + bad + "\n");
    ASSERT_EQ(t.errors.size(), 1u) << bad;
    EXPECT_EQ(t.errors[0].offset, 3u) << bad;
    EXPECT_THAT(t.errors[0].message, HasSubstr("unknown placeholder")) << bad;
  }
}

TEST(ManifestTemplate, LocationOfCountsLinesAndColumnsFromOne) {
  const std::string text = "ab\ncd{{\n\nx";
  EXPECT_EQ(LocationOf(text, 0).line, 1);
  EXPECT_EQ(LocationOf(text, 0).col, 1);
  EXPECT_EQ(LocationOf(text, 1).col, 2);
  EXPECT_EQ(LocationOf(text, 3).line, 2);
  EXPECT_EQ(LocationOf(text, 3).col, 1);
  EXPECT_EQ(LocationOf(text, 5).line, 2);
  EXPECT_EQ(LocationOf(text, 5).col, 3);
  EXPECT_EQ(LocationOf(text, 9).line, 4);
  EXPECT_EQ(LocationOf(text, 999).line, 4);
}

TEST(ManifestFiles, ListsAFileAFolderAndAKustomizationAndRefusesUrls) {
  runbook::testing::TempDir dir;
  dir.Write("one.yaml", "a: 1\n");
  dir.Write("plain/b.yaml", "b: 1\n");
  dir.Write("plain/a.json", "{}\n");
  dir.Write("plain/notes.txt", "not a manifest\n");
  dir.Write("plain/sub/c.yaml", "not read by kubectl apply -f DIR\n");
  dir.Write("kust/kustomization.yaml", "resources: [base/web.yaml]\n");
  dir.Write("kust/base/web.yaml", "web: 1\n");
  dir.Write("empty/readme.md", "\n");

  auto file = ListManifestFiles("one.yaml", dir.path());
  ASSERT_TRUE(file.ok()) << file.message();
  EXPECT_FALSE(file->folder);
  EXPECT_EQ(file->files, std::vector<std::string>{dir.File("one.yaml")});

  auto plain = ListManifestFiles(dir.File("plain"), "/elsewhere");
  ASSERT_TRUE(plain.ok()) << plain.message();
  EXPECT_TRUE(plain->folder);
  EXPECT_FALSE(plain->kustomize);
  EXPECT_EQ(plain->files, (std::vector<std::string>{dir.File("plain/a.json"), dir.File("plain/b.yaml")}));

  auto kust = ListManifestFiles("kust", dir.path());
  ASSERT_TRUE(kust.ok()) << kust.message();
  EXPECT_TRUE(kust->kustomize);
  EXPECT_EQ(kust->files, (std::vector<std::string>{dir.File("kust/base/web.yaml"),
                                                   dir.File("kust/kustomization.yaml")}));

  EXPECT_THAT(ListManifestFiles("missing.yaml", dir.path()).message(), HasSubstr("does not exist"));
  EXPECT_THAT(ListManifestFiles("empty", dir.path()).message(), HasSubstr("no manifests"));
  auto url = ListManifestFiles("https://example.com/web.yaml", dir.path());
  EXPECT_THAT(url.message(), HasSubstr("is a URL"));
  EXPECT_TRUE(IsUrl("http://x/y"));
  EXPECT_FALSE(IsUrl("manifests/web.yaml"));
  EXPECT_FALSE(IsUrl("./a://b"));
}

std::vector<std::string> ValidateFile(const runbook::testing::TempDir& dir, const std::string& rb) {
  const std::string path = dir.Write("rb.yaml", rb);
  std::vector<std::string> out;
  for (const Diagnostic& d : LoadRunbookFile(path).diagnostics) out.push_back(d.ToString());
  return out;
}

const char* kHead =
    "runbook: m\nparams:\n  tag: {required: true}\n"
    "targets:\n  cluster: {kubeconfig: ./kubeconfig, namespace: web}\n";

TEST(ManifestValidation, AnUnknownPlaceholderInAManifestIsLocatedInTheManifest) {
  runbook::testing::TempDir dir;
  dir.Write("m/web.yaml",
            "kind: Deployment\n"
            "spec:\n"
            "  image: web:{{ params.tga }}\n"
            "  alert: \"{{ $labels.x }}\"\n"
            "  token: {{ secrets.nope }}\n"
            "  from: {{ steps.later.stdout }}\n"
            "  bad: {{ parms.tag }}\n");
  auto diags = ValidateFile(dir, std::string(kHead) +
                                     "steps:\n"
                                     "  - id: apply\n"
                                     "    kubectl: {target: cluster, apply: m/web.yaml}\n"
                                     "  - id: later\n    shell: \"true\"\n");
  const std::string file = dir.File("m/web.yaml");
  ASSERT_EQ(diags.size(), 4u) << ::testing::PrintToString(diags);
  EXPECT_EQ(diags[0], file + ":3:14: error: undefined placeholder {{ params.tga }}: no param 'tga' "
                            "(declare it under params)");
  EXPECT_THAT(diags[1], HasSubstr(file + ":5:10: error: undefined placeholder {{ secrets.nope }}"));
  EXPECT_THAT(diags[2], HasSubstr(file + ":6:9: error: placeholder {{ steps.later.stdout }} "
                                         "refers to step 'later', which does not run before"));
  EXPECT_THAT(diags[3], HasSubstr(file + ":7:8: error: unknown placeholder {{ parms.tag }}"));
}

TEST(ManifestValidation, ApplyPathsMustExistAndNotBeUrls) {
  runbook::testing::TempDir dir;
  auto missing = ValidateFile(dir, std::string(kHead) +
                                       "steps:\n  - id: apply\n"
                                       "    kubectl: {target: cluster, apply: nowhere.yaml}\n");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_THAT(missing[0], HasSubstr("rb.yaml:8:39: error: apply: manifest path " +
                                    dir.File("nowhere.yaml") + " does not exist"));
  auto url = ValidateFile(dir, std::string(kHead) +
                                   "steps:\n  - id: apply\n"
                                   "    kubectl: {target: cluster, apply: \"https://x.example/a.yaml\"}\n");
  ASSERT_EQ(url.size(), 1u);
  EXPECT_THAT(url[0], HasSubstr("is a URL; download the manifests"));
  // A path made by an earlier step is checked when the run renders it.
  auto dynamic = ValidateFile(dir, std::string(kHead) +
                                       "steps:\n  - id: gen\n    shell: echo x\n"
                                       "    outputs: {dir: stdout}\n  - id: apply\n"
                                       "    kubectl: {target: cluster, apply: \"{{ steps.gen.outputs.dir }}\"}\n");
  EXPECT_TRUE(dynamic.empty()) << ::testing::PrintToString(dynamic);
}

TEST(ManifestValidation, StoredRunbooksAreNotCheckedAgainstFilesThatMayHaveChanged) {
  // recover, replay and plans load the text stored in the audit log: a manifest deleted since
  // must not stop a rollback.
  LoadResult r = LoadRunbookText(std::string(kHead) +
                                     "steps:\n  - id: apply\n"
                                     "    kubectl: {target: cluster, apply: gone.yaml}\n",
                                 "rb.yaml", "/nonexistent");
  EXPECT_TRUE(r.ok());
}

TEST(ManifestValidation, FieldsThatTakeNoPlaceholderSaySo) {
  runbook::testing::TempDir dir;
  auto diags = ValidateFile(
      dir, "runbook: b\nparams:\n  n: {default: \"2\"}\n"
           "targets:\n  web: {hosts: [a, b]}\n"
           "steps:\n  - id: s\n"
           "    ssh: {target: web, command: \"true\", batch: \"{{ params.n }}\", max_fail: \"{{ params.n }}\"}\n");
  ASSERT_EQ(diags.size(), 2u) << ::testing::PrintToString(diags);
  EXPECT_THAT(diags[0], HasSubstr("batch does not accept placeholders"));
  EXPECT_THAT(diags[1], HasSubstr("max_fail does not accept placeholders"));
}

}  // namespace
}  // namespace runbook
