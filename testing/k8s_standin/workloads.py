"""The StatefulSet and DaemonSet controllers, small but shaped like the real ones, and a
replica counter for ReplicationControllers and ReplicaSets that no Deployment owns.

StatefulSets and DaemonSets keep their history in ControllerRevisions, as on a real cluster:
each pod template gets one, named `NAME-HASH`, owned by the workload, labelled with the
template's labels (and `controller.kubernetes.io/hash` or `controller-revision-hash`), carrying
the workload's annotations, and holding in `data` the strategic merge patch that puts the
template back: {"spec": {"template": {..., "$patch": "replace"}}}, keys sorted as Go writes
them, so that `kubectl rollout undo` recognises the revision a workload already runs. Going
back to an earlier template (`kubectl rollout undo`, or a template changed back) renumbers that
revision to the next number instead of making a new one; revisionHistoryLimit prunes the
oldest revisions no pod runs.

Pods are not modelled: each controller keeps, per workload, the revision and readiness of
each pod it would run, and writes the status counters kubectl reads. Every tick, pods created
on the previous tick become ready (unless their image tag is `broken`), and a rolling update
replaces one pod:

- StatefulSet: pods are created in order, each once the previous one is ready
  (podManagementPolicy OrderedReady; Parallel creates them at once), and updated from the
  highest ordinal down to `partition`, one at a time, each once the pods above it are ready.
  With OrderedReady a pod that never gets ready blocks the StatefulSet, even after its
  template is rolled back, as on a real cluster (there one deletes the pod by hand; here there
  is no pod to delete). status: replicas, readyReplicas, currentReplicas, updatedReplicas,
  availableReplicas, currentRevision, updateRevision, observedGeneration, collisionCount.
- DaemonSet: the cluster has NODES nodes, each running one pod. RollingUpdate replaces outdated
  pods that are not ready at once, and ready ones within maxUnavailable (or maxSurge when
  maxUnavailable is 0); OnDelete never replaces them. status: desired, current, updated,
  ready, available and unavailable numbers, observedGeneration.
"""

import copy

import resources
from controller import is_broken, template_hash

STATEFULSETS = resources.find("apps", "v1", "statefulsets")
DAEMONSETS = resources.find("apps", "v1", "daemonsets")
REVISIONS = resources.find("apps", "v1", "controllerrevisions")
REPLICATION_CONTROLLERS = resources.find("", "v1", "replicationcontrollers")
REPLICASETS = resources.find("apps", "v1", "replicasets")

NODES = 2  # the nodes a DaemonSet runs on


