"""English of what protects the platform: read-only auditors, bounded input, refusals."""

ENGLISH = {
    "审计员只能查看，不能更改任何内容。": "Auditors read everything and change nothing.",
    "所选的人是审计员：审计员只查看、不更改，任务不能交给审计员":
        "The person chosen is an auditor: auditors read and change nothing, so no task can be handed to them",
}
