#!/usr/bin/env python3
"""Make the GGUF fixtures in Tests/Fixtures/gguf/ with the `gguf` PyPI package.

  types.gguf        one 2x256 tensor per ggml type + `<name>.expected` (F32)
                    holding gguf.quants.dequantize() of it
  metadata.gguf     one key of every metadata value type, alignment 64,
                    a few small tensors
  metadata.json     what gguf.GGUFReader reads back from metadata.gguf
  metadata-v2.gguf  metadata.gguf with the version field patched to 2

Usage: /opt/wafer-ref-venv/bin/python reference/make_gguf_fixtures.py [OUTDIR]
Deterministic: fixed RNG seed; re-running gives identical bytes.
"""
import json
import os
import struct
import sys
from importlib.metadata import version

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

SEED = 20261124
ROWS, COLS = 2, 256


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8)


def random_blocks(rng, qtype, n_blocks):
    """Random block bytes whose f16 scale fields are finite, modest values."""
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    b = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)

    def scales(lo, hi):
        return f16_bytes(rng.uniform(lo, hi, size=n_blocks)).reshape(n_blocks, 2)

    if qtype in (T.Q4_0, T.Q5_0, T.Q8_0):          # d at offset 0
        b[:, 0:2] = scales(-0.1, 0.1)
    elif qtype in (T.Q4_1, T.Q5_1):                # d, m at 0, 2
        b[:, 0:2] = scales(-0.1, 0.1)
        b[:, 2:4] = scales(-1.0, 1.0)
    elif qtype in (T.Q4_K, T.Q5_K):                # d, dmin at 0, 2
        b[:, 0:2] = scales(-0.01, 0.01)
        b[:, 2:4] = scales(-0.01, 0.01)
    elif qtype == T.Q6_K:                          # d is the last 2 bytes
        b[:, type_size - 2:type_size] = scales(-0.01, 0.01)
    else:
        raise ValueError(qtype)
    return b


