"""PostgREST through the gateway with the official client: RLS decides per signed-in user."""

import pytest
from postgrest.exceptions import APIError

from conftest import SEED_PASSWORD, new_client


def signed_in(email: str):
    client = new_client()
    client.auth.sign_in_with_password({"email": email, "password": SEED_PASSWORD})
    return client


def test_each_user_reads_only_their_own_profile():
    for email in ("alice@example.com", "bob@example.com"):
        rows = signed_in(email).table("profiles").select("id, display_name").execute().data
        assert len(rows) == 1


def test_a_user_updates_their_profile_but_not_another():
    alice, bob = signed_in("alice@example.com"), signed_in("bob@example.com")
    bob_id = bob.auth.get_user().user.id
    alice.table("profiles").update({"timezone": "Europe/Paris"}).eq("id", alice.auth.get_user().user.id).execute()
    assert alice.table("profiles").select("timezone").execute().data == [{"timezone": "Europe/Paris"}]
    touched = alice.table("profiles").update({"display_name": "Mallory"}).eq("id", bob_id).execute().data
    assert touched == []
    assert bob.table("profiles").select("display_name").execute().data == [{"display_name": "Bob"}]


def test_anon_sees_nothing_and_rpcs_are_not_public():
    with pytest.raises(APIError):
        new_client().table("profiles").select("*").execute()
    with pytest.raises(APIError):
        signed_in("alice@example.com").rpc("health_check").execute()
