"""Deploy BPMN files as immutable, content-addressed process versions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, select

from engine.bpmn.runtime import spec_to_dict
from engine.bpmn.timers import use_instance_clock
from engine.bpmn.validate import parse_deployment
from engine.bpmn.voting import use_voting
from engine.context import Services
from engine.db import chain as audit
from engine.db.models import BpmnSource, Deployment, ProcessVersion
from engine.errors import NotFound


@dataclass(frozen=True)
class DeployedVersion:
    process_id: str
    version: int
    version_id: int
    created: bool  # False when identical content was already deployed

    def to_dict(self) -> dict:
        return {"process_id": self.process_id, "version": self.version, "version_id": self.version_id,
                "created": self.created}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def deploy(ctx: Services, files: dict[str, bytes], user: str) -> list[DeployedVersion]:
    """Validate and store the files; each executable process gets a version (new or existing).

    Each process of the deployment gets a `process_deployed` event on its own audit chain, in the same
    transaction: who, when, the versions created or kept with their content hashes, the files."""
    parsed = parse_deployment(files)  # raises InvalidProcess before anything is written
    file_hash = {name: _sha(data) for name, data in files.items()}
    now = ctx.now()
    results: list[DeployedVersion] = []
    with ctx.db.write() as s:
        for name, data in files.items():
            if s.get(BpmnSource, file_hash[name]) is None:
                s.add(BpmnSource(sha256=file_hash[name], filename=name, content=data.decode("utf-8"),
                                 created_at=now))
        deployment = Deployment(deployed_by=user, deployed_at=now, files=json.dumps(
            [{"filename": n, "sha256": h} for n, h in file_hash.items()]))
        s.add(deployment)
        s.flush()
        for pid in sorted(parsed.specs):
            spec, subs = parsed.specs[pid]
            involved = {parsed.process_files[pid]} | {parsed.process_files.get(c, "") for c in subs}
            content_hash = _sha(json.dumps(
                [pid, sorted(file_hash[f] for f in involved if f in file_hash)]).encode())
            existing = s.scalar(select(ProcessVersion).where(ProcessVersion.process_id == pid,
                                                             ProcessVersion.content_hash == content_hash))
            if existing is not None:
                results.append(DeployedVersion(pid, existing.version, existing.id, False))
                continue
            use_instance_clock([spec, *subs.values()])
            use_voting([spec, *subs.values()])
            last = s.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.process_id == pid))
            row = ProcessVersion(
                process_id=pid, version=(last or 0) + 1, name=spec.description or pid,
                content_hash=content_hash, source_sha256=file_hash[parsed.process_files[pid]],
                deployment_id=deployment.id, created_at=now, created_by=user,
                spec=json.dumps({"spec": spec_to_dict(spec),
                                 "subprocess_specs": {k: spec_to_dict(v) for k, v in subs.items()},
                                 "start_form": parsed.start_forms[pid].to_dict()}))
            s.add(row)
            s.flush()
            results.append(DeployedVersion(pid, row.version, row.id, True))
        hashes = {v.id: v.content_hash for v in s.scalars(select(ProcessVersion).where(
            ProcessVersion.id.in_([r.version_id for r in results])))}
        versions = [{**r.to_dict(), "content_hash": hashes[r.version_id]} for r in results]
        files_listed = [{"filename": n, "sha256": h} for n, h in file_hash.items()]
        tx = audit.session_tx(s)
        for entry in versions:  # process ids in order: chains are locked in one order by every deploy
            head = audit.lock_process_chain(tx, entry["process_id"])
            audit.append_process(tx, head, "process_deployed", user, now, {
                **entry, "deployment_id": deployment.id, "files": files_listed,
                "deployment": [{k: v[k] for k in ("process_id", "version", "created")} for v in versions]})
        tx.flush()
    return results


def latest_version(session, process_id: str) -> ProcessVersion:
    """The newest deployed version of a process; new instances start on it."""
    row = session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                         .order_by(ProcessVersion.version.desc()).limit(1))
    if row is None:
        raise NotFound("process.not_deployed", process=process_id)
    return row


def list_versions(ctx: Services, process_id: str | None = None) -> list[dict]:
    with ctx.db.read() as s:
        q = select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version)
        if process_id:
            q = q.where(ProcessVersion.process_id == process_id)
        return [{"process_id": v.process_id, "version": v.version, "name": v.name,
                 "created_at": v.created_at.isoformat(), "created_by": v.created_by}
                for v in s.scalars(q)]
