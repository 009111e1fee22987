"""Attachments: limited in size, typed by their bytes, stored once per content in the database or on
disk, read back byte for byte; a failed transaction leaves no row behind."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.audit import verify as audit_verify
from engine.bpmn.deploy import deploy
from engine.db import chain as audit
from engine.db.models import Attachment, AttachmentBlob
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.org.importer import import_org, parse_yaml
from engine.requests.attachments import add_attachment, attachment_content
from engine.requests.records import list_records
from engine.requests.requests import submit_request
from engine.sizes import size_text
from tests.conftest import fixture_files

DEMO = Path(__file__).parents[2] / "demo" / "org.yaml"


def _pdf() -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _png() -> bytes:
    """A 1x1 grey PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


def _zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


PDF, PNG = _pdf(), _png()
DOCX = _zip({"[Content_Types].xml": '<Types><Override PartName="/word/document.xml" ContentType="application/'
             'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
             "word/document.xml": "<w:document/>"})
ZIP = _zip({"清单.txt": "第一项"})


@pytest.fixture
def iid(ctx):
    import_org(ctx, parse_yaml(DEMO.read_text("utf-8")), "setup", bootstrap=True)
    deploy(ctx, fixture_files("request_form.bpmn"), "lijingli")
    return submit_request(ctx, "xiaowang", {"title": "618 大促协作"}, process_id="request_form").instance_id


def _rows(ctx) -> tuple[int, int]:
    with ctx.db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Attachment, AttachmentBlob))


def test_files_are_typed_by_their_bytes_and_read_back_exactly(ctx, iid):
    pdf = add_attachment(ctx, iid, "xiaowang", "../../etc/需求说明.pdf", PDF, "application/pdf")
    assert {k: pdf[k] for k in ("filename", "content_type", "size")} == {
        "filename": "需求说明.pdf", "content_type": "application/pdf", "size": len(PDF)}
    got = attachment_content(ctx, pdf["id"], "shenjie")  # auditors read
    assert (got.content, got.filename, got.sha256) == (PDF, "需求说明.pdf", pdf["sha256"])
    assert add_attachment(ctx, iid, "xiaowang", "..\\..\\图表.PNG", PNG, "image/png")["filename"] == "图表.PNG"
    assert add_attachment(ctx, iid, "zhangzongjian", "方案.docx", DOCX)["content_type"].endswith(".document")
    assert add_attachment(ctx, iid, "xiaowang", "清单.zip", ZIP, "application/x-zip-compressed")["size"] == len(ZIP)
    gbk = "部门,负责人\n市场部,张总监\n".encode("gbk")  # as Excel saves CSV in China
    csv = add_attachment(ctx, iid, "xiaowang", "名单.csv", gbk, "application/vnd.ms-excel")
    assert csv["content_type"] == "text/csv" and attachment_content(ctx, csv["id"], "xiaowang").content == gbk
    assert add_attachment(ctx, iid, "xiaowang", "再传一次.pdf", PDF)["sha256"] == pdf["sha256"]
    assert _rows(ctx) == (6, 5)  # the same bytes are stored once

    html = b"<html><script>alert(1)</script></html>"
    refused = [("图表.pdf", PNG, None, "文件“图表.pdf”的内容是 PNG 图片，不是 PDF"),
               ("报告.docx", ZIP, None, "文件“报告.docx”的内容是 ZIP 压缩包，不是 Word 文档"),
               ("工具.exe", b"MZ\x90\x00" + bytes(60), None, "文件“工具.exe”的类型不在允许范围内"),
               ("页面.txt", html, None, "文件“页面.txt”的内容不是 纯文本，也不是其他允许的类型"),
               ("说明.pdf", PDF, "image/png", "文件“说明.pdf”声明的类型 image/png 与文件名不符"),
               ("空.pdf", b"", None, "文件“空.pdf”是空文件"),
               ("../..", PDF, None, "文件名（filename）无效")]
    for name, content, declared, message in refused:
        with pytest.raises(InvalidInput) as err:
            add_attachment(ctx, iid, "xiaowang", name, content, declared)
        assert err.value.message.startswith(message), err.value.message
    ctx.config.attachment_max_bytes = len(PDF) - 1
    with pytest.raises(InvalidInput) as err:
        add_attachment(ctx, iid, "xiaowang", "大.pdf", PDF)
    assert err.value.params["size"] == len(PDF) and err.value.params["limit"] == len(PDF) - 1
    assert err.value.message == f"文件“大.pdf”大小 {size_text(len(PDF))}，超过每个文件的上限 {size_text(len(PDF) - 1)}"
    with pytest.raises(PermissionDenied):
        add_attachment(ctx, iid, "yangfan", "a.txt", b"hello")
    with pytest.raises(PermissionDenied):
        attachment_content(ctx, pdf["id"], "yangfan")
    with pytest.raises(NotFound):
        attachment_content(ctx, 999, "shenjie")
    assert _rows(ctx) == (6, 5)
    assert [r["filename"] for r in list_records(ctx, iid, "lijingli")][:2] == ["需求说明.pdf", "图表.PNG"]
    assert audit_verify.verify_all(ctx)["problems"] == []


def test_files_on_disk_are_named_by_their_hash(ctx, iid, tmp_path):
    folder = tmp_path / "files"
    ctx.config.attachment_dir = str(folder)
    first = add_attachment(ctx, iid, "xiaowang", "需求说明.pdf", PDF)
    second = add_attachment(ctx, iid, "zhangzongjian", "副本.pdf", PDF)
    path = folder / first["sha256"][:2] / first["sha256"]
    assert path.read_bytes() == PDF and second["sha256"] == first["sha256"]
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == [first["sha256"]]  # no temporary files
    assert _rows(ctx) == (2, 0)
    assert attachment_content(ctx, second["id"], "xiaowang").content == PDF
    path.write_bytes(PDF.replace(b"72 72", b"99 99"))
    with pytest.raises(NotFound, match="sha256"):
        attachment_content(ctx, first["id"], "xiaowang")


def test_a_failed_transaction_leaves_no_row(ctx, iid, tmp_path, monkeypatch):
    def fail(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(audit, "append", fail)  # after the rows and the file were written
    for folder in (None, str(tmp_path / "files")):
        ctx.config.attachment_dir = folder
        with pytest.raises(RuntimeError):
            add_attachment(ctx, iid, "xiaowang", "需求说明.pdf", PDF)
    monkeypatch.undo()
    assert _rows(ctx) == (0, 0)
    # The file stays, named by its hash: harmless, and the next upload of those bytes reuses it.
    assert len([p for p in (tmp_path / "files").rglob("*") if p.is_file()]) == 1
    again = add_attachment(ctx, iid, "xiaowang", "需求说明.pdf", PDF)
    assert attachment_content(ctx, again["id"], "xiaowang").content == PDF
    assert _rows(ctx) == (1, 0) and audit_verify.verify_all(ctx)["problems"] == []
