"""The Conduit client (form encoding, the envelope, errors without the token), the PHID
cache, and the fake Conduit's contract that the tracker's tests rely on."""

from __future__ import annotations

import pytest
import requests

from tests.plugins.conduit_fake import FakeConduit, decoded, slug_of
from univac.plugins.incidents.conduit import Conduit, PhidCache, Refused, Unanswered, form

TOKEN = "api-" + "c" * 28


@pytest.fixture
def fake():
    made = FakeConduit()
    made.bot = made.add_user("univac-bot", token=TOKEN, bot=True)
    made.acl = made.add_project("acl*sre-team", members=(made.bot,))
    yield made
    made.close()


@pytest.fixture
def conduit(fake):
    client = Conduit(fake.base + "/", TOKEN, 30.0)
    yield client
    client.close()


def test_parameters_go_in_phps_bracket_form():
    params = {"objectIdentifier": "T1", "transactions": [
        {"type": "projects.add", "value": ["PHID-PROJ-1"]}, {"type": "owner", "value": None}],
        "attachments": {"projects": True}, "limit": 1}
    assert form(params) == [
        ("objectIdentifier", "T1"),
        ("transactions[0][type]", "projects.add"), ("transactions[0][value][0]", "PHID-PROJ-1"),
        ("transactions[1][type]", "owner"), ("transactions[1][value]", ""),
        ("attachments[projects]", "1"), ("limit", "1")]
    assert decoded([("api.token", TOKEN), *form(params)]) == ({"token": TOKEN}, {
        "objectIdentifier": "T1", "transactions": [
            {"type": "projects.add", "value": ["PHID-PROJ-1"]}, {"type": "owner", "value": ""}],
        "attachments": {"projects": "1"}, "limit": "1"})


def test_a_created_task_is_found_by_search_with_its_fields(fake, conduit):
    made = conduit.call("maniphest.edit", {"transactions": [
        {"type": "title", "value": "Gateway 5xx"}, {"type": "view", "value": fake.acl.phid},
        {"type": "projects.add", "value": ["#acl_sre-team"]}]})
    assert made["object"] == {"id": 1, "phid": fake.tasks[1].phid}
    assert len(made["transactions"]) == 3
    found = conduit.call("maniphest.search", {"constraints": {"ids": [1]},
                                              "attachments": {"projects": True}})
    (task,) = found["data"]
    assert (task["id"], task["type"], task["fields"]["name"]) == (1, "TASK", "Gateway 5xx")
    assert task["fields"]["policy"]["view"] == fake.acl.phid
    assert task["attachments"] == {"projects": {"projectPHIDs": [fake.acl.phid]}}
    assert found["cursor"] == {"limit": 100, "after": None, "before": None, "order": None}
    users = conduit.call("user.search", {"constraints": {"usernames": ["UNIVAC-BOT"]}})
    assert users["data"][0]["fields"]["username"] == "univac-bot"
    projects = conduit.call("project.search", {"constraints": {"slugs": ["#acl_sre-team"]}})
    assert projects["data"][0]["phid"] == fake.acl.phid
    assert slug_of("acl*sre-team") == "acl_sre-team"


def test_conduits_errors_come_as_refusals(fake, conduit):
    with pytest.raises(Refused) as unknown:
        conduit.call("maniphest.nothing", {})
    assert (unknown.value.code, unknown.value.info) == (
        "ERR-CONDUIT-CALL", 'Conduit API method "maniphest.nothing" does not exist.')
    with pytest.raises(Refused, match='Constraint "names" is not a valid constraint'):
        conduit.call("project.search", {"constraints": {"names": ["x"]}})
    with pytest.raises(Refused, match='Monogram "T7" does not identify a valid object'):
        conduit.call("maniphest.edit", {"objectIdentifier": "T7", "transactions": [
            {"type": "comment", "value": "hi"}]})
    with pytest.raises(Refused, match="Tasks must have a title") as untitled:
        conduit.call("maniphest.edit", {"transactions": [{"type": "comment", "value": "hi"}]})
    assert untitled.value.code == "ERR-CONDUIT-CORE"
    locked_out = fake.add_project("acl*other")
    with pytest.raises(Refused, match="You can not select this view policy"):
        conduit.call("maniphest.edit", {"transactions": [
            {"type": "title", "value": "x"}, {"type": "view", "value": locked_out.phid}]})
    assert not fake.tasks


def test_a_refused_token_is_hidden_in_the_error(fake):
    wrong = "api-" + "x" * 28
    with pytest.raises(Refused) as refused:
        Conduit(fake.base, wrong, 30.0).call("user.search", {})
    assert refused.value.code == "ERR-INVALID-AUTH"
    assert wrong not in str(refused.value)
    assert refused.value.info == 'API token "***" is not valid.'


def test_what_is_no_conduit_answer_is_unanswered(fake, conduit):
    fake.down = True
    with pytest.raises(Unanswered, match="HTTP 503"):
        conduit.call("user.search", {})
    fake.down = False
    reply = requests.post(f"{fake.base}/api/user.search", json={"api.token": TOKEN}, timeout=30)
    assert reply.json()["error_code"] == "ERR-CONDUIT-CORE"  # JSON bodies are refused


def test_the_json_params_form_works_too(fake):
    params = '{"constraints": {"usernames": ["univac-bot"]}, "__conduit__": {"token": "%s"}}'
    reply = requests.post(f"{fake.base}/api/user.search", data={
        "params": params % TOKEN, "output": "json", "__conduit__": "1"}, timeout=30)
    assert reply.json()["result"]["data"][0]["phid"] == fake.bot.phid


def test_the_phid_cache_is_bounded_and_forgets():
    now = [0.0]
    cache = PhidCache(size=2, ttl_s=60, clock=lambda: now[0])
    cache.put("a", "PHID-USER-a")
    cache.put("b", "PHID-USER-b")
    assert cache.get("a") == "PHID-USER-a"  # a is now the most recent
    cache.put("c", "PHID-USER-c")
    assert (cache.get("b"), cache.get("a"), len(cache)) == (None, "PHID-USER-a", 2)
    now[0] = 61.0
    assert cache.get("a") is None