def _sorted(value):
    """`value` with every map's keys in byte order, as Go's encoding/json writes maps."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def revision_data(template):
    """The patch a ControllerRevision holds: it replaces the pod template."""
    replace = copy.deepcopy(template)
    replace["$patch"] = "replace"
    return _sorted({"spec": {"template": replace}})


def controlled_by(obj, uid):
    return any(r.get("uid") == uid and r.get("controller")
               for r in obj["metadata"].get("ownerReferences") or [])


def _scaled(value, total):
    """An IntOrString of `total`, percentages rounded up (as DaemonSets round them)."""
    if isinstance(value, str) and value.endswith("%"):
        return -(-int(value[:-1]) * total // 100)
    return int(value or 0)


class RevisionHistory:
    """The ControllerRevisions of one kind of workload."""

    def __init__(self, store, kind, hash_label):
        self.store = store
        self.kind = kind
        self.hash_label = hash_label

    def sync(self, owner):
        """(revisions of `owner` by number, the revision of its current template), creating
        or renumbering that one as the real controllers do. Caller holds the store lock."""
        meta = owner["metadata"]
        owned = [cr for cr in self.store.list(REVISIONS, meta["namespace"])[0]
                 if controlled_by(cr, meta["uid"])]
        data = revision_data(owner["spec"]["template"])
        latest = max([cr.get("revision", 0) for cr in owned] or [0])
        equal = [cr for cr in owned if cr.get("data") == data]
        if equal:
            update = max(equal, key=lambda cr: cr.get("revision", 0))
            if update.get("revision", 0) < latest:
                update["revision"] = latest + 1
                self.store.put_internal(REVISIONS, update)
        else:
            update = self._new(owner, data, latest + 1)
            self.store.put_internal(REVISIONS, update)
            owned.append(update)
        return sorted(owned, key=lambda cr: cr.get("revision", 0)), update

    def _new(self, owner, data, number):
        meta = owner["metadata"]
        h = template_hash(data)
        labels = dict(((owner["spec"]["template"].get("metadata") or {}).get("labels")) or {})
        labels[self.hash_label] = h
        cr_meta = {"name": f"{meta['name']}-{h}", "namespace": meta["namespace"],
                   "labels": labels,
                   "ownerReferences": [{"apiVersion": "apps/v1", "kind": self.kind,
                                        "name": meta["name"], "uid": meta["uid"],
                                        "controller": True, "blockOwnerDeletion": True}]}
        if meta.get("annotations"):
            cr_meta["annotations"] = dict(meta["annotations"])
        return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": cr_meta,
                "data": data, "revision": number}

    def prune(self, owner, revisions, live):
        """Deletes the oldest revisions beyond revisionHistoryLimit that no pod runs."""
        limit = owner["spec"].get("revisionHistoryLimit", 10)
        idle = [cr for cr in revisions if cr["metadata"]["name"] not in live]
        for cr in idle[:max(0, len(idle) - limit)]:
            self.store.delete_internal(REVISIONS, cr)


def _broken_revisions(revisions):
    return {cr["metadata"]["name"] for cr in revisions
            if is_broken(((cr.get("data") or {}).get("spec") or {}).get("template") or {})}


def _ready_up(pods, broken):
    """Pods created on an earlier tick become ready, unless their image is broken."""
    for pod in pods:
        if pod is not None and not pod[1] and pod[0] not in broken:
            pod[1] = True


class StatefulSetController:
    def __init__(self, store):
        self.store = store
        self.history = RevisionHistory(store, "StatefulSet", "controller.kubernetes.io/hash")
        self.pods = {}  # uid -> [[revision name, ready], ...] by ordinal

    def sync_all(self, tick):
        items, _ = self.store.list(STATEFULSETS)
        for uid in set(self.pods) - {s["metadata"]["uid"] for s in items}:
            del self.pods[uid]
        for sts in items:
            self.sync(sts, tick)

    def sync(self, sts, tick):
        spec, status = sts["spec"], sts.get("status") or {}
        pods = self.pods.setdefault(sts["metadata"]["uid"], [])
        revisions, update_cr = self.history.sync(sts)
        update = update_cr["metadata"]["name"]
        names = {cr["metadata"]["name"] for cr in revisions}
        current = status.get("currentRevision")
        if current not in names:
            current = update
        if tick:
            _ready_up(pods, _broken_revisions(revisions))
            self._step(spec, pods, current, update)
        replicas = spec.get("replicas", 1)
        ready = sum(1 for p in pods if p[1])
        updated = sum(1 for p in pods if p[0] == update)
        rolling = (spec.get("updateStrategy") or {}).get("type") == "RollingUpdate"
        if rolling and updated == len(pods) == replicas and ready == replicas:
            current = update
        counts = {"readyReplicas": ready, "updatedReplicas": updated,
                  "currentReplicas": sum(1 for p in pods if p[0] == current)}
        sts["status"] = {k: v for k, v in counts.items() if v}
        sts["status"].update({
            "observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(pods),
            "availableReplicas": ready, "currentRevision": current, "updateRevision": update,
            "collisionCount": status.get("collisionCount", 0)})
        self.store.put_internal(STATEFULSETS, sts)
        self.history.prune(sts, revisions, {current, update} | {p[0] for p in pods})

    @staticmethod
    def _step(spec, pods, current, update):
        replicas = spec.get("replicas", 1)
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        strategy = spec.get("updateStrategy") or {}
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0) or 0
        if ordered and not all(p[1] for p in pods):
            return  # OrderedReady waits for every pod to be ready
        if len(pods) > replicas:
            del pods[replicas if not ordered else len(pods) - 1:]
            return
        if len(pods) < replicas:
            for ordinal in range(len(pods), replicas if not ordered else len(pods) + 1):
                pods.append([update if ordinal >= partition else current, False])
            return
        if strategy.get("type") != "RollingUpdate":
            return
        for ordinal in range(len(pods) - 1, partition - 1, -1):
            if pods[ordinal][0] != update:
                pods[ordinal] = [update, False]
                return
            if not pods[ordinal][1]:
                return


class DaemonSetController:
    def __init__(self, store):
        self.store = store
        self.history = RevisionHistory(store, "DaemonSet", "controller-revision-hash")
        self.pods = {}  # uid -> [[revision name, ready] or None, ...] by node

    def sync_all(self, tick):
        items, _ = self.store.list(DAEMONSETS)
        for uid in set(self.pods) - {d["metadata"]["uid"] for d in items}:
            del self.pods[uid]
        for ds in items:
            self.sync(ds, tick)

    def sync(self, ds, tick):
        spec = ds["spec"]
        pods = self.pods.setdefault(ds["metadata"]["uid"], [None] * NODES)
        revisions, update_cr = self.history.sync(ds)
        update = update_cr["metadata"]["name"]
        if tick:
            _ready_up(pods, _broken_revisions(revisions))
            self._step(spec, pods, update)
        live = [p for p in pods if p is not None]
        ready = sum(1 for p in live if p[1])
        counts = {"updatedNumberScheduled": sum(1 for p in live if p[0] == update),
                  "numberAvailable": ready, "numberUnavailable": NODES - ready}
        ds["status"] = {k: v for k, v in counts.items() if v}
        ds["status"].update({
            "currentNumberScheduled": len(live), "desiredNumberScheduled": NODES,
            "numberMisscheduled": 0, "numberReady": ready,
            "observedGeneration": ds["metadata"].get("generation", 1)})
        self.store.put_internal(DAEMONSETS, ds)
        self.history.prune(ds, revisions, {update} | {p[0] for p in live})

    @staticmethod
    def _step(spec, pods, update):
        for node, pod in enumerate(pods):
            if pod is None:
                pods[node] = [update, False]
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type") != "RollingUpdate":
            return
        ru = strategy.get("rollingUpdate") or {}
        budget = _scaled(ru.get("maxUnavailable", 1), NODES) or _scaled(ru.get("maxSurge", 0),
                                                                       NODES) or 1
        for node, pod in enumerate(pods):  # outdated pods that are not ready go at once
            if pod[0] != update and not pod[1]:
                pods[node] = [update, False]
        budget -= sum(1 for p in pods if not p[1])
        for node, pod in enumerate(pods):
            if budget <= 0:
                break
            if pod[0] != update:
                pods[node] = [update, False]
                budget -= 1


class ReplicaCountController:
    """ReplicationControllers, and ReplicaSets no Deployment owns: status.replicas follows
    spec.replicas, and the pods become ready a tick later (unless their image is broken).
    Their pods are never replaced: a template change affects new pods only, as on a real
    cluster."""

    def __init__(self, store):
        self.store = store

    def sync_all(self, tick):
        for res in (REPLICATION_CONTROLLERS, REPLICASETS):
            for obj in self.store.list(res)[0]:
                if any(r.get("controller") for r in obj["metadata"].get("ownerReferences") or []):
                    continue  # the deployment controller's
                self.sync(res, obj, tick)

    def sync(self, res, obj, tick):
        status = obj.get("status") or {}
        desired = obj["spec"].get("replicas", 1)
        replicas = status.get("replicas", 0)
        ready = status.get("readyReplicas", 0)
        if tick:
            ready = min(replicas, desired) if not is_broken(obj["spec"].get("template") or {}) \
                else 0
            replicas = desired
        ready = min(ready, replicas)
        counts = {"fullyLabeledReplicas": replicas, "readyReplicas": ready,
                  "availableReplicas": ready}
        obj["status"] = {k: v for k, v in counts.items() if v}
        obj["status"].update({"replicas": replicas,
                              "observedGeneration": obj["metadata"].get("generation", 1)})
        self.store.put_internal(res, obj)
