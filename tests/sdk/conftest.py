"""Contract tests of the local Supabase stand-in with the official `supabase` client.

Run by `cargo xtask test`, which starts the stack and passes its URLs and keys in E2E_* variables.
"""

import os
import uuid
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from supabase import Client, ClientOptions, create_client

SUPABASE_URL = os.environ.get("E2E_SUPABASE_URL", "")
ANON_KEY = os.environ.get("E2E_ANON_KEY", "")
SERVICE_ROLE_KEY = os.environ.get("E2E_SERVICE_ROLE_KEY", "")
# The current keys (not JWTs) of the same two roles.
PUBLISHABLE_KEY = os.environ.get("E2E_PUBLISHABLE_KEY", "")
SECRET_KEY = os.environ.get("E2E_SECRET_KEY", "")
WORKER_URL = os.environ.get("E2E_WORKER_URL", "")
SEED_PASSWORD = "password123"

if not SUPABASE_URL:
    pytest.exit("E2E_SUPABASE_URL is not set: run these tests with `cargo xtask test`", returncode=2)


def new_client(key: str = ANON_KEY) -> Client:
    # No session persistence between clients: each test user gets its own client.
    return create_client(SUPABASE_URL, key, options=ClientOptions(auto_refresh_token=False, persist_session=False))


def signed_in(email: str, password: str = SEED_PASSWORD) -> Client:
    client = new_client()
    client.auth.sign_in_with_password({"email": email, "password": password})
    return client


def create_team(client: Client, name: str) -> str:
    # `create_team` returns one row (`returns public.teams`): PostgREST answers it as an object.
    return client.rpc("create_team", {"name": f"{name} {uuid.uuid4().hex[:6]}"}).execute().data["id"]


@pytest.fixture
def anon() -> Client:
    return new_client()


@pytest.fixture
def admin() -> Client:
    return new_client(SERVICE_ROLE_KEY)


def unique_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def mailbox(address: str) -> list[dict]:
    response = httpx.get(f"{SUPABASE_URL}/mailbox/v1/messages", params={"to": address})
    response.raise_for_status()
    return response.json()


def last_link(address: str) -> str:
    messages = mailbox(address)
    assert messages, f"no mail for {address}"
    return messages[-1]["link"]


def landing(link: str) -> tuple[dict[str, str], dict[str, str]]:
    """Opens an emailed link like a browser: the query and the fragment Auth redirects it with
    (a PKCE flow's `code` in the query, an implicit flow's session in the fragment)."""
    response = httpx.get(link, follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    location = urlparse(response.headers["location"])
    values = lambda part: {key: value[0] for key, value in parse_qs(part, keep_blank_values=True).items()}
    return values(location.query), values(location.fragment)


def link_token(link: str) -> str:
    return parse_qs(urlparse(link).query)["token"][0]
