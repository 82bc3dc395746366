/**
 * Socket operations Deno does not expose, through libc (FFI), for the conns
 * of a `Deno.listenTls` listener:
 *
 * - TCP_NODELAY. Deno's TLS conns have no `setNoDelay`, and Nagle's
 *   algorithm costs a proxy 40 ms on every write-write-read exchange. Linux
 *   copies TCP_NODELAY from a listening socket to the sockets it accepts, so
 *   it is set once on the listener.
 * - shutdown(2). Closing a Deno TLS conn whose handshake is pending leaves
 *   the socket open until the peer leaves; a silent client would hold it
 *   forever. Shutting the socket down ends the handshake at once.
 *
 * Deno does not expose file descriptors: a socket's descriptor is found by
 * scanning `/proc/self/fd` for the socket with the wanted addresses. Needs
 * Linux, `--allow-ffi` and read access to `/proc/self/fd`; without them the
 * functions report failure and callers use `Deno.listen` + `node:tls`.
 *
 * @module
 */

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const AF_INET = 2;
const AF_INET6 = 10;
const SHUT_RDWR = 2;

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | null | undefined;

/** libc's socket calls, or null where FFI is not permitted or not Linux. Opened once. */
function openLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return libc;
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    // no libc.so.6 (musl) or FFI refused: callers fall back
  }
  return libc;
}

/** `host:port` of a socket's local (or peer) address, or null when `fd` is not a connected/bound IP socket. */
function socketName(c: Libc, fd: number, peer = false): string | null {
  const sa = new Uint8Array(128);
  const len = new Uint32Array([sa.length]);
  if ((peer ? c.getpeername : c.getsockname)(fd, sa, new Uint8Array(len.buffer)) !== 0) return null;
  const view = new DataView(sa.buffer);
  const family = view.getUint16(0, true);
  const port = view.getUint16(2);
  if (family === AF_INET) return `${sa.subarray(4, 8).join(".")}:${port}`;
  if (family === AF_INET6) {
    const words = [];
    for (let i = 0; i < 8; i++) words.push(view.getUint16(8 + 2 * i).toString(16));
    return `[${words.join(":")}]:${port}`;
  }
  return null;
}

function intOption(c: Libc, fd: number, level: number, name: number): number | null {
  const val = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (c.getsockopt(fd, level, name, new Uint8Array(val.buffer), new Uint8Array(len.buffer)) !== 0) return null;
  return val[0];
}

/** The same address in the form {@linkcode socketName} prints. */
function canonical(addr: Deno.NetAddr): string {
  const h = addr.hostname;
  if (!h.includes(":")) return `${h}:${addr.port}`;
  // Expand an IPv6 literal to eight unpadded hex words.
  const [head, tail = ""] = h.split("::");
  const parts = (s: string) => (s ? s.split(":") : []);
  const left = parts(head);
  const right = parts(tail);
  const fill = h.includes("::") ? Array(8 - left.length - right.length).fill("0") : [];
  const words = [...left, ...fill, ...right].map((w) => parseInt(w, 16).toString(16));
  return `[${words.join(":")}]:${addr.port}`;
}

/** The descriptor of the listening socket bound to `addr`, or null. */
function listenerFd(c: Libc, addr: Deno.NetAddr): number | null {
  const want = canonical(addr);
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    const fd = Number(entry.name);
    if (!Number.isInteger(fd) || socketName(c, fd) !== want) continue;
    if (intOption(c, fd, SOL_SOCKET, SO_ACCEPTCONN) === 1) return fd;
  }
  return null;
}

/**
 * Sets TCP_NODELAY on the socket of `ln`, so every conn it accepts from now
 * on has it. Returns false when that cannot be done here.
 */
export function setListenerNoDelay(ln: Deno.Listener): boolean {
  const c = openLibc();
  if (!c || ln.addr.transport !== "tcp") return false;
  try {
    const fd = listenerFd(c, ln.addr);
    if (fd === null) return false;
    const on = new Int32Array([1]);
    return c.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new Uint8Array(on.buffer), 4) === 0;
  } catch {
    return false; // no /proc, or reading it is not permitted
  }
}

/** The descriptor of the connected socket with these addresses, or null. */
function connFd(c: Libc, local: Deno.Addr, remote: Deno.Addr): number | null {
  if (local.transport !== "tcp" || remote.transport !== "tcp") return null;
  const wantLocal = canonical(local);
  const wantRemote = canonical(remote);
  try {
    for (const entry of Deno.readDirSync("/proc/self/fd")) {
      const fd = Number(entry.name);
      if (!Number.isInteger(fd) || socketName(c, fd) !== wantLocal) continue;
      if (socketName(c, fd, true) === wantRemote) return fd;
    }
  } catch {
    // no /proc, or reading it is not permitted
  }
  return null;
}

/**
 * Shuts down both directions of the TCP socket bound to `local` and
 * connected to `remote`, so operations pending on it end. Returns false when
 * the socket cannot be found or shut down.
 */
export function shutdownConn(local: Deno.Addr, remote: Deno.Addr): boolean {
  const c = openLibc();
  const fd = c && connFd(c, local, remote);
  return c !== null && fd !== null && c.shutdown(fd, SHUT_RDWR) === 0;
}

/**
 * TCP_NODELAY of the socket bound to `local` and connected to `remote`
 * (true/false), or null when it cannot be told. For tests and diagnostics.
 */
export function connNoDelay(local: Deno.Addr, remote: Deno.Addr): boolean | null {
  const c = openLibc();
  const fd = c && connFd(c, local, remote);
  if (c === null || fd === null) return null;
  const v = intOption(c, fd, IPPROTO_TCP, TCP_NODELAY);
  return v === null ? null : v !== 0;
}
