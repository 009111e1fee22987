"""Audit anchors: each one hashes the head of every chain and the previous anchor, so a chain cut
back, rewritten and rehashed, or deleted with its instance is still caught; kept in the database and,
when configured, appended to a witness file outside it."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from engine.db.chain import CANONICAL, GENESIS, ChainEvent, ChainProblem
from engine.db.tx import Tx

# ---------------------------------------------------------------------------------- anchors
# An anchor hashes the head (instance, seq, hash) of every chain together with the previous anchor.
# It stores only the heads that moved since the previous anchor (audit_anchor_head), so an anchor
# costs one row per changed instance; verification rebuilds every anchor's full set of heads.
# A chain may grow after an anchor; it may not lose or change a row an anchor has seen.

def _heads_digest(heads: dict[str, tuple[int, str]]) -> str:
    h = hashlib.sha256()
    for instance_id in sorted(heads):
        seq, digest = heads[instance_id]
        h.update(f"{instance_id}:{seq}:{digest};".encode())
    return h.hexdigest()


def _anchor_digest(anchor_id: int, at: datetime, made_by: str, chains: int, heads_digest: str, prev: str) -> str:
    canonical = CANONICAL([anchor_id, at.isoformat(timespec="microseconds"), made_by, chains, heads_digest, prev])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class Anchor:
    id: int
    at: datetime
    made_by: str
    chains: int
    heads_digest: str
    prev_hash: str
    hash: str
    heads: dict[str, tuple[int, str]]  # every chain's head as of this anchor (rebuilt)
    history: dict[str, list[tuple[int, int, str]]]  # instance -> (anchor id, seq, hash) up to this anchor

    def to_dict(self) -> dict:
        return {"id": self.id, "at": self.at.isoformat(), "made_by": self.made_by, "chains": self.chains,
                "hash": self.hash}


def stored_anchors(tx: Tx) -> list[Anchor]:
    """Every anchor, oldest first, each with the full set of heads it covers."""
    anchors = [Anchor(a, Tx.when(at), by, n, hd, prev, h, {}, {}) for a, at, by, n, hd, prev, h in tx.all(
        "SELECT id, at, made_by, chains, heads_digest, prev_hash, hash FROM audit_anchor ORDER BY id")]
    moved: dict[int, list[tuple[str, int, str]]] = {}
    for anchor_id, instance_id, seq, digest in tx.all(
            "SELECT anchor_id, instance_id, seq, hash FROM audit_anchor_head ORDER BY anchor_id"):
        moved.setdefault(anchor_id, []).append((instance_id, seq, digest))
    heads: dict[str, tuple[int, str]] = {}
    history: dict[str, list[tuple[int, int, str]]] = {}
    for anchor in anchors:
        for instance_id, seq, digest in moved.pop(anchor.id, []):
            heads[instance_id] = (seq, digest)
            history.setdefault(instance_id, []).append((anchor.id, seq, digest))
        anchor.heads = dict(heads)
        anchor.history = history  # shared: the last anchor's view is the one checked against the chains
    return anchors


# Every chain's head, for the anchors and "verify all": requests', processes' and accounts'.
_ALL_HEADS = ("SELECT id, audit_seq, audit_hash FROM process_instance UNION ALL "
              "SELECT id, audit_seq, audit_hash FROM process_chain UNION ALL "
              "SELECT id, audit_seq, audit_hash FROM account_chain")


def make_anchor(ctx, made_by: str = "system") -> dict:
    """Anchor the current head of every chain (requests', processes', accounts'): one row, plus one per
    chain that moved since the last. Run it hourly (the background runner does; or `xiezuo audit anchor`)."""
    now = ctx.now().astimezone(UTC)
    with ctx.db.transaction() as tx:
        if tx.postgres:  # one anchor at a time, so each chains on the one before
            tx.run("LOCK TABLE audit_anchor IN EXCLUSIVE MODE")
        last = tx.one("SELECT id, hash FROM audit_anchor ORDER BY id DESC LIMIT 1")
        anchored: dict[str, tuple[int, str]] = {}
        for instance_id, seq, digest in tx.all(
                "SELECT instance_id, seq, hash FROM audit_anchor_head ORDER BY anchor_id"):
            anchored[instance_id] = (seq, digest)
        heads = {i: (seq or 0, digest or GENESIS) for i, seq, digest in tx.all(_ALL_HEADS)}
        # An instance that vanished keeps its last anchored head in the digest: it must not vanish.
        covered = {**anchored, **heads}
        moved = {i: h for i, h in heads.items() if anchored.get(i) != h}
        anchor_id = (last[0] if last else 0) + 1
        prev = last[1] if last else GENESIS
        digest = _heads_digest(covered)
        own = _anchor_digest(anchor_id, now, made_by, len(covered), digest, prev)
        tx.run("INSERT INTO audit_anchor (id, at, made_by, chains, heads_digest, prev_hash, hash) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", (anchor_id, tx.stamp(now), made_by, len(covered), digest, prev, own))
        tx.many("INSERT INTO audit_anchor_head (instance_id, anchor_id, seq, hash) VALUES (?, ?, ?, ?)",
                [(i, anchor_id, seq, h) for i, (seq, h) in sorted(moved.items())])
    made = {"id": anchor_id, "at": now.isoformat(), "chains": len(covered), "moved": len(moved), "hash": own}
    if ctx.config.anchor_witness:  # after the commit: the copy never names an anchor the database lacks
        _witness_append(ctx.config.anchor_witness, made)
    return made


# The witness: one JSON line per anchor ({id, at, chains, hash}) appended to a file the database's
# writers cannot reach. What it holds is compared with the anchors on every full verification.
def _witness_append(path: str, anchor: dict) -> None:
    line = json.dumps({k: anchor[k] for k in ("id", "at", "chains", "hash")}, sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as out:
        out.write(line)
        out.flush()
        os.fsync(out.fileno())


def check_witness(path: str, anchors: list[Anchor]) -> tuple[int, list[ChainProblem]]:
    """Compare the anchors with the witness file's copies: (anchors it holds, problems). An anchor it
    holds that the database lacks was deleted; one with another hash was rewritten."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    stored = {a.id: a for a in anchors}
    problems: list[ChainProblem] = []
    held = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            copy = json.loads(line)
            anchor_id, digest = int(copy["id"]), str(copy["hash"])
        except (ValueError, KeyError, TypeError):
            problems.append(ChainProblem(None, 0, None, "edited", f"line {number} of the witness {path} is not an "
                                                                  f"anchor's copy"))
            continue
        held += 1
        found = stored.get(anchor_id)
        if found is None:
            problems.append(ChainProblem(None, anchor_id, None, "deleted",
                                         f"anchor {anchor_id} of {copy.get('at')} is gone (the witness holds it)",
                                         anchor_id))
        elif found.hash != digest:
            problems.append(ChainProblem(None, anchor_id, None, "edited",
                                         f"anchor {anchor_id} differs from the witness's copy", anchor_id))
    if anchors and not held:
        problems.append(ChainProblem(None, 0, None, "deleted",
                                     f"the witness {path} holds none of the {len(anchors)} anchor(s)"))
    return held, problems


def check_anchors(anchors: list[Anchor]) -> list[ChainProblem]:
    """Each anchor must hash to itself and chain on the one before."""
    problems = []
    prev, prev_id = GENESIS, 0
    for anchor in anchors:
        if anchor.id != prev_id + 1:
            problems.append(ChainProblem(None, anchor.id, None, "deleted",
                                         f"anchors {prev_id + 1}..{anchor.id - 1} are missing", anchor.id))
        elif anchor.prev_hash != prev:
            problems.append(ChainProblem(None, anchor.id, None, "edited",
                                         f"anchor {anchor.id} does not follow anchor {prev_id}", anchor.id))
        digest = _heads_digest(anchor.heads)
        if digest != anchor.heads_digest or len(anchor.heads) != anchor.chains:
            problems.append(ChainProblem(None, anchor.id, None, "edited",
                                         f"the heads recorded for anchor {anchor.id} were changed", anchor.id))
        elif _anchor_digest(anchor.id, anchor.at, anchor.made_by, anchor.chains, anchor.heads_digest,
                            anchor.prev_hash) != anchor.hash:
            problems.append(ChainProblem(None, anchor.id, None, "edited",
                                         f"anchor {anchor.id} does not match its hash", anchor.id))
        prev, prev_id = anchor.hash, anchor.id
    return problems


def check_anchored(instance_id: str, rows: list[ChainEvent] | None, history: list[tuple[int, int, str]]
                   ) -> ChainProblem | None:
    """Does the chain still hold every head the anchors saw? `rows` None: the instance is gone."""
    if not history:
        return None
    anchor_id, seq, _digest_ = history[-1]
    if rows is None:
        return ChainProblem(instance_id, 1, 1, "deleted", f"the instance and its rows 1..{seq} are gone "
                                                          f"(anchor {anchor_id} saw them)", anchor_id)
    hashes = {r.seq: r.hash for r in rows}
    if seq not in hashes:
        last = max((s for s in hashes if s < seq), default=0)
        missing = f"row {seq}" if last + 1 == seq else f"rows {last + 1}..{seq}"
        return ChainProblem(instance_id, sum(1 for r in rows if r.seq <= last) + 1, last + 1,
                            "deleted", f"{missing} missing (anchor {anchor_id} saw row {seq})", anchor_id)
    for a_id, a_seq, a_digest in history:  # the first anchored head that changed
        if hashes.get(a_seq) != a_digest:
            kept = max((s for _, s, d in history if s < a_seq and hashes.get(s) == d), default=0)
            position = next((pos for pos, r in enumerate(rows, start=1) if r.seq == a_seq), len(rows))
            return ChainProblem(instance_id, position, a_seq, "edited",
                                f"rows {kept + 1}..{a_seq} were rewritten since anchor {a_id} saw row {a_seq}", a_id)
    return None
