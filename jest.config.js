// Two projects: `unit` (npm test: mocks, policy pack over gRPC, pure logic)
// and `system` (npm run test:system: generated configuration run through the
// real programs from Debian's packages).
const base = {
  preset: "ts-jest",
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
};
module.exports = {
  reporters: ["default", "<rootDir>/test/summary-reporter.js"],
  projects: [
    { ...base, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts", "<rootDir>/test/policy/**/*.test.ts", "<rootDir>/test/e2e/**/*.test.ts"] },
    { ...base, displayName: "system", testMatch: ["<rootDir>/test/system/**/*.test.ts"] },
  ],
};
