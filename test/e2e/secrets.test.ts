// Secret values stay Pulumi secrets everywhere a stack carries them.
import { runStacks, type StackRun } from "../../lib/mock-run";
import { CONTAINER, labelsOf, ofType, pinnedAsOf, STORAGE_BOX, stringsIn } from "./stack-helpers";

let runs: StackRun[];

beforeAll(async () => {
    runs = await runStacks({ configOverrides: pinnedAsOf() });
}, 60_000);

/** What a secret looks like under the mocks: generated passwords and private keys. */
const SECRET_SHAPES = [/mock-password-[0-9a-f]+/, /PRIVATE KEY/, /^PrivateKey = /m];

describe("secrets", () => {
    it("no generated password or private key appears in a plain (non-secret) input", () => {
        const leaks = runs.flatMap((run) =>
            run.resources.flatMap((r) =>
                stringsIn(r.inputs)
                    .filter((s) => !s.secret && SECRET_SHAPES.some((shape) => shape.test(s.value)))
                    .map((s) => `${r.urn}: ${s.value.slice(0, 60)}`),
            ),
        );
        expect(leaks).toEqual([]);
        // The secrets are there, only marked: the check is looking at real values.
        const marked = runs.flatMap((run) => run.resources.flatMap((r) => stringsIn(r.inputs).filter((s) => s.secret && SECRET_SHAPES.some((shape) => shape.test(s.value)))));
        expect(marked.length).toBeGreaterThan(10);
    });

    it("no secret appears in a plain stack output", () => {
        const leaks = runs.flatMap((run) => stringsIn(run.outputs).filter((s) => !s.secret && SECRET_SHAPES.some((shape) => shape.test(s.value))));
        expect(leaks).toEqual([]);
        const iceland = runs.find((r) => r.stack === "iceland")!;
        const acme = (iceland.outputs.tenants as Record<string, Record<string, unknown>>).acme;
        expect(stringsIn(acme.registrationToken)).toEqual([{ value: expect.stringMatching(/^mock-password-/), secret: true }]);
        const helsinki = runs.find((r) => r.stack === "backup-helsinki")!;
        const credentials = (helsinki.outputs.tenants as Record<string, Record<string, unknown>>).acme;
        for (const field of ["sshPrivateKey", "resticPassword"]) expect(stringsIn(credentials[field]).every((s) => s.secret)).toBe(true);
    });

    it("uploads that carry secrets are secret as a whole; the LUKS key goes over stdin as a secret", () => {
        const iceland = runs.find((r) => r.stack === "iceland")!;
        for (const container of ofType(iceland, CONTAINER)) {
            const carries = stringsIn(container.inputs.uploads).some((s) => SECRET_SHAPES.some((shape) => shape.test(s.value)));
            if (carries)
                expect({ container: container.name, secret: stringsIn(container.inputs.uploads).every((s) => s.secret) }).toEqual({ container: container.name, secret: true });
        }
        const luks = iceland.resources.filter((r) => r.name.endsWith("-volume-luks"));
        expect(luks).toHaveLength(3);
        for (const command of luks) expect(stringsIn(command.inputs.stdin)).toEqual([{ value: expect.stringMatching(/^mock-password-/), secret: true }]);
    });

    it("storage box passwords are secret", () => {
        for (const run of runs) for (const box of ofType(run, STORAGE_BOX)) expect(stringsIn(box.inputs.password).every((s) => s.secret)).toBe(true);
    });

    it("no container sets a secret-looking environment variable", () => {
        const iceland = runs.find((r) => r.stack === "iceland")!;
        for (const container of ofType(iceland, CONTAINER)) {
            const envs = stringsIn(container.inputs.envs);
            expect({ role: labelsOf(container)["redoubt.role"], bad: envs.filter((e) => /(PASSWORD|TOKEN|SECRET|KEY)=/i.test(e.value)) }).toMatchObject({ bad: [] });
        }
    });
});
