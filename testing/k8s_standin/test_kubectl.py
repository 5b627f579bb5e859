"""The stand-in driven by the real kubectl, with the real-world manifests in testdata/: every
kind applied (with kubectl's default client-side checks and server-side field validation),
read, dry-run, diffed, changed, replaced with its earlier form (as a rollback restores an
object) and deleted; StatefulSets and DaemonSets rolled out, rolled back and listed through
their ControllerRevisions. Part of the stand-in's self-tests:

    python3 -m unittest discover -s testing/k8s_standin -p 'test_*.py'
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import resources  # noqa: E402
import server  # noqa: E402
from test_standin import Served  # noqa: E402

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
WORKLOADS = ("statefulset.yaml", "daemonset.yaml")

# file -> (text in v1, text in v2, path of the changed field, its value in v2)
CHANGES = {
    "configmap.yaml": ("LOG_LEVEL: info", "LOG_LEVEL: debug", "data.LOG_LEVEL", "debug"),
    "cronjob.yaml": ('"0 3 * * *"', '"30 4 * * *"', "spec.schedule", "30 4 * * *"),
    "horizontalpodautoscaler.yaml": ("maxReplicas: 10", "maxReplicas: 20", "spec.maxReplicas",
                                     20),
    "ingress.yaml": ("number: 80", "number: 8080",
                     "spec.rules.0.http.paths.0.backend.service.port.number", 8080),
    "job.yaml": ("parallelism: 1", "parallelism: 2", "spec.parallelism", 2),
    "networkpolicy.yaml": ("port: 5432", "port: 6432", "spec.ingress.0.ports.0.port", 6432),
    "persistentvolumeclaim.yaml": ("tier: storage", "tier: uploads", "metadata.labels.tier",
                                   "uploads"),
    "poddisruptionbudget.yaml": ("minAvailable: 1", "minAvailable: 2", "spec.minAvailable", 2),
    "replicationcontroller.yaml": ("nginx:1.25.3", "nginx:1.25.4",
                                   "spec.template.spec.containers.0.image", "nginx:1.25.4"),
    "role.yaml": ("verbs: [get, list]\n", "verbs: [get, list, watch]\n", "rules.1.verbs",
                  ["get", "list", "watch"]),
    "rolebinding.yaml": ("  name: shop-deployer\nroleRef",
                         "  name: shop-deployer\n- kind: User\n  name: alice\nroleRef",
                         "subjects.1.name", "alice"),
    "secret.yaml": ("correct-horse", "battery-staple", "data.password", "YmF0dGVyeS1zdGFwbGU="),
    "service.yaml": ("port: 80\n", "port: 8080\n", "spec.ports.0.port", 8080),
    "serviceaccount.yaml": ("automountServiceAccountToken: false",
                            "automountServiceAccountToken: true",
                            "automountServiceAccountToken", True),
    "storageclass.yaml": ("allowVolumeExpansion: true", "allowVolumeExpansion: false",
                          "allowVolumeExpansion", False),
}
# Kinds whose metadata.generation counts spec changes.
GENERATION = {"CronJob", "Ingress", "Job", "NetworkPolicy", "PodDisruptionBudget",
              "ReplicationController"}


def at(obj, path):
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def without(obj, *paths):
    """A copy of `obj` without the fields at `paths` ("metadata.resourceVersion"; a dot in a
    name is written "\\.")."""
    obj = json.loads(json.dumps(obj))
    for path in paths:
        *parents, last = [p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", path)]
        node = obj
        for part in parents:
            node = node.get(part, {})
        node.pop(last, None)
    return obj


class KubectlTest(Served):
    def setUp(self):
        super().setUp()
        if shutil.which("kubectl") is None:
            self.fail("kubectl not found on PATH (scripts/setup.sh installs kubernetes-client)")
        self.dir = tempfile.mkdtemp(prefix="k8s-standin-test-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        server.write_kubeconfig(self.kubeconfig, self.base, "default")

    def kubectl(self, *args, ok=True):
        env = dict(os.environ, KUBECACHEDIR=os.path.join(self.dir, "cache"))
        p = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args], env=env,
                           capture_output=True, text=True, timeout=60)
        if ok:
            self.assertEqual(p.returncode, 0, f"kubectl {' '.join(args)}: {p.stderr}")
        return p

    def get_json(self, *args):
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_all_answered(self):
        failed = [r for r in self.httpd.request_log if r["status"] in (500, 501)]
        self.assertEqual(failed, [], "the stand-in did not implement these requests")

    # ------------------------------------------------------------ every kind

    def test_every_kind_applies_reads_patches_replaces_and_deletes(self):
        files = sorted(os.path.basename(f) for f in glob.glob(os.path.join(TESTDATA, "*.yaml")))
        self.assertEqual(sorted(CHANGES), [f for f in files if f not in WORKLOADS])
        for name, (old, new, _, _) in CHANGES.items():
            with open(os.path.join(TESTDATA, name)) as f:
                text = f.read()
            self.assertIn(old, text, name)
            self.write(f"v1/{name}", text)
            self.write(f"v2/{name}", text.replace(old, new))
        v1, v2 = os.path.join(self.dir, "v1"), os.path.join(self.dir, "v2")

        # A server-side dry run answers with the defaulted objects and stores nothing.
        dry = json.loads(self.kubectl("apply", "--dry-run=server", "-o", "json", "-f", v1).stdout)
        self.assertEqual(len(dry["items"]), len(CHANGES))
        for item in dry["items"]:
            self.assertTrue(item["metadata"]["uid"], item["kind"])
            self.assertNotIn("resourceVersion", item["metadata"])
        none = self.kubectl("get", "-f", v1, "--ignore-not-found", "-o", "name")
        self.assertEqual(none.stdout, "")

        self.kubectl("apply", "-f", v1)
        first = {o["kind"]: o for o in self.get_json("-f", v1)["items"]}
        self.assertEqual(len(first), len(CHANGES))
        for kind, obj in first.items():
            meta = obj["metadata"]
            self.assertTrue(meta["uid"] and meta["resourceVersion"] and
                            meta["creationTimestamp"], kind)
            self.assertEqual(meta.get("generation"), 1 if kind in GENERATION else None, kind)
        secret = first["Secret"]
        self.assertNotIn("stringData", secret)
        self.assertEqual(secret["data"]["username"], "c2hvcA==")  # stringData went into data
        self.assertEqual(secret["data"]["port"], "NTQzMg==")
        self.assertEqual(first["Service"]["spec"]["ports"][0]["protocol"], "TCP")
        self.assertTrue(30000 <= first["Service"]["spec"]["ports"][0]["nodePort"] <= 32767)
        self.assertEqual(first["HorizontalPodAutoscaler"]["spec"]["behavior"]["scaleUp"]
                         ["selectPolicy"], "Max")  # the defaults of a given behavior
        self.assertEqual(first["PersistentVolumeClaim"]["status"], {"phase": "Pending"})
        self.assertEqual(first["NetworkPolicy"]["spec"]["policyTypes"], ["Ingress"])

        # kubectl diff --server-side shows every change and writes nothing.
        writes = len([r for r in self.httpd.request_log if r["method"] in ("PUT", "POST")])
        diff = self.kubectl("diff", "--server-side", "-f", v2, ok=False)
        self.assertEqual(diff.returncode, 1, diff.stderr)
        for kind, obj in first.items():
            self.assertRegex(diff.stdout, rf"\.{kind}\.(default)?\.{obj['metadata']['name']}\b")
        unchanged = [without(o, "metadata.resourceVersion", "status")  # the RC's controller
                     for o in self.get_json("-f", v1)["items"]]    # may write its status
        self.assertEqual(unchanged, [without(o, "metadata.resourceVersion", "status")
                                     for o in first.values()])
        self.assertEqual(writes, len([r for r in self.httpd.request_log
                                      if r["method"] in ("PUT", "POST")]))

        self.kubectl("apply", "-f", v2)
        second = {o["kind"]: o for o in self.get_json("-f", v1)["items"]}
        for name, (_, _, path, value) in CHANGES.items():
            kind = self.kind_of(name, first)
            self.assertEqual(at(second[kind], path), value, name)
            self.assertEqual(second[kind]["metadata"].get("generation"),
                             2 if kind in GENERATION else None, kind)

        # A PUT of the earlier form with its stale resourceVersion conflicts...
        stale = self.write("stale.json", json.dumps({"apiVersion": "v1", "kind": "List",
                                                     "items": list(first.values())}))
        p = self.kubectl("replace", "-f", stale, ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stderr.count("the object has been modified"), len(CHANGES), p.stderr)
        # ...and without one (the runner's restore of an object) it puts back the whole
        # object, exactly: spec, data, labels, annotations.
        ignored = ("metadata.resourceVersion", "metadata.generation", "status")
        earlier = [without(o, "metadata.resourceVersion") for o in first.values()]
        for obj in earlier:
            res = resources.find_kind(obj["apiVersion"], obj["kind"])
            url = res.base_path() + (f"/namespaces/{obj['metadata']['namespace']}"
                                     if res.namespaced else "")
            path = self.write(f"raw/{obj['kind']}.json", json.dumps(obj))
            self.kubectl("replace", "--raw", f"{url}/{res.plural}/{obj['metadata']['name']}",
                         "-f", path)
        third = {o["kind"]: o for o in self.get_json("-f", v1)["items"]}
        for kind, obj in first.items():
            self.assertEqual(without(third[kind], *ignored), without(obj, *ignored), kind)
            self.assertEqual(third[kind]["metadata"].get("generation"),
                             3 if kind in GENERATION else None, kind)
        # kubectl replace -f sends the same PUT, but first rewrites kubectl's own
        # last-applied-configuration annotation to the whole object (uid, server-set fields
        # and all), so that a later kubectl apply removes what its manifest does not set.
        self.kubectl("apply", "-f", v2)
        restore = self.write("restore.json", json.dumps({"apiVersion": "v1", "kind": "List",
                                                         "items": earlier}))
        self.kubectl("replace", "-f", restore)
        fourth = {o["kind"]: o for o in self.get_json("-f", v1)["items"]}
        applied = "metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration"
        for kind, obj in first.items():
            self.assertEqual(without(fourth[kind], applied, *ignored),
                             without(obj, applied, *ignored), kind)
            rewritten = json.loads(fourth[kind]["metadata"]["annotations"][
                "kubectl.kubernetes.io/last-applied-configuration"])
            self.assertEqual(rewritten["metadata"]["uid"], obj["metadata"]["uid"], kind)

        # The other patch types: a merge patch (label), a JSON patch.
        self.kubectl("label", "-f", v1, "checked=yes")
        self.kubectl("patch", "-f", v1, "--type=json", "-p",
                     '[{"op": "add", "path": "/metadata/annotations/patched", "value": "json"}]')
        patched = {o["kind"]: o for o in self.get_json("-f", v1)["items"]}
        self.assertEqual(len(patched), len(CHANGES))
        for kind, obj in patched.items():
            self.assertEqual(obj["metadata"]["labels"]["checked"], "yes", kind)
            self.assertEqual(obj["metadata"]["annotations"]["patched"], "json", kind)

        self.kubectl("delete", "-f", v1, "--wait=true")
        gone = self.kubectl("get", "-f", v1, "--ignore-not-found", "-o", "name")
        self.assertEqual(gone.stdout, "")

        # Server-side apply, v1 then v2: what v2 no longer sets goes.
        self.kubectl("apply", "--server-side", "-f", v1)
        self.kubectl("apply", "--server-side", "-f", v2)
        ssa = {o["kind"]: o for o in self.get_json("-f", v1)["items"]}
        for name, (_, _, path, value) in CHANGES.items():
            kind = self.kind_of(name, first)
            self.assertEqual(at(ssa[kind], path), value, name)
        self.assertEqual(len(ssa["Service"]["spec"]["ports"]), 1)
        self.kubectl("delete", "-f", v1, "--wait=true")
        self.assert_all_answered()

    @staticmethod
    def kind_of(name, objects):
        stem = name[:-len(".yaml")]
        return next(k for k in objects if k.lower() == stem)

    def test_invalid_changes_are_refused_as_a_real_server_refuses_them(self):
        for name in ("persistentvolumeclaim.yaml", "storageclass.yaml", "rolebinding.yaml",
                     "statefulset.yaml"):
            self.kubectl("apply", "-f", os.path.join(TESTDATA, name))

        def refused(name, old, new, message):
            with open(os.path.join(TESTDATA, name)) as f:
                text = f.read()
            self.assertIn(old, text)
            path = self.write(f"bad/{name}", text.replace(old, new))
            p = self.kubectl("apply", "-f", path, ok=False)
            self.assertNotEqual(p.returncode, 0, f"{name}: {new!r} was accepted")
            self.assertIn(message, p.stderr)

        refused("persistentvolumeclaim.yaml", "storage: 20Gi", "storage: 30Gi",
                "spec: Forbidden: spec is immutable after creation")
        refused("storageclass.yaml", "type: pd-ssd", "type: pd-balanced",
                "parameters: Forbidden: updates to parameters are forbidden.")
        refused("rolebinding.yaml", "kind: Role\n", "kind: ClusterRole\n",
                "roleRef: Invalid value")
        refused("statefulset.yaml", "storage: 10Gi", "storage: 20Gi",
                "spec: Forbidden: updates to statefulset spec for fields other than")
        refused("statefulset.yaml", "image: postgres:16.1", "imagee: postgres:16.1",
                'unknown field "spec.template.spec.containers[0].imagee"')
        refused("ingress.yaml", "pathType: Prefix\n        backend:\n          service:\n"
                "            name: shop\n", "backend:\n          service:\n"
                "            name: shop\n",
                "spec.rules[0].http.paths[0].pathType: Required value")
        refused("horizontalpodautoscaler.yaml", "maxReplicas: 10", "maxReplicas: 1",
                "spec.maxReplicas: Invalid value: 1: must be greater than or equal to "
                "`minReplicas`")
        refused("secret.yaml", "NTQzMg==", "not base64!", "illegal base64 data")
        refused("job.yaml", "restartPolicy: Never", "restartPolicy: Always",
                'spec.template.spec.restartPolicy: Unsupported value: "Always"')
        self.assert_all_answered()

    def test_discovery_lists_every_served_kind(self):
        names = self.kubectl("api-resources", "-o", "name").stdout.split()
        for resource in ("statefulsets.apps", "daemonsets.apps", "controllerrevisions.apps",
                         "ingresses.networking.k8s.io", "persistentvolumeclaims",
                         "horizontalpodautoscalers.autoscaling", "storageclasses.storage.k8s.io",
                         "replicationcontrollers", "secrets", "poddisruptionbudgets.policy",
                         "cronjobs.batch", "jobs.batch", "serviceaccounts",
                         "roles.rbac.authorization.k8s.io", "networkpolicies.networking.k8s.io"):
            self.assertIn(resource, names)
        legacy = json.loads(self.kubectl("get", "--raw", "/apis/apps/v1").stdout)
        self.assertIn("statefulsets/scale", [r["name"] for r in legacy["resources"]])
        cluster = self.kubectl("api-resources", "--namespaced=false", "-o", "name").stdout
        self.assertIn("storageclasses.storage.k8s.io", cluster.split())

    # ------------------------------------------------------------ workloads

    def rollout(self, kind, name, *ns):
        p = self.kubectl("rollout", "status", f"{kind}/{name}", "--timeout=30s", *ns)
        return p.stdout.splitlines()[-1]

    def history(self, kind, name, *ns):
        lines = self.kubectl("rollout", "history", f"{kind}/{name}", *ns).stdout.splitlines()
        return [line.split(None, 1) for line in lines[2:] if line.strip()]

    def image(self, kind, name, *ns):
        return self.kubectl("get", kind, name, *ns, "-o",
                            "jsonpath={.spec.template.spec.containers[0].image}").stdout

    def check_workload(self, kind, name, v1, v2, ns=()):
        """apply v1, apply v2 (with a change cause), undo, undo --to-revision, history."""
        with open(os.path.join(TESTDATA, f"{kind}.yaml")) as f:
            text = f.read()
        self.assertIn(v1, text)
        first = self.write(f"{kind}-1.yaml", text)
        head = f"kind: {resources.find('apps', 'v1', kind + 's').kind}\nmetadata:\n  name: {name}\n"
        self.assertIn(head, text)
        second = self.write(f"{kind}-2.yaml", text.replace(v1, v2).replace(
            head, f"{head}  annotations:\n    kubernetes.io/change-cause: upgrade to {v2}\n"))
        self.kubectl("apply", "-f", first)
        done = self.rollout(kind, name, *ns)
        self.kubectl("apply", "-f", second)
        self.assertEqual(self.rollout(kind, name, *ns), done)
        self.assertEqual(self.image(kind, name, *ns), v2)
        self.assertEqual(self.history(kind, name, *ns),
                         [["1", "<none>"], ["2", f"upgrade to {v2}"]])
        shown = self.kubectl("rollout", "history", f"{kind}/{name}", "--revision=1", *ns).stdout
        self.assertIn(f"Image:\t{v1}", shown)

        undo = self.kubectl("rollout", "undo", f"{kind}/{name}", *ns).stdout
        self.assertIn("rolled back", undo)
        self.assertEqual(self.rollout(kind, name, *ns), done)
        self.assertEqual(self.image(kind, name, *ns), v1)
        # Revision 1 became revision 3; no new ControllerRevision was made.
        self.assertEqual(self.history(kind, name, *ns),
                         [["2", f"upgrade to {v2}"], ["3", "<none>"]])
        same = self.kubectl("rollout", "undo", f"{kind}/{name}", "--to-revision=3", *ns).stdout
        self.assertIn("skipped rollback (current template already matches revision 3)", same)
        self.kubectl("rollout", "undo", f"{kind}/{name}", "--to-revision=2", *ns)
        self.rollout(kind, name, *ns)
        self.assertEqual(self.image(kind, name, *ns), v2)

        revisions = self.get_json("controllerrevisions", *ns)["items"]
        self.assertEqual(sorted(r["revision"] for r in revisions), [3, 4])
        uid = self.get_json(kind, name, *ns)["metadata"]["uid"]
        for r in revisions:
            owners = [(o["uid"], o["controller"]) for o in r["metadata"]["ownerReferences"]]
            self.assertEqual(owners, [(uid, True)])
            self.assertEqual(r["data"]["spec"]["template"]["$patch"], "replace")
        self.kubectl("delete", kind, name, "--wait=true", *ns)
        self.assertEqual(self.get_json("controllerrevisions", *ns)["items"], [])  # collected
        self.assert_all_answered()
        return done

    def test_statefulset_rolls_out_back_and_forth(self):
        done = self.check_workload("statefulset", "shop-db", "postgres:16.1", "postgres:16.2")
        self.assertIn("partitioned roll out complete: 3 new pods have been updated", done)

    def test_daemonset_rolls_out_back_and_forth(self):
        self.kubectl("create", "namespace", "monitoring")
        done = self.check_workload("daemonset", "node-exporter",
                                   "quay.io/prometheus/node-exporter:v1.7.0",
                                   "quay.io/prometheus/node-exporter:v1.8.0",
                                   ("--namespace=monitoring",))
        self.assertIn('daemon set "node-exporter" successfully rolled out', done)

    def test_statefulset_status_follows_its_pods(self):
        path = os.path.join(TESTDATA, "statefulset.yaml")
        self.kubectl("apply", "-f", path)
        self.rollout("statefulset", "shop-db")
        sts = self.get_json("statefulset", "shop-db")
        status = sts["status"]
        self.assertEqual((status["replicas"], status["readyReplicas"], status["updatedReplicas"],
                          status["currentRevision"]),
                         (3, 3, 3, status["updateRevision"]))
        self.assertEqual(sts["spec"]["updateStrategy"],
                         {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        claim = sts["spec"]["volumeClaimTemplates"][0]
        self.assertEqual((claim["kind"], claim["spec"]["volumeMode"], claim["status"]),
                         ("PersistentVolumeClaim", "Filesystem", {"phase": "Pending"}))
        self.kubectl("scale", "statefulset", "shop-db", "--replicas=1")
        self.kubectl("wait", "statefulset/shop-db", "--for=jsonpath={.status.replicas}=1",
                     "--timeout=30s")
        self.assert_all_answered()


if __name__ == "__main__":
    unittest.main()
