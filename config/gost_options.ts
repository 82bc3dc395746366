/**
 * Metadata options gost 3.2.6 (go-gost/x v0.8.1) reads, per component kind and registered name,
 * lower-cased, from each component's metadata parser (facts taken from the source; see README of the project).
 *
 * Covers every handler, listener, connector and dialer that gost 3.2.6's cmd/gost/register.go imports
 * (x/dialer/wg registers "wg" but gost does not import it, so it is absent). Keys are the spellings passed to
 * x/metadata/util (GetString, GetBool, GetInt, GetDuration, GetFloat, GetStrings, GetStringMap...) or to
 * md.Get/md.IsExists in each parseMetadata; gost lower-cases metadata keys, so they match case-insensitively.
 * Service- and node-level keys read by x/config/parsing (proxyProtocol, interface, so_mark, netns, observer...)
 * and per-connection context metadata are not component options and are not listed.
 * @module
 */

/** The kinds of gost component that take a `metadata` block. */
export type ComponentKind = "handler" | "listener" | "connector" | "dialer";

// Key groups that several parsers read with identical spellings.

/** smux session options, parsed inline into internal/util/mux.Config. */
const MUX = "mux.keepalivedisabled mux.keepaliveinterval mux.keepalivetimeout mux.maxframesize " +
  "mux.maxreceivebuffer mux.maxstreambuffer mux.version";
/** TLS interception (MITM) options of the sniffing handlers. */
const MITM = "mitm.alpn mitm.bypass mitm.cacertfile mitm.cakeyfile mitm.certfile mitm.keyfile";
/** Traffic observer options. */
const OBSERVER = "observeperiod observer.observeperiod observer.period observer.resettraffic";
/** Limiter cache options. */
const LIMITER = "limiter.cleanupinterval limiter.refreshinterval";
/** listener/ws options; listener/mws reads the same. */
const WS_LISTENER = "backlog enablecompression handshaketimeout header mptcp path readbuffersize " +
  "readheadertimeout writebuffersize ws.backlog ws.enablecompression ws.handshaketimeout ws.header ws.path " +
  "ws.readbuffersize ws.readheadertimeout ws.writebuffersize";
/** dialer/ws options; dialer/mws reads the same. */
const WS_DIALER = "enablecompression handshaketimeout header host keepalive keepalive.interval path " +
  "readbuffersize readheadertimeout ttl writebuffersize ws.enablecompression ws.handshaketimeout ws.header " +
  "ws.host ws.keepalive ws.path ws.readbuffersize ws.readheadertimeout ws.writebuffersize";

// The three handlers handler/auto creates and Inits with its own metadata.
const HTTP_HANDLER = `${MITM} ${OBSERVER} ${LIMITER} authbasicrealm compression hash header http.compression ` +
  "http.header http.keepalive http.proxyagent keepalive knock probe_resist proberesist proxyagent readtimeout " +
  "sniffing sniffing.timeout sniffing.websocket sniffing.websocket.samplerate udp udp.buffersize udpbuffersize";
const SOCKS4_HANDLER = `${MITM} ${OBSERVER} ${LIMITER} hash readtimeout sniffing sniffing.timeout sniffing.websocket ` +
  "sniffing.websocket.samplerate";
const SOCKS5_HANDLER = `${MUX} ${MITM} ${OBSERVER} ${LIMITER} bind comp hash notls publicaddr readtimeout ` +
  "sniffing sniffing.timeout sniffing.websocket sniffing.websocket.samplerate socks.publicaddr udp " +
  "udp.buffersize udpbuffersize";

/**
 * Space-separated keys per kind. A property name lists every scheme name registered for the same
 * implementation (the x package is named in the comment where it differs from the name).
 */
