"""Realtime with supabase-py's async client (serializer 1.0.0) against the local stand-in.

Absence is proven without waiting: a change the user may see, committed after the one they may
not, arrives; changes reach a socket in commit order, so the earlier one would have come first.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable

from realtime import AsyncRealtimeClient, RealtimeSubscribeStates

from conftest import ANON_KEY, SERVICE_ROLE_KEY, SUPABASE_URL, create_team, new_client, unique_email

DATABASE_URL = os.environ.get("E2E_DATABASE_URL", "")
PASSWORD = "fresh-password"


async def wait_until(predicate: Callable[[], bool], what: str, deadline_s: float = 10) -> None:
    deadline = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def fresh_user(tag: str) -> tuple[str, str]:
    """A confirmed user: (email, id)."""
    email = unique_email(tag)
    created = new_client(SERVICE_ROLE_KEY).auth.admin.create_user(
        {"email": email, "password": PASSWORD, "email_confirm": True}
    )
    return email, created.user.id


async def realtime_client(email: str | None = None, token: str | None = None) -> AsyncRealtimeClient:
    """supabase-py's realtime client, its socket carrying the user's (or the given) access token."""
    if email:
        client = new_client()
        token = client.auth.sign_in_with_password({"email": email, "password": PASSWORD}).session.access_token
    socket = AsyncRealtimeClient(f"{SUPABASE_URL}/realtime/v1", ANON_KEY, auto_reconnect=False)
    await socket.set_auth(token)
    return socket


async def joined(channel) -> None:
    """Subscribes; raises with the server's refusal."""
    outcome: list[tuple[RealtimeSubscribeStates, Exception | None]] = []
    await channel.subscribe(lambda state, error: outcome.append((state, error)))
    state, error = outcome[0]
    if state != RealtimeSubscribeStates.SUBSCRIBED:
        raise error or RuntimeError(state)


def hs256(claims: dict) -> str:
    secret = json.loads(open(os.environ["E2E_KEYS_FILE"]).read())["jwt_secret"].encode()
    part = lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    unsigned = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def team_with_channels(owner_email: str, member_id: str) -> tuple[str, str, str]:
    """A team of the owner with the member added: (team, a channel of the owner alone, a shared one)."""
    owner = new_client()
    owner.auth.sign_in_with_password({"email": owner_email, "password": PASSWORD})
    team = create_team(owner, "Realtime")
    new_client(SERVICE_ROLE_KEY).table("team_members").insert(
        {"team_id": team, "user_id": member_id, "role": "member"}
    ).execute()
    alone = owner.rpc("create_chat_channel", {"team_id": team, "name": "notes"}).execute().data
    shared = owner.rpc("create_chat_channel", {"team_id": team, "name": "general", "member_ids": [member_id]}).execute().data
    return team, alone, shared


def post(email: str, channel_id: str, body: str) -> int:
    client = new_client()
    client.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    return client.table("chat_messages").insert({"channel_id": channel_id, "body": body}).execute().data[0]["id"]


def test_a_chat_message_reaches_members_only():
    async def scenario():
        owner_email, _ = fresh_user("py-rt-owner")
        member_email, member_id = fresh_user("py-rt-member")
        _, notes, general = team_with_channels(owner_email, member_id)
        owner, member = await realtime_client(owner_email), await realtime_client(member_email)
        seen: dict[str, list[dict]] = {"owner": [], "member": []}
        for name, client in (("owner", owner), ("member", member)):
            channel = client.channel(f"db-{uuid.uuid4()}").on_postgres_changes(
                "INSERT", lambda change, name=name: seen[name].append(change["data"]), table="chat_messages"
            )
            await joined(channel)

        private = post(owner_email, notes, "only me")
        shared = post(owner_email, general, "hello")
        await wait_until(lambda: len(seen["owner"]) == 2, "the owner's two messages")
        await wait_until(lambda: len(seen["member"]) == 1, "the member's message")
        assert [c["record"]["id"] for c in seen["owner"]] == [private, shared]
        assert [c["record"]["id"] for c in seen["member"]] == [shared], "not a channel they are not in"
        change = seen["member"][0]
        assert (change["schema"], change["table"], change["type"]) == ("public", "chat_messages", "INSERT")
        assert {"name": "body", "type": "text"} in change["columns"]
        await owner.close()
        await member.close()

    asyncio.run(scenario())


def test_an_expired_token_is_refused():
    async def scenario():
        _, user_id = fresh_user("py-rt-expired")
        now = int(time.time())
        token = hs256({"sub": user_id, "role": "authenticated", "iat": now - 120, "exp": now - 60})
        client = await realtime_client(token=token)
        try:
            await joined(client.channel(f"db-{uuid.uuid4()}"))
            raise AssertionError("the join was accepted")
        except Exception as refusal:
            reason = json.loads(str(refusal))["reason"]
            assert reason.startswith("InvalidJWTToken: Token has expired "), reason
        await client.close()

    asyncio.run(scenario())


def test_a_broadcast_sent_from_sql_reaches_the_private_channel_members():
    async def scenario():
        owner_email, _ = fresh_user("py-rt-send-owner")
        member_email, member_id = fresh_user("py-rt-send-member")
        _, notes, general = team_with_channels(owner_email, member_id)
        member = await realtime_client(member_email)
        received: list[dict] = []
        channel = member.channel(f"chat:{general}", {"config": {"private": True}}).on_broadcast(
            "message_pinned", received.append
        )
        await joined(channel)
        try:
            await joined(member.channel(f"chat:{notes}", {"config": {"private": True}}))
            raise AssertionError("a non-member joined the channel")
        except Exception as refusal:
            assert json.loads(str(refusal))["reason"].startswith("Unauthorized: "), refusal

        subprocess.run(
            ["psql", DATABASE_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c",
             f"select realtime.send('{{\"by\": \"trigger\"}}', 'message_pinned', 'chat:{general}', true)"],
            check=True,
        )
        await wait_until(lambda: len(received) == 1, "the broadcast from SQL")
        assert received[0]["event"] == "message_pinned"
        assert received[0]["payload"]["by"] == "trigger"
        assert received[0]["meta"]["id"] == received[0]["payload"]["id"]
        await member.close()

    asyncio.run(scenario())
