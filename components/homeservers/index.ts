// Every homeserver the stack can run, by name: the one table a new server is added to.
import type { HomeserverFlavor } from "./flavor";
import { TUWUNEL } from "./tuwunel";

export type { HomeserverData, HomeserverFlavor, HomeserverSettings } from "./flavor";

export const HOMESERVER_FLAVORS = { tuwunel: TUWUNEL } as const satisfies Record<string, HomeserverFlavor>;

/** The server a tenant gets (tenant files cannot choose yet: there is one). */
export const DEFAULT_HOMESERVER: HomeserverFlavor = HOMESERVER_FLAVORS.tuwunel;
