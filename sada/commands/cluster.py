"""`sada cluster up/down/status`: the local multi-node mode (sada/cluster.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from core import redact
from core.config import Settings
from core.errors import ConfigError, ServiceError
from sada import cluster

app = typer.Typer(
    help="A local multi-node Kafka and Elasticsearch, to try replication and node loss.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {redact.redact(message)}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


def _echo_status(settings: Settings) -> None:
    for name, state in cluster.status(settings).items():
        typer.echo(f"{name}: {state}")


@app.command("up")
def up(
    brokers: Annotated[int, typer.Option(help="Kafka brokers (each also a controller).")] = 3,
    nodes: Annotated[
        int, typer.Option(help="Elasticsearch nodes: one master and data, the rest data only.")
    ] = 2,
    kafka_port: Annotated[
        int, typer.Option(help="The first broker's port; the others follow it.")
    ] = cluster.DEFAULT_KAFKA_PORT,
    es_port: Annotated[
        int, typer.Option(help="The first node's HTTP port; the others follow it.")
    ] = cluster.DEFAULT_ES_PORT,
) -> None:
    """Fetch (once) and start the cluster in SADA_CACHE_DIR/cluster; print the settings to use."""
    settings = Settings.from_env()
    try:
        layout = cluster.Layout(brokers, nodes, kafka_port, es_port)
        cluster.up(settings, layout)
    except (ConfigError, ServiceError) as exc:
        raise _fail(str(exc)) from exc
    _echo_status(settings)
    typer.echo("point Sada at it with:")
    for name, value in layout.env().items():
        typer.echo(f"  export {name}={value}")


@app.command("down")
def down(
    purge: Annotated[bool, typer.Option(help="Delete the cluster's data too.")] = False,
) -> None:
    """Stop every broker and node of the local cluster."""
    stopped = cluster.down(Settings.from_env(), purge=purge)
    typer.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command("status")
def status() -> None:
    """Say whether each broker and node answers."""
    try:
        _echo_status(Settings.from_env())
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
