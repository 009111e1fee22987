"""Database.one_connection (a web request): units of work share one pooled connection and its reads
one transaction, yet each write commits on its own and every read after it sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from engine.db.models import AppUser
from tests.db_trips import DatabaseTrips
from tests.helpers import add_user


@pytest.fixture
def db(ctx):
    add_user(ctx, "anna", "team")
    return ctx.db


def _name(db, user: str = "anna") -> str:
    with db.read() as s:
        return s.scalar(select(AppUser.display_name).where(AppUser.id == user))


def _rename(db, name: str) -> None:
    with db.write() as s:
        s.execute(update(AppUser).where(AppUser.id == "anna").values(display_name=name))


def test_the_units_of_a_block_share_one_connection_and_one_read_transaction(db):
    trips = DatabaseTrips(db.engine)
    try:
        with db.one_connection():  # one connection for the pool's ping (PostgreSQL) before counting
            _name(db)
        with trips.count() as seen, db.one_connection():
            _name(db)
            with db.transaction(write=False) as tx:
                assert tx.one("SELECT display_name FROM app_user WHERE id = ?", ("anna",)) == ("anna",)
            _name(db)
        assert seen.checkouts == 1
        begins = [s for s in seen.statements if s.upper().startswith("BEGIN")]
        assert len(begins) == 1, seen.statements
    finally:
        trips.close()
    assert db.engine.pool.checkedout() == 0  # given back when the block ends


def test_a_write_in_the_block_commits_and_the_reads_after_it_see_it(db):
    with db.one_connection():
        assert _name(db) == "anna"
        _rename(db, "Anna")
        assert _name(db) == "Anna"
        with db.transaction() as tx:
            tx.run("UPDATE app_user SET display_name = ? WHERE id = ?", ("ANNA", "anna"))
        assert _name(db) == "ANNA"
    with db.one_connection():
        assert _name(db) == "ANNA"


def test_a_write_inside_a_read_takes_its_own_connection_and_later_reads_see_it(db):
    with db.one_connection():
        with db.read() as s:
            assert s.get(AppUser, "anna").display_name == "anna"
            _rename(db, "Anna")  # the outer read still runs: the write cannot end its transaction
        assert _name(db) == "Anna"


def test_a_failed_write_leaves_nothing_and_the_block_reads_on(db):
    with db.one_connection():
        with pytest.raises(RuntimeError), db.write() as s:
            s.execute(update(AppUser).where(AppUser.id == "anna").values(display_name="never"))
            raise RuntimeError("refused")
        assert _name(db) == "anna"


def test_a_failed_statement_does_not_spoil_the_reads_after_it(db):
    with db.one_connection():
        with pytest.raises(Exception, match="no_such_table"), db.read() as s:
            s.execute(text("SELECT * FROM no_such_table"))
        assert _name(db) == "anna"


def test_a_read_cannot_write(db):
    """The reads' transaction of a block is read-only on PostgreSQL; on SQLite what a read wrote is
    rolled back (as outside a block), never committed."""
    with db.one_connection():
        try:
            with db.read() as s:
                s.execute(update(AppUser).where(AppUser.id == "anna").values(display_name="written"))
        except Exception as exc:  # PostgreSQL: cannot execute UPDATE in a read-only transaction
            assert db.is_postgres and "read-only" in str(exc)
    assert _name(db) == "anna"


def test_a_connection_goes_back_to_the_pool_as_it_came(db):
    """Later units outside a block write as before: the block's read-only setting does not stay on
    the pooled connection."""
    with db.one_connection():
        _name(db)
    _rename(db, "Anna")
    with db.transaction() as tx:
        tx.run("UPDATE app_user SET display_name = ? WHERE id = ?", ("ANNA", "anna"))
    assert _name(db) == "ANNA"


def test_a_connection_lost_in_a_block_is_dropped_when_the_block_ends(db):
    """What was read stands; the lost connection leaves the pool and the next block reads on."""
    if not db.is_postgres:
        pytest.skip("a server that ends a connection: PostgreSQL")
    with db.one_connection():
        assert _name(db) == "anna"
        with db.transaction(write=False) as tx:
            (pid,) = tx.one("SELECT pg_backend_pid()")
        with db.engine.connect() as other:  # another connection ends this one, as a server restart would
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert db.engine.pool.checkedout() == 0
    with db.one_connection():
        assert _name(db) == "anna"
