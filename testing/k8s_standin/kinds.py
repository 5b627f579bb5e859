"""What the API server does to an object of a given kind before it stores it: defaulting,
unknown-field detection (?fieldValidation=Strict|Warn), and validation (422 Invalid).

Defaults matter for rollbacks: `kubectl rollout undo` copies a ReplicaSet's stored (defaulted)
template back into the Deployment, and the controller must recognise it as the same template,
so both paths go through the same defaulting.
"""

import re

ANY = object()

_META = {k: ANY for k in (
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields")}

_CONTAINER = {k: ANY for k in (
    "name", "command", "args", "workingDir", "ports", "envFrom", "env", "resources",
    "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe",
    "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath",
    "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce",
    "tty")}
_CONTAINER["image"] = "string"

_POD_SPEC = {k: ANY for k in (
    "volumes", "ephemeralContainers", "restartPolicy", "terminationGracePeriodSeconds",
    "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName", "serviceAccount",
    "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID", "hostIPC",
    "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname", "subdomain",
    "affinity", "schedulerName", "tolerations", "hostAliases", "priorityClassName", "priority",
    "dnsConfig", "readinessGates", "runtimeClassName", "enableServiceLinks", "preemptionPolicy",
    "overhead", "topologySpreadConstraints", "setHostnameAsFQDN", "os", "hostUsers",
    "schedulingGates", "resourceClaims", "resources")}
_POD_SPEC["containers"] = [_CONTAINER]
_POD_SPEC["initContainers"] = [_CONTAINER]

_TEMPLATE = {"metadata": _META, "spec": _POD_SPEC}
_SELECTOR = {"matchLabels": ANY, "matchExpressions": ANY}

_DEPLOYMENT = {
    "apiVersion": "string", "kind": "string", "metadata": _META, "status": ANY,
    "spec": {"replicas": "int", "selector": _SELECTOR, "template": _TEMPLATE,
             "strategy": {"type": "string", "rollingUpdate": {"maxUnavailable": ANY,
                                                              "maxSurge": ANY}},
             "minReadySeconds": "int", "revisionHistoryLimit": "int", "paused": "bool",
             "progressDeadlineSeconds": "int"},
}
_REPLICASET = {
    "apiVersion": "string", "kind": "string", "metadata": _META, "status": ANY,
    "spec": {"replicas": "int", "minReadySeconds": "int", "selector": _SELECTOR,
             "template": _TEMPLATE},
}
_SIMPLE = {"apiVersion": "string", "kind": "string", "metadata": _META, "spec": ANY,
           "status": ANY, "data": ANY, "binaryData": ANY, "stringData": ANY, "type": ANY,
           "immutable": ANY}

SCHEMAS = {"Deployment": _DEPLOYMENT, "ReplicaSet": _REPLICASET}


class FieldProblems:
    def __init__(self):
        self.unknown = []   # "spec.template.spec.containers[0].imagee"
        self.type_errors = []  # ("spec.replicas", "int32", "string")


def check_fields(obj, kind, drop_unknown=False):
    """Unknown fields and wrong types of `obj` against the schema of `kind`. With
    `drop_unknown` the unknown fields are removed from `obj`, as decoding into the server's
    types would."""
    problems = FieldProblems()
    _walk(obj, SCHEMAS.get(kind, _SIMPLE), "", problems, drop_unknown)
    return problems


_TYPE_NAMES = {"int": "int32", "string": "string", "bool": "bool"}


def _type_of(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _walk(value, schema, path, problems, drop=False):
    if schema is ANY or value is None:
        return
    if isinstance(schema, str):
        ok = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "string": lambda v: isinstance(v, str),
              "bool": lambda v: isinstance(v, bool)}[schema](value)
        if not ok:
            problems.type_errors.append((path, _TYPE_NAMES[schema], _type_of(value)))
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            problems.type_errors.append((path, "array", _type_of(value)))
            return
        for i, item in enumerate(value):
            _walk(item, schema[0], f"{path}[{i}]", problems, drop)
        return
    if not isinstance(value, dict):
        problems.type_errors.append((path, "object", _type_of(value)))
        return
    for key, item in list(value.items()):
        sub = f"{path}.{key}" if path else key
        if key not in schema:
            problems.unknown.append(sub)
            if drop:
                del value[key]
        else:
            _walk(item, schema[key], sub, problems, drop)


# ---------------------------------------------------------------- defaults

def _image_pull_policy(image):
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_pod_template(template):
    template.setdefault("metadata", {})
    template["metadata"].setdefault("creationTimestamp", None)
    spec = template.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for field in ("containers", "initContainers"):
        for c in spec.get(field) or []:
            if not isinstance(c, dict):
                continue
            c.setdefault("resources", {})
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            if isinstance(c.get("image"), str):
                c.setdefault("imagePullPolicy", _image_pull_policy(c["image"]))
            for p in c.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")


def default_object(kind, obj):
    spec = obj.get("spec")
    if kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        if isinstance(spec.get("template"), dict):
            default_pod_template(spec["template"])
    elif kind == "ReplicaSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        if isinstance(spec.get("template"), dict):
            default_pod_template(spec["template"])
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
    elif kind == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"}


# ---------------------------------------------------------------- validation

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _go_map(labels):
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted((labels or {}).items()))
    return "map[string]string{" + inner + "}"


def validate(kind, obj, old=None):
    """A list of causes {reason, message, field}; empty when valid."""
    causes = []

    def bad(field, message, reason="FieldValueInvalid"):
        causes.append({"reason": reason, "message": message, "field": field})

    name = obj.get("metadata", {}).get("name", "")
    pattern = _DNS_LABEL if kind in ("Namespace", "Service") else _DNS_SUBDOMAIN
    if name and (len(name) > 253 or not pattern.match(name)):
        bad("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 '
            f"{'label' if pattern is _DNS_LABEL else 'subdomain'} must consist of lower case "
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character")
    if kind not in ("Deployment", "ReplicaSet"):
        return causes
    spec = obj.get("spec") or {}
    replicas = spec.get("replicas", 1)
    if isinstance(replicas, int) and replicas < 0:
        bad("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        bad("spec.selector", "Required value", "FieldValueRequired")
    elif not selector_matches(selector, labels):
        bad("spec.template.metadata.labels",
            f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`")
    if old is not None and selector and selector != (old.get("spec") or {}).get("selector"):
        bad("spec.selector", f"Invalid value: v1.LabelSelector{{MatchLabels:"
            f"{_go_map((selector or {}).get('matchLabels'))}, MatchExpressions:[]}}: "
            "field is immutable")
    containers = (template.get("spec") or {}).get("containers") or []
    if not containers:
        bad("spec.template.spec.containers", "Required value", "FieldValueRequired")
    seen = set()
    for i, c in enumerate(containers):
        base = f"spec.template.spec.containers[{i}]"
        cname = c.get("name") if isinstance(c, dict) else None
        if not cname:
            bad(f"{base}.name", "Required value", "FieldValueRequired")
        elif not _DNS_LABEL.match(cname):
            bad(f"{base}.name", f'Invalid value: "{cname}": a lowercase RFC 1123 label must '
                "consist of lower case alphanumeric characters or '-'")
        elif cname in seen:
            bad(f"{base}.name", f'Duplicate value: "{cname}"', "FieldValueDuplicate")
        seen.add(cname)
        if not isinstance(c, dict) or not c.get("image"):
            bad(f"{base}.image", "Required value", "FieldValueRequired")
    if kind == "Deployment":
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if strategy not in ("RollingUpdate", "Recreate"):
            bad("spec.strategy.type", f'Unsupported value: "{strategy}": supported values: '
                '"Recreate", "RollingUpdate"', "FieldValueNotSupported")
        deadline = spec.get("progressDeadlineSeconds", 600)
        if isinstance(deadline, int) and deadline <= spec.get("minReadySeconds", 0):
            bad("spec.progressDeadlineSeconds", f"Invalid value: {deadline}: must be greater "
                "than minReadySeconds")
    return causes


# ---------------------------------------------------------------- label selectors

def selector_matches(selector, labels):
    """A metav1.LabelSelector (matchLabels/matchExpressions) against a label map."""
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_string(selector):
    """The string form of a LabelSelector, as kubectl sends it in ?labelSelector=."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


class SelectorError(Exception):
    pass


def parse_label_selector(text):
    """A ?labelSelector= string as a predicate over a label map."""
    reqs = []
    for part in _split_top(text or ""):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$", part)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            reqs.append((key, op, vals))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$", part)
        if m:
            reqs.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
            continue
        m = re.match(r"^(!?)([\w./-]+)$", part)
        if m:
            reqs.append((m.group(2), "!exists" if m.group(1) else "exists", None))
            continue
        raise SelectorError(f"unable to parse requirement: {part!r}")

    def match(labels):
        labels = labels or {}
        for key, op, val in reqs:
            if op == "=" and labels.get(key) != val:
                return False
            if op == "!=" and labels.get(key) == val:
                return False
            if op == "in" and labels.get(key) not in val:
                return False
            if op == "notin" and labels.get(key) in val:
                return False
            if op == "exists" and key not in labels:
                return False
            if op == "!exists" and key in labels:
                return False
        return True

    return match


def _split_top(text):
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts
