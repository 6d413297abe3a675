"""The data model as an app meets it through the official client (issue #26): member lists with
profiles in one query, destinations and attachments that fill what can be derived, a clear
refusal to edit a submitted post, and per-user avatars."""

import uuid

import httpx
import pytest
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError

from conftest import SERVICE_ROLE_KEY, create_team, new_client, signed_in, unique_email

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def fresh_user(tag: str):
    email = unique_email(tag)
    new_client(SERVICE_ROLE_KEY).auth.admin.create_user({"email": email, "password": "fresh-password", "email_confirm": True})
    client = signed_in(email, "fresh-password")
    return client, client.auth.get_user().user.id


def connection_of(team_id: str) -> str:
    """A social account of the team, as the worker stores one after OAuth."""
    row = {"id": str(uuid.uuid4()), "team_id": team_id, "platform": "x", "external_account_id": uuid.uuid4().hex,
           "encrypted_access_token": "sealed", "token_key_version": "v1"}
    return new_client(SERVICE_ROLE_KEY).table("social_connections").insert(row).execute().data[0]["id"]


def test_team_members_embed_their_profiles():
    owner, owner_id = fresh_user("embed")
    team_id = create_team(owner, "Embed")
    name = owner.table("profiles").select("display_name").eq("id", owner_id).execute().data[0]["display_name"]
    members = owner.table("team_members").select("role, profiles(id, display_name)").eq("team_id", team_id).execute().data
    assert members == [{"role": "owner", "profiles": {"id": owner_id, "display_name": name}}]


def test_a_destination_takes_its_posts_team_and_a_submitted_post_refuses_edits():
    author, author_id = fresh_user("submitted")
    team_id = create_team(author, "Submitted")
    post = author.table("scheduled_posts").insert({"team_id": team_id, "body": "Launch"}).execute().data[0]
    destination = author.table("post_destinations").insert({"post_id": post["id"], "connection_id": connection_of(team_id)}).execute().data[0]
    assert destination["team_id"] == team_id

    worker = new_client(SERVICE_ROLE_KEY)
    checked = worker.rpc("post_for_submission", {"user_id": author_id, "post_id": post["id"]}).execute().data
    submitted = worker.rpc("submit_post", {"user_id": author_id, "post_id": post["id"], "scheduled_at": "2099-01-01T00:00:00Z",
                                           "timezone": "UTC", "fingerprint": checked["fingerprint"]}).execute().data
    assert submitted["status"] == "scheduled"

    with pytest.raises(APIError) as refused:
        author.table("scheduled_posts").update({"body": "Too late"}).eq("id", post["id"]).execute()
    assert refused.value.code == "post_not_editable"
    assert "cancel" in refused.value.hint
    with pytest.raises(APIError) as refused_delete:
        author.table("scheduled_posts").delete().eq("id", post["id"]).execute()
    assert refused_delete.value.code == "post_not_editable"
    assert author.table("scheduled_posts").select("body").eq("id", post["id"]).execute().data == [{"body": "Launch"}]


def test_a_chat_attachment_takes_its_type_and_size_from_storage():
    owner, _ = fresh_user("attach")
    team_id = create_team(owner, "Attach")
    channel = owner.rpc("create_chat_channel", {"team_id": team_id, "name": "general"}).execute().data
    path = f"{channel}/photo.png"
    owner.storage.from_("chat").upload(path, PNG, {"content-type": "image/png"})
    message = owner.table("chat_messages").insert({"channel_id": channel, "attachment_path": path}).execute().data[0]
    assert (message["attachment_mime_type"], message["attachment_size"]) == ("image/png", len(PNG))

    with pytest.raises(APIError) as missing:
        owner.table("chat_messages").insert({"channel_id": channel, "attachment_path": f"{channel}/nothing.png"}).execute()
    assert missing.value.message.startswith("attachment_path: no uploaded file")


def test_avatars_are_written_by_their_owner_and_read_by_anyone():
    alice, alice_id = fresh_user("avatar")
    bob, bob_id = fresh_user("avatar-other")
    avatars = alice.storage.from_("avatars")
    avatars.upload(f"{alice_id}/me.png", PNG, {"content-type": "image/png"})
    avatars.upload(f"{alice_id}/me.png", PNG + b"v2", {"content-type": "image/png", "upsert": "true"})
    url = avatars.get_public_url(f"{alice_id}/me.png")
    served = httpx.get(url)
    assert served.status_code == 200 and served.content == PNG + b"v2"

    alice.table("profiles").update({"avatar_url": url}).eq("id", alice_id).execute()
    assert alice.table("profiles").select("avatar_url").eq("id", alice_id).execute().data == [{"avatar_url": url}]

    with pytest.raises(StorageApiError) as planted:
        bob.storage.from_("avatars").upload(f"{alice_id}/me.png", PNG, {"content-type": "image/png", "upsert": "true"})
    assert planted.value.status == "403"
    assert bob.storage.from_("avatars").remove([f"{alice_id}/me.png"]) == []
    with pytest.raises(StorageApiError) as not_an_image:
        bob.storage.from_("avatars").upload(f"{bob_id}/me.svg", b"<svg/>", {"content-type": "image/svg+xml"})
    assert not_an_image.value.status == "415"
    assert httpx.get(url).content == PNG + b"v2"
