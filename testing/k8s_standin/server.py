#!/usr/bin/env python3
"""k8s-standin: a Kubernetes API server stand-in for testing kubectl-driven deployments.

An HTTP server on loopback that the real kubectl talks to through a kubeconfig. It serves
discovery, OpenAPI, and the kinds listed in resources.py (workloads with their controllers,
networking, storage, configuration, RBAC) with get/list/watch/create/update/patch/delete,
server-side dry run, resourceVersion and generation. Anything else kubectl asks for is
answered 501 and logged, so that gaps show. See README.md.

    python3 server.py --port 0 --step 0.3 --kubeconfig /tmp/kc
prints `k8s-standin listening on http://127.0.0.1:PORT` on stdout once it accepts requests.
"""

import argparse
import copy
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kinds  # noqa: E402
import patches  # noqa: E402
import proto  # noqa: E402
import resources  # noqa: E402
import tables  # noqa: E402
import validation  # noqa: E402
from manager import ControllerManager  # noqa: E402
from store import ApiError, Store, not_found  # noqa: E402

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-k8s-standin",
           "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
           "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc",
           "platform": "linux/amd64"}

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
}


class NotImplementedRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k8s-standin"
    # Headers and body go out in separate writes; with Nagle's algorithm the body then waits
    # for the client's delayed ACK (40 ms a response).
    disable_nagle_algorithm = True

    # The server object carries: store, log (list), log_file, quiet, lock.

    def log_message(self, fmt, *args):
        pass

    def _record(self, status):
        entry = {"method": self.command, "path": self.url.path, "query": self.url.query,
                 "status": status, "content_type": self.headers.get("Content-Type", ""),
                 "time": time.time()}
        with self.server.log_lock:
            self.server.request_log.append(entry)
            if self.server.log_file:
                self.server.log_file.write(json.dumps(entry) + "\n")
                self.server.log_file.flush()
        if status == 501 or self.server.verbose:
            sys.stderr.write(f"k8s-standin: {self.command} {self.path} -> {status}\n")
            sys.stderr.flush()

    def _send(self, code, doc, content_type="application/json", headers=()):
        body = (doc if isinstance(doc, bytes) else resources.dumps(doc).encode())
        self._record(code)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            # kubectl create|replace --raw streams the file it is given
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return raw
                raw += self.rfile.read(size)
                self.rfile.readline()  # the CRLF after each chunk
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _json_body(self):
        raw = self._body()
        if not raw:
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return proto.decode(raw)
            except proto.Unsupported as e:
                raise NotImplementedRequest(str(e))
            except ValueError as e:
                raise ApiError(400, "BadRequest", f"the protobuf body cannot be decoded: {e}")
        try:
            return json.loads(raw or b"null")
        except ValueError as e:
            ct = self.headers.get("Content-Type", "")
            if "yaml" in ct:
                raise NotImplementedRequest(f"a YAML request body ({ct}); the stand-in reads "
                                            "JSON bodies only")
            raise ApiError(400, "BadRequest", f"the request body is not JSON: {e}")

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _dispatch(self):
        self.url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(
            self.url.query, keep_blank_values=True).items()}
        self.warnings = []
        try:
            self._route()
        except ApiError as e:
            self._send(e.code, e.status())
        except NotImplementedRequest as e:
            message = f"k8s-standin does not implement {self.command} {self.url.path}: {e}"
            self._send(501, ApiError(501, "NotImplemented", message).status())
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a bug in the stand-in: say so loudly
            import traceback
            traceback.print_exc()
            self._send(500, ApiError(500, "InternalError",
                                     f"k8s-standin internal error: {e!r}").status())

    # ------------------------------------------------------------ routing

    def _route(self):
        parts = [urllib.parse.unquote(p) for p in self.url.path.split("/") if p]
        get = self.command in ("GET", "HEAD")
        if not parts:
            if get:
                return self._send(200, {"paths": ["/api", "/apis", "/version", "/openapi/v3"]})
        elif parts == ["version"] and get:
            return self._send(200, VERSION)
        elif parts[0] in ("healthz", "livez", "readyz") and get:
            return self._send(200, b"ok", "text/plain; charset=utf-8")
        elif parts == ["_standin", "requests"] and get:
            with self.server.log_lock:
                requests = list(self.server.request_log)
            return self._send(200, {"requests": requests})
        elif parts[0] == "openapi" and get:
            return self._openapi(parts[1:])
        elif parts[0] == "api" and len(parts) == 1 and get:
            return self._discovery(core=True)
        elif parts[0] == "apis" and len(parts) == 1 and get:
            return self._discovery(core=False)
        elif parts[0] == "apis" and len(parts) == 2 and get:
            doc = resources.api_group(parts[1])
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested "
                               "resource")
            return self._send(200, doc)
        elif parts[0] in ("api", "apis"):
            if parts[0] == "api":
                group, version, rest = "", parts[1], parts[2:]
            else:
                if len(parts) < 3:
                    raise NotImplementedRequest("unknown path")
                group, version, rest = parts[1], parts[2], parts[3:]
            if not rest and get:
                doc = resources.api_resource_list(group, version)
                if doc is None:
                    raise ApiError(404, "NotFound", "the server could not find the requested "
                                   "resource")
                return self._send(200, doc)
            return self._resource(group, version, rest)
        raise NotImplementedRequest("no such endpoint")

    def _discovery(self, core):
        version = resources.wants_aggregated(self.headers.get("Accept"))
        if version:
            return self._send(200, resources.aggregated_list(core, version),
                              resources.aggregated_media_type(version))
        if core:
            host, port = self.server.server_address[:2]
            return self._send(200, resources.api_versions(f"{host}:{port}"))
        return self._send(200, resources.api_group_list())

    def _openapi(self, rest):
        if rest == ["v3"]:
            return self._send(200, resources.openapi_root())
        if rest and rest[0] == "v3":
            doc = resources.openapi_group_version("/".join(rest[1:]))
            if doc is not None:
                return self._send(200, doc)
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if rest == ["v2"]:
            media_type = resources.openapi_v2_media_type(self.headers.get("Accept"))
            if media_type is None:
                raise ApiError(406, "NotAcceptable", "only application/json and "
                               f"{resources.OPENAPI_V2_PROTOBUF} are served")
            return self._send(200, resources.openapi_v2(media_type), media_type)
        raise NotImplementedRequest("unknown OpenAPI document")

    def _resource(self, group, version, rest):
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            ns, rest = rest[1], rest[2:]
        res = resources.find(group, version, rest[0])
        if res is None:
            gv = f"{group}/{version}" if group else version
            served = ", ".join(r.plural for r in resources.RESOURCES
                               if r.group == group and r.version == version)
            raise NotImplementedRequest(f"resource {rest[0]} in {gv} is not served (served: "
                                        f"{served or 'nothing in this group-version'})")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3 or (sub and sub not in res.subresources):
            raise NotImplementedRequest(f"subresource {'/'.join(rest[2:])} of {res.plural}")
        if res.namespaced and ns is None and name is not None:
            raise NotImplementedRequest(f"{res.plural} are namespaced; the path has no namespace")
        if not res.namespaced:
            ns = ""
        method = self.command
        if method in ("GET", "HEAD"):
            if name is None:
                return self._watch(res, ns) if self._flag("watch") else self._list(res, ns)
            if sub == "scale":
                return self._send(200, self._scale_of(res, self.server.store.get(res, ns, name)))
            return self._send(200, self._maybe_table(res, self.server.store.get(res, ns, name)))
        if method == "POST" and name is None:
            return self._create(res, ns)
        if method == "PUT" and name is not None:
            return self._update(res, ns, name, sub)
        if method == "PATCH" and name is not None:
            return self._patch(res, ns, name, sub)
        if method == "DELETE" and name is not None and sub is None:
            return self._delete(res, ns, name)
        if method == "DELETE" and name is None:
            return self._delete_collection(res, ns)
        raise NotImplementedRequest(f"{method} on {res.plural}" + (f"/{sub}" if sub else ""))

    # ------------------------------------------------------------ helpers

    def _flag(self, name):
        return self.query.get(name, "") in ("true", "1")

    def _dry_run(self):
        value = self.query.get("dryRun")
        if value is None:
            return False
        if value != "All":
            raise ApiError(400, "BadRequest", f'unsupported dryRun value "{value}"; the only '
                           'supported value is "All"')
        return True

    def _selectors(self):
        try:
            label = kinds.parse_label_selector(self.query["labelSelector"]) \
                if self.query.get("labelSelector") else None
        except kinds.SelectorError as e:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {e}")
        field = None
        if self.query.get("fieldSelector"):
            reqs = []
            for part in self.query["fieldSelector"].split(","):
                neg = "!=" in part
                key, _, value = part.replace("!=", "=").replace("==", "=").partition("=")
                if key not in ("metadata.name", "metadata.namespace"):
                    raise ApiError(400, "BadRequest", f'"{key}" is not a known field selector: '
                                   'only "metadata.name", "metadata.namespace"')
                reqs.append((key.split(".")[1], value, neg))

            def field(obj):
                return all((obj["metadata"].get(k, "") == v) != neg for k, v, neg in reqs)
        return label, field

    def _fields(self, res, obj):
        """Unknown fields and type errors in a body, under ?fieldValidation."""
        mode = self.query.get("fieldValidation", "Warn")
        if mode not in ("Strict", "Warn", "Ignore"):
            raise ApiError(400, "BadRequest", f'fieldValidation must be one of "Ignore", '
                           f'"Warn", "Strict"; got "{mode}"')
        problems = kinds.check_fields(obj, res.kind, drop_unknown=True)
        if problems.type_errors:
            path, want, got = problems.type_errors[0]
            raise ApiError(400, "BadRequest", f'{res.kind} in version "{res.version}" cannot be '
                           f"handled as a {res.kind}: json: cannot unmarshal {got} into Go "
                           f"struct field .{path} of type {want}")
        if res.kind == "Secret" and validation.secret_data_error(obj):
            raise ApiError(400, "BadRequest", f'Secret in version "v1" cannot be handled as a '
                           f"Secret: {validation.secret_data_error(obj)}")
        if problems.unknown and mode == "Strict":
            listed = ", ".join(f'unknown field "{p}"' for p in problems.unknown)
            raise ApiError(400, "BadRequest", f'{res.kind} in version "{res.version}" cannot be '
                           f"handled as a {res.kind}: strict decoding error: {listed}")
        if problems.unknown and mode == "Warn":
            self.warnings += [f'unknown field "{p}"' for p in problems.unknown]

    def _warning_headers(self):
        return [("Warning", '299 - "' + w.replace('"', '\\"') + '"') for w in self.warnings]

    def _check_kind(self, res, obj):
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if (api_version and api_version != res.api_version) or (kind and kind != res.kind):
            raise ApiError(400, "BadRequest", f"the API version in the data ({api_version}) "
                           f"does not match the expected API version ({res.api_version}) or "
                           f"kind {kind} is not {res.kind}")

    # ------------------------------------------------------------ verbs

    def _list(self, res, ns):
        label, field = self._selectors()
        items, rv = self.server.store.list(res, ns or None, label, field)
        for item in items:
            item.setdefault("apiVersion", res.api_version)
            item.setdefault("kind", res.kind)
        if self._wants_table():
            return self._send(200, self._table(res, items, rv),
                              "application/json;as=Table;v=v1;g=meta.k8s.io")
        return self._send(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                                "metadata": {"resourceVersion": rv}, "items": items})

    def _watch(self, res, ns):
        store = self.server.store
        label, field = self._selectors()
        timeout = float(self.query.get("timeoutSeconds") or 1800)
        since_text = self.query.get("resourceVersion", "")
        initial = []
        with store.cond:
            if since_text in ("", "0") or self._flag("sendInitialEvents"):
                items, _ = store.list(res, ns or None, label, field)
                initial = [{"type": "ADDED", "object": o} for o in items]
                since = store.rv
            else:
                try:
                    since = int(since_text)
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid resourceVersion {since_text!r}")
                if since > store.rv:
                    raise ApiError(504, "Timeout", f"Too large resource version: {since}, "
                                   f"current: {store.rv}")
        if self._flag("sendInitialEvents"):
            initial.append({"type": "BOOKMARK", "object": {
                "kind": res.kind, "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(since),
                             "annotations": {"k8s.io/initial-events-end": "true"}}}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self._record(200)

        def chunk(event):
            data = (resources.dumps(event) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            for event in initial:
                chunk(event)
            deadline = time.monotonic() + timeout
            while not self.server.stopping:
                with store.cond:
                    events = store.events_since(res, ns or None, since)
                    if not events:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        store.cond.wait(min(remaining, 1.0))
                        events = store.events_since(res, ns or None, since)
                for rv, _, _, etype, obj in events:
                    since = rv
                    if label and not label(obj["metadata"].get("labels")):
                        continue
                    if field and not field(obj):
                        continue
                    chunk({"type": etype, "object": obj})
                if time.monotonic() >= deadline:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _create(self, res, ns):
        obj = self._json_body()
        self._check_kind(res, obj)
        self._fields(res, obj)
        stored = self.server.store.create(res, ns, obj, self._dry_run())
        return self._send(201, stored, headers=self._warning_headers())

    def _update(self, res, ns, name, sub):
        obj = self._json_body()
        store = self.server.store
        if sub == "scale":
            return self._write_scale(res, ns, name, obj)
        self._check_kind(res, obj)
        self._fields(res, obj)
        stored = store.update(res, ns, name, obj, self._dry_run(), subresource=sub)
        return self._send(200, stored, headers=self._warning_headers())

    def _patch(self, res, ns, name, sub):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        kind = PATCH_TYPES.get(ctype)
        if kind is None:
            raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an '
                           f'unknown format - accepted media types include: '
                           f'{", ".join(PATCH_TYPES)}')
        patch = self._json_body()
        store = self.server.store
        with store.cond:  # read-modify-write as one step
            if sub == "scale":
                if kind == "apply":
                    raise NotImplementedRequest("server-side apply of the scale subresource")
                current = self._scale_of(res, store.get(res, ns, name))
                code, doc = 200, self._store_scale(res, ns, name,
                                                   self._apply_patch(kind, current, patch))
            elif kind == "apply":
                code, doc = self._server_side_apply(res, ns, name, patch)
            else:
                current = store.get(res, ns, name)
                result = self._apply_patch(kind, current, patch)
                self._check_kind(res, result)
                self._fields(res, result)
                code, doc = 200, store.update(res, ns, name, result, self._dry_run(),
                                              subresource=sub)
        return self._send(code, doc, headers=self._warning_headers())

    @staticmethod
    def _apply_patch(kind, current, patch):
        try:
            if kind == "merge":
                return patches.merge_patch(current, patch)
            if kind == "json":
                return patches.json_patch(current, patch)
            return patches.strategic_merge(current, patch)
        except patches.PatchError as e:
            raise ApiError(e.code, e.reason, str(e))

    def _server_side_apply(self, res, ns, name, applied):
        store = self.server.store
        manager = self.query.get("fieldManager")
        if not manager:
            raise ApiError(400, "BadRequest", "PatchOptions.meta.k8s.io \"\" is invalid: "
                           "fieldManager: Required value: is required for apply patch")
        self._check_kind(res, applied)
        self._fields(res, applied)
        key = (res.key, ns, name, manager)
        try:
            live = store.get(res, ns, name)
        except ApiError as e:
            if e.code != 404:
                raise
            live = None
        try:
            result = patches.apply_patch(live, applied, store.applied.get(key))
        except patches.PatchError as e:
            raise ApiError(e.code, e.reason, str(e))
        result.setdefault("metadata", {})["name"] = name
        dry_run = self._dry_run()
        if live is None:
            stored = store.create(res, ns, result, dry_run)
            code = 201
        else:
            stored = store.update(res, ns, name, result, dry_run)
            code = 200
        if not dry_run:
            store.applied[key] = copy.deepcopy(applied)
        return code, stored

    def _delete(self, res, ns, name):
        options = self._json_body() or {}
        propagation = self.query.get("propagationPolicy") or \
            options.get("propagationPolicy") or "Background"
        dry_run = self._dry_run() or "All" in (options.get("dryRun") or [])
        old = self.server.store.delete(res, ns, name, dry_run, propagation,
                                       options.get("preconditions"))
        return self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Success",
                                "details": {"name": name, "group": res.group,
                                            "kind": res.plural,
                                            "uid": old["metadata"]["uid"]}})

    def _delete_collection(self, res, ns):
        label, field = self._selectors()
        store = self.server.store
        dry_run = self._dry_run()
        with store.cond:
            items, rv = store.list(res, ns or None, label, field)
            for item in items:
                store.delete(res, item["metadata"].get("namespace", ""),
                             item["metadata"]["name"], dry_run)
        return self._send(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                                "metadata": {"resourceVersion": rv}, "items": items})

    # ------------------------------------------------------------ scale subresource

    @staticmethod
    def _scale_of(res, obj):
        selector = dict((obj["spec"].get("selector") or {}))
        if res.kind == "ReplicationController":  # a plain label map
            selector = {"matchLabels": selector}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: obj["metadata"][k] for k in
                             ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in obj["metadata"]},
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                           "selector": kinds.selector_string(selector)}}

    def _write_scale(self, res, ns, name, scale):
        return self._send(200, self._store_scale(res, ns, name, scale))

    def _store_scale(self, res, ns, name, scale):
        store = self.server.store
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: '
                           f"spec.replicas: Invalid value: {replicas}: must be greater than or "
                           "equal to 0")
        with store.cond:
            obj = store.get(res, ns, name)
            rv = (scale.get("metadata") or {}).get("resourceVersion")
            if rv:
                obj["metadata"]["resourceVersion"] = rv
            obj["spec"]["replicas"] = replicas
            stored = store.update(res, ns, name, obj, self._dry_run())
        return self._scale_of(res, stored)

    # ------------------------------------------------------------ tables (kubectl get)

    def _wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def _maybe_table(self, res, obj):
        if self._wants_table():
            return self._table(res, [obj], obj["metadata"].get("resourceVersion", ""))
        return obj

    def _table(self, res, items, rv):
        return tables.table(res, items, rv, self.query.get("includeObject"))