def make_types(path):
    rng = np.random.default_rng(SEED)
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_description("Wafer GGUF type fixture: 2x256 tensors per ggml type; "
                      "<name>.expected is gguf.quants.dequantize() of <name>")
    summary = []

    def add(name, qtype, raw):
        """raw: array as gguf stores it (float for F32/F16, uint8 bytes otherwise)."""
        if qtype in (T.F32, T.F16):
            w.add_tensor(name, raw)
        else:
            w.add_tensor(name, raw, raw_dtype=qtype)
        expected = gguf.quants.dequantize(raw, qtype).astype(np.float32).reshape(ROWS, COLS)
        assert np.all(np.isfinite(expected)), name
        w.add_tensor(name + ".expected", expected)
        summary.append((name, qtype.name, float(np.abs(expected).max())))

    all_types = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1,
                 T.Q4_K, T.Q5_K, T.Q6_K]
    for qtype in all_types:
        name = qtype.name.lower()
        data = rng.standard_normal((ROWS, COLS)).astype(np.float32)
        try:
            raw = gguf.quants.quantize(data, qtype)
        except NotImplementedError:
            block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
            n_blocks = ROWS * COLS // block_size
            raw = random_blocks(rng, qtype, n_blocks).reshape(ROWS, -1)
        add(name, qtype, raw)

    # Extra coverage: random block bytes (every bit pattern of the quant
    # fields, not only what the quantizer emits) for the legacy block types.
    for qtype in [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]:
        block_size, _ = gguf.GGML_QUANT_SIZES[qtype]
        raw = random_blocks(rng, qtype, ROWS * COLS // block_size).reshape(ROWS, -1)
        add(qtype.name.lower() + ".random", qtype, raw)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return summary


class EmptyArrayWriter(gguf.GGUFWriter):
    """GGUFWriter refuses empty arrays; GGUF itself allows them (type + count 0)."""

    def _pack_val(self, val, vtype, add_vtype, sub_type=None):
        if vtype == V.ARRAY and isinstance(val, (list, tuple)) and len(val) == 0:
            out = bytearray()
            if add_vtype:
                out += self._pack("I", vtype)
            out += self._pack("I", sub_type if sub_type is not None else V.UINT32)
            out += self._pack("Q", 0)
            return bytes(out)
        return super()._pack_val(val, vtype, add_vtype, sub_type)


# key, GGUF value type, value, array element type (for arrays)
METADATA = [
    ("test.uint8", V.UINT8, 200, None),
    ("test.int8", V.INT8, -100, None),
    ("test.uint16", V.UINT16, 60000, None),
    ("test.int16", V.INT16, -30000, None),
    ("test.uint32", V.UINT32, 4000000000, None),
    ("test.int32", V.INT32, -2000000000, None),
    ("test.float32", V.FLOAT32, 0.15625, None),   # exact in binary32
    ("test.float32_inexact", V.FLOAT32, 1e-5, None),
    ("test.bool_true", V.BOOL, True, None),
    ("test.bool_false", V.BOOL, False, None),
    ("test.string", V.STRING, "héllo, wörld ✓ 日本 🙂\n\ttab", None),
    ("test.string_empty", V.STRING, "", None),
    ("test.uint64", V.UINT64, 18000000000000000000, None),
    ("test.int64", V.INT64, -9000000000000000000, None),
    ("test.float64", V.FLOAT64, 3.141592653589793, None),
    ("test.array_int32", V.ARRAY, [1, -2, 3, 2147483647], V.INT32),
    ("test.array_uint8", V.ARRAY, [0, 1, 255], V.UINT8),
    ("test.array_float32", V.ARRAY, [0.5, -1.25, 3.0], V.FLOAT32),
    ("test.array_string", V.ARRAY, ["a", "", "ünïcode", "<|im_end|>"], V.STRING),
    ("test.array_bool", V.ARRAY, [True, False, True], V.BOOL),
    ("test.array_nested", V.ARRAY, [[1, 2, 3], [4], [5, 6]], V.ARRAY),
    ("test.array_empty", V.ARRAY, [], V.INT32),
]


def make_metadata(path):
    w = EmptyArrayWriter(path, arch="llama")
    w.add_name("wafer-metadata-fixture")
    w.add_custom_alignment(64)
    for key, vtype, val, sub in METADATA:
        if vtype == V.ARRAY and sub == V.ARRAY:
            # nested: the writer infers inner element types from the values
            w.add_key_value(key, val, vtype, sub_type=V.ARRAY)
            for inner in val:
                assert all(isinstance(x, int) for x in inner)
        else:
            w.add_key_value(key, val, vtype, sub_type=sub)
    rng = np.random.default_rng(SEED + 1)
    w.add_tensor("small.f32", rng.standard_normal((3, 5)).astype(np.float32))
    w.add_tensor("small.f16", rng.standard_normal((7,)).astype(np.float16))
    q = gguf.quants.quantize(rng.standard_normal((2, 64)).astype(np.float32), T.Q8_0)
    w.add_tensor("small.q8_0", q, raw_dtype=T.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def describe(path):
    r = gguf.GGUFReader(path)
    written = {k: (t, v, s) for k, t, v, s in METADATA}
    keys = []
    for name, field in r.fields.items():
        types = [t.name for t in field.types]
        entry = {"key": name, "type": field.types[0].name, "types": types}
        if name == "GGUF.version":
            entry["value"] = field.contents()
        elif name in ("GGUF.tensor_count", "GGUF.kv_count"):
            entry["value"] = field.contents()
        elif field.types[0] == V.ARRAY:
            entry["element_type"] = (field.types[1].name if len(field.types) > 1
                                     else written[name][2].name)
            if name in written and written[name][2] == V.ARRAY:
                # GGUFReader flattens nested arrays; record both the flat
                # read-back and the structure that was written.
                flat = field.contents()
                structured = written[name][1]
                assert flat == [x for inner in structured for x in inner], (flat, structured)
                entry["inner_element_type"] = field.types[2].name
                entry["value"] = structured
                entry["reader_flat"] = flat
            elif len(field.data) == 0:
                entry["value"] = []
            else:
                entry["value"] = field.contents()
        else:
            entry["value"] = field.contents()
        if name in written and written[name][0] != V.ARRAY:
            want = written[name][1]
            got = entry["value"]
            if written[name][0] == V.FLOAT32:
                assert abs(got - want) <= abs(want) * 1e-6, (name, got, want)
            else:
                assert got == want, (name, got, want)
        keys.append(entry)
    tensors = []
    for t in r.tensors:
        tensors.append({
            "name": t.name,
            "type": t.tensor_type.name,
            "ggml_type_id": int(t.tensor_type),
            "shape_ne": [int(x) for x in t.shape],  # ne0 first (innermost)
            "n_elements": int(t.n_elements),
            "n_bytes": int(t.n_bytes),
            "data_offset_absolute": int(t.data_offset),
            "data_offset_relative": int(t.data_offset) - int(r.data_offset),
            "values_f32": gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).ravel().tolist(),
        })
    return {
        "file": os.path.basename(path),
        "version": int(r.fields["GGUF.version"].contents()),
        "alignment": int(r.alignment),
        "data_section_offset": int(r.data_offset),
        "file_size": os.path.getsize(path),
        "keys": keys,
        "tensors": tensors,
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "gguf")
    os.makedirs(out, exist_ok=True)
    types_path = os.path.join(out, "types.gguf")
    for name, qt, amax in make_types(types_path):
        print(f"types.gguf: {name:12s} {qt:5s} max|x|={amax:.4g}")
    # read back and verify each tensor against its .expected
    r = gguf.GGUFReader(types_path)
    byname = {t.name: t for t in r.tensors}
    for t in r.tensors:
        if t.name.endswith(".expected"):
            continue
        exp = byname[t.name + ".expected"]
        got = gguf.quants.dequantize(t.data, t.tensor_type)
        assert [int(x) for x in t.shape] == [COLS, ROWS], (t.name, t.shape)
        assert np.array_equal(got.reshape(-1), np.asarray(exp.data).reshape(-1)), t.name

    meta_path = os.path.join(out, "metadata.gguf")
    make_metadata(meta_path)
    desc = describe(meta_path)
    desc["made_with"] = f"gguf {version('gguf')}, numpy {version('numpy')}"
    assert desc["alignment"] == 64 and desc["data_section_offset"] % 64 == 0
    with open(os.path.join(out, "metadata.json"), "w", encoding="utf-8") as f:
        json.dump(desc, f, indent=1, ensure_ascii=False)
        f.write("\n")

    v2_path = os.path.join(out, "metadata-v2.gguf")
    blob = bytearray(open(meta_path, "rb").read())
    assert blob[0:4] == b"GGUF" and struct.unpack_from("<I", blob, 4)[0] == 3
    struct.pack_into("<I", blob, 4, 2)
    open(v2_path, "wb").write(bytes(blob))
    r2 = gguf.GGUFReader(v2_path)
    assert int(r2.fields["GGUF.version"].contents()) == 2
    assert [t.name for t in r2.tensors] == [t["name"] for t in desc["tensors"]]

    for p in (types_path, meta_path, v2_path, os.path.join(out, "metadata.json")):
        print(f"{os.path.relpath(p)}: {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
