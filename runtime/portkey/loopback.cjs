// Preload for the Portkey gateway (`node --require ./loopback.cjs start-server.js ...`).
// start-server.js has no host flag and listens on every interface; this keeps every TCP listener the
// process opens on loopback (override with LOOPBACK_HOST, e.g. ::1). Unix sockets and handles pass through.
'use strict';
const net = require('net');

const host = process.env.LOOPBACK_HOST || '127.0.0.1';
const originalListen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback]): replace or insert the host.
    if (args.length >= 2 && (typeof args[1] === 'string' || args[1] === undefined || args[1] === null)) {
      args[1] = host;
    } else {
      args.splice(1, 0, host);
    }
  } else if (first && typeof first === 'object' && !(first instanceof net.Server) && first.path === undefined
             && first.fd === undefined && first._handle === undefined && first.handle === undefined) {
    // listen(options[, callback]) with a TCP port.
    args[0] = { ...first, host };
  } else if (first === undefined || typeof first === 'function') {
    // listen() or listen(callback): a random port on every interface by default.
    args.unshift(0, host);
  }
  return originalListen.apply(this, args);
};
