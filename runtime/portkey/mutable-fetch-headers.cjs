// Preload for the Portkey gateway (`node --require ./mutable-fetch-headers.cjs ...`).
// Streaming through @portkey-ai/gateway 1.15.2 on Node 20 answers 500 "Something went wrong": the gateway
// wraps the upstream fetch() Response as `new Response(stream, upstream)`, @hono/node-server's lightweight
// Response keeps the upstream's Headers object, and fetch() headers are immutable, so the gateway's own
// `headers.append("x-portkey-...")` throws "TypeError: immutable". Handing the gateway responses whose
// headers are a fresh (mutable) copy fixes every streamed request and changes nothing else.
'use strict';
const nativeFetch = globalThis.fetch;
const NativeResponse = globalThis.Response;
const NativeHeaders = globalThis.Headers;

globalThis.fetch = async function fetchWithMutableHeaders(...args) {
  const response = await nativeFetch(...args);
  return new NativeResponse(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: new NativeHeaders(response.headers),
  });
};
