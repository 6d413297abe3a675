"""PKCE, magic link / OTP sign-in and email change through the official client, as GoTrue runs them."""

import hashlib
from base64 import urlsafe_b64encode

import httpx
import pytest
from supabase import Client, ClientOptions, create_client
from supabase_auth.errors import AuthApiError

from conftest import ANON_KEY, SERVICE_ROLE_KEY, SUPABASE_URL, landing, last_link, mailbox, new_client, unique_email

APP = "http://127.0.0.1:3000/auth/callback"


def client_with_flow(flow_type: str) -> Client:
    """supabase-py names its flow (PKCE is its default, and supabase-swift's)."""
    options = ClientOptions(flow_type=flow_type, auto_refresh_token=False, persist_session=False)
    return create_client(SUPABASE_URL, ANON_KEY, options=options)


def pkce_client() -> Client:
    return client_with_flow("pkce")


def confirmed_user(tag: str, password: str = "pkce-password") -> str:
    email = unique_email(tag)
    new_client(SERVICE_ROLE_KEY).auth.admin.create_user({"email": email, "password": password, "email_confirm": True})
    return email


def test_pkce_sign_up_confirms_with_a_code_the_client_exchanges():
    client, email = pkce_client(), unique_email("pkce-signup")
    client.auth.sign_up({"email": email, "password": "pkce-password", "options": {"email_redirect_to": APP}})
    link = last_link(email)
    assert "token=pkce_" in link

    query, fragment = landing(link)
    assert "access_token" not in fragment  # no session in the URL: only the code
    session = client.auth.exchange_code_for_session({"auth_code": query["code"]}).session
    assert session.user.email == email and session.user.email_confirmed_at is not None


def test_pkce_recovery_lands_with_a_code_and_the_new_password_works():
    email = confirmed_user("pkce-recover")
    client = pkce_client()
    client.auth.reset_password_for_email(email, {"redirect_to": APP})
    query, _ = landing(last_link(email))
    assert client.auth.exchange_code_for_session({"auth_code": query["code"]}).session.user.email == email
    client.auth.update_user({"password": "pkce-password-2"})
    assert new_client().auth.sign_in_with_password({"email": email, "password": "pkce-password-2"}).session


def test_pkce_magic_link_refuses_a_wrong_verifier_and_a_spent_code():
    email = confirmed_user("pkce-magic")
    client = pkce_client()
    client.auth.sign_in_with_otp({"email": email, "options": {"email_redirect_to": APP}})
    assert mailbox(email)[-1]["subject"] == "Your Magic Link"
    code = landing(last_link(email))[0]["code"]

    with pytest.raises(AuthApiError) as wrong:
        new_client().auth.exchange_code_for_session({"auth_code": code, "code_verifier": "x" * 43})
    assert (wrong.value.status, wrong.value.code) == (400, "bad_code_verifier")

    assert client.auth.exchange_code_for_session({"auth_code": code}).session.user.email == email
    with pytest.raises(AuthApiError) as spent:
        new_client().auth.exchange_code_for_session({"auth_code": code, "code_verifier": "x" * 43})
    assert (spent.value.status, spent.value.code) == (404, "flow_state_not_found")


def test_plain_challenges_and_gotrue_validation_over_the_wire():
    auth = f"{SUPABASE_URL}/auth/v1"
    headers = {"apikey": ANON_KEY}
    email, verifier = confirmed_user("pkce-plain"), "plain-verifier-" + "v" * 40
    refused = httpx.post(f"{auth}/otp", headers=headers, json={"email": email, "code_challenge": verifier})
    assert refused.status_code == 400 and refused.json()["error_code"] == "validation_failed"

    sent = httpx.post(
        f"{auth}/otp", headers=headers, json={"email": email, "code_challenge": verifier, "code_challenge_method": "plain"}
    )
    assert sent.status_code == 200 and sent.json() == {}
    code = landing(last_link(email))[0]["code"]
    exchanged = httpx.post(
        f"{auth}/token", params={"grant_type": "pkce"}, headers=headers, json={"auth_code": code, "code_verifier": verifier}
    )
    assert exchanged.status_code == 200 and exchanged.json()["user"]["email"] == email


