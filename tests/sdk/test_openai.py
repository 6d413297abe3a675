"""The worker's OpenAI-compatible surface driven by the official `openai` package: base URL =
the worker's `/v1`, API key = a Supabase access token. Answers come from the local provider fakes."""

import httpx
import openai
import pytest

from conftest import SEED_PASSWORD, WORKER_URL, signed_in, unique_email

# The fakes echo the last user message and the last four characters of the key they received:
# the platform's OpenAI key locally is `platform-openai-key`.
PLATFORM_KEY_TAIL = "-key"


@pytest.fixture
def client(admin) -> openai.OpenAI:
    # A fresh user per test, so tests do not share the per-minute rate window or credits.
    email = unique_email("openai-sdk")
    admin.auth.admin.create_user({"email": email, "password": SEED_PASSWORD, "email_confirm": True})
    token = signed_in(email).auth.get_session().access_token
    return openai.OpenAI(base_url=f"{WORKER_URL}/v1", api_key=token, max_retries=0)


def test_lists_models(client):
    models = {model.id: model.owned_by for model in client.models.list()}
    assert models.get("gpt-4o-mini") == "openai"
    assert models.get("gpt-image-1") == "openai", "the platform's image models are listed too"
    configured = httpx.put(
        f"{WORKER_URL}/v1/ai/configs",
        json={"provider": "xai", "models": {"chat": "grok-4-fast", "image": "grok-2-image"}},
        headers={"Authorization": f"Bearer {client.api_key}"},
    )
    assert configured.status_code == 200, configured.text
    models = {model.id: model.owned_by for model in client.models.list()}
    assert (models.get("grok-4-fast"), models.get("grok-2-image")) == ("xai", "xai"), "the caller's own models are listed"


def test_chat_completion(client):
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello sdk"}],
    )
    assert completion.choices[0].message.content == f"echo: hello sdk (key …{PLATFORM_KEY_TAIL})"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 7


def test_streamed_chat_completion_with_usage(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "stream to the sdk"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == f"echo: stream to the sdk (key …{PLATFORM_KEY_TAIL})"
    assert len([chunk for chunk in chunks if chunk.choices]) > 2, "the answer arrived in pieces"
    assert chunks[-1].usage.completion_tokens == 7


def test_errors_are_the_sdks_exceptions(client):
    with pytest.raises(openai.BadRequestError) as invalid:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert (invalid.value.status_code, invalid.value.code, invalid.value.param, invalid.value.type) == (
        400, "invalid_request", "messages", "invalid_request_error")
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="o1-pro", messages=[{"role": "user", "content": "premium"}])
    assert (unknown.value.status_code, unknown.value.code, unknown.value.param) == (404, "model_not_found", "model")
    assert "o1-pro" in unknown.value.message
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[fault:429]"}])
    assert (limited.value.code, limited.value.type) == ("provider_rate_limited", "requests")
    with pytest.raises(openai.InternalServerError) as refused:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "[fault:401]"}])
    assert (refused.value.status_code, refused.value.code, refused.value.type) == (
        502, "provider_auth_failed", "server_error")
    anonymous = openai.OpenAI(base_url=f"{WORKER_URL}/v1", api_key="not-a-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as unauthenticated:
        anonymous.models.list()
    assert (unauthenticated.value.code, unauthenticated.value.type) == ("malformed_token", "invalid_request_error")


def test_a_streamed_call_refused_before_its_first_byte_is_the_sdks_exception(client):
    with pytest.raises(openai.InternalServerError) as refused:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "[fault:401] stream"}], stream=True)
    assert (refused.value.code, refused.value.param) == ("provider_auth_failed", None)
