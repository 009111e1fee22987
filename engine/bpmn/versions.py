"""What process owners work with: drafts of diagrams, their checks and deploys, and the versions
of each process with what changed from one to the next and how many requests run on each."""

from __future__ import annotations

from lxml import etree
from sqlalchemy import func, select

from engine.bpmn.deploy import deploy
from engine.bpmn.safe_xml import parse_bpmn_bytes
from engine.bpmn.validate import parse_deployment
from engine.context import Services
from engine.db.chain import process_events
from engine.db.models import BpmnSource, GroupMembership, ProcessDraft, ProcessInstance, ProcessVersion
from engine.errors import InvalidInput, InvalidProcess, NotFound, PermissionDenied, Problem, StaleInstance

PROCESS_OWNERS = "process_owners"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
NS = {"bpmn": BPMN}
# Children that only mirror other elements: a node's flows are compared as the flows themselves.
_MIRRORS = {f"{{{BPMN}}}incoming", f"{{{BPMN}}}outgoing"}


def require_process_owner(ctx: Services, user: str) -> None:
    """Refuse anyone who is not a process owner: only they edit, deploy and migrate."""
    with ctx.db.read() as s:
        found = s.scalar(select(GroupMembership.user_id).where(GroupMembership.user_id == user,
                                                               GroupMembership.group_name == PROCESS_OWNERS))
    if found is None:
        raise PermissionDenied("process.not_owner", user=user)


# --- reading a diagram ------------------------------------------------------------------------------

def _root(xml: str | bytes, filename: str) -> etree._Element:
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    root = parse_bpmn_bytes(data, filename)
    if root.tag != f"{{{BPMN}}}definitions":
        raise InvalidProcess([Problem("not a BPMN 2.0 file: the root element must be bpmn:definitions",
                                      file=filename, line=root.sourceline)])
    return root


def _main_process(root: etree._Element) -> tuple[str | None, str | None]:
    """The id and name of the file's (first executable) process."""
    processes = root.findall("bpmn:process", NS)
    chosen = next((p for p in processes if p.get("isExecutable") == "true"), processes[0] if processes else None)
    if chosen is None:
        return None, None
    return chosen.get("id"), chosen.get("name")


def _text(xml: str | bytes) -> str:
    return xml.decode("utf-8") if isinstance(xml, bytes) else xml


# --- drafts -----------------------------------------------------------------------------------------

def _draft_dict(d: ProcessDraft, with_xml: bool = False) -> dict:
    found = {"id": d.id, "process_id": d.process_id, "name": d.name, "filename": d.filename,
             "base_version_id": d.base_version_id, "status": d.status, "revision": d.revision,
             "created_by": d.created_by, "created_at": d.created_at.isoformat(), "updated_by": d.updated_by,
             "updated_at": d.updated_at.isoformat(), "deployment_id": d.deployment_id}
    if with_xml:
        found["xml"] = d.xml
    return found


def create_draft(ctx: Services, user: str, xml: str | bytes, filename: str | None = None,
                 base_version_id: int | None = None) -> dict:
    """A new draft of a diagram (from a version, an upload or the modeller); the XML must be BPMN."""
    require_process_owner(ctx, user)
    filename = _filename(filename)
    root = _root(xml, filename)
    process_id, name = _main_process(root)
    now = ctx.now()
    with ctx.db.write() as s:
        if base_version_id is not None and s.get(ProcessVersion, base_version_id) is None:
            raise NotFound("version.unknown", version=base_version_id)
        draft = ProcessDraft(process_id=process_id, name=(name or process_id or filename)[:255], filename=filename,
                             xml=_text(xml), base_version_id=base_version_id, status="open", revision=1,
                             created_by=user, created_at=now, updated_by=user, updated_at=now)
        s.add(draft)
        s.flush()
        return _draft_dict(draft, with_xml=True)


def _filename(filename: str | None) -> str:
    name = (filename or "diagram.bpmn").replace("\\", "/").rsplit("/", 1)[-1].strip() or "diagram.bpmn"
    if not name.lower().endswith(".bpmn"):
        name += ".bpmn"
    return name[:255]


def draft_from_version(ctx: Services, version_id: int, user: str) -> dict:
    """A draft that starts as a copy of a deployed version."""
    source = version_source(ctx, version_id)
    return create_draft(ctx, user, source["xml"], source["filename"], base_version_id=version_id)


def _open_draft(s, draft_id: int) -> ProcessDraft:
    draft = s.get(ProcessDraft, draft_id)
    if draft is None:
        raise NotFound("draft.unknown", id=draft_id)
    if draft.status != "open":
        raise InvalidInput("draft.closed", id=draft_id, status=draft.status)
    return draft


