"""The object store: every object under one lock, a cluster-wide resourceVersion counter, and
the event history that list/watch serve from.

Every write (create, update, delete, a controller's status change) takes the next
resourceVersion, appends an event (ADDED, MODIFIED, DELETED) carrying a copy of the object, and
wakes the watchers and the controller. A dry run (?dryRun=All) goes through the same checks and
returns what would be stored, but stores nothing and takes no resourceVersion.
"""

import copy
import random
import string
import threading
import time
import uuid

import defaults
import resources
import validation


class ApiError(Exception):
    """An answer other than success, carried as a metav1.Status."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        doc = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            doc["details"] = self.details
        return doc


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found',
                    {"name": name, "group": res.group, "kind": res.plural})


def now_rfc3339(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t if t is not None else time.time()))


class Store:
    def __init__(self):
        self.cond = threading.Condition(threading.RLock())
        self.rv = 100
        self.objects = {}   # (resource key, namespace, name) -> object
        self.events = []    # (rv, resource key, namespace, type, object)
        self.applied = {}   # server-side apply: (key, ns, name, manager) -> applied config
        self.terminating = {}  # namespace -> monotonic time its deletion was first seen
        for ns in ("default", "kube-system", "kube-public"):
            self.create(resources.find("", "v1", "namespaces"), "", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    # ------------------------------------------------------------ reads

    def get(self, res, ns, name):
        with self.cond:
            obj = self.objects.get((res.key, ns, name))
            if obj is None:
                raise not_found(res, name)
            return copy.deepcopy(obj)

    def list(self, res, ns=None, label_match=None, field_match=None):
        """(items, resourceVersion) of `res` in `ns` (None: all namespaces)."""
        with self.cond:
            items = [copy.deepcopy(o) for (k, n, _), o in sorted(self.objects.items())
                     if k == res.key and (ns is None or n == ns)
                     and (label_match is None or label_match(o["metadata"].get("labels")))
                     and (field_match is None or field_match(o))]
            return items, str(self.rv)

    def events_since(self, res, ns, since):
        """Events of `res` in `ns` with a resourceVersion above `since`. Caller holds cond."""
        return [e for e in self.events
                if e[0] > since and e[1] == res.key and (ns is None or e[2] == ns)]

    # ------------------------------------------------------------ writes

    def _commit(self, res, ns, obj, event_type):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        key = (res.key, ns, obj["metadata"]["name"])
        if event_type == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        self.events.append((self.rv, res.key, ns, event_type, copy.deepcopy(obj)))
        self.cond.notify_all()

    def create(self, res, ns, obj, dry_run=False):
        with self.cond:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(
                    random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            name = meta.get("name")
            if not name:
                raise ApiError(422, "Invalid", f"{res.kind} \"\" is invalid: metadata.name: "
                               "Required value: name or generateName is required",
                               {"kind": res.kind, "group": res.group, "causes": [
                                   {"reason": "FieldValueRequired", "field": "metadata.name",
                                    "message": "Required value: name or generateName is "
                                               "required"}]})
            if res.namespaced:
                if meta.get("namespace") and meta["namespace"] != ns:
                    raise ApiError(400, "BadRequest", "the namespace of the provided object "
                                   "does not match the namespace sent on the request")
                meta["namespace"] = ns
                namespace = self.objects.get(("/namespaces", "", ns))
                if namespace is None:
                    raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                                   {"name": ns, "kind": "namespaces"})
                if namespace["metadata"].get("deletionTimestamp"):
                    raise ApiError(403, "Forbidden", f"{res.plural} \"{name}\" is forbidden: "
                                   f"unable to create new content in namespace {ns} because "
                                   "it is being terminated")
            else:
                meta.pop("namespace", None)
            if (res.key, ns, name) in self.objects:
                raise ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                               {"name": name, "group": res.group, "kind": res.plural})
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            defaults.default_object(res.kind, obj)
            for field in ("resourceVersion", "deletionTimestamp"):
                meta.pop(field, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if res.has_generation:
                meta["generation"] = 1
            if res.has_status:
                obj["status"] = defaults.initial_status(res.kind)
            defaults.allocate(res.kind, obj, None, self._node_ports())
            self._check(res, obj, None)
            if dry_run:
                return obj
            self._commit(res, ns, obj, "ADDED")
            return copy.deepcopy(obj)

    def update(self, res, ns, name, obj, dry_run=False, subresource=None):
        """Replaces an object (PUT, or the result of a PATCH). The status of a workload is only
        written through the status subresource, and its spec only through the main resource."""
        with self.cond:
            old = self.objects.get((res.key, ns, name))
            if old is None:
                raise not_found(res, name)
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            if meta.get("name", name) != name:
                raise ApiError(400, "BadRequest", "the name of the object "
                               f"({meta.get('name')}) does not match the name on the URL ({name})")
            rv = meta.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on '
                               f'{res.qualified} "{name}": the object has been modified; please '
                               "apply your changes to the latest version and try again",
                               {"name": name, "group": res.group, "kind": res.plural})
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            for field in ("uid", "creationTimestamp", "resourceVersion", "generation",
                          "deletionTimestamp"):
                if field in old["metadata"]:
                    meta[field] = old["metadata"][field]
            meta["name"] = name
            if res.namespaced:
                meta["namespace"] = ns
            if res.has_status:
                if subresource == "status":
                    obj["spec"] = copy.deepcopy(old.get("spec"))
                    obj["metadata"] = meta = copy.deepcopy(old["metadata"])
                else:
                    obj["status"] = copy.deepcopy(old.get("status", {}))
            defaults.default_object(res.kind, obj)
            defaults.allocate(res.kind, obj, old, self._node_ports(exclude=(ns, name)))
            self._check(res, obj, old)
            if res.has_generation and (obj.get("spec") != old.get("spec") or (
                    res.kind == "Deployment" and  # annotations are copied to ReplicaSets
                    meta.get("annotations") != old["metadata"].get("annotations"))):
                meta["generation"] = old["metadata"].get("generation", 1) + 1
            if obj == old:
                return copy.deepcopy(old)  # no-op writes keep their resourceVersion
            if dry_run:
                return obj
            self._commit(res, ns, obj, "MODIFIED")
            return copy.deepcopy(obj)

    def delete(self, res, ns, name, dry_run=False, propagation="Background", preconditions=None):
        with self.cond:
            old = self.objects.get((res.key, ns, name))
            if old is None:
                raise not_found(res, name)
            for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                wanted = (preconditions or {}).get(field)
                if wanted and wanted != old["metadata"].get(field):
                    raise ApiError(409, "Conflict", f"Precondition failed: {label} in "
                                   f"precondition: {wanted}, {label} in object meta: "
                                   f"{old['metadata'].get(field)}",
                                   {"name": name, "group": res.group, "kind": res.plural})
            if dry_run:
                return copy.deepcopy(old)
            if res.kind == "Namespace":
                # Namespaces go in two phases, as on a real server: Terminating now, and the
                # controller removes their contents and then them (finish_namespaces).
                if not old["metadata"].get("deletionTimestamp"):
                    old = copy.deepcopy(old)
                    old["metadata"]["deletionTimestamp"] = now_rfc3339()
                    old["status"] = {"phase": "Terminating"}
                    self._commit(res, ns, old, "MODIFIED")
                return copy.deepcopy(old)
            self._commit(res, ns, copy.deepcopy(old), "DELETED")
            for key in [k for k in self.applied if k[:3] == (res.key, ns, name)]:
                del self.applied[key]
            self._collect_garbage(old["metadata"]["uid"], propagation)
            return old

    def finish_namespaces(self, grace):
        """Removes the namespaces that have been terminating for `grace` seconds, and
        everything in them."""
        with self.cond:
            namespaces = resources.find("", "v1", "namespaces")
            for (k, _, name), obj in list(self.objects.items()):
                if k != namespaces.key or not obj["metadata"].get("deletionTimestamp"):
                    continue
                since = self.terminating.setdefault(name, time.monotonic())
                if time.monotonic() - since < grace:
                    continue
                del self.terminating[name]
                for key in [key for key in self.objects if key[1] == name]:
                    sub = resources.by_key(key[0])
                    if key in self.objects:
                        self._commit(sub, name, copy.deepcopy(self.objects[key]), "DELETED")
                self._commit(namespaces, "", copy.deepcopy(obj), "DELETED")

    def _collect_garbage(self, owner_uid, propagation):
        """Objects owned by a deleted object go too (Background, Foreground), or lose their
        owner reference (Orphan)."""
        for key, obj in list(self.objects.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if not any(r.get("uid") == owner_uid for r in refs):
                continue
            res = resources.by_key(key[0])
            if propagation == "Orphan":
                obj = copy.deepcopy(obj)
                obj["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != owner_uid]
                self._commit(res, key[1], obj, "MODIFIED")
            else:
                self._commit(res, key[1], copy.deepcopy(obj), "DELETED")
                self._collect_garbage(obj["metadata"]["uid"], propagation)

    def _node_ports(self, exclude=None):
        """The node ports Services hold, but for the Service `exclude` (namespace, name)."""
        return {p.get("nodePort") for (k, ns, name), o in self.objects.items()
                if k == "/services" and (ns, name) != exclude
                for p in (o.get("spec") or {}).get("ports") or [] if isinstance(p, dict)}

    def put_internal(self, res, obj):
        """A controller's write: stored as given (status included) if it changed anything."""
        with self.cond:
            key = (res.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            old = self.objects.get(key)
            if old is not None and old == obj:
                return
            if old is None:
                obj["metadata"].setdefault("uid", str(uuid.uuid4()))
                obj["metadata"].setdefault("creationTimestamp", now_rfc3339())
            self._commit(res, key[1], copy.deepcopy(obj), "ADDED" if old is None else "MODIFIED")

    def delete_internal(self, res, obj):
        with self.cond:
            key = (res.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if key in self.objects:
                self._commit(res, key[1], copy.deepcopy(self.objects[key]), "DELETED")

    def _check(self, res, obj, old):
        causes = validation.validate(res.kind, obj, old)
        if causes:
            name = obj["metadata"].get("name", "")
            text = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
            if len(causes) > 1:
                text = "[" + ", ".join(f"{c['field']}: {c['message']}" for c in causes) + "]"
            raise ApiError(422, "Invalid", f'{res.qualified_kind} "{name}" is invalid: {text}',
                           {"name": name, "group": res.group, "kind": res.kind,
                            "causes": causes})


def random_suffix(n=5):
    return "".join(random.choice(string.ascii_lowercase) for _ in range(n))
