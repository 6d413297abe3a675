"""Team invitations end to end: the worker creates the invitation through the RPC as the inviter,
Supabase Auth emails people without an account, and the invitee accepts with the official client."""

import httpx

from conftest import WORKER_URL, create_team, landing, last_link, new_client, signed_in, unique_email


def invite(inviter, team_id: str, body: dict) -> httpx.Response:
    token = inviter.auth.get_session().access_token
    return httpx.post(f"{WORKER_URL}/v1/teams/{team_id}/invitations", json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_new_person_is_emailed_signs_in_from_the_link_and_joins():
    alice = signed_in("alice@example.com")
    team_id = create_team(alice, "Invites")
    email = unique_email("invitee")
    response = invite(alice, team_id, {"email": email, "role": "admin"})
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"invitationId"}, "nothing tells whether the address has an account"

    _, session = landing(last_link(email))  # an invitation is an implicit flow: the session is in the fragment
    invitee = new_client()
    invitee.auth.set_session(session["access_token"], session["refresh_token"])
    metadata = invitee.auth.get_user().user.user_metadata
    assert metadata["team_id"] == team_id
    invitee.rpc("accept_team_invitation", {"token": metadata["team_invitation_token"]}).execute()

    members = invitee.table("team_members").select("role").eq("team_id", team_id).execute().data
    assert sorted(m["role"] for m in members) == ["admin", "owner"]


def test_an_existing_account_is_answered_alike_and_finds_the_invitation_in_the_app():
    alice = signed_in("alice@example.com")
    team_id = create_team(alice, "Existing")
    response = invite(alice, team_id, {"email": "Bob@Example.com"})
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"invitationId"}, "the same answer as for a new address"
    bob = signed_in("bob@example.com")
    pending = bob.rpc("my_team_invitations", {}).execute().data
    mine = [row for row in pending if row["team_id"] == team_id]
    team_name = alice.table("teams").select("name").eq("id", team_id).single().execute().data["name"]
    assert [row["team_name"] for row in mine] == [team_name], pending
    bob.rpc("respond_to_team_invitation", {"invitation_id": mine[0]["invitation_id"], "accept": True}).execute()
    assert bob.table("teams").select("id").eq("id", team_id).execute().data == [{"id": team_id}]


def test_only_owners_and_admins_invite_and_bodies_are_checked():
    alice = signed_in("alice@example.com")
    team_id = create_team(alice, "Guarded")
    bob = signed_in("bob@example.com")
    refused = invite(bob, team_id, {"email": unique_email("nope")})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"

    for body, field in [({"email": "not-an-address"}, "email"), ({"email": unique_email("x"), "role": "owner"}, "role")]:
        bad = invite(alice, team_id, body)
        assert bad.status_code == 400 and bad.json()["error"]["field"] == field, bad.text