def save_draft(ctx: Services, draft_id: int, user: str, xml: str | bytes, revision: int) -> dict:
    """Store the modeller's XML over a draft, unless someone saved it since `revision` was read."""
    require_process_owner(ctx, user)
    with ctx.db.write() as s:
        draft = _open_draft(s, draft_id)
        root = _root(xml, draft.filename)
        if draft.revision != revision:
            raise StaleInstance("draft.stale", id=draft_id, user=draft.updated_by, at=draft.updated_at.isoformat())
        process_id, name = _main_process(root)
        draft.xml, draft.process_id = _text(xml), process_id
        draft.name = (name or process_id or draft.filename)[:255]
        draft.revision += 1
        draft.updated_by, draft.updated_at = user, ctx.now()
        return _draft_dict(draft)


def get_draft(ctx: Services, draft_id: int) -> dict:
    """A draft with its XML."""
    with ctx.db.read() as s:
        draft = s.get(ProcessDraft, draft_id)
        if draft is None:
            raise NotFound("draft.unknown", id=draft_id)
        return _draft_dict(draft, with_xml=True)


def list_drafts(ctx: Services) -> list[dict]:
    """Open drafts, most recently saved first."""
    with ctx.db.read() as s:
        rows = s.scalars(select(ProcessDraft).where(ProcessDraft.status == "open")
                         .order_by(ProcessDraft.updated_at.desc(), ProcessDraft.id.desc()))
        return [_draft_dict(d) for d in rows]


def discard_draft(ctx: Services, draft_id: int, user: str) -> None:
    """Put a draft away (kept, no longer listed)."""
    require_process_owner(ctx, user)
    with ctx.db.write() as s:
        draft = _open_draft(s, draft_id)
        draft.status, draft.updated_by, draft.updated_at = "discarded", user, ctx.now()


# --- checking and deploying -------------------------------------------------------------------------

def deployment_files(ctx: Services, filename: str, xml: str | bytes) -> dict[str, bytes]:
    """The draft's file with the latest deployed files of the processes it calls (transitively), as
    deploy needs them: a call activity's target must be part of the deployment."""
    root = _root(xml, filename)
    own = {p.get("id") for p in root.findall("bpmn:process", NS)}
    files = {filename: xml.encode("utf-8") if isinstance(xml, str) else xml}
    wanted = [c.get("calledElement") for c in root.iter(f"{{{BPMN}}}callActivity")]
    seen = set(own)
    with ctx.db.read() as s:
        while wanted:
            pid = wanted.pop()
            if not pid or pid in seen:
                continue
            seen.add(pid)
            latest = s.scalar(select(ProcessVersion).where(ProcessVersion.process_id == pid)
                              .order_by(ProcessVersion.version.desc()).limit(1))
            if latest is None:
                continue  # validation names the missing target on the call activity
            source = s.get(BpmnSource, latest.source_sha256)
            name = source.filename if source.filename not in files else f"{pid}.bpmn"
            if files.get(name) is None:
                files[name] = source.content.encode("utf-8")
                called = _root(files[name], name)
                wanted.extend(c.get("calledElement") for c in called.iter(f"{{{BPMN}}}callActivity"))
    return files


def check_diagram(ctx: Services, xml: str | bytes, filename: str = "diagram.bpmn") -> list[dict]:
    """Every problem deploy would find in the diagram (with its element id and line); [] if none."""
    try:
        parse_deployment(deployment_files(ctx, _filename(filename), xml))
    except InvalidProcess as exc:
        return [p.to_dict() for p in exc.problems]
    return []


def deploy_draft(ctx: Services, draft_id: int, user: str, revision: int | None = None) -> dict:
    """Deploy a draft through the engine's deploy: a new version of its process (or the existing one
    with identical content). A problem refuses it with the element it is about; nothing is stored."""
    require_process_owner(ctx, user)
    with ctx.db.read() as s:
        draft = _open_draft(s, draft_id)
        if revision is not None and draft.revision != revision:
            raise StaleInstance("draft.stale", id=draft_id, user=draft.updated_by, at=draft.updated_at.isoformat())
        filename, xml = draft.filename, draft.xml
    files = deployment_files(ctx, filename, xml)
    results = deploy(ctx, files, user)
    own = {p.get("id") for p in _root(xml, filename).findall("bpmn:process", NS)}
    mine = [r.to_dict() for r in results if r.process_id in own]
    with ctx.db.write() as s:
        draft = s.get(ProcessDraft, draft_id)
        created = [s.get(ProcessVersion, r["version_id"]) for r in mine if r["created"]]
        draft.status = "deployed"
        draft.deployment_id = created[0].deployment_id if created else None
        draft.updated_by, draft.updated_at = user, ctx.now()
    return {"draft_id": draft_id, "versions": mine}


def upload_diagram(ctx: Services, user: str, filename: str, data: bytes) -> dict:
    """A draft from a .bpmn file made in Camunda Modeler or bpmn.io (checked as safe BPMN XML)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidProcess([Problem("file is not UTF-8 text; save BPMN files as UTF-8", file=filename)]) from None
    return create_draft(ctx, user, data, filename)


# --- versions ---------------------------------------------------------------------------------------

def version_source(ctx: Services, version_id: int) -> dict:
    """A version's BPMN file as it was deployed."""
    with ctx.db.read() as s:
        version = s.get(ProcessVersion, version_id)
        if version is None:
            raise NotFound("version.unknown", version=version_id)
        source = s.get(BpmnSource, version.source_sha256)
        return {"version_id": version.id, "process_id": version.process_id, "version": version.version,
                "name": version.name, "filename": source.filename, "xml": source.content,
                "created_by": version.created_by, "created_at": version.created_at.isoformat()}


