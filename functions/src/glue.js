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

// Resolves to the incoming request's body bytes; undefined when it has none (GET, HEAD), null
// when it is longer than `limit` (it is never held whole: reading stops past the limit).
export function requestBody(request, limit) {
  return request.body === null ? undefined : readAtMost(request.body, limit);
}

// The stream's bytes, read chunk by chunk; null (and the stream cancelled) once past `limit`.
async function readAtMost(stream, limit) {
  const reader = stream.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

// A whole response. `body` is a view of wasm memory, copied here.
export function respond(status, lines, body) {
  return new Response(body.slice(), { status, headers: headersOf(lines) });
}

// A streamed response.
export function respondStreamed(status, lines, stream) {
  return new Response(stream, { status, headers: headersOf(lines) });
}

// One outbound exchange. Redirects are not followed: a 3xx is the answer. `answer` settles once
// the whole answer is read, to `{status, headers, body}`; the body is counted as it arrives and,
// past `limit` bytes (or announced as longer), the exchange is aborted and `answer` rejects with
// a RangeError. `abortExchange` stops it while it runs. `body` (the request's) is a view of wasm
// memory, copied before this returns.
export function exchange(url, method, lines, body, limit) {
  const controller = new AbortController();
  const answer = start(url, method, lines, body, controller).then((response) => readWhole(response, limit, controller));
  return { answer, controller };
}

// The same, settling as soon as the headers arrived, to `{status, headers, chunks}`:
// `chunks.next()` resolves to the body's next Uint8Array, undefined at its end (the caller
// counts and times them).
export function exchangeStreamed(url, method, lines, body) {
  const controller = new AbortController();
  const answer = start(url, method, lines, body, controller).then((response) => ({
    status: response.status,
    headers: response.headers,
    chunks: new Chunks(response.body),
  }));
  return { answer, controller };
}

function start(url, method, lines, body, controller) {
  const init = { method, headers: headersOf(lines), body: body?.slice(), signal: controller.signal, redirect: "manual" };
  return fetch(url, init);
}

class Chunks {
  constructor(stream) {
    this.reader = stream?.getReader();
  }

  async next() {
    if (this.reader === undefined) return undefined;
    const { done, value } = await this.reader.read();
    return done ? undefined : value;
  }
}

async function readWhole(response, limit, controller) {
  const announced = Number(response.headers.get("content-length"));
  const body = announced > limit || response.body === null ? null : await readAtMost(response.body, limit);
  if (body === null && response.body !== null) {
    controller.abort();
    throw new RangeError(`answer larger than ${limit} bytes`);
  }
  return { status: response.status, headers: response.headers, body: body ?? new Uint8Array() };
}

export function abortExchange(exchange) {
  exchange.controller.abort();
}
