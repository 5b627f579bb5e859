"""Request bodies in Kubernetes' protobuf encoding, for the few kinds kubectl creates that way.

kubectl's typed clients (`kubectl create namespace|configmap|secret|serviceaccount`) send
`application/vnd.kubernetes.protobuf` bodies with no way to negotiate JSON instead. The
envelope is "k8s\\0" + runtime.Unknown{1 typeMeta{1 apiVersion, 2 kind}, 2 raw}, and raw is
the object's message. This module decodes Namespace, ConfigMap, Secret and ServiceAccount
(field numbers from k8s.io/api generated.proto); other kinds raise Unsupported, which the
server answers 501.
"""

import base64


class Unsupported(Exception):
    pass


def _varint(data, i):
    shift = result = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(data):
    """(field number, wire type, value) of one message; value is int or bytes."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _string_map(entries, as_bytes=False):
    result = {}
    for entry in entries:
        kv = {n: v for n, _, v in fields(entry)}
        key = kv.get(1, b"").decode()
        value = kv.get(2, b"")
        result[key] = base64.b64encode(value).decode() if as_bytes else value.decode()
    return result


def _object_meta(data):
    meta, labels, annotations, finalizers = {}, [], [], []
    for number, _, value in fields(data):
        if number in (1, 2, 3) and value:  # Go writes empty strings too; JSON omits them
            meta[{1: "name", 2: "generateName", 3: "namespace"}[number]] = value.decode()
        elif number == 11:
            labels.append(value)
        elif number == 12:
            annotations.append(value)
        elif number == 14:
            finalizers.append(value.decode())
    if labels:
        meta["labels"] = _string_map(labels)
    if annotations:
        meta["annotations"] = _string_map(annotations)
    if finalizers:
        meta["finalizers"] = finalizers
    return meta


def decode(body):
    """The JSON form of a protobuf-encoded object."""
    if not body.startswith(b"k8s\x00"):
        raise ValueError("missing the k8s protobuf envelope")
    envelope = {n: v for n, _, v in fields(body[4:])}
    type_meta = {n: v.decode() for n, _, v in fields(envelope.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    raw = envelope.get(2, b"")
    obj = {"apiVersion": api_version, "kind": kind}
    parts = fields(raw)
    if kind == "Namespace" and api_version == "v1":
        for number, _, value in parts:
            if number == 1:
                obj["metadata"] = _object_meta(value)
        return obj
    if kind == "ConfigMap" and api_version == "v1":
        data, binary = [], []
        for number, wire, value in parts:
            if number == 1:
                obj["metadata"] = _object_meta(value)
            elif number == 2:
                data.append(value)
            elif number == 3:
                binary.append(value)
            elif number == 4 and wire == 0:
                obj["immutable"] = bool(value)
        if data:
            obj["data"] = _string_map(data)
        if binary:
            obj["binaryData"] = _string_map(binary, as_bytes=True)
        return obj
    if kind == "Secret" and api_version == "v1":
        data, string_data = [], []
        for number, wire, value in parts:
            if number == 1:
                obj["metadata"] = _object_meta(value)
            elif number == 2:
                data.append(value)
            elif number == 3:
                obj["type"] = value.decode()
            elif number == 4:
                string_data.append(value)
            elif number == 5 and wire == 0:
                obj["immutable"] = bool(value)
        if data:
            obj["data"] = _string_map(data, as_bytes=True)
        if string_data:
            obj["stringData"] = _string_map(string_data)
        return obj
    if kind == "ServiceAccount" and api_version == "v1":
        references = {1: "kind", 2: "namespace", 3: "name", 4: "uid", 5: "apiVersion",
                      6: "resourceVersion", 7: "fieldPath"}
        for number, wire, value in parts:
            if number == 1:
                obj["metadata"] = _object_meta(value)
            elif number == 2:
                obj.setdefault("secrets", []).append(
                    {references[n]: v.decode() for n, _, v in fields(value) if n in references})
            elif number == 3:
                obj.setdefault("imagePullSecrets", []).append(
                    {"name": v.decode() for n, _, v in fields(value) if n == 1})
            elif number == 4 and wire == 0:
                obj["automountServiceAccountToken"] = bool(value)
        return obj
    raise Unsupported(f"a protobuf-encoded {api_version} {kind} (the stand-in decodes Namespace, "
                      "ConfigMap, Secret and ServiceAccount; `kubectl apply` sends JSON)")
