"""The deployment controller, small but shaped like the real one.

On every change of a Deployment it finds the ReplicaSet whose pod template equals the
Deployment's (by pod-template-hash); if there is none it creates one with the next
`deployment.kubernetes.io/revision`, and if the match is an older ReplicaSet (a rollback, or a
template changed back) it moves that ReplicaSet to the next revision, as the real controller
does. It then records observedGeneration.

Every `step` seconds it advances each rollout by one step under the RollingUpdate rules
(maxSurge, maxUnavailable; Recreate scales the old pods down first): new pods become ready one
step after they are created, old ones go once enough new ones are available. A pod whose image
tag is `broken` never becomes ready, so that rollout stops and, progressDeadlineSeconds after
its last progress, the Progressing condition turns False with reason ProgressDeadlineExceeded.
Pods themselves are not modelled; ReplicaSet status counts stand for them.
"""

import copy
import json
import math
import time

import resources
from store import now_rfc3339

DEPLOYMENTS = resources.find("apps", "v1", "deployments")
REPLICASETS = resources.find("apps", "v1", "replicasets")

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
_NOT_COPIED = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
               DESIRED, MAX_REPLICAS}


def template_hash(template):
    """FNV-1a of the template, spelled with the alphabet Kubernetes uses for generated names."""
    t = copy.deepcopy(template)
    (t.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    h = 0x811C9DC5
    for byte in json.dumps(t, sort_keys=True, separators=(",", ":")).encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[ord(c) % len(alphabet)] for c in str(h))


def is_broken(template):
    for c in (template.get("spec") or {}).get("containers") or []:
        image = c.get("image") or ""
        last = image.rsplit("/", 1)[-1]
        if ":" in last and last.split(":", 1)[1] == "broken":
            return True
    return False


def _revision(rs):
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _scaled(value, total, round_up):
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100.0
        return int(math.ceil(exact) if round_up else math.floor(exact))
    return int(value or 0)


