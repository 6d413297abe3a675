// Stands in front of the stack's API gateway for the bench's AI rows "without the credit round
// trip": the credit RPCs the worker sends are answered at once (the reservation is a real one,
// made on the stack at the start of the run); everything else (the token keys) goes on to the
// gateway unchanged.
const answers = (env) => ({
  reserve_ai_credits: env.RESERVATION,
  settle_ai_credits: "true",
  release_ai_credits: "true",
});

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const rpc = url.pathname.match(/^\/rest\/v1\/rpc\/(\w+)$/)?.[1];
    if (rpc === undefined) return fetch(new Request(env.UPSTREAM + url.pathname + url.search, request));
    await request.arrayBuffer();
    const answer = answers(env)[rpc];
    if (answer === undefined) return new Response(`no instant answer for ${rpc}`, { status: 501 });
    return new Response(answer, { headers: { "content-type": "application/json" } });
  },
};
