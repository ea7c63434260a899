// Three projects: `unit` (npm test: mocks, policy pack over gRPC, pure logic),
// `system` (npm run test:system: generated configuration run through the
// real programs from Debian's packages) and `live` (npm run test:live: the
// stacks on a real Debian Docker host in a VM).
const base = {
    preset: "ts-jest",
    testEnvironment: "node",
    transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
};
module.exports = {
    // Jest's default leaves one core to its own process (cores - 1), which is one worker on the
    // 2-core machines this runs on; the unit tests wait on child processes (CLIs, the policy
    // pack) much of the time, so one worker per core is faster. system and live run in band.
    maxWorkers: "100%",
    reporters: ["default", "<rootDir>/test/summary-reporter.js"],
    globalSetup: "<rootDir>/test/global-setup.ts",
    projects: [
        { ...base, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts", "<rootDir>/test/policy/**/*.test.ts", "<rootDir>/test/e2e/**/*.test.ts"] },
        { ...base, displayName: "system", testMatch: ["<rootDir>/test/system/**/*.test.ts"] },
        // npm run test:live: the stacks deployed onto a real Debian Docker host (a qemu VM), probed from outside.
        { ...base, displayName: "live", testMatch: ["<rootDir>/test/live/**/*.test.ts"] },
    ],
};
