"""Self-tests of the stand-in: the patch semantics, and the server and controller over HTTP.

    python3 -m unittest discover -s testing/k8s_standin -p 'test_*.py'
(also run by steps_tests, KubeStandin.PythonSelfTestsPass).
"""

import json
import os
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kinds  # noqa: E402
import patches  # noqa: E402
import resources  # noqa: E402
import server  # noqa: E402
import validation  # noqa: E402
from controller import template_hash  # noqa: E402
from manager import ControllerManager  # noqa: E402
from store import Store  # noqa: E402


class PatchTest(unittest.TestCase):
    def test_strategic_merge_merges_containers_by_name(self):
        live = {"spec": {"containers": [{"name": "a", "image": "x:1", "env": [
            {"name": "K", "value": "1"}]}, {"name": "b", "image": "y:1"}]}}
        patch = {"spec": {"containers": [{"name": "a", "image": "x:2"},
                                         {"name": "b", "$patch": "delete"},
                                         {"name": "c", "image": "z:1"}]}}
        out = patches.strategic_merge(live, patch)
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["a", "c"])
        self.assertEqual(out["spec"]["containers"][0]["image"], "x:2")
        self.assertEqual(out["spec"]["containers"][0]["env"], [{"name": "K", "value": "1"}])
        self.assertEqual(live["spec"]["containers"][0]["image"], "x:1")  # not modified

    def test_strategic_merge_directives(self):
        live = {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                "labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"],
                "containers": [{"name": "a"}, {"name": "b"}]}
        patch = {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                 "labels": {"b": None}, "$deleteFromPrimitiveList/finalizers": ["x"],
                 "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}
        out = patches.strategic_merge(live, patch)
        self.assertEqual(out["strategy"], {"type": "Recreate"})
        self.assertEqual(out["labels"], {"a": "1"})
        self.assertEqual(out["finalizers"], ["y"])
        self.assertEqual([c["name"] for c in out["containers"]], ["b", "a"])
        replaced = patches.strategic_merge(live, {"labels": {"$patch": "replace", "c": "3"}})
        self.assertEqual(replaced["labels"], {"c": "3"})

    def test_json_patch_and_merge_patch(self):
        doc = {"metadata": {"annotations": {"a": "1"}}, "spec": {"template": {"x": 1}}}
        out = patches.json_patch(doc, [
            {"op": "replace", "path": "/spec/template", "value": {"y": 2}},
            {"op": "add", "path": "/metadata/annotations/b~1c", "value": "2"},
            {"op": "remove", "path": "/metadata/annotations/a"},
            {"op": "test", "path": "/spec/template/y", "value": 2}])
        self.assertEqual(out, {"metadata": {"annotations": {"b/c": "2"}},
                               "spec": {"template": {"y": 2}}})
        with self.assertRaises(patches.PatchError):
            patches.json_patch(doc, [{"op": "replace", "path": "/nope", "value": 1}])
        self.assertEqual(patches.merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}),
                         {"a": {"c": 2}})

    def test_server_side_apply_removes_what_the_manager_stopped_applying(self):
        prev = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1, "y": 2}}
        live = {"metadata": {"labels": {"a": "1", "b": "2", "other": "3"}},
                "spec": {"x": 1, "y": 2, "z": 3}}
        out = patches.apply_patch(live, {"metadata": {"labels": {"a": "1"}}, "spec": {"x": 5}},
                                  prev)
        self.assertEqual(out["spec"], {"x": 5, "z": 3})
        self.assertEqual(out["metadata"]["labels"], {"a": "1", "other": "3"})


class KindsTest(unittest.TestCase):
    def test_label_selectors(self):
        match = kinds.parse_label_selector("app=web,tier in (a,b),!legacy,env!=dev")
        self.assertTrue(match({"app": "web", "tier": "a"}))
        self.assertFalse(match({"app": "web", "tier": "c"}))
        self.assertFalse(match({"app": "web", "tier": "a", "legacy": "1"}))
        self.assertFalse(match({"app": "web", "tier": "a", "env": "dev"}))

    def test_validation_and_unknown_fields(self):
        d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                 "metadata": {"labels": {"app": "other"}},
                 "spec": {"containers": [{"name": "c"}]}}}}
        fields = [c["field"] for c in validation.validate("Deployment", d)]
        self.assertIn("spec.template.metadata.labels", fields)
        self.assertIn("spec.template.spec.containers[0].image", fields)
        d["spec"]["replicaz"] = 1
        self.assertEqual(kinds.check_fields(d, "Deployment").unknown, ["spec.replicaz"])

    def test_template_hash_ignores_the_hash_label(self):
        t = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}
        h = template_hash(t)
        t["metadata"]["labels"]["pod-template-hash"] = h
        self.assertEqual(template_hash(t), h)
        self.assertRegex(h, "^[bcdfghjklmnpqrstvwxz2456789]+$")


class Served(unittest.TestCase):
    """A test with its own stand-in (store, controllers, HTTP server) on a free port."""

    def setUp(self):
        self.store = Store()
        self.controller = ControllerManager(self.store, 0.05)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), server.Handler)
        self.httpd.daemon_threads = True
        self.httpd.store = self.store
        self.httpd.request_log = []
        self.httpd.log_lock = threading.Lock()
        self.httpd.log_file = None
        self.httpd.verbose = False
        self.httpd.stopping = False
        self.controller.start()
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def tearDown(self):
        self.httpd.stopping = True
        self.httpd.shutdown()
        self.httpd.server_close()
        self.controller.stop()


