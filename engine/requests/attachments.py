"""Attachments of a request: size-limited, their type read from their bytes, stored once per content.

A file is accepted when its name's extension, the content type its sender declared (if any) and
its bytes agree on one type of the allow-list (TYPES). The bytes are read by puremagic (binary
signatures), zipfile (which Office Open XML document a zip is, from its [Content_Types].xml) and
a text check (UTF-8 or GB18030 without control characters, for plain text and CSV). File names are
kept for display only, sanitised; the bytes are named by their sha256.

Storage: in the database (attachment_blob, one row per content) or, with attachment_dir set, in
files attachment_dir/ab/<sha256>, written to a temporary file and renamed into place, so a
reader never sees half a file. The file is written inside the transaction that records it, after
the permission check; if that transaction then fails, no row names the file and it stays behind.
That is harmless: its name is its content's hash, so it can never be mistaken for other content,
an upload of the same bytes reuses it, and a sweep may delete any file no attachment row names.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import puremagic

from engine.context import Services
from engine.db import chain as audit
from engine.db.tx import Tx
from engine.errors import InvalidInput, NotFound
from engine.messages import Msg
from engine.requests.record_access import require_reader, require_writer
from engine.requests.record_rows import Origin, insert, record_values, select
from engine.requests.records import task_element
from engine.sizes import size_text

_OOXML = "application/vnd.openxmlformats-officedocument."
# kind -> (content type, extensions, the message naming it)
TYPES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "pdf": ("application/pdf", (".pdf",), "file_type.pdf"),
    "png": ("image/png", (".png",), "file_type.png"),
    "jpeg": ("image/jpeg", (".jpg", ".jpeg"), "file_type.jpeg"),
    "gif": ("image/gif", (".gif",), "file_type.gif"),
    "webp": ("image/webp", (".webp",), "file_type.webp"),
    "docx": (_OOXML + "wordprocessingml.document", (".docx",), "file_type.docx"),
    "xlsx": (_OOXML + "spreadsheetml.sheet", (".xlsx",), "file_type.xlsx"),
    "pptx": (_OOXML + "presentationml.presentation", (".pptx",), "file_type.pptx"),
    "text": ("text/plain", (".txt",), "file_type.text"),
    "csv": ("text/csv", (".csv",), "file_type.csv"),
    "zip": ("application/zip", (".zip",), "file_type.zip"),
}
_BY_MIME = {mime: kind for kind, (mime, _, _) in TYPES.items()}
# What browsers also send for these types (Windows sends .csv as an Excel type, .zip as x-zip).
_BY_MIME.update({"image/jpg": "jpeg", "image/pjpeg": "jpeg", "application/x-zip-compressed": "zip",
                 "application/x-zip": "zip", "text/x-csv": "csv", "application/csv": "csv",
                 "application/vnd.ms-excel": "csv"})
_UNDECLARED = {"", "application/octet-stream", "binary/octet-stream"}
_TEXTUAL = {"text", "csv"}
# What puremagic may say of plain text ("" is its UTF-8 byte order mark); text it reads as HTML,
# SVG or XML, which a browser would run or render, is no plain text here.
_PLAIN = {"", "text/plain", "text/csv", "application/json"}
# Main parts of the allowed Office Open XML documents (macro-enabled ones and templates differ).
_MAIN_PARTS = {"docx": _OOXML + "wordprocessingml.document.main+xml",
               "xlsx": _OOXML + "spreadsheetml.sheet.main+xml",
               "pptx": _OOXML + "presentationml.presentation.main+xml"}
_CONTENT_TYPES_MAX = 1 << 20  # a [Content_Types].xml larger than this is not read (zip bombs)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
NAME_MAX = 200


@dataclass
class AttachmentFile:
    """An attachment's description and its bytes."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    content: bytes


def clean_filename(name: str) -> str:
    """The name without any folder part, control characters or characters Windows refuses."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]  # "../../x.pdf" and "..\\x.pdf" become "x.pdf"
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.sub(r'[<>:"|?*]', "_", text).strip().lstrip(".").rstrip(". ")
    if len(text) > NAME_MAX:
        stem, ext = os.path.splitext(text)
        text = stem[:NAME_MAX - len(ext)] + ext
    if not text or not os.path.splitext(text)[0]:
        raise InvalidInput("file.bad_name", given=str(name)[:100])
    return text


def _allowed() -> list[dict]:
    return [Msg(label).to_dict() for _, _, label in TYPES.values()]


def sniff(content: bytes) -> set[str]:
    """The allowed types the bytes are (a docx is also a zip; plain text is also CSV)."""
    try:
        matches = puremagic.magic_string(content)
    except (puremagic.PureError, ValueError):
        matches = []
    best = max((m.confidence for m in matches), default=0)
    mimes = {m.mime_type for m in matches if m.confidence == best}
    kinds = {_BY_MIME[m] for m in mimes if m in _BY_MIME}
    if kinds & {"zip", "docx", "xlsx", "pptx"} or content[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        kinds = (kinds - {"zip", "docx", "xlsx", "pptx"}) | _zip_kinds(content)
    if not kinds and mimes <= _PLAIN and _is_text(content):
        kinds = set(_TEXTUAL)
    return kinds


def _zip_kinds(content: bytes) -> set[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            info = next((i for i in archive.infolist() if i.filename == "[Content_Types].xml"), None)
            if info is None or info.file_size > _CONTENT_TYPES_MAX:
                return {"zip"}
            types = archive.read(info).decode("utf-8", "replace")
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        return set()
    return {"zip"} | {kind for kind, part in _MAIN_PARTS.items() if part in types}


def _is_text(content: bytes) -> bool:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK by default
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        return not _CONTROL.search(text)
    return False


def check_type(filename: str, declared: str | None, content: bytes) -> str:
    """The allowed type the name, the declared content type and the bytes agree on, or InvalidInput."""
    ext = os.path.splitext(filename)[1].lower()
    by_name = next((kind for kind, (_, exts, _) in TYPES.items() if ext in exts), None)
    if by_name is None:
        raise InvalidInput("file.type_refused", file=filename, allowed=_allowed())
    mime = (declared or "").split(";")[0].strip().lower()
    if mime not in _UNDECLARED:
        by_type = _BY_MIME.get(mime)
        if by_type != by_name and not {by_type, by_name} <= _TEXTUAL:
            raise InvalidInput("file.type_mismatch", file=filename, declared=mime)
    found = sniff(content)
    if by_name not in found:
        expected = TYPES[by_name][2]
        if found:
            raise InvalidInput("file.content_other", file=filename, expected=Msg(expected),
                               found=[Msg(TYPES[k][2]).to_dict() for k in sorted(found)])
        raise InvalidInput("file.content_unknown", file=filename, expected=Msg(expected))
    return by_name


def _store_file(folder: Path, digest: str, content: bytes) -> None:
    """Write the bytes to folder/ab/<digest> unless they are there; atomically (rename into place)."""
    target = folder / digest[:2] / digest
    if target.is_file() and target.stat().st_size == len(content):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Upload:
    """A file as it was sent: its name, its bytes and the content type its sender declared."""

    filename: str
    content: bytes
    content_type: str | None = None


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed the checks: its clean name, bytes, type and digest."""

    filename: str
    content: bytes
    content_type: str
    sha256: str


