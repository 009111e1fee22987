"""The directory (通讯录) for everyone signed in: every department's head and interface person with the
contact fields of their user, searchable, and who held each post from when to when."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from engine.org.directory import post_directory
from webui.extensions import services

bp = Blueprint("directory", __name__, url_prefix="/directory")

QUERY_MAX = 50
POST_LABELS = {"head": _l("负责人"), "interface": _l("对接人")}


def _matches(dept: dict, words: list[str]) -> bool:
    """Every word is in the department's name or id, or in the name, id, e-mail or phone of a current holder."""
    haystack = [dept["id"], dept["name"], dept["parent"] or ""]
    for post in POST_LABELS:
        holder = dept[post]
        if holder:
            haystack += [holder["user_id"], holder["name"], holder["email"] or "", holder["phone"] or ""]
    folded = " ".join(haystack).casefold()
    return all(word in folded for word in words)


@bp.route("")
@login_required
def index():
    """Departments with their head and interface person (?q=产品 searches), each with its history."""
    query = request.args.get("q", "").strip()[:QUERY_MAX]
    words = query.casefold().split()
    departments = [d for d in post_directory(services()) if _matches(d, words)]
    return render_template("directory/index.html", departments=departments, query=query, query_max=QUERY_MAX,
                           posts=POST_LABELS)