const SOURCE: Readonly<Record<ComponentKind, Readonly<Record<string, string>>>> = {
  handler: {
    api: "accesslog api.accesslog api.pathprefix pathprefix",
    // reads nothing itself: the union of the http, socks4 and socks5 handlers it delegates to
    auto: `${HTTP_HANDLER} ${SOCKS4_HANDLER} ${SOCKS5_HANDLER}`,
    dns: "async buffersize clientip dns readtimeout timeout ttl",
    file: "dir file.dir",
    // handler/forward/local
    "tcp udp forward": `${MITM} http.keepalive proxyprotocol readtimeout sniffing sniffing.timeout ` +
      "sniffing.websocket sniffing.websocket.samplerate",
    // handler/forward/remote
    "rtcp rudp": `${MITM} http.keepalive proxyprotocol readtimeout sniffing sniffing.timeout ` +
      "sniffing.websocket sniffing.websocket.samplerate",
    http: HTTP_HANDLER,
    // own parser (handler/http2/metadata.go), a subset of http's
    http2: `${OBSERVER} ${LIMITER} authbasicrealm hash header http.header knock probe_resist proberesist`,
    http3: "hash header knock probe_resist proberesistance",
    metrics: "metrics.path path",
    // handler/redirect/tcp
    "red redir redirect": `${MITM} readtimeout sniffing sniffing.fallback sniffing.timeout sniffing.websocket ` +
      "sniffing.websocket.samplerate tproxy",
    // handler/redirect/udp
    redu: "",
    // + smux options (internal/util/mux)
    relay: `${MUX} ${MITM} ${OBSERVER} ${LIMITER} bind hash nodelay readtimeout sniffing sniffing.timeout ` +
      "sniffing.websocket sniffing.websocket.samplerate udp.buffersize udpbuffersize",
    router: `${OBSERVER} ${LIMITER} buffersize entrypoint ingress readtimeout router router.buffersize router.cache ` +
      "router.cache.expiration sd sd.cache.expiration sd.renewinterval",
    serial: "serial.timeout timeout",
    sni: `${MITM} hash readtimeout sniffing.websocket sniffing.websocket.samplerate`,
    "socks4 socks4a": SOCKS4_HANDLER,
    // + smux options (internal/util/mux)
    "socks socks5": SOCKS5_HANDLER,
    ss: `${MITM} hash key readtimeout sniffing sniffing.timeout sniffing.websocket sniffing.websocket.samplerate users`,
    // handler/ss/udp
    ssu: "key readtimeout udp.buffersize udpbuffersize users",
    sshd: `${MITM} readtimeout sniffing sniffing.timeout sniffing.websocket sniffing.websocket.samplerate`,
    tap: "key",
    tun: "keepalive p2p passphrase token ttl tun.keepalive tun.p2p tun.token tun.ttl",
    tungo: `${OBSERVER} ${LIMITER} ipv6 multicastgroups sniffing sniffing.fallback sniffing.responsetimeout ` +
      "sniffing.timeout sniffing.udp tcpmoderatereceivebuffer tcpreceivebuffersize tcpsendbuffersize " +
      "tungo.multicastgroups tungo.tcpmoderatereceivebuffer tungo.tcpreceivebuffersize tungo.tcpsendbuffersize " +
      "tungo.udptimeout udp.buffersize udpbuffersize udptimeout",
    // + smux options (internal/util/mux); "entrypoints" is read with md.Get
    tunnel: `${MUX} ${OBSERVER} ${LIMITER} entrypoint entrypoint.compression entrypoint.id entrypoint.keepalive ` +
      "entrypoint.proxyprotocol entrypoint.readtimeout entrypoints ingress readtimeout sd sniffing.websocket " +
      "sniffing.websocket.samplerate tunnel tunnel.direct tunnel.ttl",
    unix: `${MITM} readtimeout sniffing sniffing.timeout`,
  },
  listener: {
    dns: "backlog mode mptcp readbuffersize readtimeout writetimeout",
    dtls: "buffersize dtls.buffersize dtls.flightinterval dtls.mtu flightinterval mtu",
    ftcp: "backlog readbuffersize readqueuesize ttl",
    grpc: "backlog grpc.backlog grpc.insecure grpc.keepalive grpc.keepalive.maxconnectionidle grpc.keepalive.mintime " +
      "grpc.keepalive.permitwithoutstream grpc.keepalive.time grpc.keepalive.timeout grpc.path grpcinsecure insecure " +
      "keepalive keepalive.maxconnectionidle keepalive.mintime keepalive.permitwithoutstream keepalive.time " +
      "keepalive.timeout mptcp path",
    http2: "backlog mptcp",
    // listener/http2/h2
    "h2 h2c": "backlog mptcp path",
    http3: "backlog handshaketimeout keepalive maxidletimeout maxstreams ttl",
    // listener/http3/h3 (PHT over HTTP/3)
    h3: "authorizepath backlog handshaketimeout keepalive maxidletimeout maxstreams pht.authorizepath pht.pullpath " +
      "pht.pushpath pullpath pushpath ttl",
    // listener/http3/wt
    wt: "backlog handshaketimeout keepalive maxidletimeout maxstreams path ttl wt.path",
    "icmp icmp6": "backlog handshaketimeout keepalive maxidletimeout ttl",
    // kcp.config / config is a map decoded into internal/util/kcp.Config; c / configfile / kcp.configfile name a file
    kcp: "backlog c config configfile kcp.config kcp.configfile kcp.crypt kcp.interval kcp.keepalive kcp.key " +
      "kcp.mode kcp.mtu kcp.nocomp kcp.rcvwnd kcp.smuxbuf kcp.smuxver kcp.sndwnd kcp.streambuf kcp.tcp tcp",
    // + smux options (internal/util/mux)
    mtcp: `${MUX} backlog mptcp`,
    // + smux options (internal/util/mux)
    mtls: `${MUX} backlog mptcp`,
    // ws listener options + smux options (internal/util/mux)
    "mws mwss": `${WS_LISTENER} ${MUX}`,
    // listener/obfs/http
    ohttp: "header mptcp",
    // listener/obfs/tls
    otls: "mptcp",
    "pht phts": "authorizepath backlog mptcp pullpath pushpath",
    quic:
      "backlog cipherkey enabledatagram handshaketimeout keepalive maxidletimeout maxstreams quic.enabledatagram ttl",
    // listener/redirect/tcp
    "red redir redirect": "mptcp tproxy",
    // listener/redirect/udp
    redu: "readbuffersize ttl",
    rtcp: "",
    rudp: "backlog readbuffersize readqueuesize ttl",
    serial: "listener.serial.timeout serial.timeout timeout",
    ssh: "authorizedkeys backlog mptcp passphrase privatekeyfile",
    sshd: "authorizedkeys backlog mptcp passphrase passphrasefromkeyring privatekeyfile",
    tap: "componentid gw mtu name net route routes",
    tcp: "mptcp",
    tls: "mptcp",
    tun: "dns guid gw mtu name net peer route router routes tun.dns tun.guid tun.gw tun.mtu tun.name tun.net " +
      "tun.peer tun.route tun.router tun.routes",
    tungo: "dns guid gw mtu name net peer route routes tun.dns tun.guid tun.gw tun.mtu tun.name tun.net tun.peer " +
      "tun.route tun.routes",
    udp: "backlog keepalive keepalive.ttl readbuffersize readqueuesize recvqueuesize ttl udp.buffersize",
    unix: "",
    "ws wss": WS_LISTENER,
  },
  connector: {
    "direct virtual": "action",
    forward: "",
    http: "header timeout",
    http2: "header timeout",
    // + smux options (internal/util/mux)
    relay: `${MUX} connecttimeout nodelay`,
    router: "connecttimeout router.id",
    serial: "",
    sni: "host timeout",
    "socks4 socks4a": "disable4a timeout",
    // + smux options (internal/util/mux)
    "socks socks5": `${MUX} notls relay timeout udp.buffersize udp.timeout udpbuffersize`,
    ss: "key nodelay timeout",
    // connector/ss/udp
    ssu: "connecttimeout key timeout udp.buffersize udpbuffersize",
    sshd: "",
    tcp: "",
    // + smux options (internal/util/mux)
    tunnel: `${MUX} connecttimeout tunnel.id tunnel.weight tunnelid`,
    unix: "",
  },
  dialer: {
    "direct virtual": "",
    dtls: "buffersize dtls.buffersize dtls.flightinterval dtls.mtu flightinterval mtu",
    ftcp: "",
    grpc: "grpc.authority grpc.host grpc.insecure grpc.keepalive grpc.keepalive.permitwithoutstream " +
      "grpc.keepalive.time grpc.keepalive.timeout grpc.minconnecttimeout grpc.path grpcinsecure host insecure " +
      "keepalive keepalive.permitwithoutstream keepalive.time keepalive.timeout minconnecttimeout path",
    http2: "",
    // dialer/http2/h2
    "h2 h2c": "header host path",
    // dialer/http3 (PHT over HTTP/3)
    "http3 h3": "authorizepath handshaketimeout host keepalive maxidletimeout maxstreams pht.authorizepath " +
      "pht.pullpath pht.pushpath pullpath pushpath ttl",
    // dialer/http3/wt
    wt: "handshaketimeout header host keepalive maxidletimeout maxstreams path ttl wt.header wt.host wt.path",
    "icmp icmp6": "handshaketimeout keepalive maxidletimeout ttl",
    // kcp.config / config is a map decoded into internal/util/kcp.Config; c / configfile / kcp.configfile name a file
    kcp: "c config configfile handshaketimeout kcp.config kcp.configfile kcp.crypt kcp.interval kcp.keepalive " +
      "kcp.key kcp.mode kcp.mtu kcp.nocomp kcp.rcvwnd kcp.smuxbuf kcp.smuxver kcp.sndwnd kcp.streambuf kcp.tcp tcp",
    // + smux options (internal/util/mux)
    mtcp: `${MUX} handshaketimeout`,
    // + smux options (internal/util/mux)
    mtls: `${MUX} handshaketimeout`,
    // ws dialer options + smux options (internal/util/mux)
    "mws mwss": `${WS_DIALER} ${MUX}`,
    // dialer/obfs/http
    "ohttp ohttps": "header host obfs.header obfs.host obfs.path path",
    // dialer/obfs/tls
    otls: "host",
    "pht phts": "authorizepath host pullpath pushpath",
    quic: "cipherkey enabledatagram handshaketimeout keepalive maxidletimeout maxstreams quic.enabledatagram ttl",
    serial: "",
    ssh: "handshaketimeout keepalive keepalive.interval keepalive.retries keepalive.timeout passphrase " +
      "passphrasefromkeyring privatekeyfile ttl",
    sshd: "handshaketimeout keepalive keepalive.interval keepalive.retries keepalive.timeout passphrase " +
      "passphrasefromkeyring privatekeyfile ttl",
    tcp: "",
    tls: "handshaketimeout",
    udp: "",
    unix: "",
    "ws wss": WS_DIALER,
  },
};

