"""Storage through the official client: the `library` bucket's policies keep each team's objects
to its members, bucket limits are enforced, and signed URLs expire."""

import time

import httpx
import pytest
from storage3.exceptions import StorageApiError

from conftest import create_team, signed_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def alice_team():
    alice = signed_in("alice@example.com")
    return alice, create_team(alice, "Storage")


def test_members_upload_read_and_list_their_team_folder(alice_team):
    alice, team_id = alice_team
    path = f"{team_id}/logo.png"
    alice.storage.from_("library").upload(path, PNG, {"content-type": "image/png"})
    assert alice.storage.from_("library").download(path) == PNG
    names = [entry["name"] for entry in alice.storage.from_("library").list(team_id)]
    assert names == ["logo.png"]

    with pytest.raises(StorageApiError) as duplicate:
        alice.storage.from_("library").upload(path, PNG, {"content-type": "image/png"})
    assert duplicate.value.status == "409"
    alice.storage.from_("library").upload(path, PNG + b"v2", {"content-type": "image/png", "upsert": "true"})
    assert alice.storage.from_("library").download(path) == PNG + b"v2"


def test_another_team_can_neither_read_nor_write_the_folder(alice_team):
    alice, team_id = alice_team
    path = f"{team_id}/secret.png"
    alice.storage.from_("library").upload(path, PNG, {"content-type": "image/png"})
    bob = signed_in("bob@example.com")
    with pytest.raises(StorageApiError) as unseen:
        bob.storage.from_("library").download(path)
    assert unseen.value.status == "404"
    assert bob.storage.from_("library").list(team_id) == []
    with pytest.raises(StorageApiError) as refused:
        bob.storage.from_("library").upload(f"{team_id}/planted.png", PNG, {"content-type": "image/png"})
    assert refused.value.status == "403"
    with pytest.raises(StorageApiError):
        bob.storage.from_("library").create_signed_url(path, 60)
    assert bob.storage.from_("library").remove([path]) == []
    assert alice.storage.from_("library").download(path) == PNG


def test_bucket_limits_answer_like_storage(alice_team):
    alice, team_id = alice_team
    with pytest.raises(StorageApiError) as wrong_type:
        alice.storage.from_("library").upload(f"{team_id}/notes.txt", b"hello", {"content-type": "text/plain"})
    assert wrong_type.value.status == "415"


def test_signed_urls_serve_until_they_expire(alice_team):
    alice, team_id = alice_team
    path = f"{team_id}/shared.png"
    alice.storage.from_("library").upload(path, PNG, {"content-type": "image/png"})
    # Expiry is in whole seconds from the signing second (as Storage's token): 3 s leaves at
    # least 2 s to serve it on a loaded machine.
    signing = time.time()
    url = alice.storage.from_("library").create_signed_url(path, 3)["signedURL"]
    served = httpx.get(url)
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    # Served until it expires, then refused: poll with a deadline rather than sleep past expiry.
    deadline = signing + 15
    while True:
        answer = httpx.get(url)
        if answer.status_code != 200:
            break
        assert answer.content == PNG
        assert time.time() < deadline, "the signed URL was still served 15 s after signing"
        time.sleep(0.1)
    refused_after = time.time() - signing
    assert answer.status_code == 400 and answer.json()["error"] == "InvalidJWT", answer.text
    # Its expiry is at least 3 s after the signing second: never refused within 2 s.
    assert refused_after > 2, f"refused {refused_after:.2f} s after signing"
    tampered = httpx.get(url.replace("shared.png", "other.png"))
    assert tampered.status_code == 400


def test_removing_an_object_makes_it_unreadable(alice_team):
    alice, team_id = alice_team
    path = f"{team_id}/gone.png"
    alice.storage.from_("library").upload(path, PNG, {"content-type": "image/png"})
    removed = alice.storage.from_("library").remove([path])
    assert [entry["name"] for entry in removed] == [path]
    with pytest.raises(StorageApiError):
        alice.storage.from_("library").download(path)
