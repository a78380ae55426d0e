"""The `sada` command: local services, the three stages, the demo and config checks."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Annotated, cast, get_args

import typer

from core import connect, health, logs, redact
from core.config import SadaConfig, Settings, load_config
from core.errors import ConfigError, Fatal, ServiceError
from core.live import LiveConfig
from sada import SAMPLE_CONFIG, services
from sada.commands import cluster, deadletter, sentiment, triage
from sada.commands.backtest import backtest

GC_THRESHOLDS = (50_000, 50, 1000)  # allocations (net), then young collections per older one

app = typer.Typer(
    help="Sada: real-time brand monitoring on Kafka and Elasticsearch.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
services_app = typer.Typer(help="The embedded local Kafka and Elasticsearch.", no_args_is_help=True)
config_app = typer.Typer(help="The clients file.", no_args_is_help=True)
query_app = typer.Typer(help="Brand queries.", no_args_is_help=True)
clients_app = typer.Typer(help="Each client's access to its own data.", no_args_is_help=True)
retention_app = typer.Typer(help="Old months of mentions and alerts.", no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(config_app, name="config")
app.add_typer(query_app, name="query")
app.add_typer(clients_app, name="clients")
app.add_typer(retention_app, name="retention")
app.command("backtest")(backtest)
app.add_typer(sentiment.app, name="sentiment", help="Train, evaluate and run the sentiment model.")
app.add_typer(triage.app, name="triage", help="Train the triage complaint model.")
app.add_typer(cluster.app, name="cluster")
app.add_typer(deadletter.app, name="deadletter")


def _settings() -> Settings:
    return Settings.from_env()


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {redact.redact(message)}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


Secure = Annotated[
    bool,
    typer.Option(
        "--secure",
        help="The secured pair (Kafka SASL_SSL with SCRAM users, Elasticsearch HTTPS with "
        "users), on ports of its own (9094, 9201) beside the plain one.",
    ),
]


def _services_settings(secure: bool) -> Settings:
    settings = _settings()
    return services.secured(settings) if secure else settings


@services_app.command("up")
def services_up(secure: Secure = False) -> None:
    """Fetch (once) and start the local Kafka and Elasticsearch; wait until both answer. With
    --secure, print the settings that point Sada at them (secrets as file references)."""
    settings = _settings()
    try:
        if secure:
            settings = services.up_secure(settings)
        else:
            services.up(settings)
    except (ServiceError, ConfigError) as exc:
        raise _fail(str(exc)) from exc
    for name, state in services.status(settings).items():
        typer.echo(f"{name}: {state}")
    if secure:
        env = services.SecureFiles.for_settings(settings).env
        typer.echo(f"# to point Sada at them (also in {env}):")
        for line in env.read_text().splitlines():
            typer.echo(f"export {line}")


@services_app.command("down")
def services_down(secure: Secure = False) -> None:
    """Stop the local services started by `sada services up` (or `up --secure`)."""
    try:
        stopped = services.down(_services_settings(secure))
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@services_app.command("status")
def services_status(secure: Secure = False) -> None:
    """Say whether Kafka and Elasticsearch answer, and who started them."""
    try:
        states = services.status(_services_settings(secure))
    except (ServiceError, ConfigError) as exc:
        raise _fail(str(exc)) from exc
    for name, state in states.items():
        typer.echo(f"{name}: {state}")


def check_clients_file(path: Path) -> SadaConfig:
    """Read a clients file and check all of it (its models, every query, every `sources:`
    entry): what `sada config check` and a worker reloading the file (core/live.py) run.
    Raises ConfigError listing every problem."""
    from ingest.catalog import jobs
    from processors.match import check_queries

    config = load_config(path)
    problems = check_queries(config)
    try:
        jobs(config)
    except ConfigError as exc:
        problems += str(exc).splitlines()
    if problems:
        raise ConfigError(
            f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems)
        )
    return config


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="The clients file.")]) -> None:
    """Validate a clients file and report every problem at once."""
    from ingest.catalog import search_plan

    try:
        config = check_clients_file(path)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    competitors = len(config.competitors())
    brands = sum(len(c.brands) for c in config.clients) - competitors
    tracked = f", {competitors} competitors" if competitors else ""
    typer.echo(f"{path}: ok ({len(config.clients)} clients, {brands} brands{tracked})")
    for line in search_plan(config):
        typer.echo(line)


@config_app.command("test-route")
def config_test_route(
    path: Annotated[Path, typer.Argument(help="The clients file.")],
    client: Annotated[str, typer.Argument(help="The client's id.")],
    route: Annotated[str, typer.Argument(help="The name of one of its routes.")],
) -> None:
    """Send a test alert to one route, to check its URL, token, chat or login."""
    from core.errors import RetryLater, Undeliverable
    from sinks.alerts import AlertSink, trial_alert

    try:
        config = load_config(path)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    owner = config.client(client)
    if owner is None:
        known = ", ".join(c.id for c in config.clients)
        raise _fail(f"{path}: no client {client!r} (clients: {known})")
    if route not in owner.routes:
        known = ", ".join(owner.routes) or "none"
        raise _fail(f"{path}: client {client!r} has no route {route!r} (routes: {known})")

    async def send() -> None:
        sink = AlertSink(LiveConfig(config))
        await sink.start()
        try:
            await sink.notify(owner.routes[route], trial_alert(client, route))
        finally:
            await sink.close()

    try:
        asyncio.run(send())
    except (RetryLater, Undeliverable) as exc:
        raise _fail(f"route {route!r}: {exc}") from exc
    typer.echo(f"route {route!r} ({owner.routes[route].type}): test alert delivered")


@query_app.command("test")
def query_test(
    query: Annotated[str, typer.Argument(help="One query, as written in a brand's include list.")],
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to try; default: each line of stdin.")
    ] = None,
) -> None:
    """Try a query on texts: matched or not, and what each term found, and how."""
    from processors.match import compile_query, describe, try_query

    try:
        node, matcher = compile_query(query)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    tried = matched = 0
    for text in texts or (line.rstrip("\r\n") for line in sys.stdin if line.strip()):
        trial = try_query(node, matcher, text)
        typer.echo("\n".join(describe(trial)))
        tried, matched = tried + 1, matched + trial.matched
    typer.echo(f"{matched} of {tried} texts matched")


@clients_app.command("grant")
def clients_grant(
    client: Annotated[str, typer.Argument(help="The client's id in the clients file.")],
    user: Annotated[
        str | None,
        typer.Option(help="Create (or reset) this native user instead of an API key."),
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(help="The user's password, from this file; default: stdin (never echoed)."),
    ] = None,
    print_role: Annotated[
        bool,
        typer.Option(
            help="Only print the role as a roles.yml entry (file realm, roles kept as code); "
            "change nothing."
        ),
    ] = False,
) -> None:
    """Let one client's dashboards read that client's mentions and alerts, and nothing else:
    an Elasticsearch role, and an API key (printed once, alone on stdout) or a user."""
    import yaml
    from elasticsearch import ApiError, TransportError

    from sada import clients

    settings = _settings()
    known = [c.id for c in _load(settings).clients]
    if client not in known:
        raise _fail(f"{settings.config_path}: no client {client!r} (clients: {', '.join(known)})")
    role = clients.role_name(settings.namespace, client)
    if print_role:
        typer.echo(yaml.safe_dump({role: clients.role(settings.namespace, client)}), nl=False)
        return
    try:
        if user is None:
            key = clients.grant_api_key(settings, client)
            typer.echo(f"role {role}; a new API key with it (shown only now):", err=True)
            typer.echo(key)
            return
        password = _password(password_file)
        clients.grant_user(settings, client, user, password)
    except ApiError as exc:
        raise _fail(clients.refusal(settings, exc)) from exc
    except TransportError as exc:
        raise _fail(f"Elasticsearch at {settings.es_where}: unreachable ({exc})") from exc
    typer.echo(f"role {role}; user {user} holds it and no other")


def _password(path: Path | None) -> str:
    """A password from a file, a terminal (asked twice, hidden) or a pipe: first line."""
    if path is not None:
        try:
            password = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise _fail(f"{path}: cannot read the password: {exc.strerror}") from exc
    elif sys.stdin.isatty():
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise _fail("the password is empty: give it on stdin or with --password-file")
    redact.register([password])
    return password


console_app = typer.Typer(
    help="The social-media manager's web app: inbox, incidents, replies.",
    invoke_without_command=True,
)
console_users = typer.Typer(help="Console logins.", no_args_is_help=True)
console_app.add_typer(console_users, name="user")
app.add_typer(console_app, name="console")


@console_app.callback()
def console(
    ctx: typer.Context,
    port: Annotated[
        int | None, typer.Option(help="Port to serve on; default SADA_CONSOLE_PORT or 8080.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Serve the console until stopped (`sada console user add` makes its logins)."""
    if ctx.invoked_subcommand is not None:
        return
    from console.app import configured_port, serve

    settings = _settings()
    live = _live(settings)
    services.wait_until_reachable(settings)
    typer.echo(f"console: http://{host}:{port or configured_port()}/", err=True)
    try:
        serve(settings, live, host, port or configured_port())
    except ConfigError as exc:
        raise _fail(str(exc)) from exc


