"""Field permissions per step on the page and in the API: the step's worker never receives a hidden
field (not in the page's markup, not in the task's JSON) and the API refuses it by name; a read-only
field shows as text and a changed value is refused with the field named, in the caller's language."""

from __future__ import annotations

from tests.scenarios import steps
from tests.scenarios.driver import MONDAY, Flow
from tests.scenarios.test_field_access import _deploy, _with_access
from tests.webui.conftest import sign_in
from tests.webui.test_api import API, token_of


def test_a_hidden_field_never_reaches_the_steps_page_or_json_and_is_refused_by_name(app, ctx, clock):
    clock.now = MONDAY
    _deploy(ctx, _with_access("dept_head_signoff", hiddenFields="contact", readonlyFields="title"))
    flow = Flow(ctx, clock)
    flow.submit(steps.REQUESTER, steps.REQUEST)
    task = flow.task("dept_head_signoff")
    head = flow.actor(task)
    client = app.test_client()
    sign_in(client, head)
    page = client.get(f"/tasks/{task['task_id']}").get_data(as_text=True)
    assert steps.REQUEST["contact"] not in page and 'data-field="contact"' not in page
    assert steps.REQUEST["goal"] in page  # the rest of the request is in view
    auth = token_of(app, head)
    shown = app.test_client().get(f"{API}/tasks/{task['task_id']}", headers=auth).get_json()
    assert "contact" not in shown["data"] and "contact" not in shown["values"]
    assert shown["form"]["access"] == {"contact": "hidden", "title": "readonly"}
    assert steps.REQUEST["contact"] not in str(shown)
    decision = {"signoff_decision": "同意", "signoff_comment": "同意提交"}
    refused = app.test_client().post(f"{API}/tasks/{task['task_id']}/complete",
                                     headers={**auth, "Accept-Language": "en"},
                                     json={"data": {**decision, "contact": "1", "title": "改过的标题"}})
    assert refused.status_code == 422
    assert refused.get_json()["fields"] == {"contact": "“Contact” is hidden at this step and is not taken",
                                            "title": "“Request title” is read-only at this step and cannot be changed"}
    assert flow.open_elements() == ["dept_head_signoff"]
    done = app.test_client().post(f"{API}/tasks/{task['task_id']}/complete", headers=auth,
                                  json={"data": decision})
    assert done.status_code == 200 and flow.open_elements() == ["admin_review"]
