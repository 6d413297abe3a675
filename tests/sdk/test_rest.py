"""PostgREST through the gateway with the official client: RLS decides per signed-in user."""

import pytest
from postgrest.exceptions import APIError

from conftest import SERVICE_ROLE_KEY, create_team, new_client, signed_in, unique_email


def fresh_user(tag: str):
    """A confirmed user of their own, in no team yet."""
    email = unique_email(tag)
    new_client(SERVICE_ROLE_KEY).auth.admin.create_user({"email": email, "password": "fresh-password", "email_confirm": True})
    client = signed_in(email, "fresh-password")
    return client, client.auth.get_user().user.id


def test_strangers_see_only_their_own_profile_and_teammates_see_each_other():
    (carol, carol_id), (dave, dave_id) = fresh_user("carol"), fresh_user("dave")
    assert [row["id"] for row in carol.table("profiles").select("id").execute().data] == [carol_id]
    assert [row["id"] for row in dave.table("profiles").select("id").execute().data] == [dave_id]

    team_id = create_team(carol, "Profiles")
    token = carol.rpc("create_team_invitation", {"team_id": team_id, "email": dave.auth.get_user().user.email}).execute().data
    token = (token[0] if isinstance(token, list) else token)["token"]
    dave.rpc("accept_team_invitation", {"token": token}).execute()
    assert sorted(row["id"] for row in dave.table("profiles").select("id").execute().data) == sorted([carol_id, dave_id])


def test_a_user_updates_their_profile_but_not_another():
    (erin, erin_id), (frank, frank_id) = fresh_user("erin"), fresh_user("frank")
    erin.table("profiles").update({"timezone": "Europe/Paris"}).eq("id", erin_id).execute()
    assert erin.table("profiles").select("timezone").eq("id", erin_id).execute().data == [{"timezone": "Europe/Paris"}]
    touched = erin.table("profiles").update({"display_name": "Mallory"}).eq("id", frank_id).execute().data
    assert touched == []
    assert frank.table("profiles").select("display_name").eq("id", frank_id).execute().data[0]["display_name"] != "Mallory"


def test_anon_sees_nothing_and_rpcs_are_not_public():
    with pytest.raises(APIError):
        new_client().table("profiles").select("*").execute()
    with pytest.raises(APIError):
        signed_in("alice@example.com").rpc("health_check").execute()


def test_members_insert_team_rows_that_outsiders_neither_see_nor_write():
    (grace, grace_id), (heidi, _) = fresh_user("grace"), fresh_user("heidi")
    team_id = create_team(grace, "Personas")
    inserted = grace.table("personas").insert({"team_id": team_id, "name": "Skeptical Sam", "rst_bis": "High"}).execute().data
    assert inserted[0]["created_by"] == grace_id  # set by the trigger, not the client
    assert heidi.table("personas").select("id").eq("team_id", team_id).execute().data == []
    with pytest.raises(APIError):
        heidi.table("personas").insert({"team_id": team_id, "name": "Planted"}).execute()
    assert [row["name"] for row in grace.table("personas").select("name").eq("team_id", team_id).execute().data] == ["Skeptical Sam"]
