"""Verifying the audit chains: every chain recomputed against its head and the anchors (and the
anchors against their witness file), the results recorded per chain, the web's verification in steps,
and what the audit index shows of the last results."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from engine.audit.anchors import Anchor, check_anchored, check_anchors, check_witness, stored_anchors
from engine.db.chain import PAYLOAD, ChainEvent, ChainProblem, check_chain, hashed_time
from engine.db.tx import Tx
from engine.errors import NotFound

# ---------------------------------------------------------------------------------- verification
_EVENTS = ("SELECT instance_id, id, seq, event_type, actor, at, element_id, task_id, data, prev_hash, hash "
           "FROM audit_event WHERE instance_id IN ({}) ORDER BY instance_id, seq")
_HEADS = ("SELECT id, audit_seq, audit_hash, NULL, 'instance' FROM process_instance{where} UNION ALL "
          "SELECT id, audit_seq, audit_hash, process_id, 'process' FROM process_chain{where} UNION ALL "
          "SELECT id, audit_seq, audit_hash, user_id, 'account' FROM account_chain{where}")
_KINDS = ("instance", "process", "account")
BATCH = 500


@dataclass
class _Head:
    id: str
    seq: int
    hash: str | None
    owner: str | None  # a process chain's process id, an account chain's user id; None for a request's
    kind: str  # instance | process | account

    @property
    def process_id(self) -> str | None:
        return self.owner if self.kind == "process" else None


def _chains(tx: Tx, ids: list[str]) -> dict[str, list[ChainEvent]]:
    """The rows of the chains of `ids`, each in stored order (by id)."""
    found: dict[str, list[ChainEvent]] = {i: [] for i in ids}
    for instance_id, *values in tx.all(_EVENTS.format(tx.in_list(ids)), ids):
        values[4] = hashed_time(values[4])
        found[instance_id].append(ChainEvent(*values))
    for rows in found.values():
        rows.sort(key=lambda r: r.id)
    return found


def _heads(tx: Tx, ids: list[str] | None) -> list[_Head]:
    """The heads of the chains of `ids` (all when None): requests first, then processes, each by id."""
    if ids is None:
        rows = tx.all(_HEADS.format(where=""))
    else:
        rows = []
        for start in range(0, len(ids), BATCH):
            part = ids[start:start + BATCH]
            where = f" WHERE id IN ({tx.in_list(part)})"
            rows += tx.all(_HEADS.format(where=where), [*part, *part, *part])
    rows.sort(key=lambda r: (_KINDS.index(r[4]), r[0]))
    return [_Head(i, seq or 0, digest, owner, kind) for i, seq, digest, owner, kind in rows]


def _check(tx: Tx, heads: list[_Head], history: dict[str, list[tuple[int, int, str]]], progress=None
           ) -> dict[str, list[ChainProblem]]:
    """The problems of each chain of `heads` (against the anchored `history`), by chain id."""
    found: dict[str, list[ChainProblem]] = {}
    for start in range(0, len(heads), BATCH):
        batch = heads[start:start + BATCH]
        chains = _chains(tx, [h.id for h in batch])
        for head in batch:
            rows = chains[head.id]
            problems = check_chain(head.id, head.seq, head.hash, rows)
            anchored = check_anchored(head.id, rows, history.get(head.id, []))
            if anchored is not None and (anchored.position, anchored.kind) not in {
                    (p.position, p.kind) for p in problems}:  # the chain alone showed it already
                problems.append(anchored)
            if head.process_id is not None:
                problems = [replace(p, process_id=head.process_id) for p in problems]
            found[head.id] = problems
        if progress is not None:
            progress(min(start + BATCH, len(heads)), len(heads))
    return found


def _gone(tx: Tx, ids: list[str], history: dict[str, list[tuple[int, int, str]]]) -> dict[str, list[ChainProblem]]:
    """Chains an anchor saw whose instance (or process chain) row is gone."""
    found = {}
    for iid in sorted(ids):
        rows = _chains(tx, [iid])[iid]
        found[iid] = [check_anchored(iid, rows or None, history[iid]) or ChainProblem(
            iid, 1, None, "deleted", "the instance is gone", history[iid][-1][0])]
    return found


def _own_history(tx: Tx, ids: list[str]) -> dict[str, list[tuple[int, int, str]]]:
    """The anchored heads of the chains of `ids` only (by the primary key of audit_anchor_head)."""
    history: dict[str, list[tuple[int, int, str]]] = {}
    for start in range(0, len(ids), BATCH):
        part = ids[start:start + BATCH]
        for iid, anchor_id, seq, digest in tx.all(
                f"SELECT instance_id, anchor_id, seq, hash FROM audit_anchor_head WHERE instance_id IN "
                f"({tx.in_list(part)}) ORDER BY anchor_id", part):
            history.setdefault(iid, []).append((anchor_id, seq, digest))
    return history


def _anchors_checked(tx: Tx, witness: str | None) -> tuple[list[Anchor], list[ChainProblem], int | None]:
    """Every anchor, the problems of the anchors themselves and against the witness's copies, and how
    many copies the witness holds (None without one)."""
    anchors = stored_anchors(tx)
    problems = check_anchors(anchors)
    if not witness:
        return anchors, problems, None
    held, against = check_witness(witness, anchors)
    return anchors, problems + against, held


def _verify(tx: Tx, chain_ids: list[str] | None, progress=None, witness: str | None = None) -> dict:
    """Verify the chains of `chain_ids` (every chain and the anchors, with the `witness` file's copies
    of them if given, when None)."""
    heads = _heads(tx, chain_ids)
    witnessed = None
    if chain_ids is None:
        anchors, anchor_problems, witnessed = _anchors_checked(tx, witness)
        count, latest = len(anchors), anchors[-1] if anchors else None
        history = latest.history if latest else {}
    else:
        count, latest = tx.one("SELECT count(*) FROM audit_anchor")[0], _latest_anchor(tx)
        history = _own_history(tx, chain_ids)
        anchor_problems = []
    by_chain = _check(tx, heads, history, progress)
    present = {h.id for h in heads}
    by_chain.update(_gone(tx, [i for i in history if i not in present], history))
    return {"heads": heads, "by_chain": by_chain, "anchor_problems": anchor_problems, "anchors": count,
            "latest": latest, "history": history, "witnessed": witnessed}


def verify(ctx, instance_id: str | None = None, progress=None, witness: str | None = None) -> dict:
    """Verify every chain (requests', processes', accounts') and the anchors, or one chain (a request's,
    a process chain's or an account chain's id): {instances, processes, accounts, problems, anchors,
    anchored_at, anchor, witnessed}.

    The anchors are compared with the copies in `witness` (default: the configured anchor_witness);
    `witnessed` is how many it holds (None: no witness). `progress(done, total)`, if given, is
    called after each batch of chains.
    """
    with ctx.db.transaction(write=False) as tx:
        found = _verify(tx, [instance_id] if instance_id else None, progress, witness or ctx.config.anchor_witness)
        if instance_id and not found["heads"] and instance_id not in found["history"]:
            raise NotFound("request.unknown", request=instance_id)
    return _report(found, instance_id)


def _report(found: dict, instance_id: str | None = None) -> dict:
    problems = [*found["anchor_problems"], *(p for ps in found["by_chain"].values() for p in ps)]
    latest, history = found["latest"], found["history"]
    # Every later anchor covers a head it once saw (its digest holds every chain's head).
    covered = latest is not None and (instance_id is None or instance_id in history)
    heads = found["heads"]
    gone = [i for i in found["by_chain"] if i not in {h.id for h in heads}]
    return {"instances": sum(1 for h in heads if h.kind == "instance") + len(gone),
            "processes": sum(1 for h in heads if h.kind == "process"),
            "accounts": sum(1 for h in heads if h.kind == "account"),
            "problems": [p.to_dict() for p in problems],
            "anchors": found["anchors"], "anchored_at": latest.at.isoformat() if covered else None,
            "anchor": latest.to_dict() if latest else None, "witnessed": found["witnessed"]}


def _latest_anchor(tx: Tx) -> Anchor | None:
    found = tx.one("SELECT id, at, made_by, chains, heads_digest, prev_hash, hash FROM audit_anchor "
                   "ORDER BY id DESC LIMIT 1")
    if found is None:
        return None
    anchor_id, at, by, n, hd, prev, h = found
    return Anchor(anchor_id, Tx.when(at), by, n, hd, prev, h, {}, {})


def verify_all(ctx, instance_id: str | None = None) -> dict:
    """Verify the chain of one instance or of every instance (and the anchors): {instances, problems}."""
    report = verify(ctx, instance_id)
    return {"instances": report["instances"], "problems": report["problems"]}


def verification(ctx, instance_id: str) -> dict:
    """One request's verification state, for its page: whether its chain and its anchored head hold.

    {"ok", "problems" (as verify gives them), "events" (rows its head counts), "anchored_at" (the time of
    the latest anchor, which covers every head an anchor saw; None before the request was first
    anchored), "anchored_seq" (the last row of its chain an anchor saw), "checked_at"}.
    """
    report = verify(ctx, instance_id)
    with ctx.db.transaction(write=False) as tx:
        found = tx.one("SELECT audit_seq FROM process_instance WHERE id = ? UNION ALL "
                       "SELECT audit_seq FROM process_chain WHERE id = ? UNION ALL "
                       "SELECT audit_seq FROM account_chain WHERE id = ?", (instance_id,) * 3)
        seen = tx.one("SELECT h.seq FROM audit_anchor_head h WHERE h.instance_id = ? ORDER BY h.anchor_id DESC "
                      "LIMIT 1", (instance_id,))
    return {"ok": not report["problems"], "problems": report["problems"], "events": found[0] if found else 0,
            "anchored_at": report["anchored_at"], "anchored_seq": seen[0] if seen else None,
            "checked_at": ctx.now().isoformat()}


# ---------------------------------------------------------------------------------- recorded results
ANCHORS = "anchors"  # the chain id under which the anchors' own verification is recorded
_RECORD = ("INSERT INTO audit_verification (chain_id, kind, checked_at, ok, events, problems) "
           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chain_id) DO UPDATE SET kind = excluded.kind, "
           "checked_at = excluded.checked_at, ok = excluded.ok, events = excluded.events, problems = excluded.problems")
WEB_BATCH = 200  # chains verified per step of "verify all" in the web app


def _record(tx: Tx, found: dict, now: datetime, anchors: bool) -> dict:
    """Store each verified chain's result (and the anchors', when they were checked); a summary."""
    heads = {h.id: h for h in found["heads"]}
    rows, failed = [], []
    for chain, problems in found["by_chain"].items():
        head = heads.get(chain)
        kind = head.kind if head is not None else "instance"
        rows.append((chain, kind, tx.stamp(now), not problems, head.seq if head is not None else 0,
                     PAYLOAD([p.to_dict() for p in problems])))
        if problems:
            failed.append(chain)
    if anchors:
        rows.append((ANCHORS, "anchors", tx.stamp(now), not found["anchor_problems"], found["anchors"],
                     PAYLOAD([p.to_dict() for p in found["anchor_problems"]])))
    tx.many(_RECORD, rows)
    report = _report(found)
    return {"checked_at": now.isoformat(), "chains": len(found["by_chain"]), "instances": report["instances"],
            "processes": report["processes"], "failed": sorted(failed), "problems": len(report["problems"]),
            "anchors": found["anchors"] if anchors else None,
            "anchors_ok": not found["anchor_problems"] if anchors else None}


def verify_and_record(ctx, now: datetime | None = None, chain_ids: list[str] | None = None) -> dict:
    """Verify every audit chain (requests' and processes') and the anchors, and record each chain's
    result (audit_verification: when, ok, problems); the audit area shows these instead of verifying
    again. Run it nightly (the background runner does). With `chain_ids`, only those chains (and not
    the anchors). Summary: {checked_at, chains, instances, processes, failed (chain ids), problems
    (how many), anchors, anchors_ok}.
    """
    now = (now or ctx.now()).astimezone(UTC)
    with ctx.db.transaction(write=False) as tx:
        found = _verify(tx, chain_ids, witness=ctx.config.anchor_witness)
        if chain_ids and not found["by_chain"]:
            raise NotFound("request.unknown", request=chain_ids[0])
    with ctx.db.transaction() as tx:  # the verifying read does not hold the write lock
        return _record(tx, found, now, anchors=chain_ids is None)


def verify_next(ctx, since: datetime, limit: int = WEB_BATCH, now: datetime | None = None) -> dict:
    """One bounded step of verifying everything: up to `limit` chains not verified since `since`
    (never verified first), recorded; once none is left, the anchors. {checked, remaining, done, failed}."""
    now = (now or ctx.now()).astimezone(UTC)
    with ctx.db.transaction(write=False) as tx:
        stamp = tx.stamp(since.astimezone(UTC))
        pending = [i for (i,) in tx.all(
            "SELECT c.id FROM (SELECT id FROM process_instance UNION ALL SELECT id FROM process_chain "
            "UNION ALL SELECT id FROM account_chain) c "
            "LEFT JOIN audit_verification v ON v.chain_id = c.id WHERE v.checked_at IS NULL OR v.checked_at < ? "
            "ORDER BY v.checked_at IS NOT NULL, v.checked_at, c.id", (stamp,))]
        anchors = tx.one("SELECT checked_at FROM audit_verification WHERE chain_id = ?", (ANCHORS,))
        anchors_due = anchors is None or Tx.when(anchors[0]) < since.astimezone(UTC)
        chunk = pending[:limit]
        if chunk:
            found = _verify(tx, chunk)
        elif anchors_due:
            anchor_list, problems, witnessed = _anchors_checked(tx, ctx.config.anchor_witness)
            found = {"heads": [], "by_chain": {}, "anchor_problems": problems, "anchors": len(anchor_list),
                     "latest": anchor_list[-1] if anchor_list else None, "history": {}, "witnessed": witnessed}
    if not chunk and not anchors_due:
        return {"checked": 0, "remaining": 0, "done": True, "failed": []}
    with ctx.db.transaction() as tx:
        summary = _record(tx, found, now, anchors=not chunk)
    remaining = len(pending) - len(chunk)
    return {"checked": len(chunk), "remaining": remaining, "done": not chunk, "failed": summary["failed"],
            "anchors_ok": summary["anchors_ok"]}


def recorded(ctx, chain_ids: list[str]) -> dict[str, dict]:
    """The last recorded verification of each chain of `chain_ids` that has one: {checked_at, ok,
    events, problems}."""
    if not chain_ids:
        return {}
    with ctx.db.transaction(write=False) as tx:
        rows = tx.all("SELECT chain_id, checked_at, ok, events, problems FROM audit_verification "
                      f"WHERE chain_id IN ({tx.in_list(chain_ids)})", chain_ids)
    return {c: {"checked_at": Tx.when(at), "ok": bool(ok), "events": n, "problems": json.loads(problems)}
            for c, at, ok, n, problems in rows}


def anchors_recorded(ctx) -> dict | None:
    """The last recorded verification of the anchors, if any."""
    return recorded(ctx, [ANCHORS]).get(ANCHORS)
