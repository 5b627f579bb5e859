"""The fields each kind has: unknown-field detection (?fieldValidation=Strict|Warn) and wrong
scalar types (400), as decoding a request body into the server's types finds them; and label
selectors. Defaulting is in defaults.py, validation (422 Invalid) in validation.py.

Workloads are described down to their containers, so that a typo anywhere in a Deployment, a
StatefulSet or a DaemonSet is caught; other kinds are described at their top level, with
`spec` left open.
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
_STS = {
    "apiVersion": "string", "kind": "string", "metadata": _META, "status": ANY,
    "spec": {"replicas": "int", "selector": _SELECTOR, "template": _TEMPLATE,
             "volumeClaimTemplates": ANY, "serviceName": "string",
             "podManagementPolicy": "string",
             "updateStrategy": {"type": "string", "rollingUpdate": {"partition": "int",
                                                                    "maxUnavailable": ANY}},
             "revisionHistoryLimit": "int", "minReadySeconds": "int",
             "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "string",
                                                      "whenScaled": "string"},
             "ordinals": {"start": "int"}},
}
_DAEMONSET = {
    "apiVersion": "string", "kind": "string", "metadata": _META, "status": ANY,
    "spec": {"selector": _SELECTOR, "template": _TEMPLATE,
             "updateStrategy": {"type": "string", "rollingUpdate": {"maxUnavailable": ANY,
                                                                    "maxSurge": ANY}},
             "minReadySeconds": "int", "revisionHistoryLimit": "int"},
}
_RC = {
    "apiVersion": "string", "kind": "string", "metadata": _META, "status": ANY,
    "spec": {"replicas": "int", "minReadySeconds": "int", "selector": ANY,
             "template": _TEMPLATE},
}
_JOB_SPEC = {k: ANY for k in (
    "activeDeadlineSeconds", "podFailurePolicy", "successPolicy", "backoffLimitPerIndex",
    "maxFailedIndexes", "ttlSecondsAfterFinished", "completionMode", "podReplacementPolicy",
    "managedBy")}
_JOB_SPEC.update({"parallelism": "int", "completions": "int", "backoffLimit": "int",
                  "selector": _SELECTOR, "manualSelector": "bool", "suspend": "bool",
                  "template": _TEMPLATE})
_JOB = {"apiVersion": "string", "kind": "string", "metadata": _META, "status": ANY,
        "spec": _JOB_SPEC}
_CRONJOB = {
    "apiVersion": "string", "kind": "string", "metadata": _META, "status": ANY,
    "spec": {"schedule": "string", "timeZone": "string", "startingDeadlineSeconds": "int",
             "concurrencyPolicy": "string", "suspend": "bool",
             "jobTemplate": {"metadata": _META, "spec": _JOB_SPEC},
             "successfulJobsHistoryLimit": "int", "failedJobsHistoryLimit": "int"},
}


def _top(**fields):
    """A kind described at its top level: fields beside apiVersion, kind and metadata."""
    schema = {"apiVersion": "string", "kind": "string", "metadata": _META}
    schema.update(fields)
    return schema


_SPEC_AND_STATUS = _top(spec=ANY, status=ANY)

SCHEMAS = {
    "Deployment": _DEPLOYMENT, "ReplicaSet": _REPLICASET, "StatefulSet": _STS,
    "DaemonSet": _DAEMONSET, "ReplicationController": _RC, "Job": _JOB, "CronJob": _CRONJOB,
    "ConfigMap": _top(data=ANY, binaryData=ANY, immutable="bool"),
    "Secret": _top(data=ANY, stringData=ANY, type="string", immutable="bool"),
    "ServiceAccount": _top(secrets=ANY, imagePullSecrets=ANY,
                           automountServiceAccountToken="bool"),
    "Endpoints": _top(subsets=ANY),
    "ControllerRevision": _top(data=ANY, revision="int"),
    "Role": _top(rules=ANY),
    "ClusterRole": _top(rules=ANY, aggregationRule=ANY),
    "RoleBinding": _top(subjects=ANY, roleRef=ANY),
    "ClusterRoleBinding": _top(subjects=ANY, roleRef=ANY),
    "StorageClass": _top(provisioner="string", parameters=ANY, reclaimPolicy="string",
                         mountOptions=ANY, allowVolumeExpansion="bool",
                         volumeBindingMode="string", allowedTopologies=ANY),
    "PriorityClass": _top(value="int", globalDefault="bool", description="string",
                          preemptionPolicy="string"),
}


class FieldProblems:
    def __init__(self):
        self.unknown = []   # "spec.template.spec.containers[0].imagee"
        self.type_errors = []  # ("spec.replicas", "int32", "string")


def check_fields(obj, kind, drop_unknown=False):
    """Unknown fields and wrong types of `obj` against the schema of `kind`. With
    `drop_unknown` the unknown fields are removed from `obj`, as decoding into the server's
    types would."""
    problems = FieldProblems()
    _walk(obj, SCHEMAS.get(kind, _SPEC_AND_STATUS), "", problems, drop_unknown)
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
