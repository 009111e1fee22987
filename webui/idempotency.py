"""The Idempotency-Key header of the API's commands (engine.workflow.idempotency keeps the keys).

A command sent with a key runs once: its retry with the same key and body gets the first answer
again (status, body, Location), marked `Idempotent-Replayed: true`; the same key with another
request is refused (422 idempotency_key_reused); a retry while the first run is still going is
refused too (409 idempotency_in_progress). A command refused before it changed anything (an error,
nothing committed) frees its key: the retry runs it afresh and gets the answer of that moment.
"""

from __future__ import annotations

import hashlib
import re
from functools import wraps

from flask import Response, current_app, make_response, request
from flask_login import current_user

from engine.errors import InvalidInput, XiezuoError
from engine.workflow import idempotency
from webui.errors import error_body, status_of
from webui.extensions import services

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as a UUID or a random token is


def _replayed(found: idempotency.Answer) -> Response:
    answer = Response(found.body, status=found.status, mimetype="application/json")
    if found.location:
        answer.headers["Location"] = found.location
    answer.headers[REPLAYED] = "true"
    return answer


def idempotent(view):
    """Run the API command `view` at most once per Idempotency-Key of its caller (below login_required)."""
    @wraps(view)
    def run(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            raise InvalidInput("idempotency.bad_key")
        body_hash = hashlib.sha256(request.get_data()).hexdigest()
        taken = idempotency.claim(services(), current_user.id, key, request.method, request.path, body_hash)
        if taken.replay is not None:
            return _replayed(taken.replay)
        try:
            with taken.watching():
                answer = make_response(view(*args, **kwargs))
        except XiezuoError as exc:
            if taken.committed:  # e.g. the instance stopped on an error after its state was saved
                body = current_app.json.response(error_body(exc)).get_data(as_text=True)  # as the handler writes it
                idempotency.answer(taken, idempotency.Answer(status_of(exc), body))
            else:
                idempotency.release(taken)
            raise
        except BaseException:
            if not taken.committed:
                idempotency.release(taken)
            raise  # committed but unanswered: a retry learns the command ran (idempotency_answer_lost)
        idempotency.answer(taken, idempotency.Answer(answer.status_code, answer.get_data(as_text=True),
                                                     answer.headers.get("Location")))
        return answer
    return run