@console_app.command("report")
def console_report(
    client: Annotated[str, typer.Argument(help="The client's id in the clients file.")],
    week: Annotated[
        str | None, typer.Option(help="ISO week, YYYY-Www; default: this week.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the HTML here; default: stdout.")] = None,
    send: Annotated[
        str | None, typer.Option(help="Email it through this email route of the client instead.")
    ] = None,
) -> None:
    """The client's weekly report (pulse, incidents, share of voice, response times) as HTML."""
    from datetime import UTC, datetime

    from elasticsearch import ApiError, TransportError

    from console import report
    from core.config import EmailRoute
    from core.errors import RetryLater, Undeliverable

    settings = _settings()
    owner = _load(settings).client(client)
    if owner is None:
        raise _fail(f"client {client!r} is not in the clients file {settings.config_path}")
    route = owner.routes.get(send) if send else None
    if send and not isinstance(route, EmailRoute):
        emails = ", ".join(n for n, r in owner.routes.items() if isinstance(r, EmailRoute))
        raise _fail(f"--send {send}: not an email route of {client} ({emails or 'it has none'})")
    try:
        start, label = report.week_of(week, datetime.now(UTC))
    except ValueError as exc:
        raise _fail(f"--week: {exc}") from exc

    async def build() -> report.Report:
        es = connect.async_elasticsearch(settings)
        try:
            return await report.load(es, settings.namespace, owner, start, label)
        finally:
            await es.close()

    try:
        built = asyncio.run(build())
        if isinstance(route, EmailRoute):
            asyncio.run(report.send(route, built))
    except (ApiError, TransportError) as exc:
        raise _fail(f"Elasticsearch at {settings.es_where}: {exc}") from exc
    except (RetryLater, Undeliverable) as exc:
        raise _fail(f"route {send!r}: {exc}") from exc
    if isinstance(route, EmailRoute):
        typer.echo(f"report {label} for {client} sent through {send}", err=True)
    elif out:
        out.write_text(report.render(built), encoding="utf-8")
        typer.echo(f"report {label} for {client} written to {out}", err=True)
    else:
        typer.echo(report.render(built))


