import * as common from "../../policies/common";
import { monitoringNoUserData, monitoringProblems } from "../../policies/monitoring";
import { MONITORING_LABELS, MONITORING_TYPE, NODE_EXPORTER_COLLECTORS, monitoringInputs } from "../../components/render/monitoring";
import { runStacks } from "../../lib/mock-run";
import { runStack } from "./helpers";

/** The host's monitoring component as the engine passes it: its typed inputs. */
const monitoring = (props: Record<string, unknown> = { ...monitoringInputs() }) => ({ type: MONITORING_TYPE, name: "host-monitoring", props });

describe("monitoring-no-user-data", () => {
    it("keeps the pack's copy of the allow-lists equal to components/render/monitoring.ts", () => {
        expect(common.MONITORING_TYPE).toBe(MONITORING_TYPE);
        expect(common.MONITORING_LABELS).toEqual(MONITORING_LABELS);
        expect(common.NODE_EXPORTER_COLLECTORS).toEqual(NODE_EXPORTER_COLLECTORS);
    });

    it("accepts the rendered configuration", async () => {
        expect(await runStack(monitoringNoUserData, [monitoring()])).toEqual([]);
        expect(await runStack(monitoringNoUserData, [monitoring({ ...monitoringInputs({ listenAddress: "10.8.0.1:9100" }) })])).toEqual([]);
    });

    it("the real stacks' host monitoring carries the rendered inputs, and passes", async () => {
        const runs = await runStacks();
        const hosts = runs.flatMap((run) => run.resources.filter((r) => r.type === MONITORING_TYPE));
        expect(hosts.length).toBeGreaterThan(0);
        for (const host of hosts) {
            expect(host.outputs).toEqual(monitoringInputs());
            expect(await runStack(monitoringNoUserData, [monitoring(host.outputs)])).toEqual([]);
        }
    }, 120_000);

    it("refuses a metric with a request-path label, saying what to change", async () => {
        const inputs = monitoringInputs();
        const props = { ...inputs, metrics: [...inputs.metrics, { name: "redoubt_requests_total", labels: ["tenant", "path"] }] };
        expect(await runStack(monitoringNoUserData, [monitoring(props)])).toEqual([
            expect.stringMatching(
                /gives the metric redoubt_requests_total the label "path", which could carry user data .*; remove it and label only with tenant, role, site, kind\.$/,
            ),
        ]);
    });

    it.each([
        ["a user label", { metrics: [{ name: "redoubt_logins_total", labels: ["user"] }] }, /label "user"/],
        ["a metric without the prefix", { metrics: [{ name: "http_requests_total", labels: [] }] }, /name every collector metric with the redoubt_ prefix/],
        ["a collector outside the allow-list", { collectors: [...NODE_EXPORTER_COLLECTORS, "processes"] }, /collector "processes", which is not on the allow-list/],
        ["the default collectors left on", { disableDefaults: false }, /set disableDefaults to true/],
        ["no collectors list", { collectors: undefined }, /lists no node exporter collectors/],
        ["no metrics list", { metrics: undefined }, /declares no collector metrics/],
    ])("refuses %s", async (_what, change, message) => {
        expect(await runStack(monitoringNoUserData, [monitoring({ ...monitoringInputs(), ...change })])).toEqual([expect.stringMatching(message)]);
    });

    it("looks only at monitoring components", async () => {
        const other = { type: "command:remote:Command", name: "other", props: { metrics: [{ name: "x", labels: ["path"] }] } };
        expect(await runStack(monitoringNoUserData, [monitoring(), other])).toEqual([]);
        expect(monitoringProblems("other", other.props).length).toBeGreaterThan(0);
    });
});