def list_processes(ctx: Services) -> list[dict]:
    """Each deployed process: its latest version and how many of its requests run."""
    with ctx.db.read() as s:
        latest = {}
        for v in s.scalars(select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version)):
            latest[v.process_id] = v
        running = dict(s.execute(select(ProcessInstance.process_id, func.count()).where(
            ProcessInstance.status == "running").group_by(ProcessInstance.process_id)).all())
        return [{"process_id": pid, "name": v.name, "latest_version": v.version, "latest_version_id": v.id,
                 "running": running.get(pid, 0)} for pid, v in latest.items()]


def list_versions(ctx: Services, process_id: str) -> list[dict]:
    """The versions of a process, newest first: author, time, what changed against the previous
    version, how many requests run (and ran) on each, and the position of the deploy that created it
    on the process's audit chain (`chain_seq`; None for a version deployed before deploys were chained)."""
    with ctx.db.read() as s:
        versions = s.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                             .order_by(ProcessVersion.version)).all()
        if not versions:
            raise NotFound("process.not_deployed", process=process_id)
        counts: dict[int, dict[str, int]] = {}
        for vid, status, n in s.execute(select(ProcessInstance.process_version_id, ProcessInstance.status,
                                               func.count()).where(ProcessInstance.process_id == process_id)
                                        .group_by(ProcessInstance.process_version_id, ProcessInstance.status)):
            counts.setdefault(vid, {})[status] = n
        sources = [s.get(BpmnSource, v.source_sha256).content for v in versions]
        rows = [{"version_id": v.id, "process_id": v.process_id, "version": v.version, "name": v.name,
                 "created_by": v.created_by, "created_at": v.created_at.isoformat()} for v in versions]
    created = {e["data"].get("version_id"): e["seq"] for e in process_events(ctx, process_id)
               if e["type"] == "process_deployed" and e["data"].get("created")}
    for n, row in enumerate(rows):
        by_status = counts.get(row["version_id"], {})
        row.update(changes=diff_sources(sources[n - 1], sources[n]) if n else None, by_status=by_status,
                   running=by_status.get("running", 0), instances=sum(by_status.values()),
                   chain_seq=created.get(row["version_id"]))  # its deploy's entry on the process's audit chain
    return rows[::-1]


def _element_info(node: etree._Element) -> dict:
    return {"id": node.get("id"), "type": etree.QName(node).localname, "name": node.get("name") or ""}


def _elements(root: etree._Element) -> dict[str, tuple[etree._Element, str]]:
    """Each BPMN element with an id (not the diagram's layout), with a signature of its own content."""
    found = {}
    for node in root.iter(f"{{{BPMN}}}*"):
        if node is root or not node.get("id"):
            continue
        found[node.get("id")] = (node, _signature(node))
    return found


def _signature(node: etree._Element) -> str:
    copy = etree.fromstring(etree.tostring(node))
    for child in list(copy.iter()):
        if child is copy or not isinstance(child.tag, str):
            continue
        parent = child.getparent()
        if parent is None:
            continue
        nested = child.get("id") and str(child.tag).startswith(f"{{{BPMN}}}")
        if nested or child.tag in _MIRRORS:
            parent.remove(child)  # compared on its own (an element) or through the flows (a mirror)
    for each in copy.iter():
        if each.text is not None and not each.text.strip():
            each.text = None
        if each.tail is not None and not each.tail.strip():
            each.tail = None
    return etree.tostring(copy, method="c14n").decode("utf-8")


def _layout(root: etree._Element) -> str:
    diagrams = root.findall(f"{{{BPMNDI}}}BPMNDiagram")
    return "".join(etree.tostring(d, method="c14n").decode("utf-8") for d in diagrams)


def diff_sources(old_xml: str | bytes, new_xml: str | bytes) -> dict:
    """Elements added, removed and changed from one BPMN file to another (by id), and whether only
    the layout moved."""
    old_root, new_root = _root(old_xml, "old.bpmn"), _root(new_xml, "new.bpmn")
    old, new = _elements(old_root), _elements(new_root)
    added = [_element_info(new[i][0]) for i in new if i not in old]
    removed = [_element_info(old[i][0]) for i in old if i not in new]
    changed = [_element_info(new[i][0]) for i in new if i in old and old[i][1] != new[i][1]]
    return {"added": added, "removed": removed, "changed": changed,
            "layout_changed": _layout(old_root) != _layout(new_root)}


def summary_counts(changes: dict | None) -> dict[str, int]:
    """How many elements were added, removed and changed (all zero for a first version)."""
    if not changes:
        return {"added": 0, "removed": 0, "changed": 0}
    return {k: len(changes[k]) for k in ("added", "removed", "changed")}
