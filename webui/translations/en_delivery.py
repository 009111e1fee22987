"""English of notification delivery: channels and quiet hours on the settings page, departments' group
bots (settings and the admin department page), and the admin area's 后台任务 page."""

ENGLISH = {
    # the settings page: how notifications reach me
    "通知方式": "Notifications",
    "站内通知总是开启。此外可按类型选择邮件和部门群机器人；免打扰时段内的邮件和群消息推迟到时段结束（按组织时区）。":
        "In-app notifications are always on. Per kind you may also have them emailed or posted by your "
        "department's group bot; during quiet hours emails and group messages wait until the quiet hours end "
        "(in the organisation's time zone).",
    "平台尚未配置邮件服务器，暂不发送邮件。": "No mail server is configured for the platform: no emails are sent yet.",
    "您的账号没有邮箱地址，请联系管理员补充。": "Your account has no email address; ask an administrator to add it.",
    "邮件发往：%(email)s": "Emails go to: %(email)s",
    "通知方式未保存，请修改标出的项。": "The notification settings were not saved; please correct the marked fields.",
    "通知类型": "Kind of notification",
    "站内": "In the app",
    "邮件": "Email",
    "免打扰开始": "Quiet hours from",
    "免打扰结束": "Quiet hours until",
    "红色预警和升级在免打扰时段也立即发送": "Send red warnings and escalations at once, even in quiet hours",
    "保存通知方式": "Save notification settings",
    "通知方式已保存。": "Notification settings saved.",
    "请按“时:分”填写，例如 22:00。": "Please enter a time as hours:minutes, e.g. 22:00.",
    "请同时填写开始和结束时间（或都留空）。": "Please give both the start and the end (or leave both empty).",
    "结束时间不能与开始时间相同。": "The end cannot be the same as the start.",
    # a department's group bot
    "部门群机器人": "Department group bot",
    "所选类型的通知发到本部门的群里：同一事件只发一条，点名本部门的收件人；本人可在个人设置中关闭。":
        "Notifications of the chosen kinds are posted to the department's group: one message per event, "
        "naming the department's recipients; each person may turn this off in their settings.",
    "密钥": "Secret",
    "已开启": "On",
    "已关闭": "Off",
    "尚未设置群机器人。": "No group bot is set up yet.",
    "群机器人设置未保存，请修改标出的项。": "The group bot was not saved; please correct the marked fields.",
    "平台": "Platform",
    "Webhook 地址": "Webhook URL",
    "已保存的地址不再完整显示；留空即保持不变。": "The saved URL is not shown in full; leave this empty to keep it.",
    "加签密钥（钉钉“加签”、飞书“签名校验”；企业微信留空）":
        "Signing secret (DingTalk “sign”, Feishu “signature verification”; empty for WeCom)",
    "已保存的密钥不再显示；留空即保持不变。": "The saved secret is not shown; leave this empty to keep it.",
    "删除已保存的密钥": "Remove the saved secret",
    "发到群里的通知类型": "Kinds of notification posted to the group",
    "开启": "On",
    "保存群机器人": "Save the group bot",
    "发送测试消息": "Send a test message",
    "钉钉": "DingTalk",
    "飞书": "Feishu",
    "企业微信": "WeCom",
    "请选择平台：钉钉、飞书或企业微信。": "Please choose a platform: DingTalk, Feishu or WeCom.",
    "有未知的通知类型，请重新勾选。": "Unknown kinds of notification; please tick them again.",
    "企业微信群机器人不使用加签密钥，请留空。": "WeCom group bots take no signing secret; please leave it empty.",
    "钉钉的加签密钥以 SEC 开头，后跟字母和数字（在机器人安全设置的“加签”处复制）。":
        "A DingTalk signing secret starts with SEC followed by letters and digits (copy it from the bot's "
        "security settings, “sign”).",
    "飞书的签名校验密钥只含字母和数字（在机器人安全设置的“签名校验”处复制）。":
        "A Feishu signing secret has letters and digits only (copy it from the bot's security settings, "
        "“signature verification”).",
    "请填写 Webhook 地址。": "Please enter the webhook URL.",
    "Webhook 地址须以 https:// 开头。": "The webhook URL must start with https://.",
    "这不是%(platform)s群机器人的 Webhook 地址（主机应为 %(hosts)s）。":
        "This is not a %(platform)s group bot's webhook URL (the host should be %(hosts)s).",
    "这不是%(platform)s群机器人的 Webhook 地址格式，请从群设置中复制完整地址。":
        "This is not the form of a %(platform)s group bot's webhook URL; please copy the whole URL from the "
        "group's settings.",
    "Webhook 地址缺少令牌（%(param)s=…），请复制完整地址。":
        "The webhook URL lacks its token (%(param)s=…); please copy the whole URL.",
    "请先保存群机器人的设置。": "Please save the group bot first.",
    "测试消息未送达：%(why)s": "The test message did not arrive: %(why)s",
    "测试消息已发送，请到群里查看。": "The test message was sent; look for it in the group.",
    "群机器人设置已保存。": "The group bot was saved.",
    # 后台任务
    "后台任务": "Background jobs",
    "渠道": "Channel",
    "发往": "To",
    "已尝试": "Attempts",
    "下次尝试": "Next attempt",
    "最近错误": "Last error",
    "群机器人": "Group bot",
    "发送中": "sending",
    "%(n)s 个需求在等待定时器": "%(n)s requests wait on timers",
    "等待的定时器": "Waiting timers",
    "最早到期": "Soonest due",
    "没有等待中的定时器。": "No timers are waiting.",
    "待发送的通知": "Notifications waiting to be sent",
    "发送失败的通知": "Notifications that could not be sent",
    "全部重试": "Retry all",
    "待发送 %(pending)s 条通知": "%(pending)s notifications waiting to be sent",
    "%(n)s 条发送失败": "%(n)s failed",
    "定时器、邮件与群机器人通知的发送队列，失败的可重试。":
        "Timers, and the queue of email and group-bot notifications; failed ones can be retried.",
    "已重新排队，稍后发送。": "Queued again; it will be sent shortly.",
    "%(n)s 条发送失败的通知已重新排队。": "%(n)s failed notifications were queued again.",
    "审计链锚定": "Anchoring the audit chains",
    "审计链校验": "Audit chain verification",
    "看板数据刷新": "Dashboard figures refresh",
    "周期任务": "Periodic jobs",
    "间隔": "Every",
    "上次开始": "Last started",
    "上次结束": "Last finished",
    "下次": "Next",
    "上次错误": "Last error",
    "%(n)s 小时": "%(n)s h",
    "%(n)s 分钟": "%(n)s min",
    "尚未运行": "Not run yet",
    "立即": "Now",
}
