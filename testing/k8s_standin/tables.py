"""Tables for `kubectl get`: kubectl asks for meta.k8s.io/v1 Table (Accept: ...;as=Table) and
prints the server's columns, as a real API server defines them for each kind."""

import calendar
import time

import kinds


def table(res, items, rv, include_object):
    """The meta.k8s.io/v1 Table of `items`, as `kubectl get` asks for it."""
    def col(name, kind="string", fmt="", priority=0):
        return {"name": name, "type": kind, "format": fmt, "description": name,
                "priority": priority}

    def age(obj):
        created = obj["metadata"].get("creationTimestamp")
        if not created:
            return "<unknown>"
        seconds = int(time.time() - calendar.timegm(time.strptime(created,
                                                                  "%Y-%m-%dT%H:%M:%SZ")))
        if seconds < 120:
            return f"{max(seconds, 0)}s"
        if seconds < 7200:
            return f"{seconds // 60}m"
        return f"{seconds // 3600}h"

    columns = [col("Name", fmt="name")]
    if res.kind == "Deployment":
        columns += [col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"),
                    col("Age"), col("Containers", priority=1), col("Images", priority=1),
                    col("Selector", priority=1)]
    elif res.kind == "ReplicaSet":
        columns += [col("Desired", "integer"), col("Current", "integer"),
                    col("Ready", "integer"), col("Age"), col("Containers", priority=1),
                    col("Images", priority=1), col("Selector", priority=1)]
    elif res.kind == "Namespace":
        columns += [col("Status"), col("Age")]
    else:
        columns += [col("Age")]
    rows = []
    for obj in items:
        st, spec = obj.get("status") or {}, obj.get("spec") or {}
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        names = ",".join(c.get("name", "") for c in containers)
        images = ",".join(c.get("image", "") for c in containers)
        selector = kinds.selector_string(spec.get("selector") or {})
        cells = [obj["metadata"]["name"]]
        if res.kind == "Deployment":
            cells += [f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
                      st.get("updatedReplicas", 0), st.get("availableReplicas", 0),
                      age(obj), names, images, selector]
        elif res.kind == "ReplicaSet":
            cells += [spec.get("replicas", 0), st.get("replicas", 0),
                      st.get("readyReplicas", 0), age(obj), names, images, selector]
        elif res.kind == "Namespace":
            cells += [st.get("phase", "Active"), age(obj)]
        else:
            cells += [age(obj)]
        if include_object == "Object":
            row_obj = obj
        elif include_object == "None":
            row_obj = None
        else:
            row_obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": obj["metadata"]}
        rows.append({"cells": cells, "object": row_obj})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": rv}, "columnDefinitions": columns, "rows": rows}
