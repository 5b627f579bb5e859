"""Validation of an object before it is stored (422 Invalid, with one cause per problem), as
the real API server words it: `field: Required value`, `field: Invalid value: X: why`,
`field: Unsupported value: ...`, `field: Forbidden: ...`. Creation and update (`old` given)
are checked; updates also for the fields a kind makes immutable.

Each kind has the checks that a manifest most often trips over on a real server, not all of
them (README.md lists what is checked).
"""

import base64
import binascii
import json
import re

from kinds import selector_matches

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_PATH_SEGMENT_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


class Causes:
    """The problems found so far, as metav1.StatusCause maps."""

    def __init__(self):
        self.list = []

    def add(self, field, message, reason="FieldValueInvalid"):
        self.list.append({"reason": reason, "message": message, "field": field})

    def required(self, field, detail=""):
        self.add(field, "Required value" + (f": {detail}" if detail else ""),
                 "FieldValueRequired")

    def unsupported(self, field, value, supported):
        listed = ", ".join(f'"{s}"' for s in sorted(supported))
        self.add(field, f'Unsupported value: "{value}": supported values: {listed}',
                 "FieldValueNotSupported")

    def forbidden(self, field, detail):
        self.add(field, f"Forbidden: {detail}", "FieldValueForbidden")

    def immutable(self, field, value):
        self.add(field, f"Invalid value: {_show(value)}: field is immutable")


def _show(value):
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return json.dumps(value)


def _go_map(labels):
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted((labels or {}).items()))
    return "map[string]string{" + inner + "}"


def _int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate(kind, obj, old=None):
    """A list of causes {reason, message, field}; empty when valid."""
    causes = Causes()
    name = obj.get("metadata", {}).get("name", "")
    if kind in _PATH_SEGMENT_KINDS:
        if name in (".", "..") or any(c in name for c in "/%"):
            causes.add("metadata.name", f'Invalid value: "{name}": may not contain \'/\' or '
                       "'%'")
    else:
        pattern = _DNS_LABEL if kind in ("Namespace", "Service") else _DNS_SUBDOMAIN
        if name and (len(name) > 253 or not pattern.match(name)):
            causes.add("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 '
                       f"{'label' if pattern is _DNS_LABEL else 'subdomain'} must consist of "
                       "lower case alphanumeric characters, '-' or '.', and must start and end "
                       "with an alphanumeric character")
    check = _CHECKS.get(kind)
    if check is not None:
        check(obj, old, causes)
    return causes.list


# ---------------------------------------------------------------- workloads

def _pod_template(template, base, causes, restart_policies=("Always",)):
    spec = template.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        causes.required(f"{base}.spec.containers")
    seen = set()
    for i, c in enumerate(containers):
        where = f"{base}.spec.containers[{i}]"
        cname = c.get("name") if isinstance(c, dict) else None
        if not cname:
            causes.required(f"{where}.name")
        elif not _DNS_LABEL.match(cname):
            causes.add(f"{where}.name", f'Invalid value: "{cname}": a lowercase RFC 1123 label '
                       "must consist of lower case alphanumeric characters or '-'")
        elif cname in seen:
            causes.add(f"{where}.name", f'Duplicate value: "{cname}"', "FieldValueDuplicate")
        seen.add(cname)
        if not isinstance(c, dict) or not c.get("image"):
            causes.required(f"{where}.image")
    policy = spec.get("restartPolicy", "Always")
    if policy not in restart_policies:
        causes.unsupported(f"{base}.spec.restartPolicy", policy, restart_policies)


def _replicas(spec, causes, field="replicas"):
    replicas = spec.get(field, 1)
    if _int(replicas) and replicas < 0:
        causes.add(f"spec.{field}", f"Invalid value: {replicas}: must be greater than or equal "
                   "to 0")


