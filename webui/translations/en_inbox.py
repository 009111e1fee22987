"""English for the inbox, the notifications and the API's own messages (see fill.py)."""

ENGLISH = {
    # values of the request form
    # the inbox
    "不存在，或您无权处理。": "This does not exist, or it is not yours to act on.",
    "已认领任务，可在“我的任务”中办理。": "Task claimed: you find it under My tasks.",
    "已释放任务，它回到了组的任务中。": "Task released: it is back among the group's tasks.",
    "已逾期": "Overdue",
    "委派自 %(name)s": "Delegated by %(name)s",
    "抄送我的": "Copied to me",
    "我已办的": "Done by me",
    "任务名称或需求编号": "Task name or request no.",
    "仅看逾期": "Overdue only",
    "清除": "Clear",
    "筛选与排序": "Filters and sort",
    "批量审批": "Batch approval",
    "选入批量：%(decision)s": "Add to batch: %(decision)s",
    "勾选下面标有“选入批量”的任务：每项按其环节设定的决定办理，附上同一条意见；每项单独办理和记录，某项未能办理不影响其他各项。":
        "Tick the tasks marked “Add to batch” below: each is done with the decision its step sets and the same "
        "comment; each is done and recorded on its own, and one that cannot be done holds none of the others back.",
    "审批意见": "Approval note",
    "批量办理所选": "Do the chosen tasks",
    "已批量办理 %(n)s 项任务。": "%(n)s task(s) done in the batch.",
    "%(task)s（%(request)s）未能办理：%(reason)s": "%(task)s (%(request)s) was not done: %(reason)s",
    "所属需求": "Request",
    "认领": "Claim",
    "释放": "Release",
    "抄送人": "Copied by",
    "附言": "Note",
    "抄送时间": "Copied at",
    "标为已读": "Mark read",
    "已读": "Read",
    "完成时间": "Completed at",
    "需求状态": "Request status",
    "代办": "On behalf of",
    "代 %(name)s 办理": "for %(name)s",
    # notifications
    "提醒": "Reminder",
    "升级": "Escalation",
    "未读": "Unread",
    "全部标为已读": "Mark all read",
    "暂无通知": "No notifications",
    # the API
}
