"""The resource types the stand-in serves, and the documents that describe them to kubectl.

kubectl learns what a server offers from discovery (/api, /apis, legacy per group-version
documents, or the aggregated apidiscovery.k8s.io/v2 list when it asks for it) and, before it
sends a write, from OpenAPI v3: it only leaves field validation to the server
(?fieldValidation=Strict) when the PATCH operation of the kind lists that parameter. For a
kind missing from OpenAPI v3 it validates on the client, with the OpenAPI v2 document.
"""

import hashlib
import json


class Resource:
    """One REST resource such as apps/v1 deployments."""

    def __init__(self, group, version, plural, kind, namespaced=True, short_names=(),
                 subresources=(), categories=(), has_generation=False):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.subresources = list(subresources)
        self.categories = list(categories)
        # Objects whose spec changes bump metadata.generation (workloads, Ingress, ...).
        self.has_generation = has_generation

    @property
    def has_status(self):
        """Status is written through /status only; writes of the object keep it."""
        return "status" in self.subresources

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self):
        """The store key: "apps/deployments", "/configmaps"."""
        return f"{self.group}/{self.plural}"

    @property
    def qualified(self):
        """How API errors name the resource: "deployments.apps", "configmaps"."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self):
        """How Invalid errors name the kind: "Deployment.apps", "ConfigMap"."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def base_path(self):
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = {"scale": ["get", "patch", "update"], "status": ["get", "patch", "update"]}
SUB_KINDS = {"scale": ("autoscaling", "v1", "Scale")}

