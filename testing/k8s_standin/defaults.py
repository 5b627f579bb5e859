"""What the API server fills in on an object of a given kind before it stores it: defaults
(after every write), the fields set once at creation (a Job's selector, a Service's node
ports), and the status a new object starts with.

Defaults matter for rollbacks: `kubectl rollout undo` copies a ReplicaSet's stored (defaulted)
template, or a ControllerRevision's, back into its workload, and the controller must recognise
it as the same template, so both paths go through the same defaulting. They matter for
restores too: an object read back with `kubectl get -o json` and PUT again must come out as it
was, so defaulting an already defaulted object changes nothing.
"""

import base64
import random

# ---------------------------------------------------------------- pod templates


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


def _template(spec):
    if isinstance(spec.get("template"), dict):
        default_pod_template(spec["template"])


# ---------------------------------------------------------------- per kind

def _deployment(obj, spec):
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec)


def _replicaset(obj, spec):
    spec.setdefault("replicas", 1)
    _template(spec)


def _statefulset(obj, spec):
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        strategy["rollingUpdate"].setdefault("partition", 0)
    policy = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            claim.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            _pvc(claim, claim.setdefault("spec", {}))
            claim.setdefault("status", {"phase": "Pending"})


def _daemonset(obj, spec):
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", 1)
        ru.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)


def _replication_controller(obj, spec):
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        if not obj["metadata"].get("labels"):
            obj["metadata"]["labels"] = dict(labels)
    spec.setdefault("replicas", 1)
    _template(spec)


def _job(obj, spec):
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy",
                    "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    _template(spec)


def _cronjob(obj, spec):
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job = spec.setdefault("jobTemplate", {})
    job.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    _template(job.setdefault("spec", {}))


def _service(obj, spec):
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    for p in spec.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            if "port" in p:
                p.setdefault("targetPort", p["port"])


def _pvc(obj, spec):
    spec.setdefault("volumeMode", "Filesystem")


def _pv(obj, spec):
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")


_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
             "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                          {"type": "Percent", "value": 100, "periodSeconds": 15}]}
_SCALE_DOWN = {"selectPolicy": "Max",
               "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _hpa(obj, spec):
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):  # only a given behavior is completed
        for key, rules in (("scaleUp", _SCALE_UP), ("scaleDown", _SCALE_DOWN)):
            given = behavior.setdefault(key, {})
            for field, value in rules.items():
                given.setdefault(field, [dict(p) for p in value] if field == "policies"
                                 else value)


def _network_policy(obj, spec):
    spec.setdefault("podSelector", {})
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


_SPEC_DEFAULTS = {
    "Deployment": _deployment, "ReplicaSet": _replicaset, "StatefulSet": _statefulset,
    "DaemonSet": _daemonset, "ReplicationController": _replication_controller, "Job": _job,
    "CronJob": _cronjob, "Service": _service, "PersistentVolumeClaim": _pvc,
    "PersistentVolume": _pv, "HorizontalPodAutoscaler": _hpa,
    "NetworkPolicy": _network_policy,
}


def _secret(obj):
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def _binding(obj):
    ref = obj.get("roleRef")
    if isinstance(ref, dict):
        ref.setdefault("apiGroup", "rbac.authorization.k8s.io")
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and subject.get("kind") in ("User", "Group"):
            subject.setdefault("apiGroup", "rbac.authorization.k8s.io")


def default_object(kind, obj):
    """Fills in `obj`'s defaults, in place."""
    if kind in _SPEC_DEFAULTS:
        if kind == "NetworkPolicy" or kind == "Service":
            obj.setdefault("spec", {})
        spec = obj.get("spec")
        if isinstance(spec, dict):
            _SPEC_DEFAULTS[kind](obj, spec)
    elif kind == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
    elif kind == "Secret":
        _secret(obj)
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        _binding(obj)
    elif kind == "StorageClass":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif kind == "PriorityClass":
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


# ---------------------------------------------------------------- set once

def _node_port(taken):
    while True:
        port = random.randint(30000, 32767)
        if port not in taken:
            return port


def allocate(kind, obj, old, node_ports_taken=()):
    """Fields the server allocates: on creation (`old` None) a Job's selector from its uid,
    a Service's cluster IP and node ports; on update the allocated values of `old` are kept
    where the new object leaves them out."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if kind == "Service":
        old_spec = (old or {}).get("spec") or {}
        for field in ("clusterIP", "clusterIPs"):
            if field in old_spec and not spec.get(field):
                spec[field] = old_spec[field]
        if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
            spec["clusterIP"] = f"10.96.{random.randint(0, 254)}.{random.randint(1, 254)}"
        if spec.get("clusterIP"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            old_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort")
                         for p in old_spec.get("ports") or [] if isinstance(p, dict)}
            taken = set(node_ports_taken)
            for p in spec.get("ports") or []:
                if isinstance(p, dict) and not p.get("nodePort"):
                    kept = old_ports.get((p.get("port"), p.get("protocol")))
                    p["nodePort"] = kept or _node_port(taken)
                    taken.add(p["nodePort"])
    elif kind == "Job" and old is None and not spec.get("manualSelector"):
        uid = obj["metadata"]["uid"]
        name = obj["metadata"]["name"]
        labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                  "controller-uid": uid, "job-name": name}
        if not spec.get("selector"):
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template = spec.setdefault("template", {})
        template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)


def initial_status(kind):
    """The status a new object of `kind` is stored with (zero counters included where the
    real API types always write them)."""
    return {
        "Namespace": {"phase": "Active"},
        "Service": {"loadBalancer": {}},
        "Ingress": {"loadBalancer": {}},
        "PersistentVolumeClaim": {"phase": "Pending"},
        "PersistentVolume": {"phase": "Pending"},
        "HorizontalPodAutoscaler": {"desiredReplicas": 0},
        "PodDisruptionBudget": {"disruptionsAllowed": 0, "currentHealthy": 0,
                                "desiredHealthy": 0, "expectedPods": 0},
        "ReplicaSet": {"replicas": 0},
        "ReplicationController": {"replicas": 0},
        "StatefulSet": {"replicas": 0, "availableReplicas": 0},
        "DaemonSet": {"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                      "numberMisscheduled": 0, "numberReady": 0},
    }.get(kind, {})
