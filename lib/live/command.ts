// Stand-in for @pulumi/command's `command:remote:Command`, following
// pulumi-command provider/pkg/provider/remote (commandController.go,
// commandOutputs.go, common/inputs.go):
//   - `triggers` is replaceOnChanges; any other change is an update, which
//     runs `update` if set, else `create` again;
//   - create runs `create` over SSH with `stdin` (when non-empty) on a new
//     session; a non-zero exit fails the step;
//   - delete runs the `delete` of the state (the old inputs), if any;
//   - `environment` is sent with session.Setenv, which sshd refuses unless
//     AcceptEnv allows it: our program sets none, and this stand-in refuses it;
//   - the connection pins the host key (ssh.FixedHostKey when `hostKey` is set);
//   - outputs are the inputs plus `stdout` and `stderr`.
import { SshConnection, type SshTarget } from "./ssh";
import { changedKeys, type CreateResult, type LiveProvider, type Properties } from "./provider";

export const REMOTE_COMMAND = "command:remote:Command";

interface ConnectionInputs {
    host: string;
    port?: number;
    user?: string;
    privateKey?: string;
    hostKey?: string;
}

export interface CommandProviderOptions {
    /** The key to use when a connection names none (the real provider falls back to the SSH agent). */
    agentKey?: string;
}

export function commandProvider(options: CommandProviderOptions = {}): LiveProvider & { close(): void } {
    const connections = new Map<string, SshConnection>();
    const connect = (inputs: Properties): SshConnection => {
        const c = inputs.connection as ConnectionInputs | undefined;
        if (!c?.host) throw new Error("command: connection.host is required");
        if (!c.hostKey) throw new Error("command: this stand-in insists on connection.hostKey (the program pins every host key)");
        const privateKey = c.privateKey ?? options.agentKey;
        if (!privateKey) throw new Error("command: no privateKey in the connection and no agent key given");
        const target: SshTarget = { host: c.host, port: Number(c.port ?? 22), user: c.user ?? "root", privateKey, hostKey: c.hostKey };
        const key = JSON.stringify(target);
        let conn = connections.get(key);
        if (!conn) {
            conn = new SshConnection(target);
            connections.set(key, conn);
        }
        return conn;
    };
    const run = async (inputs: Properties, command: string | undefined): Promise<Properties> => {
        if (inputs.environment && Object.keys(inputs.environment).length > 0) {
            throw new Error("command: `environment` needs AcceptEnv on the host's sshd (session.Setenv); pass values on stdin instead");
        }
        if (command === undefined) return { ...inputs, stdout: "", stderr: "" };
        const stdin = typeof inputs.stdin === "string" && inputs.stdin.length > 0 ? inputs.stdin : undefined;
        const result = await connect(inputs).exec(command, { stdin });
        if (result.code !== 0) {
            // The real provider's error names the exit status and includes the output streams.
            throw new Error(`command exited with ${result.code ?? result.signal}: ${result.stderr.trim() || result.stdout.trim()}`);
        }
        return { ...inputs, stdout: result.stdout, stderr: result.stderr };
    };
    return {
        types: [REMOTE_COMMAND],
        diff(_type, olds, news) {
            const changed = changedKeys(olds, news);
            return { changed, replaceKeys: changed.filter((k) => k === "triggers") };
        },
        async create(_type, _name, inputs): Promise<CreateResult> {
            const outputs = await run(inputs, inputs.create as string | undefined);
            return { id: `live${Math.random().toString(16).slice(2, 10)}`, outputs };
        },
        async update(_type, _id, _olds, news) {
            return run(news, (news.update as string | undefined) ?? (news.create as string | undefined));
        },
        async delete(_type, _id, inputs) {
            await run(inputs, inputs.delete as string | undefined);
        },
        close() {
            for (const c of connections.values()) c.close();
        },
    };
}
