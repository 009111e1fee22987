"""Staff pages: the inbox (more pages live in their own modules)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine.services.inbox import group_tasks, my_tasks
from webui.extensions import services

bp = Blueprint("pages", __name__)


@bp.route("/")
def index():
    """The start page: the inbox."""
    return redirect(url_for("pages.inbox"))


@bp.route("/inbox")
@login_required
def inbox():
    """My tasks and my groups' tasks."""
    sort = request.args.get("sort", "due")
    if sort not in ("due", "priority", "created"):
        sort = "due"
    mine = my_tasks(services(), current_user.id, sort=sort)
    offered = group_tasks(services(), current_user.id, sort=sort)
    return render_template("inbox.html", mine=mine, offered=offered, sort=sort)
