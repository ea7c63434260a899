#!/usr/bin/python3
# A STAND-IN FOR TUWUNEL 1.9.0, for the live host test only.
#
# Tuwunel's image cannot be had on the machines the live test runs on, so the
# homeserver role runs this program instead. It keeps Tuwunel's container
# contract, the part our stacks depend on, and nothing of Matrix itself:
#   - configuration from `-c FILE` (repeatable) and/or TUWUNEL_CONFIG (also the
#     old CONDUIT_CONFIG / CONDUWUIT_CONFIG), TUWUNEL_* environment overrides
#     and `-O key=value`, merged in Tuwunel's order (files, then environment,
#     then -O); unknown keys checked against the key list of the release's
#     example configuration, fatal with `error_on_unknown_config_opts = true`;
#     a few of check.rs's refusals (max_request_size, presence, registration);
#   - HTTP on address:port with /_matrix/client/versions,
#     /_tuwunel/server_version and /.well-known/matrix/client;
#   - a database directory that remembers its server_name;
#   - `--health-check` probing the listeners as src/main/health.rs does;
#   - SIGUSR2 running `admin_signal_execute` (only "server backup-database"
#     is understood) into a BackupEngine-like layout; SIGTERM/SIGINT exit 0.
# It never logs client addresses or request lines (Tuwunel at `warn` does not).
import errno
import http.server
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import sys
import threading
import time
import tomllib

VERSION = "1.9.0"
NAME = "Tuwunel"
KNOWN_KEYS_FILE = "/usr/local/share/tuwunel-standin/known-keys.json"
MARKER = "tuwunel-standin.json"
LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4}
# The unstable features list is Tuwunel's business; clients only need the versions.
MATRIX_VERSIONS = ["r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1"] + [
    f"v1.{n}" for n in range(1, 20)
]
ENV_PREFIXES = ("CONDUIT_", "CONDUWUIT_", "TUWUNEL_")
CONFIG_ENV = ("CONDUIT_CONFIG", "CONDUWUIT_CONFIG", "TUWUNEL_CONFIG")


class ConfigError(Exception):
    pass


log_level = LEVELS["info"]


def log(level, message):
    if LEVELS[level] < log_level:
        return
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    print(f"{stamp} {level.upper():>5} tuwunel: {message}", flush=True)


def set_log_level(directive):
    # Tuwunel takes an EnvFilter directive; the stand-in honours its bare level
    # (or the most verbose level named in a comma list).
    global log_level
    levels = [LEVELS[part.split("=")[-1].strip().lower()] for part in str(directive).split(",") if part.split("=")[-1].strip().lower() in LEVELS]
    log_level = min(levels) if levels else LEVELS["info"]


# ---------------------------------------------------------------- configuration


def deep_merge(base, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def parse_value(text):
    # Figment reads environment values and -O values as TOML values when they parse, else as strings.
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def load_file(path):
    if not os.path.exists(path):
        raise ConfigError(f"The following config files do not exist or have broken symlinks: [{path!r}]")
    with open(path, "rb") as f:
        try:
            doc = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"There was a problem with your configuration file {path}: {e}")
    headerless = any(not isinstance(v, dict) for v in doc.values())
    if headerless and "global" in doc:
        raise ConfigError(f"Configuration file mixes bare keys with a [global] profile: {path}.")
    # A headerless file is the global profile; otherwise only [global] applies here.
    return doc if headerless else doc.get("global", {})


def load_config(args):
    paths = [os.environ[name] for name in CONFIG_ENV if os.environ.get(name)] + args["config"]
    config = {}
    for path in paths:
        deep_merge(config, load_file(path))
    for prefix in ENV_PREFIXES:
        for name, value in sorted(os.environ.items()):
            if not name.startswith(prefix) or name in CONFIG_ENV or name == prefix + "PROFILE":
                continue
            path = name[len(prefix):].lower().split("__")
            node = config
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = parse_value(value)
    for option in args["options"]:
        key, sep, value = option.partition("=")
        if not sep:
            raise ConfigError(f"-O expects key=value, got {option!r}")
        path = key.strip().split(".")
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = parse_value(value.strip())
    return config


