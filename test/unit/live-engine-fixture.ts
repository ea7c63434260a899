// A tiny program for the live engine tests: a component with two custom
// resources served by a recording provider, plus real random and tls
// resources. Also runnable as a script (a failing run leaves the SDK's
// rejected outputs behind, which jest would count against the test).
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { runLive, type Step } from "../../lib/live/engine";
import { GENERATED_SECRET_OUTPUTS, randomProvider, tlsProvider } from "../../lib/live/generated";
import { changedKeys, type LiveProvider } from "../../lib/live/provider";
import { readState } from "../../lib/live/state";

const THING = "test:index/thing:Thing";

/** A custom resource served by the recording provider below. */
class Thing extends pulumi.CustomResource {
    declare readonly echo: pulumi.Output<string>;
    constructor(name: string, args: { image: pulumi.Input<string>; size: pulumi.Input<number>; label?: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(THING, name, { ...args, echo: undefined }, opts);
    }
}

class Group extends pulumi.ComponentResource {
    constructor(name: string, build: (parent: Group) => void, opts?: pulumi.ComponentResourceOptions) {
        super("test:group:Group", name, {}, opts);
        build(this);
        this.registerOutputs({ tenant: name });
    }
}

export function recordingProvider(log: string[]): LiveProvider {
    return {
        types: [THING],
        diff(_t, olds, news) {
            const changed = changedKeys(olds, news);
            return { changed, replaceKeys: changed.filter((k) => k === "image") };
        },
        async create(_t, name, inputs) {
            log.push(`create ${name}`);
            return { id: `${name}-${log.length}`, outputs: { ...inputs, echo: `${String(inputs.image)}:${String(inputs.size)}` } };
        },
        async update(_t, id, _o, news) {
            log.push(`update ${id.split("-")[0]}`);
            return { ...news, echo: `${String(news.image)}:${String(news.size)}` };
        },
        async delete(_t, id) {
            log.push(`delete ${id.split("-")[0]}`);
        },
    };
}

export interface Shape {
    image?: string;
    size?: number;
    protect?: boolean;
    dbr?: boolean;
    withExtra?: boolean;
    withBase?: boolean;
}

export function program(shape: Shape) {
    return () => {
        const password = new random.RandomPassword("pw", { length: 24, special: false });
        const key = new tls.PrivateKey("key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
        new tls.SelfSignedCert("ca", {
            privateKeyPem: key.privateKeyPem,
            isCaCertificate: true,
            validityPeriodHours: 24,
            allowedUses: ["cert_signing"],
            subject: { commonName: "Live test CA" },
        });
        let base: Thing | undefined;
        new Group("acme", (parent) => {
            if (shape.withBase === false) return;
            base = new Thing("base", { image: shape.image ?? "one", size: shape.size ?? 1 }, { parent, protect: shape.protect, deleteBeforeReplace: shape.dbr });
            if (shape.withExtra ?? true) new Thing("extra", { image: "three", size: 1, label: base.echo }, { parent });
        });
        return { password: password.result, ...(base ? { echo: base.echo } : {}) };
    };
}

/** One `up` of the program in `shape` against the state at `statePath`, logging provider calls into `log`. */
export async function up(statePath: string, shape: Shape, log: string[]): Promise<Step[]> {
    const state = readState(statePath, "dev");
    const result = await runLive(
        program(shape),
        { project: "live-test", stack: "dev", state, statePath, providers: [recordingProvider(log), randomProvider(), tlsProvider()], secretOutputs: GENERATED_SECRET_OUTPUTS },
        {},
    );
    return result.steps;
}

if (require.main === module) {
    const [statePath, shape] = process.argv.slice(2);
    up(statePath, JSON.parse(shape) as Shape, []).then(
        () => process.exit(0),
        (e: Error) => {
            process.stderr.write(`${e.message}\n`);
            process.exit(1);
        },
    );
}