@console_users.command("add")
def console_user_add(
    name: Annotated[str, typer.Argument(help="The login name.")],
    client: Annotated[
        list[str], typer.Option("--client", help="A client id this user sees (repeat for more).")
    ] = [],  # noqa: B006
    admin: Annotated[bool, typer.Option(help="Sees every client.")] = False,
    password_file: Annotated[
        Path | None,
        typer.Option(help="The user's password, from this file; default: stdin (never echoed)."),
    ] = None,
) -> None:
    """Create a console user, or replace one (new password, new clients)."""
    from elasticsearch import ApiError, TransportError

    from console.auth import add_user

    settings = _settings()
    config = _load(settings)
    if unknown := [c for c in client if config.client(c) is None]:
        raise _fail(
            f"--client {', '.join(unknown)}: not in the clients file {settings.config_path}"
        )
    password = _password(password_file)
    try:
        with connect.elasticsearch(settings) as es:
            add_user(es, settings.namespace, name, client, admin, password)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    except (ApiError, TransportError) as exc:
        raise _fail(f"Elasticsearch at {settings.es_where}: {exc}") from exc
    typer.echo(f"console user {name}: {'every client' if admin else ', '.join(client)}")


@retention_app.command("apply")
def retention_apply(
    dry_run: Annotated[bool, typer.Option(help="Say what would go; delete nothing.")] = False,
) -> None:
    """Delete each client's monthly indices (mentions and alerts) whose whole month is older
    than the client's retention_days in the clients file; say what went and what stays."""
    from datetime import UTC, datetime

    from elasticsearch import ApiError, TransportError

    from sada import retention

    settings = _settings()
    config = _load(settings)
    try:
        verdicts = retention.apply(settings, config, datetime.now(UTC), dry_run)
    except (ApiError, TransportError) as exc:
        raise _fail(f"Elasticsearch at {settings.es_where}: {exc}") from exc
    gone = "would delete" if dry_run else "deleted"
    for verdict in verdicts:
        typer.echo(f"{gone if verdict.delete else 'kept'} {verdict.index}: {verdict.why}")
    typer.echo(f"{gone} {sum(v.delete for v in verdicts)} of {len(verdicts)} monthly indices")


