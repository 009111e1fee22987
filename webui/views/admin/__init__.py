"""The administration area: the organisation, users, absences, the working calendar, the review of
lessons and the background jobs (timers, notification deliveries), for platform admins; auditors read
every page of it (without forms, and any change they send is refused); everyone else is refused (403:
that the area exists is no secret, the 管理 link is simply not shown to them). The gate is one
before_request hook, so no page of the area can forget it; the engine checks the admin again in every
command.
"""

from webui.views.admin import absences, jobs, knowledge, org, users, work_calendar  # noqa: F401  (their routes)
from webui.views.admin.area import bp

__all__ = ["bp"]
