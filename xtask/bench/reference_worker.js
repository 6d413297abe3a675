// The bench's reference for the runtime's own cost: `POST /v1/ai/generate-text` done in plain
// JavaScript with the worker's I/O (a reserve RPC, the provider call, a settle RPC after the
// response, a log line) and none of its checks beyond reading the token's claims (the worker's
// signature check is memoized per isolate, so a repeated token costs it no cryptography either).
// `POST /forward` only relays the prompt to the provider: the least a proxied call costs.
// `GET /healthz` tells the bench it is up.

const json = (value) => new Response(JSON.stringify(value), { headers: { "content-type": "application/json" } });

async function rpc(env, name, params) {
  const key = env.SUPABASE_SERVICE_ROLE_KEY;
  const response = await fetch(`${env.SUPABASE_URL}/rest/v1/rpc/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json", apikey: key, authorization: `Bearer ${key}` },
    body: JSON.stringify(params),
  });
  if (!response.ok) throw new Error(`${name} answered ${response.status}`);
  return response.json(); // a scalar function's bare value, as PostgREST sends it
}

async function complete(env, prompt) {
  const response = await fetch(`${env.OPENAI_BASE_URL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${env.OPENAI_API_KEY}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }], max_completion_tokens: 2048 }),
  });
  if (!response.ok) throw new Error(`the provider answered ${response.status}`);
  return response.json();
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthz") return json({ status: "ok" });
    const { prompt } = await request.json();
    if (typeof prompt !== "string") return json({ error: { code: "invalid_request" } });
    if (pathname === "/forward") return json({ text: (await complete(env, prompt)).choices[0].message.content });

    const token = (request.headers.get("authorization") ?? "").replace(/^Bearer /i, "");
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    const reservation = await rpc(env, "reserve_ai_credits", {
      user_id: claims.sub, endpoint: "generate-text", capability: "text", default_provider: "openai",
      estimated_input_tokens: 2, estimated_output_tokens: 2048, estimated_images: 0,
    });
    if (reservation.status !== "reserved") return json({ error: { code: reservation.status } });
    const answer = await complete(env, prompt);
    ctx.waitUntil(rpc(env, "settle_ai_credits", {
      request_id: reservation.request_id, provider: "openai", model: answer.model,
      input_tokens: answer.usage.prompt_tokens, output_tokens: answer.usage.completion_tokens, images: 0, latency_ms: 1,
    }));
    console.log(JSON.stringify({ level: "info", msg: "request", method: "POST", route: "/v1/ai/generate-text", status: 200, user_id: claims.sub }));
    return json({ text: answer.choices[0].message.content });
  },
};