def load_known_keys():
    with open(KNOWN_KEYS_FILE) as f:
        sections = json.load(f)["sections"]
    # "global.appservice.<ID>" -> (["global", "appservice", None], keys); None matches any name.
    patterns = []
    for name, keys in sections.items():
        segments = []
        for seg in name.split("."):
            if seg.startswith("<") and seg.endswith(">"):
                alternatives = seg[1:-1].split("|")
                segments.append(None if len(alternatives) == 1 else set(alternatives))
            else:
                segments.append({seg})
        patterns.append((segments, set(keys)))
    return patterns


def segment_matches(pattern, name):
    return pattern is None or name in pattern


def table_known(patterns, path):
    # A table path is known when it is a documented section or a prefix of one.
    return any(len(segs) >= len(path) and all(segment_matches(s, p) for s, p in zip(segs, path)) for segs, _ in patterns)


def keys_of(patterns, path):
    keys = set()
    for segs, section_keys in patterns:
        if len(segs) == len(path) and all(segment_matches(s, p) for s, p in zip(segs, path)):
            keys |= section_keys
    return keys


def unknown_keys(patterns, path, table):
    found = []
    known = keys_of(patterns, path)
    for key, value in table.items():
        child = path + [key]
        tables = [value] if isinstance(value, dict) else value if isinstance(value, list) and value and all(isinstance(v, dict) for v in value) else None
        if tables is not None and table_known(patterns, child):
            for sub in tables:
                found += unknown_keys(patterns, child, sub)
        elif key not in known and not table_known(patterns, child):
            found.append(".".join(child[1:]))
    return found


def byte_size(value, key):
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*", str(value), re.IGNORECASE)
    if not match:
        raise ConfigError(f"{key}: cannot read {value!r} as a byte size")
    unit = (match.group(2) or "").upper().rstrip("B")
    scale = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "KI": 1024, "MI": 1024**2, "GI": 1024**3, "TI": 1024**4}[unit]
    return int(float(match.group(1)) * scale)


def check_config(config):
    """The parts of src/core/config/check.rs that are cheap to mirror; raises ConfigError."""
    strict = config.get("error_on_unknown_config_opts", False) is True
    unknown = unknown_keys(load_known_keys(), ["global"], config)
    for key in unknown:
        if strict:
            log("error", f'Config parameter "{key}" is unknown to tuwunel')
        else:
            log("warn", f'Config parameter "{key}" is unknown to tuwunel, ignoring.')
    if unknown and strict:
        raise ConfigError(f"Unknown config options were found: {unknown}")
    if "server_name" not in config:
        raise ConfigError("There was a problem with your configuration file: missing field `server_name`")
    if config["server_name"] == "your.server.name":
        raise ConfigError("server_name: You must specify a valid server name for production usage of tuwunel.")
    if config.get("sentry", False) and not config.get("sentry_endpoint"):
        raise ConfigError("sentry_endpoint: Sentry cannot be enabled without an endpoint set")
    tls = config.get("tls", {})
    if ("certs" in tls) != ("key" in tls):
        raise ConfigError("tls: tls.certs and tls.key must either both be set or unset")
    if config.get("registration_token") == "":
        raise ConfigError('registration_token: Registration token was specified but is empty ("")')
    token_file = config.get("registration_token_file")
    if token_file is not None:
        try:
            with open(token_file) as f:
                empty = f.read() == ""
        except OSError as e:
            log("error", f"Failed to read the registration token file: {e}")
            empty = True
        if empty:
            raise ConfigError("registration_token_file: Registration token file was specified but is empty or failed to be read")
    no_token = config.get("registration_token") is None and token_file is None
    if config.get("allow_registration", False) and no_token and not config.get("yes_i_am_very_very_sure_i_want_an_open_registration_server_prone_to_abuse", False):
        raise ConfigError("registration_token: allow_registration is enabled without a registration token; tuwunel will shut down.")
    if byte_size(config.get("max_request_size", 24 * 1024 * 1024), "max_request_size") < 10_000_000:
        raise ConfigError("max_request_size: Max request size is less than 10MB. Please increase it as this is too low for operable federation.")
    if config.get("allow_outgoing_presence", True) and not config.get("allow_local_presence", True):
        raise ConfigError("allow_local_presence: Outgoing presence requires allowing local presence. Please enable 'allow_local_presence' or disable outgoing presence.")
    if config.get("unix_socket_path") is not None:
        raise ConfigError("unix_socket_path: the Tuwunel stand-in listens on TCP only")


