export { netDial } from "./dial.ts";
export { listenTcp, TcpListener } from "./listener.ts";
export { TcpDialer, tcpDialer } from "./dialer.ts";