def _label_selector(spec, old, causes, immutable=True):
    """spec.selector (a LabelSelector): required, matching the template's labels, and (for
    most workloads) immutable."""
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.required("spec.selector")
    elif not selector_matches(selector, labels):
        causes.add("spec.template.metadata.labels", f"Invalid value: {_go_map(labels)}: "
                   "`selector` does not match template `labels`")
    if immutable and old is not None and selector and \
            selector != (old.get("spec") or {}).get("selector"):
        causes.add("spec.selector", f"Invalid value: v1.LabelSelector{{MatchLabels:"
                   f"{_go_map(selector.get('matchLabels'))}, MatchExpressions:[]}}: "
                   "field is immutable")


def _deployment(obj, old, causes):
    spec = obj.get("spec") or {}
    _replicas(spec, causes)
    _label_selector(spec, old, causes)
    _pod_template(spec.get("template") or {}, "spec.template", causes)
    strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
    if strategy not in ("RollingUpdate", "Recreate"):
        causes.unsupported("spec.strategy.type", strategy, ("Recreate", "RollingUpdate"))
    deadline = spec.get("progressDeadlineSeconds", 600)
    if _int(deadline) and deadline <= spec.get("minReadySeconds", 0):
        causes.add("spec.progressDeadlineSeconds", f"Invalid value: {deadline}: must be greater "
                   "than minReadySeconds")


def _replicaset(obj, old, causes):
    spec = obj.get("spec") or {}
    _replicas(spec, causes)
    _label_selector(spec, old, causes)
    _pod_template(spec.get("template") or {}, "spec.template", causes)


_STS_MUTABLE = ("replicas", "template", "updateStrategy", "minReadySeconds", "ordinals",
                "revisionHistoryLimit", "persistentVolumeClaimRetentionPolicy")


def _statefulset(obj, old, causes):
    spec = obj.get("spec") or {}
    _replicas(spec, causes)
    _label_selector(spec, None, causes)
    _pod_template(spec.get("template") or {}, "spec.template", causes)
    policy = spec.get("podManagementPolicy", "OrderedReady")
    if policy not in ("OrderedReady", "Parallel"):
        causes.unsupported("spec.podManagementPolicy", policy, ("OrderedReady", "Parallel"))
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") not in ("RollingUpdate", "OnDelete"):
        causes.unsupported("spec.updateStrategy.type", strategy.get("type"),
                           ("OnDelete", "RollingUpdate"))
    partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
    if _int(partition) and partition < 0:
        causes.add("spec.updateStrategy.rollingUpdate.partition", f"Invalid value: {partition}: "
                   "must be greater than or equal to 0")
    if old is not None:
        old_spec = old.get("spec") or {}
        rest = {k: v for k, v in spec.items() if k not in _STS_MUTABLE}
        old_rest = {k: v for k, v in old_spec.items() if k not in _STS_MUTABLE}
        if rest != old_rest:
            causes.forbidden("spec", "updates to statefulset spec for fields other than "
                             "'replicas', 'ordinals', 'template', 'updateStrategy', "
                             "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                             "'minReadySeconds' are forbidden")


def _daemonset(obj, old, causes):
    spec = obj.get("spec") or {}
    _label_selector(spec, old, causes)
    _pod_template(spec.get("template") or {}, "spec.template", causes)
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") not in ("RollingUpdate", "OnDelete"):
        causes.unsupported("spec.updateStrategy.type", strategy.get("type"),
                           ("OnDelete", "RollingUpdate"))
    ru = strategy.get("rollingUpdate") or {}
    if strategy.get("type") == "RollingUpdate" and ru.get("maxUnavailable") in (0, "0%") \
            and ru.get("maxSurge", 0) in (0, "0%"):
        causes.add("spec.updateStrategy.rollingUpdate.maxUnavailable",
                   f"Invalid value: {_show(ru.get('maxUnavailable'))}: may not be 0 when "
                   "`maxSurge` is 0")


def _replication_controller(obj, old, causes):
    spec = obj.get("spec") or {}
    _replicas(spec, causes)
    selector = spec.get("selector") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.required("spec.selector")
    elif any(labels.get(k) != v for k, v in selector.items()):
        causes.add("spec.template.metadata.labels", f"Invalid value: {_go_map(labels)}: "
                   "`selector` does not match template `labels`")
    _pod_template(spec.get("template") or {}, "spec.template", causes)


def _job(obj, old, causes, base="spec"):
    spec = obj.get("spec") or {}
    for field in ("parallelism", "completions", "backoffLimit"):
        value = spec.get(field)
        if _int(value) and value < 0:
            causes.add(f"{base}.{field}", f"Invalid value: {value}: must be greater than or "
                       "equal to 0")
    _pod_template(spec.get("template") or {}, f"{base}.template", causes,
                  ("OnFailure", "Never"))
    if old is not None:
        old_spec = old.get("spec") or {}
        for field in ("template", "selector", "completionMode"):
            if spec.get(field) != old_spec.get(field):
                causes.immutable(f"spec.{field}", spec.get(field))


_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                "@hourly")


