"""Email + password auth through the official client, against GoTrue's documented behaviour."""

import pytest
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from conftest import SEED_PASSWORD, SERVICE_ROLE_KEY, landing, last_link, link_token, mailbox, new_client, unique_email


def test_sign_up_confirm_sign_in_and_read_the_user(anon):
    email = unique_email("signup")
    signed_up = anon.auth.sign_up({"email": email, "password": "correct-horse", "options": {"data": {"display_name": "Neo"}}})
    assert signed_up.user.email == email and signed_up.session is None  # confirmations are on

    with pytest.raises(AuthApiError) as refused:
        anon.auth.sign_in_with_password({"email": email, "password": "correct-horse"})
    assert refused.value.code == "email_not_confirmed"

    # supabase-py's default flow is PKCE: the link lands with a code for the client's verifier.
    query, _ = landing(last_link(email))
    assert anon.auth.exchange_code_for_session({"auth_code": query["code"]}).session.user.email == email

    session = anon.auth.sign_in_with_password({"email": email, "password": "correct-horse"}).session
    user = anon.auth.get_user(session.access_token).user
    assert user.email == email and user.email_confirmed_at is not None
    assert user.user_metadata["display_name"] == "Neo"
    # The profiles trigger saw the same row Supabase Auth would have written.
    profile = anon.table("profiles").select("display_name").execute().data
    assert profile == [{"display_name": "Neo"}]


def test_signup_errors_match_gotrue(anon):
    with pytest.raises(AuthWeakPasswordError) as weak:
        anon.auth.sign_up({"email": unique_email("weak"), "password": "short"})
    assert weak.value.status == 422 and weak.value.reasons == ["length"]

    with pytest.raises(AuthApiError) as wrong:
        anon.auth.sign_in_with_password({"email": "alice@example.com", "password": "not-her-password"})
    assert wrong.value.code == "invalid_credentials" and wrong.value.status == 400


def test_signing_up_a_taken_address_reveals_nothing(anon):
    response = anon.auth.sign_up({"email": "alice@example.com", "password": "whatever-long"})
    assert response.user.identities == []  # GoTrue's obfuscated answer; no mail is sent
    assert not [m for m in mailbox("alice@example.com") if m["subject"] == "Confirm Your Signup"]


def test_refresh_rotates_and_reuse_ends_the_session(anon):
    first = anon.auth.sign_in_with_password({"email": "bob@example.com", "password": SEED_PASSWORD}).session
    second = anon.auth.refresh_session(first.refresh_token).session
    assert second.refresh_token != first.refresh_token and second.access_token
    third = anon.auth.refresh_session(second.refresh_token).session

    # `first` was rotated twice: presenting it again is reuse, and ends the whole session.
    with pytest.raises(AuthApiError) as reused:
        new_client().auth.refresh_session(first.refresh_token)
    assert reused.value.code == "refresh_token_already_used"
    with pytest.raises(AuthApiError):
        new_client().auth.refresh_session(third.refresh_token)


def test_update_user_and_sign_out_scopes(anon):
    email = unique_email("update")
    admin_user = new_client(SERVICE_ROLE_KEY).auth.admin.create_user(
        {"email": email, "password": "first-password", "email_confirm": True}
    )
    assert admin_user.user.email == email
    session = anon.auth.sign_in_with_password({"email": email, "password": "first-password"}).session
    updated = anon.auth.update_user({"password": "second-password", "data": {"plan": "pro"}})
    assert updated.user.user_metadata["plan"] == "pro"

    other = new_client().auth.sign_in_with_password({"email": email, "password": "second-password"}).session
    anon.auth.sign_out({"scope": "local"})
    with pytest.raises(AuthApiError) as ended:
        new_client().auth.get_user(session.access_token)
    assert ended.value.code == "session_not_found"
    assert new_client().auth.get_user(other.access_token).user.email == email  # other session lives


def test_password_recovery_by_email(anon):
    email = unique_email("recover")
    new_client(SERVICE_ROLE_KEY).auth.admin.create_user(
        {"email": email, "password": "forgotten-one", "email_confirm": True}
    )
    anon.auth.reset_password_for_email(email, {"redirect_to": "http://127.0.0.1:3000/reset"})
    link = last_link(email)
    session = anon.auth.verify_otp({"type": "recovery", "token_hash": link_token(link)}).session
    assert session.user.email == email
    anon.auth.update_user({"password": "remembered-one"})
    assert new_client().auth.sign_in_with_password({"email": email, "password": "remembered-one"}).session

    with pytest.raises(AuthApiError) as spent:
        new_client().auth.verify_otp({"type": "recovery", "token_hash": link_token(link)})
    assert spent.value.code == "otp_expired"


def test_admin_endpoints_need_the_service_role(admin):
    email = unique_email("admin")
    created = admin.auth.admin.create_user({"email": email, "password": "admin-made-1", "email_confirm": True})
    with pytest.raises(AuthApiError) as refused:
        new_client().auth.admin.delete_user(created.user.id)
    assert refused.value.status == 403
    admin.auth.admin.delete_user(created.user.id)
    with pytest.raises(AuthApiError):
        new_client().auth.sign_in_with_password({"email": email, "password": "admin-made-1"})


def test_repeated_wrong_passwords_hit_the_rate_limit(admin):
    email = unique_email("guess")
    admin.auth.admin.create_user({"email": email, "password": "the-real-one", "email_confirm": True})
    for _ in range(10):
        with pytest.raises(AuthApiError) as wrong:
            new_client().auth.sign_in_with_password({"email": email, "password": "a-guess-123"})
        assert wrong.value.code == "invalid_credentials"
    with pytest.raises(AuthApiError) as limited:
        new_client().auth.sign_in_with_password({"email": email, "password": "the-real-one"})
    assert limited.value.code == "over_request_rate_limit" and limited.value.status == 429