def write_kubeconfig(path, url, namespace):
    text = f"""apiVersion: v1
kind: Config
clusters:
- name: k8s-standin
  cluster:
    server: {url}
contexts:
- name: k8s-standin
  context:
    cluster: k8s-standin
    user: k8s-standin
    namespace: {namespace}
users:
- name: k8s-standin
  user:
    token: k8s-standin-token
current-context: k8s-standin
"""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--step", type=float, default=1.0,
                        help="seconds per rollout step of the controllers")
    parser.add_argument("--kubeconfig", help="write a kubeconfig for this server here")
    parser.add_argument("--namespace", default="default",
                        help="namespace of the context in --kubeconfig")
    parser.add_argument("--request-log", help="append every request as a JSON line here")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when stdin closes (so a test's server dies with the test)")
    args = parser.parse_args(argv)
    if not args.host.startswith("127.") and args.host != "localhost":
        parser.error("the stand-in listens on loopback only")

    store = Store()
    controller = ControllerManager(store, args.step)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.store = store
    server.request_log = []
    server.log_lock = threading.Lock()
    server.log_file = open(args.request_log, "a") if args.request_log else None
    server.verbose = args.verbose
    server.stopping = False
    controller.start()
    url = f"http://{args.host}:{server.server_address[1]}"
    if args.kubeconfig:
        write_kubeconfig(args.kubeconfig, url, args.namespace)
    print(f"k8s-standin listening on {url}", flush=True)
    if args.exit_on_stdin_eof:
        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping = True
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
