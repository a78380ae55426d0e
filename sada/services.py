"""The embedded default: a real single-node Kafka (KRaft) and Elasticsearch, fetched from Maven Central.

`up` fetches once into the cache dir (Kafka jars with Maven, the Elasticsearch integ-test zip),
starts both on loopback and waits until they answer; `down` stops them cleanly. When the
settings point at services that already answer, nothing is started. Elasticsearch refuses to run
as root, so as root it runs as the unprivileged system user `sada`, from /var/lib/sada.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    TransportError,
)

from core import connect, health
from core.config import Settings
from core.errors import ConfigError, ServiceError
from core.retry import backoff_seconds

LOCAL = Path(__file__).with_name("local")  # pom.xml, server.properties, log4j2: package data
ES_VERSION = "8.19.7"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
ES_USER = "sada"
HEAP = "-Xms512m -Xmx512m"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Paths:
    kafka: Path  # jars, data, log and pid of the broker
    elasticsearch: Path  # the unpacked distribution, shared by nodes
    es_node: Path  # one node's data, logs and pid: one per HTTP port, so two stacks can coexist

    @classmethod
    def for_settings(cls, settings: Settings) -> Paths:
        es_root = Path("/var/lib/sada") if os.geteuid() == 0 else settings.cache_dir
        port = urlparse(settings.es_url).port or 9200
        return cls(
            kafka=settings.cache_dir / "kafka",
            elasticsearch=es_root / "elasticsearch",
            es_node=es_root / "elasticsearch" / f"node-{port}",
        )


def _host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host or "127.0.0.1", int(port)


def kafka_reachable(settings: Settings, timeout: float = 2.0) -> bool:
    """True if the broker accepts a metadata request (a TCP connect alone can be a half-started
    JVM), with the settings' credentials."""
    from kafka import KafkaAdminClient
    from kafka.errors import AuthorizationError, KafkaError, SaslAuthenticationFailedError

    try:
        with socket.create_connection(_host_port(settings.kafka_bootstrap), timeout=timeout):
            pass
        admin = KafkaAdminClient(
            **connect.kafka_python(settings), request_timeout_ms=int(timeout * 3000)
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
        return True
    except (SaslAuthenticationFailedError, AuthorizationError) as exc:
        raise ConfigError(
            f"Kafka at {settings.kafka_bootstrap} refused Sada's credentials "
            f"(SADA_KAFKA_USERNAME / SADA_KAFKA_PASSWORD): {exc}"
        ) from exc
    except (OSError, KafkaError):
        return False


def es_reachable(settings: Settings, timeout: float = 2.0) -> bool:
    """True if the cluster answers, with the settings' credentials, and is green or yellow."""
    client = connect.elasticsearch(settings).options(request_timeout=timeout, max_retries=0)
    try:
        return client.cluster.health()["status"] in ("green", "yellow")
    except (AuthenticationException, AuthorizationException) as exc:
        raise ConfigError(
            f"Elasticsearch at {settings.es_where} refused Sada's credentials "
            f"(SADA_ES_API_KEY or SADA_ES_USERNAME / SADA_ES_PASSWORD): {exc.message}"
        ) from exc
    except (ApiError, TransportError):
        return False
    finally:
        client.close()


def require(settings: Settings) -> None:
    """Fail with a clear message, naming the URL and the fix, unless both services answer."""
    problems = []
    if not kafka_reachable(settings):
        problems.append(f"Kafka is not reachable at {settings.kafka_bootstrap}")
    if not es_reachable(settings):
        problems.append(f"Elasticsearch is not reachable at {settings.es_where}")
    if problems:
        raise ServiceError(
            "; ".join(problems) + ". Start the local services with `sada services up` "
            "(or `make services`), or point SADA_KAFKA_BOOTSTRAP / SADA_ES_URL at running ones."
        )


def wait_until_reachable(settings: Settings, sleep: Callable[[float], object] = time.sleep) -> None:
    """Return once both services answer, however long that takes: a stage started beside a
    broker or a node that is still starting (or restarting) waits for it, not ready on /readyz
    and saying every few seconds what it waits for, instead of exiting."""
    attempt = 0
    while True:
        try:
            require(settings)
        except ServiceError as exc:
            attempt += 1
            wait = backoff_seconds(attempt, initial=1.0, maximum=10.0)
            health.waiting("services", str(exc))
            log.warning("%s Retrying in %.0fs.", exc, wait)
            sleep(wait)
            continue
        health.recovered("services")
        return


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip()[-2000:]
        raise ServiceError(f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n{tail}")


def fetch_kafka(paths: Paths) -> Path:
    """Copy the Kafka broker's jars from Maven Central into the cache, once."""
    libs = paths.kafka / "libs"
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(
            "Maven (mvn) is needed to fetch Kafka; install it (apt-get install maven)"
        )
    tmp = libs.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    _run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(LOCAL / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
        ],
        "fetching Kafka from Maven Central",
    )
    tmp.rename(libs)
    return libs


def _unzip(archive: Path, target: Path) -> None:
    """Extract keeping the executable bits (zipfile alone drops them)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, target))
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                path.chmod(mode & 0o777)


def fetch_elasticsearch(paths: Paths) -> Path:
    """Download and unpack the Elasticsearch integ-test zip from Maven Central, once."""
    home = paths.elasticsearch / f"elasticsearch-{ES_VERSION}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError("Maven (mvn) is needed to fetch Elasticsearch; apt-get install maven")
    download = paths.elasticsearch / "download"
    _run(
        [
            mvn,
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact={ES_ARTIFACT}",
            f"-DoutputDirectory={download}",
        ],
        "fetching Elasticsearch from Maven Central",
    )
    _unzip(download / f"elasticsearch-{ES_VERSION}.zip", paths.elasticsearch)
    shutil.rmtree(download)
    return home


def _java_home(minimum: int = 17) -> str:
    """JAVA_HOME if set, else the JDK of the `java` on PATH."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        raise ServiceError(f"a JDK {minimum}+ is needed to run Kafka and Elasticsearch")
    return str(Path(java).resolve().parents[1])


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        with contextlib.suppress(ChildProcessError):  # reap it if it is our child (a test session
            os.waitpid(pid, os.WNOHANG)  # started it): a zombie would look alive
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _wait(check: Callable[[], bool], what: str, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise ServiceError(f"{what} did not become ready within {timeout:.0f}s; log {log}:\n{tail}")


def start_kafka(settings: Settings) -> None:
    """Start the broker of these settings (its port, its cache dir) unless one answers there."""
    if kafka_reachable(settings):
        return
    paths = Paths.for_settings(settings)
    paths.kafka.mkdir(parents=True, exist_ok=True)
    libs = fetch_kafka(paths)
    host, port = _host_port(settings.kafka_bootstrap)
    data = paths.kafka / "data"
    props = paths.kafka / "server.properties"
    props.write_text(
        (LOCAL / "server.properties")
        .read_text()
        .format(port=port, controller_port=port + 1, data_dir=data)
    )
    java = str(Path(_java_home()) / "bin" / "java")
    classpath = f"{libs}/*"
    log4j = f"-Dlog4j2.configurationFile={LOCAL / 'log4j2.properties'}"
    if not (data / "meta.properties").exists():
        _run(
            [
                java,
                "-cp",
                classpath,
                log4j,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                str(uuid.uuid4().hex[:22]),
                "-c",
                str(props),
            ],
            "formatting Kafka storage",
        )
    log = paths.kafka / "kafka.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [java, *HEAP.split(), "-cp", classpath, log4j, "kafka.Kafka", str(props)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (paths.kafka / "kafka.pid").write_text(str(proc.pid))
    _wait(lambda: kafka_reachable(settings), f"Kafka at {host}:{port}", log)


def _es_user() -> list[str]:
    """As root, run Elasticsearch as the unprivileged `sada` user, creating it if needed."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(ES_USER)
    except KeyError:
        _run(
            [
                "useradd",
                "--system",
                "--home-dir",
                "/var/lib/sada",
                "--shell",
                "/usr/sbin/nologin",
                ES_USER,
            ],
            f"creating the unprivileged user {ES_USER!r} for Elasticsearch",
        )
    return ["runuser", "-u", ES_USER, "--"]


def start_elasticsearch(settings: Settings) -> None:
    """Start the node of these settings (its HTTP port, its data dir) unless one answers there."""
    if es_reachable(settings):
        return
    paths = Paths.for_settings(settings)
    as_user = _es_user()
    paths.elasticsearch.mkdir(parents=True, exist_ok=True)
    home = fetch_elasticsearch(paths)
    for sub in ("data", "logs"):
        (paths.es_node / sub).mkdir(parents=True, exist_ok=True)
    if as_user:
        _run(["chown", "-R", f"{ES_USER}:{ES_USER}", str(paths.elasticsearch)], "chown")
    url = urlparse(settings.es_url)
    env = {
        **os.environ,
        "ES_JAVA_HOME": _java_home(),
        "ES_JAVA_OPTS": HEAP,
    }
    log = paths.es_node / "stdout.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                *as_user,
                str(home / "bin" / "elasticsearch"),
                "-E",
                "discovery.type=single-node",
                "-E",
                "xpack.security.enabled=false",
                "-E",
                f"network.host={url.hostname or '127.0.0.1'}",
                "-E",
                f"http.port={url.port or 9200}",
                "-E",
                f"transport.port={(url.port or 9200) + 100}",
                "-E",
                f"path.data={paths.es_node / 'data'}",
                "-E",
                f"path.logs={paths.es_node / 'logs'}",
                "-E",
                "cluster.name=sada-local",
                "-E",
                "cluster.routing.allocation.disk.threshold_enabled=false",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    (paths.es_node / "elasticsearch.pid").write_text(str(proc.pid))
    _wait(lambda: es_reachable(settings), f"Elasticsearch at {settings.es_url}", log)


def up(settings: Settings) -> None:
    """Fetch (once) and start both services unless they already answer: on the ports of
    `settings`, with the broker in its cache dir and the node's data beside its HTTP port, so
    a second stack (a test's own, to break) can run beside the usual one."""
    start_kafka(settings)
    start_elasticsearch(settings)


def _stop(pid_file: Path, timeout: float = 60.0) -> bool:
    pid = _pid_alive(pid_file)
    if pid is None:
        return False
    os.killpg(os.getpgid(pid), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid_file):
        time.sleep(0.3)
    if _pid_alive(pid_file):
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def stop_kafka(settings: Settings) -> bool:
    """Stop the broker started for these settings (SIGTERM: a clean shutdown); False if none."""
    return _stop(Paths.for_settings(settings).kafka / "kafka.pid")


def stop_elasticsearch(settings: Settings) -> bool:
    return _stop(Paths.for_settings(settings).es_node / "elasticsearch.pid")


def down(settings: Settings) -> list[str]:
    """Stop the services this machine started for these settings; return which ones."""
    stopped = []
    if stop_elasticsearch(settings):
        stopped.append("elasticsearch")
    if stop_kafka(settings):
        stopped.append("kafka")
    return stopped


def status(settings: Settings) -> dict[str, str]:
    paths = Paths.for_settings(settings)

    def describe(reachable: bool, pid_file: Path, where: str) -> str:
        pid = _pid_alive(pid_file)
        state = "up" if reachable else "down"
        owner = f"local, pid {pid}" if pid else "not started by sada"
        return f"{state} at {where} ({owner})"

    return {
        "kafka": describe(
            kafka_reachable(settings),
            paths.kafka / "kafka.pid",
            settings.kafka_bootstrap,
        ),
        "elasticsearch": describe(
            es_reachable(settings),
            paths.es_node / "elasticsearch.pid",
            settings.es_url,
        ),
    }
