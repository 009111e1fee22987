"""Notifications beyond the app: the outbox dispatched into deliveries (outbox.dispatch_pending),
deliveries sent by email and department group bots (sender.deliver_due), each user's preferences
and quiet hours (preferences), the departments' bots (bots), the admin page's lists (jobs).

The background loop calls dispatch_pending and deliver_due every second; both may run in several
processes at once.
"""

from engine.notify.outbox import dispatch_pending
from engine.notify.sender import deliver_due

__all__ = ["dispatch_pending", "deliver_due"]
