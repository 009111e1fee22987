"""The knowledge base for everyone signed in: approved lessons searched by Chinese words and browsed by
request type and department, each linked to the request it came from (the request's page applies its
own rule); the collaboration guide (guide.py) and the 协作之星 board (stars.py)."""

from webui.views.knowledge import guide, stars  # noqa: F401  (their routes)
from webui.views.knowledge.area import bp

__all__ = ["bp"]
