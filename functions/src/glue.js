// The worker's calls into the platform, each made in one crossing of the wasm boundary where the
// worker crate's types would cross once per value (a method, a header, a promise): every
// crossing costs a string decoded or an object registered for collection. Headers cross as one
// string of `name\nvalue` lines (no header name or value holds a line break).

function headersOf(lines) {
  const headers = new Headers();
  const parts = lines.split("\n");
  for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  return headers;
}

function headerLines(headers) {
  const parts = [];
  for (const [name, value] of headers) parts.push(name, value);
  return parts.join("\n");
}

// The incoming request's method, path, query (without `?`) and header lines, one per line.
export function requestHead(request) {
  const url = new URL(request.url);
  return `${request.method}\n${url.pathname}\n${url.search.slice(1)}\n${headerLines(request.headers)}`;
}

// Resolves to the incoming request's body bytes; undefined when it has none (GET, HEAD).
export function requestBody(request) {
  return request.body === null ? undefined : request.arrayBuffer().then((bytes) => new Uint8Array(bytes));
}

// A whole response. `body` is a view of wasm memory, copied here.
export function respond(status, lines, body) {
  return new Response(body.slice(), { status, headers: headersOf(lines) });
}

// A streamed response.
export function respondStreamed(status, lines, stream) {
  return new Response(stream, { status, headers: headersOf(lines) });
}

// One outbound exchange: `answer` settles once the whole answer is read, to
// `{status, headers, body}`; `abortExchange` stops it while it runs. `body` is a view of wasm
// memory, copied before this returns.
export function exchange(url, method, lines, body) {
  const controller = new AbortController();
  const init = { method, headers: headersOf(lines), body: body?.slice(), signal: controller.signal };
  return { answer: read(fetch(url, init)), controller };
}

async function read(pending) {
  const response = await pending;
  return { status: response.status, headers: response.headers, body: new Uint8Array(await response.arrayBuffer()) };
}

export function abortExchange(exchange) {
  exchange.controller.abort();
}
