"""The subset of CBOR (RFC 8949) that Smithy's RPC v2 CBOR protocol uses, which botocore speaks to
CloudWatch: integers, floats, strings, bytes, arrays, maps (definite or indefinite length),
true/false/null, and tag 1 (epoch seconds) for timestamps. Small enough to keep here rather
than add a dependency."""

import io
import struct
from typing import Any


class Epoch(float):
    """A timestamp in epoch seconds: encoded as tag 1, as Smithy's timestamps are."""


class CborError(ValueError):
    pass


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | info]) + value.to_bytes(size, "big")
    raise CborError(f"{value} does not fit in 64 bits")


def encode(value: Any) -> bytes:
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, Epoch):
        out += _head(6, 1)
        _encode(int(value) if value.is_integer() else float(value), out)
    elif isinstance(value, int):
        out += _head(0, value) if value >= 0 else _head(1, -1 - value)
    elif isinstance(value, float):
        out += b"\xfb" + struct.pack(">d", value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out += _head(3, len(data)) + data
    elif isinstance(value, bytes | bytearray):
        out += _head(2, len(value)) + bytes(value)
    elif isinstance(value, list | tuple):
        out += _head(4, len(value))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        out += _head(5, len(value))
        for key, item in value.items():
            _encode(key, out)
            _encode(item, out)
    else:
        raise CborError(f"cannot encode {type(value).__name__}")


def decode(data: bytes) -> Any:
    stream = io.BytesIO(data)
    value = _decode(stream)
    if stream.read(1):
        raise CborError("trailing bytes after the data item")
    return value


_BREAK = object()


def _read(stream: io.BytesIO, size: int) -> bytes:
    chunk = stream.read(size)
    if len(chunk) != size:
        raise CborError("the data ends inside an item")
    return chunk


def _argument(stream: io.BytesIO, info: int) -> int | None:
    """The head's argument; None for an indefinite length."""
    if info < 24:
        return info
    sizes = {24: 1, 25: 2, 26: 4, 27: 8}
    if info in sizes:
        return int.from_bytes(_read(stream, sizes[info]), "big")
    if info == 31:
        return None
    raise CborError(f"reserved additional information {info}")


def _decode(stream: io.BytesIO) -> Any:
    initial = _read(stream, 1)[0]
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        return _simple(stream, info)
    argument = _argument(stream, info)
    if major == 0:
        return _definite(argument)
    if major == 1:
        return -1 - _definite(argument)
    if major in (2, 3):
        if argument is None:
            chunks = []
            while (chunk := _decode(stream)) is not _BREAK:
                chunks.append(chunk.encode() if isinstance(chunk, str) else chunk)
            data = b"".join(chunks)
        else:
            data = _read(stream, argument)
        return data.decode("utf-8") if major == 3 else data
    if major == 4:
        return list(_items(stream, argument))
    if major == 5:
        items = list(_items(stream, None if argument is None else 2 * argument))
        if len(items) % 2:
            raise CborError("a map ends after a key")
        return dict(zip(items[::2], items[1::2], strict=True))
    # major 6, a tag: 1 (epoch time) is the only one Smithy uses.
    tagged = _decode(stream)
    if argument == 1 and isinstance(tagged, int | float) and not isinstance(tagged, bool):
        return Epoch(tagged)
    raise CborError(f"unsupported tag {argument}")


def _definite(argument: int | None) -> int:
    if argument is None:
        raise CborError("an integer cannot have an indefinite length")
    return argument


def _items(stream: io.BytesIO, count: int | None):
    if count is not None:
        for _ in range(count):
            yield _decode(stream)
        return
    while (item := _decode(stream)) is not _BREAK:
        yield item


def _simple(stream: io.BytesIO, info: int) -> Any:
    if info == 20:
        return False
    if info == 21:
        return True
    if info in (22, 23):
        return None
    if info == 25:
        return struct.unpack(">e", _read(stream, 2))[0]
    if info == 26:
        return struct.unpack(">f", _read(stream, 4))[0]
    if info == 27:
        return struct.unpack(">d", _read(stream, 8))[0]
    if info == 31:
        return _BREAK
    raise CborError(f"unsupported simple value {info}")