function build(): Readonly<Record<ComponentKind, Readonly<Record<string, readonly string[]>>>> {
  const out = {} as Record<ComponentKind, Readonly<Record<string, readonly string[]>>>;
  for (const kind of Object.keys(SOURCE) as ComponentKind[]) {
    const table: Record<string, readonly string[]> = {};
    for (const [names, keys] of Object.entries(SOURCE[kind])) {
      const list = Object.freeze([...new Set(keys.split(/\s+/).filter((k) => k !== ""))].sort());
      for (const name of names.split(" ")) table[name] = list;
    }
    out[kind] = Object.freeze(table);
  }
  return Object.freeze(out);
}

/**
 * Per kind, per registered scheme name, the sorted lower-cased metadata keys gost 3.2.6 reads.
 * Names sharing one implementation (e.g. "socks"/"socks5", "ws"/"wss") share one array.
 */
export const GOST_OPTIONS: Readonly<Record<ComponentKind, Readonly<Record<string, readonly string[]>>>> = build();

const SETS = new Map<readonly string[], ReadonlySet<string>>();

/**
 * True when gost's `kind` named `type` reads option `key` (case-insensitive). Unknown types: false.
 * `type` is matched exactly, as gost's registry does.
 */
export function gostReads(kind: ComponentKind, type: string, key: string): boolean {
  const table = GOST_OPTIONS[kind];
  if (table === undefined || !Object.hasOwn(table, type)) return false;
  const keys = table[type];
  let set = SETS.get(keys);
  if (set === undefined) {
    set = new Set(keys);
    SETS.set(keys, set);
  }
  return set.has(key.toLowerCase());
}
