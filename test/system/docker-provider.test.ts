// The Docker stand-in (lib/live/docker.ts) against a real Docker daemon:
// diff classification from the provider's schema, and create/update/delete
// doing what terraform-provider-docker (5074970c) does, with Docker's own
// answers where Docker refuses. See docker-daemon.ts for the daemon needed.
import { existsSync, mkdtempSync, rmSync, statSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import {
    DOCKER_CONTAINER,
    DOCKER_NETWORK,
    DOCKER_REMOTE_IMAGE,
    DOCKER_VOLUME,
    DockerPartialCreateError,
    diffDockerInputs,
    dockerProvider,
    formatGoDuration,
    parseCpus,
    parseGoDuration,
} from "../../lib/live/docker";
import type { LiveProvider, Properties } from "../../lib/live/provider";
import {
    BUSYBOX_IMAGE,
    connectTestDaemon,
    ensureBusyboxImage,
    stopTestDaemon,
    importImage,
    pushImage,
    readContainerFile,
    removeByPrefix,
    startRegistry,
    type TestRegistry,
} from "./docker-daemon";

jest.setTimeout(180_000);

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("docker diff: replace, update or state-only, from the provider's schema", () => {
    const container: Properties = {
        name: "c",
        image: "img@sha256:aa",
        memory: 64,
        memorySwap: 64,
        cpus: "0.5",
        restart: "on-failure",
        maxRetryCount: 5,
        labels: [
            { label: "a", value: "1" },
            { label: "b", value: "2" },
        ],
        networksAdvanced: [{ name: "n1", aliases: ["x", "y"] }, { name: "n2" }],
        uploads: [
            { file: "/a", content: "1", permissions: "0444" },
            { file: "/b", content: "2", permissions: "0400", owner: "100" },
        ],
        healthcheck: { tests: ["CMD", "true"], interval: "30s", timeout: "5s", retries: 3 },
        tmpfs: { "/tmp": "rw,size=64m" },
        ports: [
            { internal: 1, external: 2 },
            { internal: 3, external: 4, protocol: "udp" },
        ],
        command: ["run"],
        user: "1:1",
    };
    /** The diff without the container-wide deleteBeforeReplace flag (checked on its own below). */
    const diff = (news: Properties, olds: Properties = container) => {
        const { deleteBeforeReplace, ...rest } = diffDockerInputs(DOCKER_CONTAINER, olds, news);
        expect(deleteBeforeReplace).toBe(true);
        return rest;
    };

    it("sees nothing when only order within sets, or schema defaults, differ", () => {
        expect(diff({ ...container })).toEqual({ changed: [], replaceKeys: [] });
        expect(
            diff({
                ...container,
                labels: [...(container.labels as object[])].reverse(),
                networksAdvanced: [{ name: "n2" }, { name: "n1", aliases: ["y", "x"] }],
                uploads: [...(container.uploads as object[])].reverse(),
                ports: [
                    { internal: 3, external: 4, protocol: "udp", ip: "0.0.0.0" },
                    { internal: 1, external: 2, protocol: "tcp" },
                ],
                // Defaults: restart "no" is the schema default, start true, removeVolumes true, networkMode bridge.
                start: true,
                removeVolumes: true,
                networkMode: "bridge",
                healthcheck: { tests: ["CMD", "true"], interval: "30s", timeout: "5s", retries: 3, startPeriod: "0s" },
            }),
        ).toEqual({ changed: [], replaceKeys: [] });
        expect(diff({ ...container, restart: undefined }, { ...container, restart: "no" })).toEqual({ changed: [], replaceKeys: [] });
    });

    it("keeps Optional+Computed attributes the program dropped (command, labels, healthcheck) and ignores an emptied user", () => {
        const { command: _c, labels: _l, healthcheck: _h, ...rest } = container;
        expect(diff({ ...rest, user: "" })).toEqual({ changed: [], replaceKeys: [] });
    });

    it("replaces on ForceNew attributes, nested ones included", () => {
        expect(diff({ ...container, image: "img@sha256:bb" })).toEqual({ changed: ["image"], replaceKeys: ["image"] });
        expect(diff({ ...container, uploads: [{ file: "/a", content: "changed", permissions: "0444" }, (container.uploads as object[])[1]] })).toEqual({
            changed: ["uploads"],
            replaceKeys: ["uploads"],
        });
        expect(diff({ ...container, labels: [{ label: "a", value: "1" }] })).toEqual({ changed: ["labels"], replaceKeys: ["labels"] });
        expect(diff({ ...container, networksAdvanced: [{ name: "n1", aliases: ["x"] }, { name: "n2" }] })).toEqual({
            changed: ["networksAdvanced"],
            replaceKeys: ["networksAdvanced"],
        });
        expect(diff({ ...container, cpus: "1" })).toEqual({ changed: ["cpus"], replaceKeys: ["cpus"] });
        expect(diff({ ...container, readOnly: true })).toEqual({ changed: ["readOnly"], replaceKeys: ["readOnly"] });
        expect(diff({ ...container, cgroupParent: "x.slice" })).toEqual({ changed: ["cgroupParent"], replaceKeys: ["cgroupParent"] });
        expect(diff({ ...container, ports: [{ internal: 1, external: 5 }, (container.ports as object[])[1]] }).replaceKeys).toEqual(["ports"]);
    });

    it("updates in place what Update handles (ContainerUpdate, must_run) and what it ignores (state only)", () => {
        expect(diff({ ...container, memory: 128, memorySwap: 128 })).toEqual({ changed: ["memory", "memorySwap"], replaceKeys: [] });
        expect(diff({ ...container, restart: "always", maxRetryCount: 0 })).toEqual({ changed: ["maxRetryCount", "restart"], replaceKeys: [] });
        expect(diff({ ...container, mustRun: false })).toEqual({ changed: ["mustRun"], replaceKeys: [] });
        // Neither ForceNew nor in resourceDockerContainerUpdate: the state changes, the container does not.
        expect(diff({ ...container, healthcheck: { tests: ["CMD", "true"], interval: "60s", timeout: "5s", retries: 3 } })).toEqual({ changed: ["healthcheck"], replaceKeys: [] });
        expect(diff({ ...container, tmpfs: { "/tmp": "rw,size=128m" } })).toEqual({ changed: ["tmpfs"], replaceKeys: [] });
        expect(diff({ ...container, destroyGraceSeconds: 30 })).toEqual({ changed: ["destroyGraceSeconds"], replaceKeys: [] });
        expect(diff({ ...container, init: true })).toEqual({ changed: ["init"], replaceKeys: [] });
        expect(diff({ ...container, start: false })).toEqual({ changed: ["start"], replaceKeys: [] });
    });

    it("replaces networks and volumes on any change; remote images update keepLocally in place", () => {
        const net = { name: "n", driver: "bridge", internal: true, ipamConfigs: [{ subnet: "10.0.0.0/26", gateway: "10.0.0.1" }], labels: [{ label: "a", value: "1" }] };
        expect(diffDockerInputs(DOCKER_NETWORK, net, { ...net, ipamDriver: "default" })).toEqual({ changed: [], replaceKeys: [] });
        expect(diffDockerInputs(DOCKER_NETWORK, net, { ...net, labels: [{ label: "a", value: "2" }] })).toEqual({ changed: ["labels"], replaceKeys: ["labels"] });
        expect(diffDockerInputs(DOCKER_NETWORK, net, { ...net, internal: false })).toEqual({ changed: ["internal"], replaceKeys: ["internal"] });
        const vol = { name: "v", driver: "local", driverOpts: { type: "none", o: "bind", device: "/a" } };
        expect(diffDockerInputs(DOCKER_VOLUME, vol, { ...vol, driverOpts: { type: "none", o: "bind", device: "/b" } })).toEqual({
            changed: ["driverOpts"],
            replaceKeys: ["driverOpts"],
        });
        const img = { name: "r/x:1@sha256:aa", keepLocally: true };
        expect(diffDockerInputs(DOCKER_REMOTE_IMAGE, img, { ...img, keepLocally: false })).toEqual({ changed: ["keepLocally"], replaceKeys: [] });
        expect(diffDockerInputs(DOCKER_REMOTE_IMAGE, img, { ...img, name: "r/x:1@sha256:bb" })).toEqual({ changed: ["name"], replaceKeys: ["name"] });
    });

    it("refuses inputs the provider's schema does not have", () => {
        expect(() => diff({ ...container, bogus: 1 })).toThrow(/no input "bogus"/);
    });

    it("parses and prints durations and CPUs as Go and the docker CLI do", () => {
        expect(parseGoDuration("1m30s")).toBe(90e9);
        expect(parseGoDuration("300ms")).toBe(3e8);
        expect(formatGoDuration(60e9)).toBe("1m0s");
        expect(formatGoDuration(3600e9 + 1.5e9)).toBe("1h0m1.5s");
        expect(formatGoDuration(3e8)).toBe("300ms");
        expect(parseCpus("0.5")).toBe(5e8);
        expect(parseCpus("2")).toBe(2e9);
        expect(() => parseCpus("0.0000000001")).toThrow(/too precise/);
    });
});

describe("docker stand-in against a real daemon", () => {
    let docker: Docker;
    let provider: LiveProvider;
    let api: number;
    const ctx = { provider: {} };
    const prefix = `rdt${process.pid.toString(36)}-`;
    const tmpDirs: string[] = [];

    beforeAll(async () => {
        docker = await connectTestDaemon();
        await ensureBusyboxImage(docker);
        const [major, minor] = (await docker.version()).ApiVersion.split(".").map(Number);
        api = major + minor / 100;
        // Short retries: upstream waits 2s, polls every 5s for 30s.
        provider = dockerProvider(() => docker, { removeRetry: { delayMs: 0, pollMs: 300, timeoutMs: 3000 } });
    });

    afterAll(async () => {
        if (docker) await removeByPrefix(docker, prefix);
        for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
        await stopTestDaemon();
    });

    const sleeper = (name: string, extra: Properties = {}): Properties => ({
        name: `${prefix}${name}`,
        image: BUSYBOX_IMAGE,
        entrypoints: ["/bin/busybox"],
        command: ["sleep", "600"],
        ...extra,
    });
    const exists = async (id: string) => {
        try {
            await docker.getContainer(id).inspect();
            return true;
        } catch {
            return false;
        }
    };

    it("uploads each file as its own archive at / with the given mode, owner and group", async () => {
        const inputs = sleeper("plain", {
            init: true,
            uploads: [
                { file: "/etc/redoubt/app.conf", content: "hello\n", permissions: "0640", owner: "1234", group: "2345" },
                { file: "/usr/local/bin/run", contentBase64: b64("#!/bin/busybox sh\n"), executable: true },
                { file: "/etc/redoubt/plain", content: "x" },
            ],
        });
        const { id, outputs } = await provider.create(DOCKER_CONTAINER, "plain", inputs, ctx);
        const conf = await readContainerFile(docker, id, "/etc/redoubt/app.conf");
        expect({ mode: conf.mode & 0o7777, uid: conf.uid, gid: conf.gid, content: conf.content.toString() }).toEqual({ mode: 0o640, uid: 1234, gid: 2345, content: "hello\n" });
        const run = await readContainerFile(docker, id, "/usr/local/bin/run");
        expect({ mode: run.mode & 0o7777, uid: run.uid, gid: run.gid }).toEqual({ mode: 0o744, uid: 0, gid: 0 });
        expect((await readContainerFile(docker, id, "/etc/redoubt/plain")).mode & 0o7777).toBe(0o644);
        // The implied parent directory: 0755, root's (go-archive createImpliedDirectories).
        const dir = await readContainerFile(docker, id, "/etc/redoubt");
        expect({ mode: dir.mode & 0o7777, uid: dir.uid }).toEqual({ mode: 0o755, uid: 0 });
        const state = (await docker.getContainer(id).inspect()).State;
        expect(state.Running).toBe(true);
        expect(outputs).toMatchObject({ id, name: `${prefix}plain`, mustRun: true, init: true, networkMode: "bridge", entrypoints: ["/bin/busybox"], command: ["sleep", "600"] });
        expect((outputs.networkDatas as { networkName: string }[]).map((n) => n.networkName)).toEqual(["bridge"]);
        expect(outputs.exitCode).toBeUndefined();
        await provider.delete(DOCKER_CONTAINER, id, inputs, outputs, ctx);
        expect(await exists(id)).toBe(false);
    });

    it("fails an upload into a read-only container with Docker's own error, even when the file's path lies in a writable volume", async () => {
        const volume = await provider.create(DOCKER_VOLUME, "rovol", { name: `${prefix}rovol`, driver: "local" }, ctx);
        for (const [label, file] of [
            ["ro", "/etc/app.conf"],
            ["rovolume", "/etc/redoubt/app.conf"],
        ] as const) {
            const inputs = sleeper(label, {
                readOnly: true,
                mounts: [{ type: "volume", source: `${prefix}rovol`, target: "/etc/redoubt" }],
                uploads: [{ file, content: "x", permissions: "0444" }],
            });
            const error = await provider.create(DOCKER_CONTAINER, label, inputs, ctx).then(
                () => undefined,
                (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(DockerPartialCreateError);
            expect((error as Error).message).toMatch(/^Unable to upload volume content: Error response from daemon: container rootfs is marked read-only/);
            // Like Terraform (which keeps it tainted), the created container is left; deleting it works.
            const id = (error as DockerPartialCreateError).id;
            expect((await docker.getContainer(id).inspect()).State.Status).toBe("created");
            await provider.delete(DOCKER_CONTAINER, id, inputs, {}, ctx);
        }
        await provider.delete(DOCKER_VOLUME, volume.id, {}, volume.outputs, ctx);
    });

    it("lands uploads of a created, never-started, network-less carrier in its mounted bind volume (the config-carrier pattern)", async () => {
        const device = mkdtempSync(join(tmpdir(), "rdt-volume-"));
        tmpDirs.push(device);
        const volumeInputs = {
            name: `${prefix}data`,
            driver: "local",
            driverOpts: { type: "none", o: "bind", device },
            labels: [{ label: "redoubt.tenant", value: "acme" }],
        };
        const volume = await provider.create(DOCKER_VOLUME, "data", volumeInputs, ctx);
        expect(volume.id).toBe(`${prefix}data`);
        expect(volume.outputs).toMatchObject({
            name: `${prefix}data`,
            driver: "local",
            driverOpts: { type: "none", o: "bind", device },
            labels: [{ label: "redoubt.tenant", value: "acme" }],
        });
        expect(String(volume.outputs.mountpoint)).toMatch(new RegExp(`/volumes/${prefix}data/_data$`));

        // As ConfigCarrier builds it (hardenedContainerArgs + the carrier's overrides).
        const carrier = sleeper("carrier", {
            user: "1234:1234",
            readOnly: false,
            privileged: false,
            init: true,
            capabilities: { drops: ["ALL"] },
            securityOpts: ["no-new-privileges:true"],
            memory: 16,
            memorySwap: 16,
            cpus: "0.1",
            cgroupParent: "redoubt-acme.slice",
            logDriver: "journald",
            logOpts: { tag: "redoubt/acme/config" },
            labels: [{ label: "redoubt.role", value: "config" }],
            restart: "no",
            maxRetryCount: 0,
            tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m" },
            start: false,
            mustRun: false,
            networkMode: "none",
            mounts: [{ type: "volume", source: `${prefix}data`, target: "/etc/redoubt" }],
            uploads: [
                { file: "/etc/redoubt/edge.cfg", content: "global\n", permissions: "0444" },
                { file: "/etc/redoubt/secret", content: "s3cret", permissions: "0400", owner: "1234" },
            ],
        });
        const { id, outputs } = await provider.create(DOCKER_CONTAINER, "carrier", carrier, ctx);
        const info = await docker.getContainer(id).inspect();
        expect(info.State.Status).toBe("created");
        expect(Object.keys(info.NetworkSettings.Networks)).toEqual(["none"]);
        // The files are in the volume's device on the host, with their modes and owners.
        const cfg = statSync(join(device, "edge.cfg"));
        const secret = statSync(join(device, "secret"));
        expect({ mode: cfg.mode & 0o7777, uid: cfg.uid }).toEqual({ mode: 0o444, uid: 0 });
        expect({ mode: secret.mode & 0o7777, uid: secret.uid, gid: secret.gid }).toEqual({ mode: 0o400, uid: 1234, gid: 0 });
        expect(readFileSync(join(device, "secret"), "utf8")).toBe("s3cret");
        expect(outputs).toMatchObject({
            exitCode: 0,
            mustRun: false,
            start: false,
            user: "1234:1234",
            memory: 16,
            cpus: "0.1",
            logDriver: "journald",
            logOpts: { tag: "redoubt/acme/config" },
        });
        expect(info.HostConfig).toMatchObject({
            ReadonlyRootfs: false,
            CapDrop: ["ALL"],
            SecurityOpt: ["no-new-privileges:true"],
            Memory: 16 * 1048576,
            NanoCpus: 1e8,
            CgroupParent: "redoubt-acme.slice",
            Init: true,
            NetworkMode: "none",
        });
        expect(info.HostConfig.RestartPolicy).toEqual({ Name: "no", MaximumRetryCount: 0 });
        expect(info.HostConfig.Tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m" });

        // A volume in use is retried until the timeout (upstream: 30s), then removed once its user is gone.
        await expect(provider.delete(DOCKER_VOLUME, volume.id, volumeInputs, volume.outputs, ctx)).rejects.toThrow(/timeout while waiting for state to become 'removed'/);
        await provider.delete(DOCKER_CONTAINER, id, carrier, outputs, ctx);
        await provider.delete(DOCKER_VOLUME, volume.id, volumeInputs, volume.outputs, ctx);
        await expect(docker.getVolume(volume.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
        // The bind device keeps the files: removing a local bind volume never touches its device.
        expect(existsSync(join(device, "secret"))).toBe(true);
        // A volume already gone: upstream passes the daemon's answer on. Docker 20.10 says 404 even with
        // force=true; some later daemons answer force removals of missing volumes with success.
        const again = await provider.delete(DOCKER_VOLUME, volume.id, volumeInputs, volume.outputs, ctx).then(
            () => "removed",
            (e: unknown) => (e as Error).message,
        );
        expect(again).toMatch(new RegExp(`^(removed|Error response from daemon: get ${volume.id}: no such volume)$`));
    });

    it("volume subpaths: refused below API 1.45 as upstream refuses them; mounted from the subpath otherwise", async () => {
        const volumeInputs = { name: `${prefix}sub`, driver: "local" };
        const volume = await provider.create(DOCKER_VOLUME, "sub", volumeInputs, ctx);
        const inputs = sleeper("subpath", {
            start: false,
            mustRun: false,
            networkMode: "none",
            mounts: [{ type: "volume", source: `${prefix}sub`, target: "/etc/redoubt", volumeOptions: { subpath: "config/edge" } }],
            uploads: [{ file: "/etc/redoubt/a.cfg", content: "a", permissions: "0444" }],
        });
        if (api < 1.45) {
            await expect(provider.create(DOCKER_CONTAINER, "subpath", inputs, ctx)).rejects.toThrow("Setting VolumeOptions.Subpath requires docker version 1.45 or higher");
            // Refused before ContainerCreate: nothing was created.
            expect(await exists(`${prefix}subpath`)).toBe(false);
        } else {
            // Docker requires the subpath to exist in the volume; a helper container creates it first.
            const helper = await provider.create(
                DOCKER_CONTAINER,
                "subhelper",
                sleeper("subhelper", {
                    start: false,
                    mustRun: false,
                    networkMode: "none",
                    mounts: [{ type: "volume", source: `${prefix}sub`, target: "/v" }],
                    uploads: [{ file: "/v/config/edge/.keep", content: "" }],
                }),
                ctx,
            );
            const { id, outputs } = await provider.create(DOCKER_CONTAINER, "subpath", inputs, ctx);
            const mountpoint = String(volume.outputs.mountpoint);
            expect(readFileSync(join(mountpoint, "config/edge/a.cfg"), "utf8")).toBe("a");
            await provider.delete(DOCKER_CONTAINER, id, inputs, outputs, ctx);
            await provider.delete(DOCKER_CONTAINER, helper.id, {}, helper.outputs, ctx);
        }
        await provider.delete(DOCKER_VOLUME, volume.id, volumeInputs, volume.outputs, ctx);
    });

    it("creates internal networks with fixed subnets, connects a hardened container to them, updates it in place, and retries a busy network's delete", async () => {
        const netInputs = (purpose: string, internal: boolean, third: number): Properties => ({
            name: `${prefix}${purpose}`,
            driver: "bridge",
            internal,
            attachable: false,
            ipamConfigs: [{ subnet: `10.213.${third}.0/26`, gateway: `10.213.${third}.1` }],
            options: { "com.docker.network.bridge.name": `rdt${process.pid % 10000}${purpose[0]}` },
            labels: [
                { label: "redoubt.network", value: purpose },
                { label: "redoubt.tenant", value: "acme" },
            ],
        });
        const servicesInputs = netInputs("services", true, 1);
        const egressInputs = netInputs("egress", false, 2);
        const services = await provider.create(DOCKER_NETWORK, "services", servicesInputs, ctx);
        const egress = await provider.create(DOCKER_NETWORK, "egress", egressInputs, ctx);
        const net = await docker.getNetwork(services.id).inspect();
        expect(net).toMatchObject({
            Name: `${prefix}services`,
            Internal: true,
            Attachable: false,
            Driver: "bridge",
            Labels: { "redoubt.network": "services", "redoubt.tenant": "acme" },
        });
        expect(net.IPAM).toMatchObject({ Driver: "default", Config: [{ Subnet: "10.213.1.0/26", Gateway: "10.213.1.1" }] });
        expect(net.Options).toEqual({ "com.docker.network.bridge.name": `rdt${process.pid % 10000}s` });
        expect(services.outputs).toMatchObject({
            id: services.id,
            name: `${prefix}services`,
            internal: true,
            ipamDriver: "default",
            scope: "local",
            ipamConfigs: [{ subnet: "10.213.1.0/26", gateway: "10.213.1.1" }],
        });

        const inputs = sleeper("proxy", {
            init: true,
            readOnly: true,
            user: "1234:1234",
            capabilities: { drops: ["ALL"] },
            securityOpts: ["no-new-privileges:true"],
            memory: 64,
            memorySwap: 64,
            cpus: "0.5",
            restart: "on-failure",
            maxRetryCount: 5,
            tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m" },
            logDriver: "json-file",
            logOpts: { "max-size": "1m" },
            labels: [{ label: "redoubt.role", value: "proxy" }],
            envs: ["XDG_DATA_HOME=/data"],
            healthcheck: { tests: ["CMD", "/bin/busybox", "true"], interval: "60s", timeout: "5s", retries: 3, startPeriod: "90s" },
            networksAdvanced: [
                { name: `${prefix}services`, aliases: [`${prefix}proxy`], ipv4Address: "10.213.1.10" },
                { name: `${prefix}egress`, aliases: [`${prefix}proxy`] },
            ],
            destroyGraceSeconds: 1,
        });
        const { id, outputs } = await provider.create(DOCKER_CONTAINER, "proxy", inputs, ctx);
        const info = await docker.getContainer(id).inspect();
        expect(info.State.Running).toBe(true);
        expect(Object.keys(info.NetworkSettings.Networks).sort()).toEqual([`${prefix}egress`, `${prefix}services`]);
        expect(info.NetworkSettings.Networks[`${prefix}services`].IPAddress).toBe("10.213.1.10");
        expect(info.NetworkSettings.Networks[`${prefix}services`].Aliases).toContain(`${prefix}proxy`);
        expect(info.HostConfig).toMatchObject({
            ReadonlyRootfs: true,
            Init: true,
            Memory: 64 * 1048576,
            NanoCpus: 5e8,
            CapDrop: ["ALL"],
            RestartPolicy: { Name: "on-failure", MaximumRetryCount: 5 },
        });
        expect(info.Config).toMatchObject({ User: "1234:1234", Env: expect.arrayContaining(["XDG_DATA_HOME=/data"]), Labels: { "redoubt.role": "proxy" } });
        expect(info.Config.Healthcheck).toEqual({ Test: ["CMD", "/bin/busybox", "true"], Interval: 60e9, Timeout: 5e9, StartPeriod: 90e9, Retries: 3 });
        // Read writes durations back in Go's format.
        expect(outputs.healthcheck).toEqual({ tests: ["CMD", "/bin/busybox", "true"], interval: "1m0s", timeout: "5s", startPeriod: "1m30s", startInterval: "0s", retries: 3 });
        const datas = outputs.networkDatas as { networkName: string; ipAddress: string; gateway: string; ipPrefixLength: number }[];
        expect(datas.map((d) => [d.networkName, d.ipPrefixLength])).toEqual([
            [`${prefix}egress`, 26],
            [`${prefix}services`, 26],
        ]);
        expect(datas[1]).toMatchObject({ ipAddress: "10.213.1.10", gateway: "10.213.1.1" });
        expect(outputs).toMatchObject({ memory: 64, cpus: "0.5", readOnly: true, restart: "on-failure", maxRetryCount: 5, mustRun: true });

        // In place: memory through ContainerUpdate.
        const bigger = { ...inputs, memory: 96, memorySwap: 96, restart: "always", maxRetryCount: 0 };
        expect(provider.diff(DOCKER_CONTAINER, inputs, bigger)).toEqual({
            changed: ["maxRetryCount", "memory", "memorySwap", "restart"],
            replaceKeys: [],
            deleteBeforeReplace: true,
        });
        const updated = await provider.update(DOCKER_CONTAINER, id, inputs, bigger, outputs, ctx);
        const after = await docker.getContainer(id).inspect();
        expect(after.HostConfig.Memory).toBe(96 * 1048576);
        expect(after.HostConfig.RestartPolicy).toEqual({ Name: "always", MaximumRetryCount: 0 });
        expect(after.Id).toBe(id);
        expect(updated).toMatchObject({ memory: 96, restart: "always", networkDatas: outputs.networkDatas });

        // Diffed against the prior state (as the bridge does), Read's Go-format durations ("1m0s", "1m30s")
        // differ from the program's "60s"/"90s": a state-only update on every run; the old inputs show none.
        expect(provider.diff(DOCKER_CONTAINER, inputs, inputs)).toEqual({ changed: [], replaceKeys: [], deleteBeforeReplace: true });
        expect(diffDockerInputs(DOCKER_CONTAINER, outputs, inputs)).toEqual({ changed: ["healthcheck"], replaceKeys: [], deleteBeforeReplace: true });
        const goDurations = { ...inputs, healthcheck: { tests: ["CMD", "/bin/busybox", "true"], interval: "1m0s", timeout: "5s", retries: 3, startPeriod: "1m30s" } };
        expect(diffDockerInputs(DOCKER_CONTAINER, outputs, goDurations)).toEqual({ changed: [], replaceKeys: [], deleteBeforeReplace: true });

        // State only: a new healthcheck changes nothing on the host (upstream's Update ignores it).
        const newCheck = { ...bigger, healthcheck: { tests: ["CMD", "/bin/busybox", "true"], interval: "10s", timeout: "5s", retries: 3 } };
        expect(provider.diff(DOCKER_CONTAINER, bigger, newCheck)).toEqual({ changed: ["healthcheck"], replaceKeys: [], deleteBeforeReplace: true });
        const stateOnly = await provider.update(DOCKER_CONTAINER, id, bigger, newCheck, updated, ctx);
        expect((await docker.getContainer(id).inspect()).Config.Healthcheck?.Interval).toBe(60e9);
        // The state holds the new block with the schema's nested defaults.
        expect(stateOnly.healthcheck).toEqual({ ...newCheck.healthcheck, startPeriod: "0s", startInterval: "0s" });

        // A network with a running container: "has active endpoints" is retried until the timeout.
        await expect(provider.delete(DOCKER_NETWORK, services.id, servicesInputs, services.outputs, ctx)).rejects.toThrow(/timeout while waiting for state to become 'removed'/);
        await provider.delete(DOCKER_CONTAINER, id, newCheck, stateOnly, ctx);
        await provider.delete(DOCKER_NETWORK, services.id, servicesInputs, services.outputs, ctx);
        await provider.delete(DOCKER_NETWORK, egress.id, egressInputs, egress.outputs, ctx);
        await expect(docker.getNetwork(services.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
        // Deleting a network that is gone succeeds.
        await provider.delete(DOCKER_NETWORK, services.id, servicesInputs, services.outputs, ctx);
    });

    it("deletes by stopping with destroyGraceSeconds (default 0: killed at once), then removing with force", async () => {
        // No init: busybox sleep as PID 1 ignores SIGTERM, so only the kill after the grace period ends it.
        const quick = sleeper("quick", { init: false });
        const slow = sleeper("slow", { init: false, destroyGraceSeconds: 3 });
        const a = await provider.create(DOCKER_CONTAINER, "quick", quick, ctx);
        const b = await provider.create(DOCKER_CONTAINER, "slow", slow, ctx);
        let t = Date.now();
        await provider.delete(DOCKER_CONTAINER, a.id, quick, a.outputs, ctx);
        const quickMs = Date.now() - t;
        t = Date.now();
        await provider.delete(DOCKER_CONTAINER, b.id, slow, b.outputs, ctx);
        const slowMs = Date.now() - t;
        expect(quickMs).toBeLessThan(2500);
        expect(slowMs).toBeGreaterThanOrEqual(2900);
        expect(await exists(a.id)).toBe(false);
        expect(await exists(b.id)).toBe(false);
        // Already gone: "No such container" is ignorable.
        await provider.delete(DOCKER_CONTAINER, a.id, quick, a.outputs, ctx);
    });

    it("starts a stopped container when must_run goes from false (as Read records it) back to true", async () => {
        const inputs = sleeper("mustrun", { init: true });
        const { id, outputs } = await provider.create(DOCKER_CONTAINER, "mustrun", inputs, ctx);
        await docker.getContainer(id).stop({ t: 0 });
        expect((await docker.getContainer(id).inspect()).State.Running).toBe(false);
        const out = await provider.update(DOCKER_CONTAINER, id, { ...inputs, mustRun: false }, inputs, outputs, ctx);
        expect((await docker.getContainer(id).inspect()).State.Running).toBe(true);
        expect(out.mustRun).toBe(true);
        await provider.delete(DOCKER_CONTAINER, id, inputs, out, ctx);
    });

    it("refuses inputs it cannot apply, and unknown ones, before creating anything", async () => {
        for (const extra of [{ attach: true }, { volumes: [{ containerPath: "/x", hostPath: "/tmp" }] }, { gpus: "all" }, { bogus: true }] as Properties[]) {
            await expect(provider.create(DOCKER_CONTAINER, "refused", sleeper("refused", extra), ctx)).rejects.toThrow(/not supported by this stand-in|no input "bogus"/);
        }
        await expect(provider.create(DOCKER_CONTAINER, "refused", sleeper("refused", { uploads: [{ file: "/x", content: "x", owner: "www-data" }] }), ctx)).rejects.toThrow(
            /numeric id/,
        );
        // Defaults are fine: attach false is what the schema defaults to.
        const ok = sleeper("defaults", { attach: false, wait: false, start: false, mustRun: false });
        const { id, outputs } = await provider.create(DOCKER_CONTAINER, "defaults", ok, ctx);
        await provider.delete(DOCKER_CONTAINER, id, ok, outputs, ctx);
        expect(await exists(`${prefix}refused`)).toBe(true); // the owner-name refusal happens after ContainerCreate, as upstream's upload errors do
        await docker.getContainer(`${prefix}refused`).remove({ force: true });
    });

    it("fails a container whose image is neither local nor pullable", async () => {
        await expect(provider.create(DOCKER_CONTAINER, "noimage", sleeper("noimage", { image: "127.0.0.1:1/none/such:1" }), ctx)).rejects.toThrow(
            /^Unable to create container with image 127\.0\.0\.1:1\/none\/such:1: unable to pull image/,
        );
        expect(await exists(`${prefix}noimage`)).toBe(false);
    });

    describe("remote images from a registry", () => {
        let registry: TestRegistry;
        beforeAll(async () => {
            registry = await startRegistry();
        });
        afterAll(() => registry?.stop());

        it("pulls by tag@digest, reports repoDigest and imageId, keeps the image when keepLocally, removes it otherwise", async () => {
            const repo = `${registry.address}/redoubt/hello`;
            const imageId = await importImage(docker, `${repo}:1`, [{ name: "hello.txt", content: Buffer.from(`pulled ${prefix}\n`), mode: 0o644 }]);
            const digest = await pushImage(docker, `${repo}:1`);
            await docker.getImage(imageId).remove({ force: true });
            await expect(docker.getImage(imageId).inspect()).rejects.toMatchObject({ statusCode: 404 });

            const inputs = { name: `${repo}:1@${digest}`, keepLocally: true };
            const created = await provider.create(DOCKER_REMOTE_IMAGE, "hello", inputs, ctx);
            expect(created.outputs).toMatchObject({ name: inputs.name, keepLocally: true, imageId, repoDigest: `${repo}@${digest}` });
            expect(created.id).toBe(`${imageId}${inputs.name}`);
            // A container can use what the program passes on: the repoDigest.
            const c = sleeper("fromdigest", { image: `${repo}@${digest}`, entrypoints: ["/bin/true"], command: [], start: false, mustRun: false });
            const made = await provider.create(DOCKER_CONTAINER, "fromdigest", { ...c, command: undefined }, ctx);
            expect((await docker.getContainer(made.id).inspect()).Image).toBe(imageId);
            await provider.delete(DOCKER_CONTAINER, made.id, c, made.outputs, ctx);

            await provider.delete(DOCKER_REMOTE_IMAGE, created.id, inputs, created.outputs, ctx);
            expect((await docker.getImage(imageId).inspect()).Id).toBe(imageId);

            // keepLocally false: ImageRemove by the resource's name.
            const dropInputs = { name: inputs.name, keepLocally: false };
            const updated = await provider.update(DOCKER_REMOTE_IMAGE, created.id, inputs, dropInputs, created.outputs, ctx);
            expect(updated).toMatchObject({ keepLocally: false, imageId, repoDigest: `${repo}@${digest}` });
            const removal = await provider.delete(DOCKER_REMOTE_IMAGE, created.id, dropInputs, updated, ctx).then(
                () => "removed",
                (e: unknown) => (e as Error).message,
            );
            // Record what Docker answers to ImageRemove("repo:tag@digest") (upstream passes the name as given).
            const still = await docker
                .getImage(imageId)
                .inspect()
                .then(
                    () => true,
                    () => false,
                );
            expect({ removal, still }).toEqual({ removal: "removed", still: false });
        });
    });
});
