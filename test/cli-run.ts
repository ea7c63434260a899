// Runs one of the project's commands (cli/*.ts) as a child process, the way
// `npm run` does, and collects its exit code and output.
import { spawn } from "node:child_process";
import * as path from "node:path";

export const ROOT = path.join(__dirname, "..");
const TS_NODE = require.resolve("ts-node/dist/bin.js");

export interface CliRun {
    code: number | null;
    stdout: string;
    stderr: string;
}

export function runCli(script: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [TS_NODE, "--swc", script, ...args], {
            cwd: options.cwd ?? ROOT,
            env: { ...process.env, ...options.env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += String(d)));
        child.stderr.on("data", (d) => (stderr += String(d)));
        child.once("error", reject);
        child.once("close", (code) => resolve({ code, stdout, stderr }));
    });
}
