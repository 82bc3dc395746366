import { installPeers } from "./peers.ts";

const missing = await installPeers();
if (missing.length) console.error(`peers missing: ${missing.join(", ")}`);