@app.command()
def init(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Where to write it; default: SADA_CONFIG, else ~/.config/sada/clients.yaml."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter clients file (the sample) to make your own."""
    settings = _settings()
    target = path or settings.config_path
    if target.exists() and not force:
        raise _fail(f"{target} exists; pass --force to overwrite it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLE_CONFIG, target)
    except OSError as exc:
        raise _fail(f"{target}: cannot write it: {exc.strerror}") from exc
    default = target.resolve() == settings.config_path.resolve()
    env = "" if default else f"SADA_CONFIG={target.resolve()} "
    typer.echo(
        f"wrote {target}, the sample clients file. Next:\n"
        "  1. edit it: your clients, their brands and queries (include/exclude), the alert\n"
        "     routes (the sample's webhooks go to 127.0.0.1:8765, the demo's receiver), and the\n"
        "     `sources:` to watch;\n"
        f"  2. check it: sada config check {target}\n"
        f"  3. try a route: sada config test-route {target} CLIENT ROUTE\n"
        f"  4. run the stages: {env}sada ingest, {env}sada process, {env}sada sinks"
    )


def _load(settings: Settings):  # type: ignore[no-untyped-def]
    if not settings.config_path.exists():
        raise _fail(
            f"no clients file at {settings.config_path}: write one with `sada init`, "
            "or point SADA_CONFIG at yours"
        )
    try:
        return load_config(settings.config_path)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc


def _live(settings: Settings) -> LiveConfig:
    """The clients file of a long-running stage, which follows its changes (core/live.py)."""
    return LiveConfig(
        _load(settings),
        settings.config_path,
        check=check_clients_file,
        seconds=settings.config_reload_seconds,
    )


def _prepare(settings: Settings, ready: Callable[[], bool], consumes: str | None = None) -> None:
    """What every stage does first: log in SADA_LOG_FORMAT; serve /metrics, /healthz and
    /readyz (answered by `ready`) on SADA_METRICS_HOST:SADA_METRICS_PORT if set, with the lag
    of the consumer groups of `consumes` (`sada.topics.consumed`); wait until both services
    answer; create missing topics."""
    from sada import lag
    from sada.topics import ensure_topics

    logs.use(settings.log_format)
    if settings.metrics_port:
        health.serve(settings.metrics_port, ready, settings.metrics_host)
    services.wait_until_reachable(settings)
    ensure_topics(settings)
    if settings.metrics_port and consumes:
        lag.export(settings, consumes)


def _parse_sets(pairs: list[str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise _fail(f"--set {pair!r}: expected key=value")
        try:
            values[key] = json.loads(value)
        except json.JSONDecodeError:
            values[key] = value
    return values


@app.command()
def ingest(
    source: Annotated[
        str | None, typer.Option(help="One source by name; default: the clients file's sources.")
    ] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Source config field: key=value.")] = [],  # noqa: B006
    once: Annotated[bool, typer.Option(help="Fetch one round, then stop.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Print what would be produced; no Kafka.")] = False,
) -> None:
    """Run sources and produce their mentions to Kafka (or print them with --dry-run)."""
    from pydantic import ValidationError

    from ingest.catalog import SOURCES, jobs
    from ingest.cursor import CursorStore, set_default_store
    from ingest.producer import Emitter, KafkaEmitter, PrintEmitter
    from ingest.runner import Job, run, run_live

    settings = _settings()
    live = None
    if source is None:
        live = _live(settings)
        try:
            selected = jobs(live.config)
        except ConfigError as exc:
            raise _fail(f"{settings.config_path}:\n{exc}") from exc
        if not selected:
            raise _fail(
                f"{settings.config_path} lists no sources; add a `sources:` section "
                "or pass --source NAME"
            )
    elif source not in SOURCES:
        raise _fail(f"unknown source {source!r}; known: {', '.join(sorted(SOURCES))}")
    else:
        try:
            selected = [
                Job(
                    source,
                    SOURCES[source],
                    SOURCES[source].Config.model_validate(_parse_sets(set_)),
                )
            ]
        except ValidationError as exc:
            raise _fail(f"source {source!r} config: {exc}") from exc
    emitter: Emitter
    if dry_run:
        emitter = PrintEmitter()  # cursors stay in memory: a dry run moves nothing forward
    else:
        _prepare(settings, lambda: services.kafka_reachable(settings))
        emitter = KafkaEmitter(settings)
        set_default_store(CursorStore(settings.state_dir, barrier=emitter.flush))
        quiet_gc()  # a busy stage; a dry run is a short trial
    try:
        if live and not (once or dry_run) and settings.config_reload_seconds:
            tallies = asyncio.run(run_live(live, jobs, emitter))  # follows the clients file
        else:
            tallies = asyncio.run(run(selected, emitter, once=once or dry_run))
    except Fatal as exc:
        raise _fail(str(exc)) from exc
    for name, tally in tallies.items():
        typer.echo(f"{name}: {tally.mentions} mentions, {tally.rejected} dead-lettered", err=True)


@app.command()
def process(
    stage: Annotated[
        str,
        typer.Option(
            help="all: both stages in this worker; score or detect: one stage, the other in a "
            "worker of its own (twice the throughput on two cores)."
        ),
    ] = "all",
) -> None:
    """Run the stream processors (a Faust worker) until stopped."""
    import uvloop
    from faust import Worker

    from processors.app import Stage, create_app

    if stage not in get_args(Stage):
        raise _fail(f"--stage must be all, score or detect, not {stage!r}")
    settings = _settings()
    live = _live(settings)
    _prepare(settings, lambda: services.kafka_reachable(settings), consumes=stage)
    # Faust spends much of each record in asyncio itself; on uvloop a worker needs ~10% less CPU.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    faust_app = create_app(settings, live, cast(Stage, stage))
    quiet_gc()
    logging.getLogger().setLevel(logging.WARNING)  # Faust's info lines would drown ours
    # Sada's log format (SADA_LOG_FORMAT) stays: Faust would set its own
    worker = Worker(faust_app, quiet=True, override_logging=False)
    worker.spinner = None  # the terminal spinner sets the root logger to DEBUG: 5-8% of a core
    worker.execute_from_commandline()


def quiet_gc() -> None:
    """Keep CPython's cycle collector from stalling a busy stage (a worker, a source).

    With the default thresholds it ran every few hundred mentions and walked every live object
    (model, matcher, tables): at 2,000 mentions/s the stalls added up to a queue and alerts
    came 1.5-3 s late instead of 0.3 s (measured). A source's pages become thousands of short
    lived dicts and elements: the young collections alone cost ingest 5-10% of its rate
    (docs/ingest.md). What exists after start-up lives for good, so it is frozen out of the
    collector's walks; collections of young objects run less often.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@app.command()
def sinks() -> None:
    """Index scored mentions and alerts into Elasticsearch and deliver alerts, until stopped."""
    from sada.workers import run_sinks

    settings = _settings()
    live = _live(settings)
    _prepare(settings, lambda: services.es_reachable(settings), consumes="sinks")
    try:
        asyncio.run(run_sinks(settings, live))
    except Fatal as exc:
        raise _fail(str(exc)) from exc


@app.command()
def demo(
    count: Annotated[int, typer.Option(help="Synthetic mentions to stream.")] = 2000,
    rate: Annotated[float, typer.Option(help="Mentions per second.")] = 200.0,
) -> None:
    """Start the local services and run the whole pipeline on the synthetic stream."""
    from console.app import configured_port
    from sada.demo import run_demo

    settings = _settings()
    try:
        services.up(settings)
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
    # At a terminal the console stays up for the person to look; run by a script, the demo ends.
    run_demo(
        settings,
        count=count,
        rate=rate,
        console_port=configured_port(),
        stay=sys.stdin.isatty() and sys.stdout.isatty(),
    )


def _redacted_crash(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    """A crash's traceback, printed as Python would, with secrets masked."""
    sys.stderr.write(redact.redact("".join(traceback.format_exception(kind, error, tb))))


def main() -> None:
    redact.install()  # every log record of every command, Faust's and the clients' too
    sys.excepthook = _redacted_crash
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=logs.TEXT,
    )
    logging.getLogger("kafka").setLevel(logging.ERROR)
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app()