def _cronjob(obj, old, causes):
    spec = obj.get("spec") or {}
    schedule = spec.get("schedule")
    if not schedule:
        causes.required("spec.schedule")
    elif not (schedule in _CRON_MACROS or schedule.startswith("@every ")
              or len(schedule.split()) == 5):
        causes.add("spec.schedule", f'Invalid value: "{schedule}": expected exactly 5 fields, '
                   f"found {len(schedule.split())}: {schedule}")
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy not in ("Allow", "Forbid", "Replace"):
        causes.unsupported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace"))
    _job({"spec": (spec.get("jobTemplate") or {}).get("spec") or {}}, None, causes,
         "spec.jobTemplate.spec")


# ---------------------------------------------------------------- services and networking

def _service(obj, old, causes):
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        causes.unsupported("spec.type", kind,
                           ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"))
    if kind == "ExternalName" and not spec.get("externalName"):
        causes.required("spec.externalName")
    ports = spec.get("ports") or []
    if not ports and kind != "ExternalName" and spec.get("clusterIP") != "None":
        causes.required("spec.ports")
    for i, p in enumerate(ports):
        port = p.get("port") if isinstance(p, dict) else None
        if not _int(port) or not 1 <= port <= 65535:
            causes.add(f"spec.ports[{i}].port", f"Invalid value: {_show(port)}: must be "
                       "between 1 and 65535, inclusive")
        if len(ports) > 1 and isinstance(p, dict) and not p.get("name"):
            causes.required(f"spec.ports[{i}].name")


_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")


def _ingress_backend(backend, where, causes):
    service, resource = backend.get("service"), backend.get("resource")
    if service and resource:
        causes.add(where, "Invalid value: \"\": cannot set both resource and service backends")
    elif not service and not resource:
        causes.add(where, "Invalid value: \"\": resource or service backend is required")
    elif service:
        if not service.get("name"):
            causes.required(f"{where}.service.name")
        port = service.get("port") or {}
        if port.get("name") and port.get("number"):
            causes.add(where, "Invalid value: \"\": cannot set both port name & port number")
        elif not port.get("name") and not port.get("number"):
            causes.required(f"{where}.service.port", "port name or number is required")


def _ingress(obj, old, causes):
    spec = obj.get("spec") or {}
    rules = spec.get("rules") or []
    if not rules and not spec.get("defaultBackend"):
        causes.add("spec", "Invalid value: \"\": either `defaultBackend` or `rules` must be "
                   "specified")
    if spec.get("defaultBackend"):
        _ingress_backend(spec["defaultBackend"], "spec.defaultBackend", causes)
    for i, rule in enumerate(rules):
        host = rule.get("host", "")
        if host and not re.match(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                                 r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", host):
            causes.add(f"spec.rules[{i}].host", f'Invalid value: "{host}": a lowercase RFC 1123 '
                       "subdomain must consist of lower case alphanumeric characters, '-' or "
                       "'.', and must start and end with an alphanumeric character")
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") or []
        if not paths:
            causes.required(f"spec.rules[{i}].http.paths")
        for j, path in enumerate(paths):
            where = f"spec.rules[{i}].http.paths[{j}]"
            path_type = path.get("pathType")
            if not path_type:
                causes.required(f"{where}.pathType", "pathType must be specified")
            elif path_type not in _PATH_TYPES:
                causes.unsupported(f"{where}.pathType", path_type, _PATH_TYPES)
            elif path_type in ("Exact", "Prefix") and not str(path.get("path", "")).startswith("/"):
                causes.add(f"{where}.path", f"Invalid value: {_show(path.get('path', ''))}: "
                           "must be an absolute path")
            _ingress_backend(path.get("backend") or {}, f"{where}.backend", causes)


def _network_policy(obj, old, causes):
    for i, t in enumerate((obj.get("spec") or {}).get("policyTypes") or []):
        if t not in ("Ingress", "Egress"):
            causes.unsupported(f"spec.policyTypes[{i}]", t, ("Egress", "Ingress"))


# ---------------------------------------------------------------- storage

_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _access_modes(spec, causes):
    modes = spec.get("accessModes") or []
    if not modes:
        causes.required("spec.accessModes", "at least 1 access mode is required")
    for mode in modes:
        if mode not in _ACCESS_MODES:
            causes.unsupported("spec.accessModes", mode, _ACCESS_MODES)


def _pvc(obj, old, causes):
    spec = obj.get("spec") or {}
    _access_modes(spec, causes)
    if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
        causes.required("spec.resources[storage]")
    if old is not None:
        old_spec = dict(old.get("spec") or {})
        new_spec = dict(spec)
        if not old_spec.get("volumeName"):  # a claim may be bound once
            old_spec.pop("volumeName", None)
            if "volumeName" in new_spec:
                old_spec["volumeName"] = new_spec["volumeName"]
        if new_spec != old_spec:
            causes.forbidden("spec", "spec is immutable after creation except resources.requests "
                             "and volumeAttributesClassName for bound claims")


def _pv(obj, old, causes):
    spec = obj.get("spec") or {}
    _access_modes(spec, causes)
    if not (spec.get("capacity") or {}).get("storage"):
        causes.required("spec.capacity")


def _storage_class(obj, old, causes):
    if not obj.get("provisioner"):
        causes.required("provisioner")
    policy = obj.get("reclaimPolicy", "Delete")
    if policy not in ("Delete", "Retain"):
        causes.unsupported("reclaimPolicy", policy, ("Delete", "Retain"))
    mode = obj.get("volumeBindingMode", "Immediate")
    if mode not in ("Immediate", "WaitForFirstConsumer"):
        causes.unsupported("volumeBindingMode", mode, ("Immediate", "WaitForFirstConsumer"))
    if old is not None:
        for field in ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"):
            if obj.get(field) != old.get(field):
                causes.forbidden(field, f"updates to {field} are forbidden.")


# ---------------------------------------------------------------- configuration

def _keys(obj, field, causes):
    for key in obj.get(field) or {}:
        if not _CONFIG_KEY.match(key):
            causes.add(f"{field}[{key}]", f'Invalid value: "{key}": a valid config key must '
                       "consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                       "or 'KEY_NAME',  or 'key-name', regex used for validation is "
                       "'[-._a-zA-Z0-9]+')")


def _immutable_data(obj, old, causes, fields):
    if old is None or not old.get("immutable"):
        return
    for field in fields:
        if obj.get(field) != old.get(field):
            causes.forbidden(field, "field is immutable when `immutable` is set")
    if not obj.get("immutable"):
        causes.forbidden("immutable", "field is immutable when `immutable` is set")


def _configmap(obj, old, causes):
    _keys(obj, "data", causes)
    _keys(obj, "binaryData", causes)
    _immutable_data(obj, old, causes, ("data", "binaryData"))


_SECRET_KEYS = {"kubernetes.io/tls": ("tls.crt", "tls.key"),
                "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
                "kubernetes.io/basic-auth": (), "kubernetes.io/ssh-auth": ("ssh-privatekey",)}


def _secret(obj, old, causes):
    _keys(obj, "data", causes)
    data = obj.get("data") or {}
    for key in _SECRET_KEYS.get(obj.get("type"), ()):
        if key not in data:
            causes.required(f"data[{key}]")
    if old is not None and obj.get("type") != old.get("type"):
        causes.immutable("type", obj.get("type"))
    _immutable_data(obj, old, causes, ("data",))


def secret_data_error(obj):
    """Why a Secret's data cannot be decoded (its values are base64), or None. A real server
    fails to decode such a body (400), before validating it."""
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(value if isinstance(value, str) else "", validate=True)
        except (binascii.Error, ValueError):
            return f"illegal base64 data in data[{key}]"
    return None


# ---------------------------------------------------------------- the rest

def _hpa(obj, old, causes):
    spec = obj.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    if not ref.get("kind"):
        causes.required("spec.scaleTargetRef.kind")
    if not ref.get("name"):
        causes.required("spec.scaleTargetRef.name")
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if _int(low) and low < 1:
        causes.add("spec.minReplicas", f"Invalid value: {low}: must be greater than or equal "
                   "to 1")
    if not _int(high) or high < 1:
        causes.add("spec.maxReplicas", f"Invalid value: {_show(high)}: must be greater than 0")
    elif _int(low) and high < low:
        causes.add("spec.maxReplicas", f"Invalid value: {high}: must be greater than or equal "
                   "to `minReplicas`")
    kinds = ("ContainerResource", "External", "Object", "Pods", "Resource")
    for i, metric in enumerate(spec.get("metrics") or []):
        if metric.get("type") not in kinds:
            causes.unsupported(f"spec.metrics[{i}].type", metric.get("type"), kinds)


def _pdb(obj, old, causes):
    spec = obj.get("spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.add("spec", f"Invalid value: {_show(spec)}: minAvailable and maxUnavailable "
                   "cannot be both set")


def _binding(obj, old, causes):
    ref = obj.get("roleRef") or {}
    if ref.get("kind") not in ("Role", "ClusterRole"):
        causes.unsupported("roleRef.kind", ref.get("kind", ""), ("ClusterRole", "Role"))
    if not ref.get("name"):
        causes.required("roleRef.name")
    if old is not None and ref != old.get("roleRef"):
        causes.add("roleRef", f"Invalid value: {_show(ref)}: cannot change roleRef")


def _controller_revision(obj, old, causes):
    revision = obj.get("revision", 0)
    if _int(revision) and revision < 0:
        causes.add("revision", f"Invalid value: {revision}: must be greater than or equal to 0")
    if old is not None and obj.get("data") != old.get("data"):
        causes.immutable("data", "")


_CHECKS = {
    "Deployment": _deployment, "ReplicaSet": _replicaset, "StatefulSet": _statefulset,
    "DaemonSet": _daemonset, "ReplicationController": _replication_controller, "Job": _job,
    "CronJob": _cronjob, "Service": _service, "Ingress": _ingress,
    "NetworkPolicy": _network_policy, "PersistentVolumeClaim": _pvc, "PersistentVolume": _pv,
    "StorageClass": _storage_class, "ConfigMap": _configmap, "Secret": _secret,
    "HorizontalPodAutoscaler": _hpa, "PodDisruptionBudget": _pdb, "RoleBinding": _binding,
    "ClusterRoleBinding": _binding, "ControllerRevision": _controller_revision,
}
