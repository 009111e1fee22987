"""English of the settings page."""

ENGLISH = {
    "个人设置": "Settings",
    "语言与时区": "Language and time zone",
    "语言": "Language",
    "时区（时间按此显示）": "Time zone (times are shown in it)",
    "组织默认（Asia/Shanghai）": "The organisation's (Asia/Shanghai)",
    "保存": "Save",
    "设置已保存。": "Settings saved.",
    "组织默认": "Organisation default",
    "协调世界时": "Coordinated Universal Time",
    "个人 API 令牌": "Personal API tokens",
    "脚本用令牌调用接口，令牌放在每个请求的请求头里；令牌只显示一次。":
        "Scripts call the API with a token in the header of each request; a token is shown only once.",
    "新令牌：": "New token: ",
    "名称": "Name",
    "最近使用": "Last used",
    "已作废": "Revoked",
    "作废": "Revoke",
    "新建令牌": "New token",
    "请给令牌起个名字。": "Please name the token.",
    "令牌已作废。": "The token was revoked.",
    "设置": "Settings",
}
