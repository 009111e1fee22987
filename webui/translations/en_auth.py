"""English of signing in and out, and of what protects the platform (read-only auditors, bounded
input, refusals): locks after failed sign-ins, choosing one's own password, the sign-in
records of the admin and audit areas."""

ENGLISH = {
    # signing in
    "请先登录后再访问此页面。": "Please sign in to open this page.",
    "此网络地址登录失败次数过多，请 %(minutes)s 分钟后再试。":
        "Too many failed sign-ins from this network address: please try again in %(minutes)s minutes.",
    "请 %(minutes)s 分钟后再试。": "Please try again in %(minutes)s minutes.",
    "登录失败次数过多，该账号已暂时锁定：请 %(minutes)s 分钟后（%(time)s 起）再试，或请平台管理员解锁。":
        "This account is locked after too many failed sign-ins: try again in %(minutes)s minutes (at %(time)s), "
        "or ask a platform admin to unlock it.",
    # choosing one's own password
    "设置自己的密码": "Choose your own password",
    "您现在的密码是管理员设置的。继续使用前，请换成一个只有您自己知道的密码。":
        "Your password was set by an administrator. Before you go on, replace it with one only you know.",
    "管理员告知的密码": "The password you were given",
    "设置密码": "Set my password",
    "密码已设置，以后请用新密码登录。": "Your password is set; sign in with it from now on.",
    # a user's admin page
    "锁定": "Lock",
    "已锁定至 %(when)s": "locked until %(when)s",
    "未锁定（最近连续失败 %(n)s 次）": "not locked (%(n)s failed sign-ins in a row lately)",
    "未锁定": "not locked",
    "未设置，不能登录": "none set: cannot sign in",
    "管理员设置，首次登录须改设自己的密码": "set by an admin: to be replaced by their own at the next sign-in",
    "本人设置": "chosen by the user",
    "登录中的会话": "Signed-in sessions",
    "多次登录失败后账号会暂时锁定；确认是本人后可立即解除。":
        "Repeated failed sign-ins lock an account for a while; once you know it is this person, unlock it now.",
    "解除锁定": "Unlock",
    "最近的登录记录": "Latest sign-ins",
    "已解除锁定，此人现在可以登录。": "Unlocked: this person can sign in now.",
    "该账号没有被锁定。": "This account is not locked.",
    "已为该用户设置新密码；其登录已全部失效，个人 API 令牌已作废；此人下次登录时须改设自己的密码。":
        "New password set: all their sessions have ended, their personal API tokens are revoked, and they "
        "choose their own password at their next sign-in.",
    # the sign-in records
    "登录记录": "Sign-ins",
    "每次登录、登录失败、账号锁定与解锁、退出登录和密码设置，都记入该账号自己的审计链（不存在的用户名共用一条），与全部审计链一同校验和锚定。":
        "Every sign-in, failed sign-in, lock and unlock, sign-out and password set goes on the account's own audit "
        "chain (names that are no account share one), verified and anchored with every other chain.",
    "账号": "Account",
    "网络地址": "Network address",
    "详情": "Details",
    "（无此账号）": "(no such account)",
    "连续失败 %(n)s 次": "%(n)s failures in a row",
    "锁定至 %(when)s": "locked until %(when)s",
    "首次登录须自设密码": "to be replaced at the first sign-in",
    "只看失败与锁定": "Failures and locks only",
    "登录成功": "Signed in",
    "登录失败": "Sign-in failed",
    "账号锁定": "Account locked",
    "账号解锁": "Account unlocked",
    "退出登录": "Signed out",
    "设置初始密码": "Initial password set",
    "管理员重置密码": "Password reset by an admin",
    "本人修改密码": "Password changed by the user",
    "密码不正确": "wrong password",
    "无此账号": "no such account",
    "账号已停用": "account switched off",
    "账号锁定中": "account locked",
    # what protects the platform: read-only auditors, bounded input, refusals
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
