"""Tables for `kubectl get`: kubectl asks for meta.k8s.io/v1 Table (Accept: ...;as=Table) and
prints the server's columns, as a real API server defines them for each kind (priority 1
columns show with `-o wide`)."""

import calendar
import time

import kinds


def _age(obj):
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return "<unknown>"
    seconds = int(time.time() - calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")))
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _spec(obj):
    return obj.get("spec") or {}


def _status(obj):
    return obj.get("status") or {}


def _containers(obj):
    spec = _spec(obj)
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec") or {}).get("containers") or []


def _names(obj):
    return ",".join(c.get("name", "") for c in _containers(obj))


def _images(obj):
    return ",".join(c.get("image", "") for c in _containers(obj))


def _selector(obj):
    selector = _spec(obj).get("selector") or {}
    if obj.get("kind") == "ReplicationController":
        selector = {"matchLabels": selector}
    return kinds.selector_string(selector)


def _none(value):
    return value if value not in (None, "", []) else "<none>"


def _ports(obj):
    ports = []
    for p in _spec(obj).get("ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        ports.append(f"{text}/{p.get('protocol', 'TCP')}")
    return _none(",".join(ports))


def _hpa_targets(obj):
    parts = []
    for m in _spec(obj).get("metrics") or []:
        source = m.get(m.get("type", "")[0:1].lower() + m.get("type", "")[1:]) or {}
        target = source.get("target") or {}
        want = target.get("averageUtilization")
        want = f"{want}%" if want is not None else target.get("averageValue") or \
            target.get("value") or "?"
        name = source.get("name") or (source.get("metric") or {}).get("name") or m.get("type")
        parts.append(f"{name}: <unknown>/{want}")
    return ", ".join(parts) or "<none>"


def _ingress_hosts(obj):
    hosts = [r.get("host") for r in _spec(obj).get("rules") or [] if r.get("host")]
    return ",".join(hosts) or "*"


def _ingress_address(obj):
    ingress = (_status(obj).get("loadBalancer") or {}).get("ingress") or []
    return ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress)


def _storage_class_name(obj):
    default = (obj["metadata"].get("annotations") or {}).get(
        "storageclass.kubernetes.io/is-default-class") == "true"
    return obj["metadata"]["name"] + (" (default)" if default else "")


def _subjects(obj, kind):
    return ",".join((f"{s['namespace']}/" if s.get("namespace") and kind == "ServiceAccount"
                     else "") + s.get("name", "")
                    for s in obj.get("subjects") or [] if s.get("kind") == kind)


def _created_at(obj):
    return obj["metadata"].get("creationTimestamp") or ""


def _int_or_na(value):
    return value if value is not None else "N/A"


# kind -> [(column, type, priority, cell)]; every table starts with Name.
S, I = "string", "integer"
_WORKLOAD_WIDE = [("Containers", S, 1, _names), ("Images", S, 1, _images),
                  ("Selector", S, 1, _selector)]
COLUMNS = {
    "Namespace": [("Status", S, 0, lambda o: _status(o).get("phase", "Active")),
                  ("Age", S, 0, _age)],
    "Deployment": [
        ("Ready", S, 0, lambda o: f"{_status(o).get('readyReplicas', 0)}/"
                                  f"{_spec(o).get('replicas', 1)}"),
        ("Up-to-date", I, 0, lambda o: _status(o).get("updatedReplicas", 0)),
        ("Available", I, 0, lambda o: _status(o).get("availableReplicas", 0)),
        ("Age", S, 0, _age)] + _WORKLOAD_WIDE,
    "ReplicaSet": [("Desired", I, 0, lambda o: _spec(o).get("replicas", 0)),
                   ("Current", I, 0, lambda o: _status(o).get("replicas", 0)),
                   ("Ready", I, 0, lambda o: _status(o).get("readyReplicas", 0)),
                   ("Age", S, 0, _age)] + _WORKLOAD_WIDE,
    "ReplicationController": [("Desired", I, 0, lambda o: _spec(o).get("replicas", 0)),
                              ("Current", I, 0, lambda o: _status(o).get("replicas", 0)),
                              ("Ready", I, 0, lambda o: _status(o).get("readyReplicas", 0)),
                              ("Age", S, 0, _age)] + _WORKLOAD_WIDE,
    "StatefulSet": [("Ready", S, 0, lambda o: f"{_status(o).get('readyReplicas', 0)}/"
                                              f"{_spec(o).get('replicas', 1)}"),
                    ("Age", S, 0, _age)] + _WORKLOAD_WIDE[:2],
    "DaemonSet": [
        ("Desired", I, 0, lambda o: _status(o).get("desiredNumberScheduled", 0)),
        ("Current", I, 0, lambda o: _status(o).get("currentNumberScheduled", 0)),
        ("Ready", I, 0, lambda o: _status(o).get("numberReady", 0)),
        ("Up-to-date", I, 0, lambda o: _status(o).get("updatedNumberScheduled", 0)),
        ("Available", I, 0, lambda o: _status(o).get("numberAvailable", 0)),
        ("Node Selector", S, 0, lambda o: _none(",".join(
            f"{k}={v}" for k, v in sorted((((_spec(o).get("template") or {}).get("spec") or {})
                                           .get("nodeSelector") or {}).items())))),
        ("Age", S, 0, _age)] + _WORKLOAD_WIDE,
    "ControllerRevision": [
        ("Controller", S, 0, lambda o: next(
            (f"{r.get('kind', '').lower()}.{r.get('apiVersion', '').split('/')[0]}/"
             f"{r.get('name')}" for r in o["metadata"].get("ownerReferences") or []
             if r.get("controller")), "<none>")),
        ("Revision", I, 0, lambda o: o.get("revision", 0)), ("Age", S, 0, _age)],
    "Job": [("Status", S, 0, lambda o: "Suspended" if _spec(o).get("suspend") else "Running"),
            ("Completions", S, 0, lambda o: f"{_status(o).get('succeeded', 0)}/"
                                            f"{_spec(o).get('completions', 1)}"),
            ("Duration", S, 0, _age), ("Age", S, 0, _age)] + _WORKLOAD_WIDE,
    "CronJob": [("Schedule", S, 0, lambda o: _spec(o).get("schedule", "")),
                ("Timezone", S, 0, lambda o: _none(_spec(o).get("timeZone"))),
                ("Suspend", S, 0, lambda o: str(bool(_spec(o).get("suspend"))), ),
                ("Active", I, 0, lambda o: len(_status(o).get("active") or [])),
                ("Last Schedule", S, 0, lambda o: _none(_status(o).get("lastScheduleTime"))),
                ("Age", S, 0, _age)] + _WORKLOAD_WIDE[:2],
    "Service": [("Type", S, 0, lambda o: _spec(o).get("type", "ClusterIP")),
                ("Cluster-IP", S, 0, lambda o: _none(_spec(o).get("clusterIP"))),
                ("External-IP", S, 0, lambda o: _none(",".join(_spec(o).get("externalIPs")
                                                               or []))),
                ("Port(s)", S, 0, _ports), ("Age", S, 0, _age),
                ("Selector", S, 1, lambda o: _none(",".join(
                    f"{k}={v}" for k, v in sorted((_spec(o).get("selector") or {}).items()))))],
    "ConfigMap": [("Data", I, 0, lambda o: len(o.get("data") or {}) +
                   len(o.get("binaryData") or {})), ("Age", S, 0, _age)],
    "Secret": [("Type", S, 0, lambda o: o.get("type", "Opaque")),
               ("Data", I, 0, lambda o: len(o.get("data") or {})), ("Age", S, 0, _age)],
    "ServiceAccount": [("Secrets", I, 0, lambda o: len(o.get("secrets") or [])),
                       ("Age", S, 0, _age)],
    "PersistentVolumeClaim": [
        ("Status", S, 0, lambda o: _status(o).get("phase", "Pending")),
        ("Volume", S, 0, lambda o: _spec(o).get("volumeName", "")),
        ("Capacity", S, 0, lambda o: (_status(o).get("capacity") or {}).get("storage", "")),
        ("Access Modes", S, 0, lambda o: ",".join(
            {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
             "ReadWriteOncePod": "RWOP"}.get(m, m) for m in _status(o).get("accessModes") or [])),
        ("StorageClass", S, 0, lambda o: _none(_spec(o).get("storageClassName"))),
        ("VolumeAttributesClass", S, 0, lambda o: _none(_spec(o).get("volumeAttributesClassName"))),
        ("Age", S, 0, _age), ("VolumeMode", S, 1, lambda o: _spec(o).get("volumeMode", ""))],
    "PersistentVolume": [
        ("Capacity", S, 0, lambda o: (_spec(o).get("capacity") or {}).get("storage", "")),
        ("Access Modes", S, 0, lambda o: ",".join(_spec(o).get("accessModes") or [])),
        ("Reclaim Policy", S, 0, lambda o: _spec(o).get("persistentVolumeReclaimPolicy", "")),
        ("Status", S, 0, lambda o: _status(o).get("phase", "")),
        ("Claim", S, 0, lambda o: "/".join(filter(None, [
            (_spec(o).get("claimRef") or {}).get("namespace"),
            (_spec(o).get("claimRef") or {}).get("name")]))),
        ("StorageClass", S, 0, lambda o: _spec(o).get("storageClassName", "")),
        ("Age", S, 0, _age)],
    "StorageClass": [("Provisioner", S, 0, lambda o: o.get("provisioner", "")),
                     ("ReclaimPolicy", S, 0, lambda o: o.get("reclaimPolicy", "Delete")),
                     ("VolumeBindingMode", S, 0,
                      lambda o: o.get("volumeBindingMode", "Immediate")),
                     ("AllowVolumeExpansion", S, 0,
                      lambda o: str(bool(o.get("allowVolumeExpansion"))).lower()),
                     ("Age", S, 0, _age)],
    "Ingress": [("Class", S, 0, lambda o: _none(_spec(o).get("ingressClassName"))),
                ("Hosts", S, 0, _ingress_hosts), ("Address", S, 0, _ingress_address),
                ("Ports", S, 0, lambda o: "80, 443" if _spec(o).get("tls") else "80"),
                ("Age", S, 0, _age)],
    "IngressClass": [("Controller", S, 0, lambda o: _spec(o).get("controller", "")),
                     ("Parameters", S, 0, lambda o: _none(_spec(o).get("parameters"))),
                     ("Age", S, 0, _age)],
    "NetworkPolicy": [("Pod-Selector", S, 0, lambda o: _none(kinds.selector_string(
        _spec(o).get("podSelector") or {}))), ("Age", S, 0, _age)],
    "HorizontalPodAutoscaler": [
        ("Reference", S, 0, lambda o: f"{(_spec(o).get('scaleTargetRef') or {}).get('kind')}/"
                                      f"{(_spec(o).get('scaleTargetRef') or {}).get('name')}"),
        ("Targets", S, 0, _hpa_targets),
        ("MinPods", S, 0, lambda o: _spec(o).get("minReplicas", 1)),
        ("MaxPods", I, 0, lambda o: _spec(o).get("maxReplicas", 0)),
        ("Replicas", I, 0, lambda o: _status(o).get("currentReplicas", 0)),
        ("Age", S, 0, _age)],
    "PodDisruptionBudget": [
        ("Min Available", S, 0, lambda o: _int_or_na(_spec(o).get("minAvailable"))),
        ("Max Unavailable", S, 0, lambda o: _int_or_na(_spec(o).get("maxUnavailable"))),
        ("Allowed Disruptions", I, 0, lambda o: _status(o).get("disruptionsAllowed", 0)),
        ("Age", S, 0, _age)],
    "Role": [("Created At", S, 0, _created_at)],
    "ClusterRole": [("Created At", S, 0, _created_at)],
    "RoleBinding": [("Role", S, 0, lambda o: f"{(o.get('roleRef') or {}).get('kind')}/"
                                             f"{(o.get('roleRef') or {}).get('name')}"),
                    ("Age", S, 0, _age), ("Users", S, 1, lambda o: _subjects(o, "User")),
                    ("Groups", S, 1, lambda o: _subjects(o, "Group")),
                    ("ServiceAccounts", S, 1, lambda o: _subjects(o, "ServiceAccount"))],
    "PriorityClass": [("Value", I, 0, lambda o: o.get("value", 0)),
                      ("Global-Default", S, 0, lambda o: str(bool(o.get("globalDefault"))).lower()),
                      ("Age", S, 0, _age),
                      ("PreemptionPolicy", S, 0, lambda o: o.get("preemptionPolicy", ""))],
}
COLUMNS["ClusterRoleBinding"] = COLUMNS["RoleBinding"]
_DEFAULT = [("Age", S, 0, _age)]


def table(res, items, rv, include_object):
    """The meta.k8s.io/v1 Table of `items`, as `kubectl get` asks for it."""
    columns = [("Name", S, 0, None)] + COLUMNS.get(res.kind, _DEFAULT)
    definitions = [{"name": name, "type": kind, "format": "name" if name == "Name" else "",
                    "description": name, "priority": priority}
                   for name, kind, priority, _ in columns]
    rows = []
    for obj in items:
        obj.setdefault("kind", res.kind)
        first = _storage_class_name(obj) if res.kind == "StorageClass" else obj["metadata"]["name"]
        cells = [first] + [cell(obj) for _, _, _, cell in columns[1:]]
        if include_object == "Object":
            row_obj = obj
        elif include_object == "None":
            row_obj = None
        else:
            row_obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": obj["metadata"]}
        rows.append({"cells": cells, "object": row_obj})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": rv}, "columnDefinitions": definitions, "rows": rows}