class DeploymentController:
    """Deployments and the ReplicaSets they own. Run by manager.ControllerManager, which holds
    the store lock around each call."""

    def __init__(self, store):
        self.store = store
        self.last_progress = {}  # deployment uid -> time of its last progress

    def sync_all(self, tick):
        deployments, _ = self.store.list(DEPLOYMENTS)
        for d in deployments:
            self.sync(d, tick)

    # ------------------------------------------------------------ one deployment

    def sync(self, d, tick):
        """Brings `d` and its ReplicaSets one step closer to the desired state. Caller holds
        the store lock."""
        meta, spec = d["metadata"], d["spec"]
        ns, uid = meta["namespace"], meta["uid"]
        now = time.time()
        owned = [rs for rs in self.store.list(REPLICASETS, ns)[0]
                 if any(r.get("uid") == uid and r.get("controller")
                        for r in rs["metadata"].get("ownerReferences") or [])]
        h = template_hash(spec["template"])
        new = next((rs for rs in owned if rs["metadata"].get("labels", {}).get(HASH_LABEL) == h),
                   None)
        max_rev = max([_revision(rs) for rs in owned] or [0])
        desired = spec.get("replicas", 1)
        d_status = d.setdefault("status", {})
        progressing_reason = None
        olds = [rs for rs in owned if rs is not new]
        if new is None:
            new = self._new_replicaset(d, h, max_rev + 1, desired, olds)
            owned.append(new)
            progressing_reason = ("NewReplicaSetCreated",
                                  f'Created new replica set "{new["metadata"]["name"]}"')
        elif _revision(new) < max_rev:
            ann = new["metadata"].setdefault("annotations", {})
            history = [x for x in ann.get(REVISION_HISTORY, "").split(",") if x]
            history.append(str(_revision(new)))
            ann[REVISION_HISTORY] = ",".join(history)
            ann[REVISION] = str(max_rev + 1)
            progressing_reason = ("FoundNewReplicaSet",
                                  f'Found new replica set "{new["metadata"]["name"]}"')
        if progressing_reason:
            self.last_progress[uid] = now
        self._copy_annotations(d, new)
        d_ann = meta.setdefault("annotations", {})
        d_ann[REVISION] = new["metadata"]["annotations"][REVISION]

        if tick and not spec.get("paused"):
            if self._advance(d, new, olds):
                self.last_progress[uid] = now
                if progressing_reason is None:
                    progressing_reason = ("ReplicaSetUpdated",
                                          f'ReplicaSet "{new["metadata"]["name"]}" is '
                                          "progressing.")
        for rs in owned:
            rs_status = rs.setdefault("status", {})
            count = rs["spec"].get("replicas", 0)
            ready = min(rs_status.get("readyReplicas", 0), count)
            rs["status"] = {k: v for k, v in {
                "fullyLabeledReplicas": count, "readyReplicas": ready,
                "availableReplicas": ready}.items() if v}
            rs["status"]["replicas"] = count  # always written, as by the real types
            rs["status"]["observedGeneration"] = rs["metadata"].get("generation", 1)
            self.store.put_internal(REPLICASETS, rs)

        olds = [rs for rs in owned if rs is not new]
        old_count = sum(rs["spec"].get("replicas", 0) for rs in olds)
        updated = new["spec"].get("replicas", 0)
        available = sum(rs["status"].get("availableReplicas", 0) for rs in owned)
        ready = sum(rs["status"].get("readyReplicas", 0) for rs in owned)
        unavailable = max(0, desired - available)
        status = {k: v for k, v in {
            "replicas": updated + old_count, "updatedReplicas": updated, "readyReplicas": ready,
            "availableReplicas": available, "unavailableReplicas": unavailable}.items() if v}
        status["observedGeneration"] = meta.get("generation", 1)
        conditions = {c["type"]: c for c in d_status.get("conditions") or []}
        max_unavailable = self._max_unavailable(spec, desired)
        if available >= desired - max_unavailable:
            self._condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                            "Deployment has minimum availability.", now)
        else:
            self._condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                            "Deployment does not have minimum availability.", now)
        complete = updated == desired and available >= desired and old_count == 0
        name = new["metadata"]["name"]
        current = conditions.get("Progressing")
        deadline = spec.get("progressDeadlineSeconds", 600)
        if complete and not (current and current["reason"] == "NewReplicaSetAvailable"):
            self._condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                            f'ReplicaSet "{name}" has successfully progressed.', now)
        elif progressing_reason:
            self._condition(conditions, "Progressing", "True", progressing_reason[0],
                            progressing_reason[1], now)
        elif not complete and current and current["reason"] != "ProgressDeadlineExceeded" \
                and now - self.last_progress.get(uid, now) > deadline:
            self._condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded",
                            f'ReplicaSet "{name}" has timed out progressing.', now)
        status["conditions"] = [conditions[t] for t in ("Available", "Progressing")
                                if t in conditions]
        d["status"] = status
        self.store.put_internal(DEPLOYMENTS, d)
        if complete:
            self._prune_history(spec, olds)

    def _new_replicaset(self, d, h, revision, desired, olds):
        meta = d["metadata"]
        template = copy.deepcopy(d["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        labels = dict(template["metadata"]["labels"])
        has_old_pods = any(rs["spec"].get("replicas", 0) for rs in olds)
        return {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{h}", "namespace": meta["namespace"],
                "labels": labels, "generation": 1,
                "annotations": {REVISION: str(revision)},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": meta["name"], "uid": meta["uid"],
                                     "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": {"replicas": 0 if has_old_pods else desired, "selector": selector,
                     "template": template},
            "status": {},
        }

    def _copy_annotations(self, d, rs):
        ann = rs["metadata"].setdefault("annotations", {})
        for k, v in (d["metadata"].get("annotations") or {}).items():
            if k not in _NOT_COPIED:
                ann[k] = v
        desired = d["spec"].get("replicas", 1)
        ann[DESIRED] = str(desired)
        ann[MAX_REPLICAS] = str(desired + self._max_surge(d["spec"], desired))

    @staticmethod
    def _max_surge(spec, desired):
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            return 0
        return _scaled((strategy.get("rollingUpdate") or {}).get("maxSurge", "25%"), desired, True)

    @staticmethod
    def _max_unavailable(spec, desired):
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            return desired
        return _scaled((strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%"),
                       desired, False)

    def _advance(self, d, new, olds):
        """One step of the rollout; True if anything moved."""
        spec = d["spec"]
        desired = spec.get("replicas", 1)
        surge = self._max_surge(spec, desired)
        unavailable = self._max_unavailable(spec, desired)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        moved = False
        n_status = new.setdefault("status", {})
        count = new["spec"].get("replicas", 0)
        # Pods created one step ago become ready (unless their image is broken).
        if not is_broken(new["spec"]["template"]) and n_status.get("readyReplicas", 0) != count:
            n_status["readyReplicas"] = count
            moved = True
        for rs in olds:  # old pods were ready; scaling them down removes ready pods
            rs.setdefault("status", {})["readyReplicas"] = rs["spec"].get("replicas", 0)
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        old_count = sum(rs["spec"].get("replicas", 0) for rs in olds)
        # Scale old ReplicaSets down while enough pods stay available.
        available = n_status.get("readyReplicas", 0) + old_count
        removable = old_count if recreate else min(
            old_count, available - (desired - unavailable))
        if count > desired:
            removable = old_count
        for rs in sorted(olds, key=_revision):
            if removable <= 0:
                break
            take = min(removable, rs["spec"].get("replicas", 0))
            if take:
                rs["spec"]["replicas"] -= take
                rs["status"]["readyReplicas"] = rs["spec"]["replicas"]
                removable -= take
                old_count -= take
                moved = True
        # Scale the new ReplicaSet up within maxSurge (or down if replicas were lowered).
        if recreate and old_count:
            return moved
        room = desired + surge - (count + old_count)
        target = count + max(0, min(room, desired - count)) if count < desired else desired
        if target != count:
            new["spec"]["replicas"] = target
            n_status["readyReplicas"] = min(n_status.get("readyReplicas", 0), target)
            moved = True
        return moved

    def _prune_history(self, spec, olds):
        limit = spec.get("revisionHistoryLimit", 10)
        idle = sorted([rs for rs in olds if not rs["spec"].get("replicas")], key=_revision)
        for rs in idle[:max(0, len(idle) - limit)]:
            self.store.delete_internal(REPLICASETS, rs)

    @staticmethod
    def _condition(conditions, ctype, status, reason, message, now):
        stamp = now_rfc3339(now)
        old = conditions.get(ctype)
        transition = old["lastTransitionTime"] if old and old["status"] == status else stamp
        if old and old["status"] == status and old["reason"] == reason and \
                old["message"] == message:
            return
        conditions[ctype] = {"type": ctype, "status": status, "lastUpdateTime": stamp,
                             "lastTransitionTime": transition, "reason": reason,
                             "message": message}
