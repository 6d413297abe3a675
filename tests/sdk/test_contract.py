"""The Data API answers as hosted Supabase documents it: each case is a supabase-py call and the
HTTP status and error code the reference gives (https://docs.postgrest.org/en/v12/references/errors.html,
mirrored at https://supabase.com/docs/guides/api/rest/postgrest-error-codes). A local stand-in that
answers otherwise fails here; it is fixed, never the clients taught both answers."""

import uuid

import httpx
import pytest
from postgrest.exceptions import APIError

from conftest import SERVICE_ROLE_KEY, create_team, new_client, signed_in, unique_email


def recording(client):
    """The client, with the HTTP status of each Data API answer it gets appended to a list."""
    statuses: list[int] = []
    client.postgrest.session.event_hooks["response"].append(lambda response: statuses.append(response.status_code))
    return client, statuses


def member_of_a_new_team(tag: str):
    email = unique_email(tag)
    new_client(SERVICE_ROLE_KEY).auth.admin.create_user({"email": email, "password": "fresh-password", "email_confirm": True})
    client, statuses = recording(signed_in(email, "fresh-password"))
    return client, statuses, create_team(client, tag)


class Refusal(tuple):
    """(status, code), shown with the server's message when a comparison fails."""

    message = ""

    def __repr__(self) -> str:
        return f"{tuple(self)!r} ({self.message})"


def refused(statuses: list[int], call) -> Refusal:
    with pytest.raises(APIError) as error:
        call().execute()
    refusal = Refusal((statuses[-1], error.value.code))
    refusal.message = error.value.message
    return refusal


def test_integrity_violations_answer_postgrests_documented_statuses():
    client, statuses, team_id = member_of_a_new_team("integrity")
    post = {"team_id": team_id, "body": "hello", "client_post_id": f"c-{uuid.uuid4().hex}"}
    client.table("scheduled_posts").insert(post).execute()
    assert refused(statuses, lambda: client.table("scheduled_posts").insert(post)) == (409, "23505")
    unknown_campaign = {"team_id": team_id, "campaign_id": str(uuid.uuid4())}
    assert refused(statuses, lambda: client.table("content_drafts").insert(unknown_campaign)) == (409, "23503")
    assert refused(statuses, lambda: client.table("personas").insert({"team_id": team_id})) == (400, "23502")
    assert refused(statuses, lambda: client.table("personas").insert({"team_id": team_id, "name": " padded "})) == (400, "23514")


def test_a_row_level_security_refusal_is_403_for_a_signed_in_user_and_401_for_anon():
    owner, _, team_id = member_of_a_new_team("rls-owner")
    outsider, statuses, _ = member_of_a_new_team("rls-outsider")
    planted = {"team_id": team_id, "name": "Planted"}
    assert refused(statuses, lambda: outsider.table("personas").insert(planted)) == (403, "42501")
    anon, anon_statuses = recording(new_client())
    assert refused(anon_statuses, lambda: anon.table("personas").insert(planted)) == (401, "42501")
    assert owner.table("personas").select("id").eq("team_id", team_id).execute().data == []


def test_query_mistakes_answer_postgrests_documented_codes():
    client, statuses, team_id = member_of_a_new_team("queries")
    assert refused(statuses, lambda: client.table("personas").select("id").eq("team_id", team_id).single()) == (406, "PGRST116")
    assert refused(statuses, lambda: client.rpc("no_such_function", {})) == (404, "PGRST202")
    assert refused(statuses, lambda: client.table("personas").select("no_such_column")) == (400, "42703")
    assert refused(statuses, lambda: client.table("personas").select("id").eq("team_id", "not-a-uuid")) == (400, "22P02")


def test_counts_and_ranges_come_back_as_postgrest_sends_them():
    client, statuses, team_id = member_of_a_new_team("counts")
    client.table("personas").insert([{"team_id": team_id, "name": f"P{n}"} for n in range(3)]).execute()
    page = client.table("personas").select("name", count="exact").eq("team_id", team_id).order("name").range(1, 2).execute()
    assert (page.count, [row["name"] for row in page.data]) == (3, ["P1", "P2"])
    assert statuses[-1] == 206  # a part of the rows, with Content-Range 1-2/3
    whole = client.table("personas").select("name", count="exact").eq("team_id", team_id).execute()
    assert (statuses[-1], whole.count) == (200, 3)
