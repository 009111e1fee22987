"""English of what protects the platform: read-only auditors, bounded input, refusals."""

ENGLISH = {
    "审计员只能查看，不能更改任何内容。": "Auditors read everything and change nothing.",
    "所选的人是审计员：审计员只查看、不更改，任务不能交给审计员":
        "The person chosen is an auditor: auditors read and change nothing, so no task can be handed to them",
    "不能早于今天（%(d)s）": "cannot be before today (%(d)s)",
    "不能晚于今天（%(d)s）": "cannot be after today (%(d)s)",
    "不能早于“%(label)s”（%(d)s）": "cannot be before “%(label)s” (%(d)s)",
    "不能晚于“%(label)s”（%(d)s）；确需晚于时，请填写“%(why)s”":
        "cannot be after “%(label)s” (%(d)s); if it must be later, say why in “%(why)s”",
    "不能晚于“%(label)s”（%(d)s）": "cannot be after “%(label)s” (%(d)s)",
    "“%(v)s”不是可以接收任务的在职人员": "“%(v)s” is not an active person who can take work",
    "“%(v)s”不是已有的部门": "“%(v)s” is not a department",
    "计划开始": "Planned start",
    "晚于期望完成时间的原因": "Why later than the expected completion date",
    "有任务计划完成晚于期望完成时间时填写": "Fill in when a task is planned to end after the expected completion date",
}
