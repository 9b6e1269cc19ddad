"""A generator of damaged model files, made from a good one (never committed as blobs).

Each entry of :data:`DAMAGES` maps a name to ``make(good, path)``, which writes to ``path`` a
copy of the model file ``good`` (a fitted mel + detector Pipeline saved by skaudio_ad.save)
with one kind of damage, and the words the error message must contain. Used by
tests/test_persistence.py (the Python API) and tests/test_cli.py (exit status 2, one line).
"""

import io
import json
import zipfile

import numpy as np

SCHEMA = "schema.json"


def _members(good):
    with zipfile.ZipFile(good) as archive:
        return {item.filename: archive.read(item) for item in archive.infolist()}


def _write(path, members, *, big=None):
    """Write ``members`` as a zip; ``big=(name, prefix, n_bytes)`` streams member ``name``:
    ``prefix`` then that many zero bytes (deflate shrinks 1 GiB of zeros to ~1 MiB)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if big is None or name != big[0]:
                archive.writestr(name, data)
        if big is not None:
            name, prefix, n_bytes = big
            block = bytes(2**22)
            with archive.open(name, "w", force_zip64=True) as f:
                f.write(prefix)
                for _ in range(n_bytes // len(block)):
                    f.write(block)
    return path


def _detector_node(schema):
    return schema["content"]["content"]["steps"]["content"][1]["content"][1]


def _mel_node(schema):
    return schema["content"]["content"]["steps"]["content"][0]["content"][1]


def _attribute(schema, node, name):
    return node(schema)["content"]["content"][name]


def _first_weight(schema, kind="kernel"):
    """The archive member of the first network weight of ``kind`` (kernel or bias)."""
    def walk(node):
        if isinstance(node, dict):
            for key, child in node.get("content", {}).items():
                if key == kind and isinstance(child, dict) and "file" in child:
                    return child["file"]
                found = walk(child) if isinstance(child, dict) else None
                if found:
                    return found
        return None

    return walk(_attribute(schema, _detector_node, "params_"))


def _npy(array):
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _with_array(good, path, transform, kind="kernel"):
    members = _members(good)
    member = _first_weight(json.loads(members[SCHEMA]), kind)
    members[member] = _npy(transform(np.load(io.BytesIO(members[member]))))
    return _write(path, members)


def _with_schema(good, path, edit):
    members = _members(good)
    schema = json.loads(members[SCHEMA])
    edit(schema)
    members[SCHEMA] = json.dumps(schema).encode()
    return _write(path, members)


def _set_json_attribute(name, text):
    def edit(schema):
        _attribute(schema, _detector_node, name)["content"] = text

    return edit


def _split_type(module, cls):
    def edit(schema):
        node = _detector_node(schema)
        node["__module__"], node["__class__"] = module, cls

    return edit


def _mel_parameter(name, value):
    def edit(schema):
        _attribute(schema, _mel_node, name).update(
            {"__class__": type(value).__name__, "__loader__": "JsonNode",
             "content": json.dumps(value), "is_json": True})

    return edit


def _npy_with_huge_shape():
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": "<f4", "fortran_order": False, "shape": (10**11,)})
    return out.getvalue() + b"\0" * 64


def _zip_bomb(n_bytes):
    """A network weight replaced by a valid .npy of ``n_bytes`` of zeros, deflated."""
    def make(good, path):
        members = _members(good)
        member = _first_weight(json.loads(members[SCHEMA]))
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "<f4", "fortran_order": False, "shape": (n_bytes // 4,)})
        return _write(path, members, big=(member, header.getvalue(), n_bytes))

    return make


def _deep_schema(good, path):
    members = _members(good)
    members[SCHEMA] = b"[" * 100_000 + b"]" * 100_000
    return _write(path, members)


def _truncated(good, path):
    data = open(good, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    return path


def _replace_member(transform):
    def make(good, path):
        members = _members(good)
        member = _first_weight(json.loads(members[SCHEMA]))
        members[member] = transform(members[member])
        return _write(path, members)

    return make


#: name -> (make(good, path), words the error must contain)
DAMAGES = {
    "nan_weights": (lambda g, p: _with_array(g, p, lambda a: np.full_like(a, np.nan)),
                    "params_ holds NaN or infinite values"),
    "inf_bias": (lambda g, p: _with_array(g, p, lambda a: np.full_like(a, np.inf), "bias"),
                 "params_ holds NaN or infinite values"),
    "wrong_shape": (lambda g, p: _with_array(g, p, lambda a: np.zeros((2, *a.shape), a.dtype)),
                    "the network configuration implies"),
    "wrong_dtype": (lambda g, p: _with_array(g, p, lambda a: a.astype(np.float64)),
                    "float32"),
    "nan_offset": (lambda g, p: _with_schema(g, p, _set_json_attribute("offset_", "NaN")),
                   "offset_ holds NaN or infinite values"),
    "string_offset": (lambda g, p: _with_schema(g, p, _set_json_attribute("offset_", '"x"')),
                      "damaged"),
    "type_split_differently": (
        lambda g, p: _with_schema(g, p, _split_type("skaudio_ad.ConvAutoencoderDetector", "")),
        "model file"),
    "bad_mel_parameter": (lambda g, p: _with_schema(g, p, _mel_parameter("n_mels", "sixty")),
                          "n_mels"),
    "huge_array_header": (_replace_member(lambda data: _npy_with_huge_shape()),
                          "claims shape"),
    "not_an_array": (_replace_member(lambda data: b"garbage" * 10), "damaged"),
    "zip_bomb_1gib": (_zip_bomb(2**30), "limit for model files"),
    "deep_schema": (_deep_schema, "model file"),
    "truncated": (_truncated, "not a zip archive"),
}

#: Damage that loads (every weight finite and of its shape) but overflows when scoring:
#: every score is non-finite, which must be an error per file, never a verdict.
OVERFLOWING = lambda good, path: _with_array(  # noqa: E731
    good, path, lambda a: np.full_like(a, 3e38))