def check_upload(ctx: Services, upload: Upload) -> CheckedFile:
    """The upload's name, size and type checked (nothing is written); InvalidInput says what is wrong."""
    name = clean_filename(upload.filename)
    data = bytes(upload.content)
    limit = ctx.config.attachment_max_bytes
    if not data:
        raise InvalidInput("file.empty", file=name)
    if len(data) > limit:
        raise InvalidInput("file.too_large", file=name, size=len(data), limit=limit,
                           shown=size_text(len(data)), most=size_text(limit))
    mime = TYPES[check_type(name, upload.content_type, data)][0]
    return CheckedFile(name, data, mime, hashlib.sha256(data).hexdigest())


def write_attachment(ctx: Services, tx: Tx, head, origin: Origin, checked: CheckedFile,
                     on_disk_now: bool = True) -> tuple[int, dict, Callable[[], None]]:
    """Write an attachment's row (and its bytes, in the database or, with attachment_dir, on disk)
    in the caller's transaction, which holds the instance; (id, what the audit event records, the
    write of its file: done here unless `on_disk_now` is false, when the caller does it once it
    knows the transaction is wanted)."""
    folder = ctx.config.attachment_dir
    data, digest = checked.content, checked.sha256

    def store_file() -> None:
        if folder:
            _store_file(Path(folder), digest, data)

    if not folder:
        tx.run("INSERT INTO attachment_blob (sha256, size, content, created_at) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (sha256) DO NOTHING", (digest, len(data), data, tx.stamp(origin.at)))
    elif on_disk_now:
        store_file()
    described = {"filename": checked.filename, "content_type": checked.content_type, "size": len(data),
                 "sha256": digest}
    rid = insert(tx, "attachment", record_values(head, origin, {**described, "storage": "disk" if folder else "db"}))
    return rid, {"record": "attachment", "id": rid, **described}, store_file


def add_attachment(ctx: Services, instance_id: str, user: str, filename: str, content: bytes,
                   content_type: str | None = None, *, task_id: str | None = None) -> dict:
    """Attach a file to the request, in a transaction of its own: {id, filename, content_type, size, sha256}."""
    checked = check_upload(ctx, Upload(filename, content, content_type))
    with ctx.db.transaction() as tx:
        head = audit.lock_chain(tx, instance_id)
        require_writer(ctx, tx, instance_id, user)
        origin = Origin(user, ctx.now(), task_id, task_element(tx, instance_id, task_id))
        rid, event, _ = write_attachment(ctx, tx, head, origin, checked)
        audit.append(tx, head, "attachment_added", user, origin.at, origin.element_id, task_id, event)
    return {"id": rid, **{k: v for k, v in event.items() if k not in ("record", "id")}}


def attachment_content(ctx: Services, attachment_id: int, user: str) -> AttachmentFile:
    """An attachment with its bytes, for someone who may read its request; checked against its sha256."""
    with ctx.db.transaction(write=False) as tx:
        rows = select(tx, "attachment", "id = ?", (attachment_id,))
        if not rows:
            raise NotFound("attachment.unknown", id=attachment_id)
        row = rows[0]
        require_reader(ctx, tx, row["instance_id"], user)
        content = _content(ctx, tx, row)
    if hashlib.sha256(content).hexdigest() != row["sha256"]:
        raise NotFound("attachment.corrupt", id=attachment_id)
    return AttachmentFile(row["id"], row["filename"], row["content_type"], row["size"], row["sha256"], content)


def _content(ctx: Services, tx: Tx, row: dict) -> bytes:
    if row["storage"] == "db":
        found = tx.one("SELECT content FROM attachment_blob WHERE sha256 = ?", (row["sha256"],))
        if found is None:
            raise NotFound("attachment.not_in_db", id=row["id"])
        return bytes(found[0])
    if not ctx.config.attachment_dir:
        raise NotFound("attachment.no_dir", id=row["id"])
    path = Path(ctx.config.attachment_dir) / row["sha256"][:2] / row["sha256"]
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound("attachment.file_missing", id=row["id"]) from None