class ServerTest(Served):
    def call(self, method, path, body=None, ctype="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def deployment(self, image, deadline=1):
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 2, "progressDeadlineSeconds": deadline,
                         "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"containers": [{"name": "c", "image": image}]}}}}

    def wait_for(self, predicate, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            _, d = self.call("GET", "/apis/apps/v1/namespaces/default/deployments/web")
            if predicate(d):
                return d
            time.sleep(0.02)
        self.fail(f"condition not reached: {json.dumps(d)[:600]}")

    def test_rollouts_revisions_and_the_progress_deadline(self):
        path = "/apis/apps/v1/namespaces/default/deployments"
        code, _ = self.call("POST", path + "?dryRun=All", self.deployment("app:1"))
        self.assertEqual(code, 201)
        self.assertEqual(self.call("GET", path + "/web")[0], 404)  # the dry run stored nothing
        code, created = self.call("POST", path, self.deployment("app:1"))
        self.assertEqual(code, 201)
        self.assertEqual(created["metadata"]["generation"], 1)
        self.assertEqual(self.call("POST", path, self.deployment("app:1"))[0], 409)

        def done(d):
            return d["status"].get("updatedReplicas") == 2 and \
                d["status"].get("availableReplicas") == 2 and d["status"].get("replicas") == 2

        d = self.wait_for(done)
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1")
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "app:2"}]}}}}
        code, d = self.call("PATCH", path + "/web", patch,
                            "application/strategic-merge-patch+json")
        self.assertEqual((code, d["metadata"]["generation"]), (200, 2))
        d = self.wait_for(lambda d: d["status"].get("observedGeneration") == 2 and done(d))
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2")
        _, rs = self.call("GET", "/apis/apps/v1/namespaces/default/replicasets")
        self.assertEqual(sorted(r["spec"]["replicas"] for r in rs["items"]), [0, 2])

        patch = {"spec": {"template": {"spec": {"containers": [{"name": "c",
                                                                "image": "app:broken"}]}}}}
        self.call("PATCH", path + "/web", patch, "application/strategic-merge-patch+json")
        d = self.wait_for(lambda d: any(c["reason"] == "ProgressDeadlineExceeded"
                                        for c in d["status"].get("conditions", [])))
        self.assertEqual(d["status"]["availableReplicas"], 2)  # the old pods stay

    def test_unimplemented_requests_get_501(self):
        code, status = self.call("GET", "/api/v1/namespaces/default/pods")
        self.assertEqual(code, 501)
        self.assertIn("k8s-standin does not implement", status["message"])
        self.assertEqual(self.httpd.request_log[-1]["status"], 501)

    def test_openapi_v2_media_types_parse(self):
        # kubectl asks for the "@v1.0" spelling; the answer must be a media type that Go's
        # mime.ParseMediaType accepts ("@" is a tspecial), or client-side validation fails.
        for accept, want in [
                ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                 "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
                ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", None),
                ("application/json", None), ("*/*", "application/json")]:
            req = urllib.request.Request(self.base + "/openapi/v2", headers={"Accept": accept})
            with urllib.request.urlopen(req, timeout=10) as resp:
                ctype = resp.headers["Content-Type"]
                body = resp.read()
            self.assertEqual(ctype, want or accept)
            self.assertRegex(ctype, r"^[a-z]+/[-a-z0-9.+]+$")
            if ctype == "application/json":
                self.assertEqual(json.loads(body)["swagger"], "2.0")
        req = urllib.request.Request(self.base + "/openapi/v2", headers={"Accept": "text/html"})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 406)

    def test_openapi_v3_lists_every_group_version(self):
        _, root = self.call("GET", "/openapi/v3")
        for group, version in resources.GROUPS:
            path = f"apis/{group}/{version}" if group else f"api/{version}"
            self.assertIn(path, root["paths"])
            _, doc = self.call("GET", root["paths"][path]["serverRelativeURL"])
            kinds_with_patch = {op["patch"]["x-kubernetes-group-version-kind"]["kind"]
                                for op in doc["paths"].values() if "patch" in op}
            self.assertEqual(kinds_with_patch, {r.kind for r in resources.resources_of(group,
                                                                                      version)})

    def test_legacy_and_aggregated_discovery_list_every_kind(self):
        _, groups = self.call("GET", "/apis")
        listed = {(g["name"], v["version"]) for g in groups["groups"] for v in g["versions"]}
        self.assertEqual(listed, {gv for gv in resources.GROUPS if gv[0]})
        for group, version in resources.GROUPS:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            _, doc = self.call("GET", path)
            self.assertEqual({r["kind"] for r in doc["resources"] if "/" not in r["name"]},
                             {r.kind for r in resources.resources_of(group, version)})
        accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        aggregated = []
        for path in ("/api", "/apis"):
            req = urllib.request.Request(self.base + path, headers={"Accept": accept})
            with urllib.request.urlopen(req, timeout=10) as resp:
                aggregated += [r["responseKind"]["kind"] for g in json.loads(resp.read())["items"]
                               for v in g["versions"] for r in v["resources"]]
        self.assertEqual(sorted(aggregated), sorted(r.kind for r in resources.RESOURCES))

    def test_watch_streams_changes(self):
        path = "/apis/apps/v1/namespaces/default/deployments"
        _, listed = self.call("GET", path)
        rv = listed["metadata"]["resourceVersion"]
        events = []

        def watch():
            url = f"{self.base}{path}?watch=true&resourceVersion={rv}&timeoutSeconds=2"
            with urllib.request.urlopen(url, timeout=5) as resp:
                for line in resp:
                    events.append(json.loads(line))
                    if len(events) >= 2:
                        break

        t = threading.Thread(target=watch)
        t.start()
        time.sleep(0.2)
        self.call("POST", path, self.deployment("app:1"))
        t.join(5)
        self.assertEqual(events[0]["type"], "ADDED")
        self.assertEqual(events[1]["type"], "MODIFIED")


if __name__ == "__main__":
    unittest.main()
