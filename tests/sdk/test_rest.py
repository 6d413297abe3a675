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
    invitation = carol.rpc("create_team_invitation", {"team_id": team_id, "email": dave.auth.get_user().user.email}).execute().data
    dave.rpc("accept_team_invitation", {"token": invitation[0]["token"]}).execute()
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


def test_filter_values_with_spaces_and_plus_signs_match_as_on_hosted():
    """Both SDKs send a space as `+` in the query, which PostgREST decodes as a space."""
    grace, _ = fresh_user("spaces")
    team_id = create_team(grace, "Spaces")
    for name in ["Winter launch", "C++ fans"]:
        grace.table("personas").insert({"team_id": team_id, "name": name}).execute()

    found = grace.table("personas").select("name").eq("team_id", team_id).eq("name", "Winter launch").execute().data
    assert found == [{"name": "Winter launch"}]
    assert grace.table("personas").select("name").eq("name", "C++ fans").execute().data == [{"name": "C++ fans"}]
    updated = grace.table("personas").update({"initial_beliefs": "Cold"}).eq("team_id", team_id).eq("name", "Winter launch").execute().data
    assert [row["initial_beliefs"] for row in updated] == ["Cold"]
    in_list = grace.table("personas").select("name").eq("team_id", team_id).in_("name", ["Winter launch", "C++ fans"]).execute().data
    assert sorted(row["name"] for row in in_list) == ["C++ fans", "Winter launch"]


def test_rpc_answers_in_the_shape_of_the_declared_return_type():
    (owner, _), (invitee, _) = fresh_user("shapes"), fresh_user("shaped")
    team = owner.rpc("create_team", {"name": "Shapes team"}).execute().data
    assert isinstance(team, dict) and team["name"] == "Shapes team"  # returns public.teams: one row

    email = invitee.auth.get_user().user.email
    invitation = owner.rpc("create_team_invitation", {"team_id": team["id"], "email": email}).execute().data
    assert isinstance(invitation, list) and len(invitation) == 1  # returns table: a set
    assert invitee.rpc("my_team_invitations", {}).execute().data[0]["team_name"] == "Shapes team"

    joined = invitee.rpc("accept_team_invitation", {"token": invitation[0]["token"]}).execute().data
    assert joined == team["id"]  # returns uuid: the bare value
    assert new_client(SERVICE_ROLE_KEY).rpc("health_check").execute().data is True  # returns boolean


def test_rpc_asked_for_one_object_answers_one_object():
    """`Accept: application/vnd.pgrst.object+json` (`.single()`): PostgREST answers the row itself."""
    (owner, _), (invitee, _) = fresh_user("single"), fresh_user("singled")
    team_id = create_team(owner, "Single")
    email = invitee.auth.get_user().user.email
    invitation = owner.rpc("create_team_invitation", {"team_id": team_id, "email": email}).single().execute().data
    assert set(invitation) == {"invitation_id", "token"}
    team = owner.rpc("create_team", {"name": "Single again"}).single().execute().data
    assert team["name"] == "Single again"
