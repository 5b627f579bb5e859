"""The patch types kubectl sends, applied the way the API server applies them.

- application/merge-patch+json        RFC 7386 (kubectl annotate, label, scale)
- application/json-patch+json         RFC 6902 (kubectl rollout undo, patch --type=json)
- application/strategic-merge-patch+json  (kubectl apply, set image, rollout restart):
  lists with a merge key (containers by name, ports by containerPort, ...) are merged item by
  item; the directives $patch, $retainKeys, $setElementOrder/F and $deleteFromPrimitiveList/F
  are honoured; null deletes a field.
- application/apply-patch+yaml        server-side apply, approximated: the applied
  configuration is merged like a strategic patch, and fields that the same field manager
  applied last time but no longer applies are removed. Conflicts between managers are not
  detected (documented in README.md).
"""

import copy


class PatchError(Exception):
    """A patch that cannot be applied; becomes a 422 (or 400) answer."""

    def __init__(self, message, code=422, reason="Invalid"):
        super().__init__(message)
        self.code = code
        self.reason = reason


# ---------------------------------------------------------------- RFC 7386

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---------------------------------------------------------------- RFC 6902

def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}", 400, "BadRequest")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, tokens, create=False):
    """The container holding the last token."""
    node = doc
    for t in tokens[:-1]:
        if isinstance(node, list):
            try:
                node = node[int(t)]
            except (ValueError, IndexError):
                raise PatchError(f"path element {t!r} not found", 422)
        elif isinstance(node, dict):
            if t not in node:
                raise PatchError(f"doc is missing path: {t}", 422)
            node = node[t]
        else:
            raise PatchError(f"cannot descend into {t!r}", 422)
    return node


def _get(doc, tokens):
    node = doc
    for t in tokens:
        if isinstance(node, list):
            node = node[int(t)]
        else:
            node = node[t]
    return node


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations", 400, "BadRequest")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        tokens = _pointer(op.get("path", ""))
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{kind} operation without a value", 400, "BadRequest")
        if kind == "test":
            try:
                ok = _get(doc, tokens) == op["value"]
            except (KeyError, IndexError, ValueError, TypeError):
                ok = False
            if not ok:
                raise PatchError(f"testing value {op.get('path')} failed", 422)
            continue
        if kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            try:
                value = copy.deepcopy(_get(doc, src))
            except (KeyError, IndexError, ValueError, TypeError):
                raise PatchError(f"{kind}: from path {op.get('from')} not found", 422)
            if kind == "move":
                doc = _remove(doc, src)
            doc = _add(doc, tokens, value)
            continue
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc = _remove(doc, tokens)
        elif kind == "replace":
            if not tokens:
                doc = copy.deepcopy(op["value"])
                continue
            parent = _walk(doc, tokens)
            last = tokens[-1]
            if isinstance(parent, list):
                try:
                    parent[int(last)] = copy.deepcopy(op["value"])
                except (ValueError, IndexError):
                    raise PatchError(f"replace: index {last} out of range", 422)
            elif isinstance(parent, dict):
                if last not in parent:
                    raise PatchError(f"replace operation does not apply: doc is missing key: "
                                     f"{op.get('path')}", 422)
                parent[last] = copy.deepcopy(op["value"])
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}", 400, "BadRequest")
    return doc


def _add(doc, tokens, value):
    if not tokens:
        return value
    parent = _walk(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                index = int(last)
            except ValueError:
                raise PatchError(f"add: bad index {last!r}", 422)
            if index > len(parent):
                raise PatchError(f"add: index {index} out of range", 422)
            parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError("add: parent is not a container", 422)
    return doc


def _remove(doc, tokens):
    if not tokens:
        raise PatchError("remove: cannot remove the whole document", 422)
    parent = _walk(doc, tokens)
    last = tokens[-1]
    try:
        if isinstance(parent, list):
            del parent[int(last)]
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError, TypeError):
        raise PatchError(f"remove operation does not apply: doc is missing path: /"
                         f"{'/'.join(tokens)}", 422)
    return doc


# ---------------------------------------------------------------- strategic merge patch