def as_list(value):
    return value if isinstance(value, list) else [value]


def bind_addresses(config):
    """(address, port, explicit) for each listener, like Config::get_bind_addrs."""
    explicit = "address" in config
    addresses = as_list(config.get("address", ["127.0.0.1", "::1"]))
    ports = as_list(config.get("port", 8008))
    return [(str(a), int(p), explicit) for a in addresses for p in ports]


# ---------------------------------------------------------------- database


class Database:
    def __init__(self, config):
        self.path = config.get("database_path", "/var/lib/tuwunel")
        self.server_name = config["server_name"]
        self.backup_path = config.get("database_backup_path")
        self.keep = config.get("database_backups_to_keep", 1)
        self.data = os.path.join(self.path, "db")
        self.lock = threading.Lock()

    def open(self):
        os.makedirs(self.data, exist_ok=True)
        os.makedirs(os.path.join(self.path, "media"), exist_ok=True)
        marker = os.path.join(self.data, MARKER)
        if os.path.exists(marker):
            with open(marker) as f:
                stored = json.load(f)
            if stored["server_name"] != self.server_name:
                raise ConfigError(
                    f"server_name: the database at {self.path} belongs to {stored['server_name']!r}; "
                    f"You can't change the server's name from {stored['server_name']!r}."
                )
            stored["starts"] = stored.get("starts", 0) + 1
        else:
            stored = {"server_name": self.server_name, "created": int(time.time()), "starts": 1, "stand_in_for": f"{NAME} {VERSION}"}
        self.write_json(marker, stored)

    @staticmethod
    def write_json(path, value):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(value, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def backup(self):
        """A BackupEngine-like backup: meta/<id> per backup, its files under private/<id>/."""
        if not self.backup_path:
            raise ConfigError("Configure database_backup_path to enable backups, or the path specified is not valid")
        if not isinstance(self.keep, int) or self.keep < 1:
            raise ConfigError("database_backups_to_keep must be at least 1")
        with self.lock:
            meta = os.path.join(self.backup_path, "meta")
            private = os.path.join(self.backup_path, "private")
            os.makedirs(meta, exist_ok=True)
            os.makedirs(private, exist_ok=True)
            ids = sorted(int(n) for n in os.listdir(meta) if n.isdigit())
            new_id = (ids[-1] + 1) if ids else 1
            target = os.path.join(private, str(new_id))
            shutil.rmtree(target, ignore_errors=True)
            # The data never changes outside this lock, so a copy under it is consistent.
            shutil.copytree(self.data, target)
            files = sorted(os.listdir(target))
            size = sum(os.path.getsize(os.path.join(target, n)) for n in files)
            with open(os.path.join(meta, f".{new_id}.tmp"), "w") as f:
                f.write(f"{int(time.time())}\n{new_id}\n{len(files)}\n")
                f.writelines(f"private/{new_id}/{n}\n" for n in files)
            os.replace(os.path.join(meta, f".{new_id}.tmp"), os.path.join(meta, str(new_id)))
            ids.append(new_id)
            for old in ids[: max(0, len(ids) - self.keep)]:
                os.unlink(os.path.join(meta, str(old)))
                shutil.rmtree(os.path.join(private, str(old)), ignore_errors=True)
            return new_id, size


# ---------------------------------------------------------------- HTTP


def make_handler(config):
    well_known_client = config.get("well_known", {}).get("client")

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = f"{NAME}/{VERSION}"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def send_json(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/_matrix/client/versions":
                self.send_json(200, {"versions": MATRIX_VERSIONS, "unstable_features": {}, "server": {"name": NAME.lower(), "version": VERSION}})
            elif path == "/_tuwunel/server_version":
                self.send_json(200, {"name": NAME, "version": VERSION})
            elif path == "/.well-known/matrix/client" and well_known_client:
                self.send_json(200, {"m.homeserver": {"base_url": well_known_client}})
            else:
                self.send_json(404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})

        do_HEAD = do_GET

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_json(404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})

        do_PUT = do_DELETE = do_OPTIONS = do_POST

        def version_string(self):
            return self.server_version

        def log_message(self, format, *args):
            # BaseHTTPRequestHandler would print the client address and request line.
            pass

        def log_error(self, format, *args):
            pass

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # socketserver would print a traceback naming the client's address.
        pass


