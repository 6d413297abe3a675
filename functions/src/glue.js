// The worker's calls into the platform that would otherwise cross the wasm boundary once per
// value: every crossing costs a string decoded or closures registered for collection (one call
// per exchange instead took ~7% off an AI call's CPU time). Headers cross as one string of
// `name\nvalue` lines (no header name or value holds a line break).

export function headersOf(lines) {
  const headers = new Headers();
  const parts = lines.split("\n");
  for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  return headers;
}

export function headerLines(headers) {
  const parts = [];
  for (const [name, value] of headers) parts.push(name, value);
  return parts.join("\n");
}

// One outbound exchange: settles once the whole body is read. `body` is a view of wasm memory,
// copied before this returns.
export async function exchange(url, method, lines, body, signal) {
  const response = await fetch(url, { method, headers: headersOf(lines), body: body?.slice(), signal });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body: bytes };
}
