// A missing program fails the system tests with the package to install.
import { findProgram, requireProgram } from "./programs";

test("a missing program is a failure naming the Debian package", () => {
    expect(findProgram("redoubt-no-such-program")).toBeUndefined();
    expect(() => requireProgram("redoubt-no-such-program", "redoubt-no-such-package")).toThrow(/`redoubt-no-such-program`.*install the Debian package "redoubt-no-such-package"/);
});

test("a present program is found by absolute path", () => {
    expect(requireProgram("sh", "dash")).toMatch(/^\/.*\/sh$/);
});