class Server6(Server):
    address_family = socket.AF_INET6


def listen(config):
    handler = make_handler(config)
    servers = []
    for address, port, explicit in bind_addresses(config):
        cls = Server6 if ":" in address else Server
        try:
            servers.append(cls((address, port), handler))
        except OSError as e:
            if explicit:
                raise ConfigError(f"Failed to bind listener {address}:{port}: {e}")
            log("warn", f"Failed to bind default listener {address}:{port}: {e}; skipping")
    if not servers:
        raise ConfigError("No listeners could be bound.")
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    return servers


# ---------------------------------------------------------------- health check


def health_check(config):
    """src/main/health.rs: healthy when any listener answers `HTTP/1.x 200`."""
    request = b"GET /_tuwunel/server_version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    last = "No listeners are configured."
    for address, port, _ in bind_addresses(config):
        if address in ("0.0.0.0", ""):
            address = "127.0.0.1"
        elif address == "::":
            address = "::1"
        try:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect((address, port))
                s.sendall(request)
                head = b""
                while len(head) < 12:
                    chunk = s.recv(12 - len(head))
                    if not chunk:
                        break
                    head += chunk
            if head.startswith(b"HTTP/1.") and head.endswith(b" 200"):
                return 0
            last = f"Unexpected response from listener: {head.decode(errors='replace')!r}"
        except OSError as e:
            last = str(e)
    print(f"Error: {last}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------- main


def parse_args(argv):
    args = {"config": [], "options": [], "health_check": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-c", "--config", "-O", "--option"):
            if i + 1 >= len(argv):
                raise ConfigError(f"{arg} needs a value")
            args["config" if arg in ("-c", "--config") else "options"].append(argv[i + 1])
            i += 1
        elif arg.startswith("--config="):
            args["config"].append(arg.split("=", 1)[1])
        elif arg.startswith("--option="):
            args["options"].append(arg.split("=", 1)[1])
        elif arg.startswith("-O") and len(arg) > 2:
            args["options"].append(arg[2:])
        elif arg == "--health-check":
            args["health_check"] = True
        elif arg in ("-V", "--version"):
            print(f"tuwunel {VERSION} (redoubt live-test stand-in, not Tuwunel)")
            sys.exit(0)
        elif arg in ("-h", "--help"):
            print("tuwunel: a stand-in for Tuwunel 1.9.0 used by Redoubt's live host test.\n"
                  "Usage: tuwunel [-c FILE]... [-O key=value]... [--health-check]")
            sys.exit(0)
        else:
            raise ConfigError(f"unexpected argument {arg!r}")
        i += 1
    return args


def main(argv):
    try:
        args = parse_args(argv)
        config = load_config(args)
        if args["health_check"]:
            return health_check(config)
        set_log_level(config.get("log", "info"))
        log("warn", f"This is a STAND-IN for {NAME} {VERSION} (Redoubt live host test), not Tuwunel: it serves no Matrix.")
        check_config(config)
        db = Database(config)
        db.open()
        servers = listen(config)
    except ConfigError as e:
        log("error", str(e))
        return 1

    stop = threading.Event()
    usr2 = threading.Event()

    def on_quit(signum, frame):
        stop.set()

    def on_usr2(signum, frame):
        usr2.set()

    signal.signal(signal.SIGTERM, on_quit)
    signal.signal(signal.SIGINT, on_quit)
    signal.signal(signal.SIGQUIT, on_quit)
    signal.signal(signal.SIGUSR2, on_usr2)
    signal.signal(signal.SIGUSR1, lambda s, f: log("warn", "Received SIGUSR1"))
    commands = config.get("admin_signal_execute", [])
    while not stop.is_set():
        # Waiting with a timeout keeps the main thread able to run the handlers.
        stop.wait(0.5)
        if usr2.is_set():
            usr2.clear()
            log("warn", "Received SIGUSR2")
            for command in commands:
                if command.strip() == "server backup-database":
                    try:
                        backup_id, size = db.backup()
                        log("info", f"Backup {backup_id} completed ({size} bytes).")
                    except (OSError, ConfigError) as e:
                        log("error", f"server backup-database: {e}")
                else:
                    log("error", f"admin_signal_execute: the stand-in only runs 'server backup-database', not {command!r}")
    log("warn", "Received shutdown signal; stopping.")
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
