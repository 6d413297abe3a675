// The outbound worker of the bench's instance "without the credit round trip": it sees every
// subrequest of the worker in the same workerd process and answers the credit RPCs at once (the
// reservation is a real one, made on the stack at the start of the run); everything else (the
// token keys, the provider call) goes on unchanged.
const answers = (env) => ({
  reserve_ai_credits: env.RESERVATION,
  settle_ai_credits: "true",
  release_ai_credits: "true",
});

export default {
  async fetch(request, env) {
    const rpc = new URL(request.url).pathname.match(/^\/rest\/v1\/rpc\/(\w+_ai_credits)$/)?.[1];
    if (rpc === undefined) return fetch(request);
    await request.arrayBuffer();
    const answer = answers(env)[rpc];
    if (answer === undefined) return new Response(`no instant answer for ${rpc}`, { status: 501 });
    return new Response(answer, { headers: { "content-type": "application/json" } });
  },
};