def test_s256_matches_rfc_7636():
    # The challenge a client sends is BASE64URL(SHA256(verifier)) without padding.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    email, auth = confirmed_user("pkce-s256"), f"{SUPABASE_URL}/auth/v1"
    httpx.post(
        f"{auth}/otp", headers={"apikey": ANON_KEY}, json={"email": email, "code_challenge": challenge, "code_challenge_method": "S256"}
    ).raise_for_status()
    code = landing(last_link(email))[0]["code"]
    exchanged = httpx.post(
        f"{auth}/token", params={"grant_type": "pkce"}, headers={"apikey": ANON_KEY}, json={"auth_code": code, "code_verifier": verifier}
    )
    assert exchanged.status_code == 200


def test_email_otp_signs_in_an_existing_user_and_refuses_unknown_addresses_when_told_to():
    email = confirmed_user("otp")
    client = new_client()
    client.auth.sign_in_with_otp({"email": email})
    code = mailbox(email)[-1]["token"]
    assert len(code) == 6 and code.isdigit()
    session = client.auth.verify_otp({"email": email, "token": code, "type": "email"}).session
    assert session.user.email == email

    with pytest.raises(AuthApiError) as spent:
        new_client().auth.verify_otp({"email": email, "token": code, "type": "email"})
    assert (spent.value.status, spent.value.code) == (403, "otp_expired")

    with pytest.raises(AuthApiError) as refused:
        new_client().auth.sign_in_with_otp({"email": unique_email("nobody"), "options": {"should_create_user": False}})
    assert (refused.value.status, refused.value.code) == (422, "otp_disabled")


def test_magic_link_to_a_new_address_signs_up_and_its_implicit_link_lands_with_a_session():
    email = unique_email("otp-new")
    client_with_flow("implicit").auth.sign_in_with_otp({"email": email, "options": {"data": {"display_name": "Otto"}}})
    assert mailbox(email)[-1]["subject"] == "Confirm Your Signup"
    _, fragment = landing(last_link(email))
    assert fragment.get("type") == "signup", fragment
    user = new_client().auth.get_user(fragment["access_token"]).user
    assert user.email == email and user.email_confirmed_at is not None
    assert user.user_metadata["display_name"] == "Otto"


def test_email_change_applies_once_both_addresses_confirm():
    old = confirmed_user("change-old", "change-password")
    client = new_client()
    client.auth.sign_in_with_password({"email": old, "password": "change-password"})
    new = unique_email("change-new")
    pending = client.auth.update_user({"email": new}, {"email_redirect_to": APP}).user
    assert pending.email == old and pending.new_email == new

    to_new, to_old = mailbox(new)[-1], mailbox(old)[-1]
    assert to_new["subject"] == to_old["subject"] == "Confirm Email Change"
    _, first = landing(to_new["link"])
    assert first["message"].startswith("Confirmation link accepted")
    assert new_client().auth.sign_in_with_password({"email": old, "password": "change-password"}).session

    session = client.auth.verify_otp({"email": old, "token": to_old["token"], "type": "email_change"}).session
    assert session.user.email == new
    assert new_client().auth.sign_in_with_password({"email": new, "password": "change-password"}).session
    with pytest.raises(AuthApiError):
        new_client().auth.sign_in_with_password({"email": old, "password": "change-password"})


def test_an_address_in_use_cannot_be_taken_by_an_email_change():
    client = new_client()
    client.auth.sign_in_with_password({"email": confirmed_user("taker"), "password": "pkce-password"})
    with pytest.raises(AuthApiError) as taken:
        client.auth.update_user({"email": "alice@example.com"})
    assert (taken.value.status, taken.value.code) == (422, "email_exists")