R = Resource
WORKLOAD = dict(categories=["all"], has_generation=True)
RESOURCES = [
    # core/v1
    R("", "v1", "namespaces", "Namespace", False, ["ns"], ["status"]),
    R("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    R("", "v1", "secrets", "Secret"),
    R("", "v1", "services", "Service", True, ["svc"], ["status"], ["all"]),
    R("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    R("", "v1", "endpoints", "Endpoints", True, ["ep"]),
    R("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], ["status"]),
    R("", "v1", "persistentvolumes", "PersistentVolume", False, ["pv"], ["status"]),
    R("", "v1", "replicationcontrollers", "ReplicationController", True, ["rc"],
      ["scale", "status"], **WORKLOAD),
    R("", "v1", "limitranges", "LimitRange", True, ["limits"]),
    R("", "v1", "resourcequotas", "ResourceQuota", True, ["quota"], ["status"]),
    # apps/v1
    R("apps", "v1", "deployments", "Deployment", True, ["deploy"], ["scale", "status"],
      **WORKLOAD),
    R("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], ["scale", "status"], **WORKLOAD),
    R("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], ["scale", "status"],
      **WORKLOAD),
    R("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], ["status"], **WORKLOAD),
    R("apps", "v1", "controllerrevisions", "ControllerRevision"),
    # batch/v1
    R("batch", "v1", "jobs", "Job", True, [], ["status"], **WORKLOAD),
    R("batch", "v1", "cronjobs", "CronJob", True, ["cj"], ["status"], **WORKLOAD),
    # autoscaling/v2
    R("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
      ["hpa"], ["status"], ["all"]),
    # networking.k8s.io/v1
    R("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"], ["status"],
      has_generation=True),
    R("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    R("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"],
      has_generation=True),
    # policy/v1
    R("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], ["status"],
      has_generation=True),
    # rbac.authorization.k8s.io/v1
    R("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    R("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    R("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    R("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    # storage.k8s.io/v1, scheduling.k8s.io/v1
    R("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"]),
    R("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ["pc"]),
]

# The group-versions served, core first, in the order of RESOURCES.
GROUPS = list(dict.fromkeys((r.group, r.version) for r in RESOURCES))

BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND = {(r.group, r.kind): r for r in RESOURCES}
BY_KEY = {r.key: r for r in RESOURCES}


def find(group, version, plural):
    return BY_PATH.get((group, version, plural))


def find_kind(api_version, kind):
    group = api_version.split("/")[0] if "/" in api_version else ""
    return BY_KIND.get((group, kind))


def by_key(key):
    """The resource of a store key ("apps/deployments")."""
    return BY_KEY[key]


def resources_of(group, version):
    return [r for r in RESOURCES if r.group == group and r.version == version]


# ---------------------------------------------------------------- legacy discovery

def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group_doc(group):
    versions = [{"groupVersion": f"{g}/{v}", "version": v} for g, v in GROUPS if g == group]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list():
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_doc(g) for g, _ in GROUPS if g]}


def api_group(group):
    if not any(g == group for g, _ in GROUPS if g):
        return None
    doc = _group_doc(group)
    doc.update({"kind": "APIGroup", "apiVersion": "v1"})
    return doc


def api_resource_list(group, version):
    if (group, version) not in GROUPS:
        return None
    items = []
    for r in resources_of(group, version):
        items.append({"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": VERBS, "shortNames": r.short_names,
                      "categories": r.categories,
                      "storageVersionHash": _short_hash(r.key)})
        for sub in r.subresources:
            g, v, k = SUB_KINDS.get(sub, (r.group, r.version, r.kind))
            entry = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                     "kind": k, "verbs": SUB_VERBS[sub]}
            if sub == "scale":
                entry.update({"group": g, "version": v})
            items.append(entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}


# ---------------------------------------------------------------- aggregated discovery

AGGREGATED_VERSIONS = ("v2", "v2beta1")


def aggregated_media_type(version):
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"


def wants_aggregated(accept):
    """The aggregated discovery version the Accept header asks for first, or None."""
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in AGGREGATED_VERSIONS:
                return params["v"]
    return None


def aggregated_list(core, version):
    """The APIGroupDiscoveryList of /api (core=True) or /apis."""
    items = []
    for g, v in GROUPS:
        if (g == "") != core:
            continue
        resources = []
        for r in resources_of(g, v):
            subs = []
            for sub in r.subresources:
                sg, sv, sk = SUB_KINDS.get(sub, (r.group, r.version, r.kind))
                subs.append({"subresource": sub,
                             "responseKind": {"group": sg, "version": sv, "kind": sk},
                             "verbs": SUB_VERBS[sub]})
            entry = {"resource": r.plural,
                     "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                     "scope": "Namespaced" if r.namespaced else "Cluster",
                     "singularResource": r.kind.lower(), "verbs": VERBS}
            if r.short_names:
                entry["shortNames"] = r.short_names
            if r.categories:
                entry["categories"] = r.categories
            if subs:
                entry["subresources"] = subs
            resources.append(entry)
        items.append({"metadata": {"name": g, "creationTimestamp": None},
                      "versions": [{"version": v, "resources": resources,
                                    "freshness": "Current"}]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {}, "items": items}


# ---------------------------------------------------------------- OpenAPI

def _gv_path(group, version):
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_root():
    """/openapi/v3: one entry per group-version. kubectl caches each document under the hash
    in its URL, so the hash is of the document's content, as on a real server."""
    paths = {}
    for g, v in GROUPS:
        p = _gv_path(g, v)
        digest = hashlib.sha512(dumps(openapi_group_version(p)).encode()).hexdigest()
        paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={digest[:128].upper()}"}
    return {"paths": paths}


def _param(name, location="query", required=False):
    return {"name": name, "in": location, "required": required, "schema": {"type": "string"}}


def openapi_group_version(gv_path):
    """The OpenAPI v3 document of one group-version: operations and their parameters, enough
    for kubectl's query-parameter checks. Every served kind is listed, so that kubectl leaves
    field validation to the server (?fieldValidation=Strict) for each of them. Schemas are
    left open, and no PATCH operation declares a request body: kubectl then takes the patch
    metadata compiled into it, as it does for any kind missing from a server's schema."""
    match = [(g, v) for g, v in GROUPS if _gv_path(g, v) == gv_path]
    if not match:
        return None
    g, v = match[0]
    write_params = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")]
    paths = {}
    for r in resources_of(g, v):
        gvk = {"group": g, "version": v, "kind": r.kind}
        base = "/" + _gv_path(g, v) + ("/namespaces/{namespace}" if r.namespaced else "")
        name_params = [_param("name", "path", True)]
        if r.namespaced:
            name_params.append(_param("namespace", "path", True))

        def op(action, params, kind_gvk=gvk):
            return {"x-kubernetes-action": action, "x-kubernetes-group-version-kind": kind_gvk,
                    "parameters": params, "responses": {"200": {"description": "OK"}}}

        paths[f"{base}/{r.plural}"] = {
            "get": op("list", []),
            "post": op("post", write_params),
            "delete": op("deletecollection", [_param("dryRun")]),
            "parameters": name_params[1:],
        }
        paths[f"{base}/{r.plural}/{{name}}"] = {
            "get": op("get", []),
            "put": op("put", write_params),
            "patch": op("patch", write_params + [_param("force")]),
            "delete": op("delete", [_param("dryRun")]),
            "parameters": name_params,
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (k8s-standin)",
                                         "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": {}}}


# OpenAPI v2 (/openapi/v2) comes in JSON or in protobuf (gnostic openapi_v2.Document), as the
# Accept header asks. The protobuf media type is the one a real server answers with; its older
# spelling with "@v1.0" is still accepted in requests (kubectl sends it) but is not a valid
# media type in a response: Go's mime parser rejects the "@", and kubectl's client-side
# validation then fails with "mime: unexpected content after media subtype".
OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_OPENAPI_V2_ACCEPTED = {
    "application/json": "application/json",
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf": OPENAPI_V2_PROTOBUF,
    OPENAPI_V2_PROTOBUF: OPENAPI_V2_PROTOBUF,
}


def openapi_v2_media_type(accept):
    """The media type to answer /openapi/v2 with, or None (406) when the Accept header takes
    neither JSON nor protobuf. Clauses are taken by quality, then in order."""
    clauses = []
    for i, part in enumerate((accept or "*/*").split(",")):
        fields = [f.strip() for f in part.split(";")]
        quality = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    quality = float(f[2:])
                except ValueError:
                    quality = 0.0
        clauses.append((-quality, i, fields[0].lower()))
    for quality, _, media in sorted(clauses):
        if quality == 0:
            continue
        if media in ("*/*", "application/*"):
            return "application/json"
        if media in _OPENAPI_V2_ACCEPTED:
            return _OPENAPI_V2_ACCEPTED[media]
    return None


def openapi_v2(media_type):
    """An OpenAPI v2 document with no paths and no definitions. kubectl reads it for
    client-side validation and apply patches only for kinds missing from OpenAPI v3 (none
    here), and skips what it finds no schema for."""
    if media_type == "application/json":
        return dumps({"swagger": "2.0", "info": {"title": "Kubernetes (k8s-standin)",
                                                  "version": "v1.32.0"}, "paths": {}}).encode()

    def field(number, data):  # a length-delimited protobuf field (short data only)
        return bytes([number << 3 | 2, len(data)]) + data
    # gnostic openapi_v2.Document: 1 swagger, 2 info{1 title, 2 version}
    info = field(1, b"Kubernetes (k8s-standin)") + field(2, b"v1.32.0")
    return field(1, b"2.0") + field(2, info)


def _short_hash(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dumps(doc):
    return json.dumps(doc, separators=(",", ":"))
