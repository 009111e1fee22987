"""Cheap, bounded measures of what scripts build: a value's size as task data, the process's memory."""

from __future__ import annotations

import os
from typing import Any

_OTHER = 64  # a date, a Decimal, ...: the serializer writes a small typed dict for each
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def size_text(size: int) -> str:
    """A byte count as people write a size: 20 MB, 21.3 MB, 512 KB."""
    if size >= 1024 * 1024:
        return f"{round(size / 1024 / 1024, 1):g} MB"
    return f"{round(size / 1024, 1):g} KB"


def data_size(value: Any, limit: int) -> int:
    """About the bytes `value` takes as JSON task data; stops early once past `limit`.

    A value referred to several times counts each time, as the serializer writes it each time, so
    `['a' * 10**6] * 40` counts 40 MB though it holds 1 MB; a value that contains itself counts on
    until past the limit. Every element costs at least a byte (its comma), so the walk takes at most
    about `limit` steps, and a container longer than the limit is refused before it is walked.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += 2 + (len(item) if item.isascii() else len(item.encode("utf-8", "surrogatepass")))
        elif item is None or isinstance(item, bool):
            total += 5
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, int):
            total += 2 + item.bit_length() * 30103 // 100000  # its decimal digits, without str() of a huge int
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + len(item)
            if total <= limit:
                stack.extend(item)
        elif isinstance(item, (bytes, bytearray)):
            total += 2 + len(item) * 4 // 3  # base64
        else:
            total += _OTHER
        if total > limit:
            return total
    return total


def resident_bytes() -> int | None:
    """The process's resident memory, from /proc (Linux); None where there is no such file."""
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:
        return None
    try:
        return int(os.read(fd, 64).split()[1]) * _PAGE
    finally:
        os.close(fd)
