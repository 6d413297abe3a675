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


async def joined(channel) -> list[tuple[RealtimeSubscribeStates, Exception | None]]:
    """Subscribes; raises with the server's refusal. The channel's states from then on."""
    outcome: list[tuple[RealtimeSubscribeStates, Exception | None]] = []
    await channel.subscribe(lambda state, error: outcome.append((state, error)))
    state, error = outcome[0]
    if state != RealtimeSubscribeStates.SUBSCRIBED:
        raise error or RuntimeError(state)
    return outcome


PROJECT_SECRET = json.loads(open(os.environ["E2E_KEYS_FILE"]).read())["jwt_secret"]


def hs256(claims: dict, secret: str = PROJECT_SECRET) -> str:
    """A token signed with the project's legacy secret (or another), as Auth signs them."""
    secret = secret.encode()
    part = lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    unsigned = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def psql(sql: str) -> None:
    subprocess.run(["psql", DATABASE_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)


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

        psql(f"select realtime.send('{{\"by\": \"trigger\"}}', 'message_pinned', 'chat:{general}', true)")
        await wait_until(lambda: len(received) == 1, "the broadcast from SQL")
        assert received[0]["event"] == "message_pinned"
        assert received[0]["payload"]["by"] == "trigger"
        assert received[0]["meta"]["id"] == received[0]["payload"]["id"]
        await member.close()

    asyncio.run(scenario())


def access_token(user_id: str, seconds: int, secret: str = PROJECT_SECRET) -> str:
    now = int(time.time())
    return hs256({"sub": user_id, "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + seconds}, secret)


def subscribed_to_postgres(notices: list) -> int:
    return sum(1 for n in notices if n.extension == "postgres_changes" and n.message == "Subscribed to PostgreSQL")


async def refreshed(client: AsyncRealtimeClient, token: str, notices: list) -> None:
    """Sends the new token and waits for the server to subscribe the changes again with it."""
    before = subscribed_to_postgres(notices)
    await client.set_auth(token)
    await wait_until(lambda: subscribed_to_postgres(notices) > before, "the changes subscribed with the new token")


def test_a_refreshed_token_keeps_the_channel_receiving_past_the_old_tokens_expiry():
    async def scenario():
        owner_email, _ = fresh_user("py-rt-refresh-owner")
        _, member_id = fresh_user("py-rt-refresh-member")
        _, _, general = team_with_channels(owner_email, member_id)
        expires_in = 3
        member = await realtime_client(token=access_token(member_id, expires_in))
        expiry = time.monotonic() + expires_in
        bodies: list[str] = []
        notices: list = []
        channel = (
            member.channel(f"db-{uuid.uuid4()}")
            .on_postgres_changes("INSERT", lambda change: bodies.append(change["data"]["record"]["body"]), table="chat_messages")
            .on_system(notices.append)
        )
        states = await joined(channel)
        await refreshed(member, access_token(member_id, 3600), notices)
        await asyncio.sleep(expiry + 1.5 - time.monotonic())
        post(owner_email, general, "still here")
        await wait_until(lambda: bodies == ["still here"], "the message after the first token expired")
        assert [state for state, _ in states] == [RealtimeSubscribeStates.SUBSCRIBED], states
        await member.close()

    asyncio.run(scenario())


def test_a_refresh_to_a_foreign_signed_token_ends_the_channel_as_hosted():
    async def scenario():
        _, user_id = fresh_user("py-rt-foreign")
        client = await realtime_client(token=access_token(user_id, 3600))
        channel = client.channel(f"db-{uuid.uuid4()}").on_postgres_changes(
            "*", lambda change: None, table="chat_messages"
        )
        states = await joined(channel)
        await client.set_auth(access_token(user_id, 3600, "another project's secret of at least 32 characters"))
        await wait_until(lambda: states[-1][0] == RealtimeSubscribeStates.CLOSED, "the server to close the channel")
        (error,) = [error for state, error in states if state == RealtimeSubscribeStates.CHANNEL_ERROR]
        notice = json.loads(str(error))
        assert (notice["extension"], notice["status"], notice["message"]) == ("system", "error", ":signature_error")
        await client.close()

    asyncio.run(scenario())


def test_a_refresh_to_another_users_token_changes_what_rls_lets_through():
    async def scenario():
        owner_email, owner_id = fresh_user("py-rt-switch-owner")
        _, member_id = fresh_user("py-rt-switch-member")
        _, notes, general = team_with_channels(owner_email, member_id)
        socket = await realtime_client(token=access_token(owner_id, 3600))
        bodies: list[str] = []
        notices: list = []
        channel = (
            socket.channel(f"db-{uuid.uuid4()}")
            .on_postgres_changes("INSERT", lambda change: bodies.append(change["data"]["record"]["body"]), table="chat_messages")
            .on_system(notices.append)
        )
        await joined(channel)
        post(owner_email, notes, "for the owner")
        await wait_until(lambda: len(bodies) == 1, "the owner's message")
        await refreshed(socket, access_token(member_id, 3600), notices)
        post(owner_email, notes, "not for the member")
        post(owner_email, general, "for both")
        await wait_until(lambda: len(bodies) == 2, "the member's message")
        assert bodies == ["for the owner", "for both"], "the owner's channel no longer reaches this socket"
        await socket.close()

    asyncio.run(scenario())


def test_a_new_token_that_takes_away_a_read_the_old_one_had_ends_the_private_channel():
    async def scenario():
        _, owner_id = fresh_user("py-rt-revoke-owner")
        _, other_id = fresh_user("py-rt-revoke-other")
        topic = f"revoke-test:{uuid.uuid4()}"
        # Presence on this topic for everyone signed in, broadcast for its owner only.
        psql(
            f"""create policy "{topic}" on realtime.messages for select to authenticated
                using ((select realtime.topic()) = '{topic}'
                       and (extension = 'presence' or (select auth.uid()) = '{owner_id}'))"""
        )
        try:
            client = await realtime_client(token=access_token(owner_id, 3600))
            states = await joined(client.channel(topic, {"config": {"private": True}}))
            await client.set_auth(access_token(other_id, 3600))
            await wait_until(lambda: states[-1][0] == RealtimeSubscribeStates.CLOSED, "the server to close the channel")
            (error,) = [error for state, error in states if state == RealtimeSubscribeStates.CHANNEL_ERROR]
            assert json.loads(str(error))["message"] == f"You no longer have permission to read from this Channel topic: {topic}"
            await client.close()
        finally:
            psql(f'drop policy "{topic}" on realtime.messages')

    asyncio.run(scenario())
