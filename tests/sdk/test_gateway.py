"""The API gateway as hosted Supabase answers: PostgREST's OpenAPI description and CORS."""

import httpx
import pytest
from postgrest.exceptions import APIError

from conftest import (
    ANON_KEY,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    SERVICE_ROLE_KEY,
    SUPABASE_URL,
    new_client,
    unique_email,
)


def test_rest_root_describes_the_schema_as_postgrest_does():
    response = httpx.get(f"{SUPABASE_URL}/rest/v1/", headers={"apikey": SERVICE_ROLE_KEY})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openapi+json")
    spec = response.json()
    assert spec["swagger"] == "2.0" and spec["basePath"] == "/rest/v1"

    teams = spec["definitions"]["teams"]
    assert teams["properties"]["id"]["format"] == "uuid" and teams["properties"]["id"]["type"] == "string"
    assert "<pk/>" in teams["properties"]["id"]["description"]
    assert "name" in teams["required"] and "id" not in teams["required"]  # id has a default
    personas = spec["definitions"]["personas"]["properties"]
    assert "<fk table='teams' column='id'/>" in personas["team_id"]["description"]
    assert personas["vulnerabilities"] == {**personas["vulnerabilities"], "type": "array", "format": "text[]"}
    assert "type" not in personas["demographics"]  # json has no Swagger type
    assert personas["rst_bas"]["enum"][0] and personas["rst_bas"]["type"] == "string"

    read = spec["paths"]["/teams"]["get"]
    assert read["responses"]["200"]["schema"]["items"] == {"$ref": "#/definitions/teams"}
    assert {"$ref": "#/parameters/rowFilter.teams.id"} in read["parameters"]
    assert spec["parameters"]["rowFilter.teams.id"]["in"] == "query"
    assert {"post", "patch", "delete"} <= set(spec["paths"]["/teams"])

    create_team = spec["paths"]["/rpc/create_team"]["post"]["parameters"][0]
    assert create_team["in"] == "body" and create_team["schema"]["required"] == ["name"]
    assert create_team["schema"]["properties"]["name"] == {"format": "text", "type": "string"}
    assert "get" not in spec["paths"]["/rpc/create_team"]  # volatile: POST only


def test_the_schema_description_is_for_secret_keys_only():
    response = httpx.get(f"{SUPABASE_URL}/rest/v1/", headers={"apikey": ANON_KEY})
    assert response.status_code == 403
    assert response.json()["message"] == "Access to schema is forbidden"


@pytest.mark.parametrize("path", ["/rest/v1/teams", "/auth/v1/user", "/storage/v1/object/avatars/a.png"])
def test_a_browser_preflight_needs_no_api_key(path):
    response = httpx.options(
        f"{SUPABASE_URL}{path}",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, apikey, content-type, x-client-info",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] in ("*", "http://localhost:5173")
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "apikey" in response.headers["access-control-allow-headers"].lower()


def test_answers_carry_the_cors_headers_a_browser_reads():
    headers = {"apikey": ANON_KEY, "Origin": "http://localhost:5173"}
    for response in [
        httpx.get(f"{SUPABASE_URL}/rest/v1/teams", headers=headers),
        httpx.get(f"{SUPABASE_URL}/auth/v1/settings", headers=headers),
        httpx.get(f"{SUPABASE_URL}/rest/v1/teams", headers={"Origin": "http://localhost:5173"}),  # 401
    ]:
        assert response.headers["access-control-allow-origin"] in ("*", "http://localhost:5173")
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "content-range" in exposed  # supabase-js reads counts from it


def test_the_current_keys_act_as_their_roles_through_the_sdk():
    # supabase-py sends the key as `apikey` and, with no one signed in, as the bearer too.
    admin = new_client(SECRET_KEY)
    email = unique_email("sb-keys")
    created = admin.auth.admin.create_user({"email": email, "password": "password123", "email_confirm": True})
    assert created.user.email == email
    assert admin.table("profiles").select("id").eq("id", created.user.id).execute().data != []

    app = new_client(PUBLISHABLE_KEY)
    with pytest.raises(APIError) as refused:  # anon: no grant on profiles at all
        app.table("profiles").select("id").execute()
    assert refused.value.code == "42501"
    app.auth.sign_in_with_password({"email": email, "password": "password123"})
    assert [row["id"] for row in app.table("profiles").select("id").execute().data] == [created.user.id]


def test_a_secret_key_is_refused_where_hosted_refuses_it():
    def teams(headers):
        return httpx.get(f"{SUPABASE_URL}/rest/v1/teams?select=id", headers=headers)

    from_a_browser = teams({"apikey": SECRET_KEY, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert (from_a_browser.status_code, from_a_browser.json()["message"]) == (
        401,
        "Forbidden use of secret API key in browser",
    )
    only_as_bearer = teams({"Authorization": f"Bearer {SECRET_KEY}"})
    assert (only_as_bearer.status_code, only_as_bearer.json()["message"]) == (401, "No API key found in request")
    another_key_as_bearer = teams({"apikey": PUBLISHABLE_KEY, "Authorization": f"Bearer {SECRET_KEY}"})
    assert (another_key_as_bearer.status_code, another_key_as_bearer.json()["message"]) == (401, "Invalid API key")
    assert teams({"apikey": SECRET_KEY}).status_code == 200