# Lists merged item by item, by field name and, where a name is ambiguous, its parent.
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "imagePullSecrets": "name", "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name",
    "ownerReferences": "uid", "conditions": "type", "secrets": "name",  # a ServiceAccount's
}
# Lists of scalars merged as sets.
_PRIMITIVE_MERGE = {"finalizers"}


def merge_key(path, field):
    """The merge key of list `field` under `path` (a tuple of field names), or None when the
    list is replaced as a whole, or "" for a list of scalars merged as a set."""
    if field in _PRIMITIVE_MERGE:
        return ""
    if field == "ports":
        if path and path[-1] in ("containers", "initContainers", "ephemeralContainers"):
            return "containerPort"
        if path[-1:] == ("spec",) and "template" not in path:
            return "port"  # a Service's ports
        return None
    return _MERGE_KEYS.get(field)


def strategic_merge(original, patch, path=()):
    """`original` with `patch` applied (neither is modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [x for x in result[field] if x not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, path + (key,))
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, path, key)
        else:
            result[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(result[field], order, merge_key(path, field))
    if retain is not None:
        for key in list(result):
            if key not in retain:
                del result[key]
    return result


def _merge_list(original, patch, path, field):
    key = merge_key(path, field)
    original = original if isinstance(original, list) else []
    if key is None:
        return [copy.deepcopy(x) for x in patch if not _is_directive(x)]
    if any(_is_directive(x) and x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch if not _is_directive(x)]
    if key == "":
        result = copy.deepcopy(original)
        for item in patch:
            if item not in result:
                result.append(copy.deepcopy(item))
        return result
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"map: {item!r} does not contain declared merge key: {key}", 422)
        index = next((i for i, x in enumerate(result)
                      if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(strategic_merge({}, item, path + (field,)))
        else:
            result[index] = strategic_merge(result[index], item, path + (field,))
    return result


def _is_directive(item):
    return isinstance(item, dict) and "$patch" in item and len(item) == 1


def _reorder(items, order, key):
    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x

    wanted = [o.get(key) if key and isinstance(o, dict) else o for o in order]
    ranked = [x for w in wanted for x in items if ident(x) == w]
    rest = [x for x in items if ident(x) not in wanted]
    return ranked + rest


# ---------------------------------------------------------------- server-side apply (approx.)

def remove_unapplied(live, previous, applied, path=()):
    """Removes from `live` (in place) the fields that `previous` (what the manager applied last
    time) set and `applied` (what it applies now) no longer sets."""
    if not isinstance(live, dict) or not isinstance(previous, dict):
        return
    applied = applied if isinstance(applied, dict) else {}
    for key, old in previous.items():
        if key not in applied:
            if key not in ("apiVersion", "kind", "metadata"):
                live.pop(key, None)
            continue
        new = applied[key]
        if isinstance(old, dict) and isinstance(new, dict):
            remove_unapplied(live.get(key), old, new, path + (key,))
        elif isinstance(old, list) and isinstance(new, list):
            mkey = merge_key(path, key)
            if mkey and isinstance(live.get(key), list):
                kept = {x.get(mkey) for x in new if isinstance(x, dict)}
                gone = {x.get(mkey) for x in old if isinstance(x, dict)} - kept
                live[key] = [x for x in live[key]
                             if not (isinstance(x, dict) and x.get(mkey) in gone)]
                for old_item in old:
                    new_item = next((x for x in new if isinstance(x, dict)
                                     and x.get(mkey) == old_item.get(mkey)), None)
                    live_item = next((x for x in live[key] if isinstance(x, dict)
                                      and x.get(mkey) == old_item.get(mkey)), None)
                    if new_item is not None and live_item is not None:
                        remove_unapplied(live_item, old_item, new_item, path + (key,))
    if path == ():
        meta_old = previous.get("metadata", {})
        meta_new = applied.get("metadata", {})
        for field in ("labels", "annotations"):
            for k in meta_old.get(field, {}) or {}:
                if k not in (meta_new.get(field) or {}):
                    (live.get("metadata", {}).get(field) or {}).pop(k, None)


def apply_patch(live, applied, previous):
    """The object after a server-side apply of `applied` over `live`."""
    result = copy.deepcopy(live) if live is not None else {}
    if previous is not None:
        remove_unapplied(result, previous, applied)
    return strategic_merge(result, applied)
