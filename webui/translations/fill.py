"""Fill the English catalogue: `python webui/translations/fill.py` after `pybabel update`.

Source strings are Chinese (the default language). ENGLISH here and the dicts ENGLISH of every
`en_*.py` beside this file (one per area of the app) map each to its English text. The test suite
checks that every string of the pages is in the catalogue and translated.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).parent / "en" / "LC_MESSAGES" / "messages.po"

ENGLISH = {
    "用户名或密码不正确。": "The user name or password is wrong.",
    "协作": "Xiezuo",
    "待办": "Inbox",
    "退出": "Sign out",
    "找不到此页面": "Page not found",
    "无权访问": "You may not see this",
    "尝试次数过多，请稍后再试": "Too many attempts, please try again later",
    "已被他人处理，请刷新后重试": "Someone else got there first; reload and try again",
    "无法完成操作": "This could not be done",
    "返回待办": "Back to the inbox",
    "排序": "Sort",
    "截止时间": "Due",
    "优先级": "Priority",
    "创建时间": "Created",
    "我的任务": "My tasks",
    "我所在组的任务": "My groups' tasks",
    "任务": "Task",
    "需求编号": "Request no.",
    "暂无任务": "Nothing to do",
    "登录": "Sign in",
    "用户名": "User name",
    "请填写用户名。": "Please enter your user name.",
    "密码": "Password",
    "请填写密码。": "Please enter your password.",
    "发起需求": "New request",
    "文件过大，请压缩或拆分后再上传": "The file is too large; compress or split it and upload again",
    "需求": "Requests",
    "通知": "Notifications",
    "流程设计": "Process design",
    "审计": "Audit",
    "管理": "Admin",
}


def english() -> dict[str, str]:
    import importlib.util

    merged = dict(ENGLISH)
    for path in sorted(Path(__file__).parent.glob("en_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        merged.update(module.ENGLISH)
    return merged


def main() -> None:
    texts = english()
    with PO.open("rb") as f:
        catalog = read_po(f, locale="en")
    for message in catalog:
        if message.id and message.id in texts:
            message.string = texts[message.id]
            message.flags.discard("fuzzy")
    with PO.open("wb") as f:
        write_po(f, catalog, omit_header=False, width=120)


if __name__ == "__main__":
    main()
