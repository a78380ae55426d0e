"""The embedded default: a real single-node Kafka (KRaft) and Elasticsearch, fetched from Maven Central.

`up` fetches once into the cache dir (Kafka jars with Maven, the Elasticsearch integ-test zip),
starts both on loopback and waits until they answer; `down` stops them cleanly. When the
settings point at services that already answer, nothing is started. Elasticsearch refuses to run
as root, so as root it runs as the unprivileged system user `sada`, from /var/lib/sada.

`up_secure` starts a secured pair on ports of its own beside the plain one: the broker takes
only SASL_SSL (SCRAM-SHA-512 users) and the node only HTTPS with credentials (Sada is a user of
the file realm with a role of its own), both with certificates of a CA made for the purpose.
The integ-test distribution has no security index (it lacks the analysis module its mapping
needs), so there are no API keys or native users here: file-realm users and roles only.
Everything they need is generated once under <cache_dir>/secure/, secrets in 0600 files, and
sada.env there says how to point Sada at them (by file references: no secret is printed).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    SSLError,
    TransportError,
)

from core import connect, health, redact
from core.config import Settings
from core.errors import ConfigError, ServiceError
from core.retry import backoff_seconds

LOCAL = Path(__file__).with_name("local")  # pom.xml, server.properties, log4j2: package data
ES_VERSION = "8.19.7"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
ES_USER = "sada"
HEAP = "-Xms512m -Xmx512m"
WAIT_SECONDS = 120.0  # how long a starting service may take to answer
SECURE_KAFKA_PORT = 9094  # the secured stack's defaults: beside the plain one's 9092 (and its
# controller's 9093) and 9200 (and its transport's 9300)
SECURE_ES_PORT = 9201
KAFKA_USER = "sada"  # the SCRAM user Sada connects as
KAFKA_ADMIN = "admin"  # the broker's own (inter-broker) user, a super user
SCRAM = "SCRAM-SHA-512"
ES_SADA = "sada"  # Sada's Elasticsearch user and role, in the node's file realm
SADA_ROLE = """# Written by `sada services up --secure`: what Sada may do in the secured local node.
sada:
  cluster: [monitor, manage_index_templates]
  indices:
    - names: ["*"]
      privileges: [all]
"""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Paths:
    libs: Path  # the broker's jars, shared by the plain and the secured broker
    kafka: Path  # data, log and pid of the broker
    elasticsearch: Path  # the unpacked distribution, shared by nodes
    es_node: Path  # one node's data, logs and pid: one per HTTP port, so two stacks can coexist

    @classmethod
    def for_settings(cls, settings: Settings) -> Paths:
        es_root = Path("/var/lib/sada") if os.geteuid() == 0 else settings.cache_dir
        port = urlparse(settings.es_url).port or 9200
        secure = settings.kafka_security_protocol == "SASL_SSL"
        return cls(
            libs=settings.cache_dir / "kafka" / "libs",
            kafka=settings.cache_dir / ("secure/kafka" if secure else "kafka"),
            elasticsearch=es_root / "elasticsearch",
            es_node=es_root / "elasticsearch" / f"node-{port}",
        )


@dataclass(frozen=True)
class SecureFiles:
    """The secured stack's generated files, in <cache_dir>/secure/ (secrets mode 0600)."""

    root: Path
    ca: Path  # the CA made for the purpose (PEM), which clients trust
    ca_key: Path
    cert: Path  # the broker's and the node's certificate, for 127.0.0.1 and localhost (PEM)
    key: Path
    keystore: Path  # the broker's key and certificate (PKCS12)
    truststore: Path  # the CA, for the broker's own client side (PKCS12)
    store_password: Path  # the PKCS12 stores' password
    kafka_password: Path  # Sada's SCRAM user's
    admin_password: Path  # the broker's own (inter-broker) SCRAM user's
    elastic_password: Path  # the `elastic` superuser's (bootstrap.password)
    es_password: Path  # Sada's Elasticsearch user's
    env: Path  # the SADA_* settings that point Sada at the secured stack

    @classmethod
    def for_settings(cls, settings: Settings) -> SecureFiles:
        root = settings.cache_dir / "secure"
        return cls(
            root=root,
            ca=root / "ca.crt",
            ca_key=root / "ca.key",
            cert=root / "node.crt",
            key=root / "node.key",
            keystore=root / "kafka.keystore.p12",
            truststore=root / "kafka.truststore.p12",
            store_password=root / "kafka-store.password",
            kafka_password=root / "kafka-sada.password",
            admin_password=root / "kafka-admin.password",
            elastic_password=root / "es-elastic.password",
            es_password=root / "es-sada.password",
            env=root / "sada.env",
        )

    def require(self) -> None:
        """Fail saying what to run unless `up_secure` has made these files."""
        needed = (self.ca, self.keystore, self.kafka_password, self.es_password)
        missing = [path.name for path in needed if not path.exists()]
        if missing:
            raise ServiceError(
                f"the secured local services are not set up in {self.root} (no "
                f"{', '.join(missing)}): run `sada services up --secure`"
            )


def _host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host or "127.0.0.1", int(port)


def kafka_reachable(settings: Settings, timeout: float = 2.0) -> bool:
    """True if the broker accepts a metadata request (a TCP connect alone can be a half-started
    JVM), with the settings' credentials; a refused login is a ConfigError at once, never a
    broker that seems not to answer (librdkafka reports it; kafka-python retries it silently)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    check_files(settings)
    try:
        with socket.create_connection(_host_port(settings.kafka_bootstrap), timeout=timeout):
            pass
    except OSError:
        return False
    refusals: dict[int, KafkaError] = {}

    def on_error(error: KafkaError) -> None:
        if error.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL):
            refusals.setdefault(error.code(), error)

    config: dict[str, Any] = {**connect.confluent(settings), "error_cb": on_error, "log_level": 0}
    admin = AdminClient(config)
    try:
        admin.list_topics(timeout=timeout * 3)
        return True
    except KafkaException:
        admin.poll(0)  # serves the error callback
        if KafkaError._AUTHENTICATION in refusals:
            raise ConfigError(
                f"Kafka at {settings.kafka_bootstrap} refused Sada's credentials "
                "(SADA_KAFKA_USERNAME / SADA_KAFKA_PASSWORD): "
                f"{refusals[KafkaError._AUTHENTICATION].str()}"
            ) from None
        if KafkaError._SSL in refusals:
            raise ConfigError(
                f"Kafka at {settings.kafka_bootstrap}: TLS failed (SADA_KAFKA_SECURITY_PROTOCOL, "
                f"SADA_KAFKA_CA_FILE): {refusals[KafkaError._SSL].str()}"
            ) from None
        return False


def es_reachable(settings: Settings, timeout: float = 2.0) -> bool:
    """True if the cluster answers, with the settings' credentials, and is green or yellow."""
    check_files(settings)
    client = connect.elasticsearch(settings).options(request_timeout=timeout, max_retries=0)
    try:
        return client.cluster.health()["status"] in ("green", "yellow")
    except (AuthenticationException, AuthorizationException) as exc:
        raise ConfigError(
            f"Elasticsearch at {settings.es_where} refused Sada's credentials "
            f"(SADA_ES_API_KEY or SADA_ES_USERNAME / SADA_ES_PASSWORD): {exc.message}"
        ) from exc
    except SSLError as exc:
        raise ConfigError(
            f"Elasticsearch at {settings.es_where}: its TLS certificate is not the one Sada "
            f"trusts (SADA_ES_CA_FILE or SADA_ES_FINGERPRINT): {exc.message}"
        ) from exc
    except (ApiError, TransportError):
        return False
    finally:
        client.close()


def check_files(settings: Settings) -> None:
    """Fail naming the setting when a certificate file it names is missing (instead of a
    service that never seems to answer); for the secured local stack's own files, say what
    creates them."""
    named = {
        "SADA_KAFKA_CA_FILE": settings.kafka_ca_file,
        "SADA_KAFKA_CERT_FILE": settings.kafka_cert_file,
        "SADA_KAFKA_KEY_FILE": settings.kafka_key_file,
        "SADA_ES_CA_FILE": settings.es_ca_file,
    }
    for variable, path in named.items():
        if path is not None and not path.is_file():
            local = path.parent == SecureFiles.for_settings(settings).root
            hint = " (the secured local services' files: run `sada services up --secure`)"
            raise ConfigError(f"{variable}: {path} does not exist{hint if local else ''}")


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


def _run(
    cmd: list[str], what: str, *, stdin: str | None = None, env: dict[str, str] | None = None
) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, input=stdin, env=env)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip()[-2000:]
        message = f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n{tail}"
        raise ServiceError(redact.redact(message))  # a password may be an argument


def fetch_kafka(paths: Paths) -> Path:
    """Copy the Kafka broker's jars from Maven Central into the cache, once."""
    libs = paths.libs
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


def _wait(
    check: Callable[[], bool],
    what: str,
    log: Path,
    timeout: float = WAIT_SECONDS,
    *,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Return once `check` holds; fail with the log's tail after `timeout`, or as soon as
    `proc` (the service's process) has exited (a port taken, a bad setting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            why = f"exited (code {proc.returncode})"
            break
        time.sleep(0.5)
    else:
        why = f"did not become ready within {timeout:.0f}s"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise ServiceError(f"{what} {why}; log {log}:\n{tail}")


def start_kafka(settings: Settings) -> None:
    """Start the broker of these settings (its port, its cache dir) unless one answers there;
    with SASL_SSL settings, the secured broker (`up_secure` made its files)."""
    if kafka_reachable(settings):
        return
    paths = Paths.for_settings(settings)
    paths.kafka.mkdir(parents=True, exist_ok=True)
    libs = fetch_kafka(paths)
    host, port = _host_port(settings.kafka_bootstrap)
    data = paths.kafka / "data"
    props = paths.kafka / "server.properties"
    text = (LOCAL / "server.properties").read_text()
    secure = settings.kafka_security_protocol == "SASL_SSL"
    if secure:
        files = SecureFiles.for_settings(settings)
        files.require()
        text += (LOCAL / "secure.properties").read_text()
    _write_private(
        props,
        text.format(
            port=port,
            controller_port=port + 1,
            data_dir=data,
            **(_secure_broker(files) if secure else {}),
        ),
    )
    java = str(Path(_java_home()) / "bin" / "java")
    classpath = f"{libs}/*"
    log4j = f"-Dlog4j2.configurationFile={LOCAL / 'log4j2.properties'}"
    if not (data / "meta.properties").exists():
        users = (
            [(KAFKA_USER, files.kafka_password), (KAFKA_ADMIN, files.admin_password)]
            if secure
            else []
        )
        scram = [
            arg
            for name, password in users
            for arg in ("--add-scram", f"{SCRAM}=[name={name},password={_secret(password)}]")
        ]
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
                *scram,
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
    _wait(lambda: kafka_reachable(settings), f"Kafka at {host}:{port}", log, proc=proc)


def _secure_broker(files: SecureFiles) -> dict[str, object]:
    """The values secure.properties is filled with."""
    return {
        "user": KAFKA_USER,
        "password": _secret(files.kafka_password),
        "admin_user": KAFKA_ADMIN,
        "admin_password": _secret(files.admin_password),
        "keystore": files.keystore,
        "truststore": files.truststore,
        "store_password": _secret(files.store_password),
    }


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
    """Start the node of these settings (its HTTP port, its data dir) unless one answers there;
    with an https URL, the secured node (`up_secure` made its files)."""
    if es_reachable(settings):
        return
    paths = Paths.for_settings(settings)
    as_user = _es_user()
    paths.elasticsearch.mkdir(parents=True, exist_ok=True)
    home = fetch_elasticsearch(paths)
    for sub in ("data", "logs"):
        (paths.es_node / sub).mkdir(parents=True, exist_ok=True)
    url = urlparse(settings.es_url)
    env = {
        **os.environ,
        "ES_JAVA_HOME": _java_home(),
        "ES_JAVA_OPTS": HEAP,
    }
    secure = url.scheme == "https"
    if secure:
        SecureFiles.for_settings(settings).require()
        env["ES_PATH_CONF"] = str(_secure_node_config(settings, paths, home))
    if as_user:
        _run(["chown", "-R", f"{ES_USER}:{ES_USER}", str(paths.elasticsearch)], "chown")
    if secure:
        _secure_node_users(SecureFiles.for_settings(settings), as_user, home / "bin", env)
    options = {
        "discovery.type": "single-node",
        "xpack.security.enabled": str(secure).lower(),
        "network.host": url.hostname or "127.0.0.1",
        "http.port": url.port or 9200,
        "transport.port": (url.port or 9200) + 100,
        "path.data": paths.es_node / "data",
        "path.logs": paths.es_node / "logs",
        "cluster.name": "sada-local",
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        **(SECURE_NODE if secure else {}),
    }
    log = paths.es_node / "stdout.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                *as_user,
                str(home / "bin" / "elasticsearch"),
                *(arg for key, value in options.items() for arg in ("-E", f"{key}={value}")),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    (paths.es_node / "elasticsearch.pid").write_text(str(proc.pid))
    _wait(lambda: es_reachable(settings), f"Elasticsearch at {settings.es_url}", log, proc=proc)


SECURE_NODE = {  # HTTPS only, with the certificate _secure_node_config copies into the node
    "xpack.security.http.ssl.enabled": "true",
    "xpack.security.http.ssl.certificate": "certs/node.crt",
    "xpack.security.http.ssl.key": "certs/node.key",
    "xpack.security.http.ssl.certificate_authorities": "certs/ca.crt",
}


def _secure_node_config(settings: Settings, paths: Paths, home: Path) -> Path:
    """The secured node's own config directory (Elasticsearch reads certificates and its
    keystore only from there): the distribution's, with the current certificates, afresh at
    every start so it always matches <cache_dir>/secure/."""
    files = SecureFiles.for_settings(settings)
    config = paths.es_node / "config"
    shutil.rmtree(config, ignore_errors=True)
    shutil.copytree(home / "config", config)
    (config / "certs").mkdir()
    for source in (files.ca, files.cert, files.key):
        shutil.copy(source, config / "certs" / source.name)
    (config / "roles.yml").write_text(SADA_ROLE)
    return config


def _secure_node_users(
    files: SecureFiles, as_user: list[str], bin_dir: Path, env: dict[str, str]
) -> None:
    """The `elastic` superuser's password (bootstrap.password in the node's keystore) and Sada's
    user with its role (the file realm): passwords through stdin, never as arguments."""
    elastic = _secret(files.elastic_password)
    _run(
        [
            *as_user,
            str(bin_dir / "elasticsearch-keystore"),
            "add",
            "-x",
            "-f",
            "bootstrap.password",
        ],
        "setting the elastic user's password in the node's keystore",
        stdin=elastic,
        env=env,
    )
    sada = _secret(files.es_password)
    _run(
        [*as_user, str(bin_dir / "elasticsearch-users"), "useradd", ES_SADA, "-r", ES_SADA],
        f"adding the Elasticsearch user {ES_SADA!r}",
        stdin=f"{sada}\n{sada}\n",
        env=env,
    )


def up(settings: Settings) -> None:
    """Fetch (once) and start both services unless they already answer: on the ports of
    `settings`, with the broker in its cache dir and the node's data beside its HTTP port, so
    a second stack (a test's own, to break) can run beside the usual one. Settings that say
    SASL_SSL and https (sada.env's) start the secured stack `up_secure` made."""
    start_kafka(settings)
    start_elasticsearch(settings)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds a secret, or names one)."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def _secret(path: Path) -> str:
    """A generated secret, registered with `redact` so no message can show it."""
    value = path.read_text().strip()
    redact.register([value])
    return value


def generate_secure_files(files: SecureFiles) -> None:
    """Make the secured stack's CA, certificate, Kafka stores and passwords, once (each piece
    that is missing): openssl for the PEM files, the JDK's keytool for the truststore."""
    files.root.mkdir(parents=True, exist_ok=True)
    files.root.chmod(0o700)
    for password in (
        files.store_password,
        files.kafka_password,
        files.admin_password,
        files.elastic_password,
        files.es_password,
    ):
        if not password.exists():
            _write_private(password, secrets.token_hex(16) + "\n")
    if not files.ca.exists():
        _openssl(
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650"],
            ["-subj", "/CN=Sada local CA", "-keyout", files.ca_key, "-out", files.ca],
            ["-addext", "basicConstraints=critical,CA:TRUE"],
            ["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        )
        files.cert.unlink(missing_ok=True)  # a certificate of another CA is no use
    if not files.cert.exists():
        csr = files.root / "node.csr"
        _openssl(
            ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"],
            ["-keyout", files.key, "-out", csr],
        )
        extensions = files.root / "node.ext"
        extensions.write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth,clientAuth\n"
            "authorityKeyIdentifier=keyid\n"
        )
        _openssl(
            ["x509", "-req", "-in", csr, "-CA", files.ca, "-CAkey", files.ca_key],
            ["-CAcreateserial", "-days", "825", "-extfile", extensions, "-out", files.cert],
        )
        csr.unlink()
        extensions.unlink()
        files.keystore.unlink(missing_ok=True)
        files.truststore.unlink(missing_ok=True)
    for private in (files.ca_key, files.key):
        private.chmod(0o600)
    store_password = _secret(files.store_password)
    if not files.keystore.exists():
        _openssl(
            ["pkcs12", "-export", "-name", "node", "-in", files.cert, "-inkey", files.key],
            ["-certfile", files.ca, "-out", files.keystore, "-passout", "stdin"],
            stdin=store_password,
        )
    if not files.truststore.exists():
        _run(
            [str(Path(_java_home()) / "bin" / "keytool"), "-importcert", "-noprompt"]
            + ["-alias", "sada-ca", "-file", str(files.ca), "-keystore", str(files.truststore)]
            + ["-storetype", "PKCS12", "-storepass:env", "SADA_STORE_PASSWORD"],
            "making the Kafka truststore",
            env={**os.environ, "SADA_STORE_PASSWORD": store_password},
        )
    for store in (files.keystore, files.truststore):
        store.chmod(0o600)


def _openssl(*parts: list[str | Path], stdin: str | None = None) -> None:
    cmd = ["openssl", *(str(arg) for part in parts for arg in part)]
    _run(cmd, f"openssl {cmd[1]} (making the secured services' certificates)", stdin=stdin)


def certificate_fingerprint(cert: Path) -> str:
    """The SHA-256 fingerprint of a PEM certificate, as SADA_ES_FINGERPRINT takes it."""
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return hashlib.sha256(der).hexdigest().upper()


def secured(
    settings: Settings,
    *,
    kafka_port: int | None = None,
    es_port: int | None = None,
    es_admin: bool = False,
) -> Settings:
    """`settings` pointed at the secured local stack of its cache dir, with every credential:
    on the given ports, else the settings' own when they already say SASL_SSL / https, else
    the secured defaults (9094, 9201). Elasticsearch as Sada's user or, with `es_admin`, as
    the `elastic` superuser."""
    files = SecureFiles.for_settings(settings)
    files.require()
    secure = settings.kafka_security_protocol == "SASL_SSL"
    if kafka_port is None:
        kafka_port = _host_port(settings.kafka_bootstrap)[1] if secure else SECURE_KAFKA_PORT
    if es_port is None:
        https = settings.es_url.startswith("https:")
        es_port = (urlparse(settings.es_url).port or 9200) if https else SECURE_ES_PORT
    es_user, es_password = (
        ("elastic", files.elastic_password) if es_admin else (ES_SADA, files.es_password)
    )
    return Settings.model_validate(
        settings.model_dump()
        | {
            "kafka_bootstrap": f"127.0.0.1:{kafka_port}",
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": SCRAM,
            "kafka_username": KAFKA_USER,
            "kafka_password": _secret(files.kafka_password),
            "kafka_ca_file": files.ca,
            "kafka_cert_file": None,
            "kafka_key_file": None,
            "kafka_key_password": None,
            "es_url": f"https://127.0.0.1:{es_port}",
            "es_cloud_id": None,
            "es_api_key": None,
            "es_username": es_user,
            "es_password": _secret(es_password),
            "es_ca_file": files.ca,
            "es_fingerprint": None,
        }
    )


def up_secure(
    settings: Settings, *, kafka_port: int | None = None, es_port: int | None = None
) -> Settings:
    """Start the secured stack of `settings`' cache dir (see `secured` for its ports), making
    its files first if need be; write sada.env; return the settings that reach it as Sada."""
    files = SecureFiles.for_settings(settings)
    generate_secure_files(files)
    stack = secured(settings, kafka_port=kafka_port, es_port=es_port)
    start_kafka(stack)
    start_elasticsearch(stack)
    _write_private(files.env, env_file(stack, files))
    return stack


def env_file(stack: Settings, files: SecureFiles) -> str:
    """The SADA_* lines that point Sada at the secured stack; secrets by file reference only."""
    variables = {
        "SADA_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "SADA_KAFKA_SECURITY_PROTOCOL": stack.kafka_security_protocol,
        "SADA_KAFKA_SASL_MECHANISM": stack.kafka_sasl_mechanism,
        "SADA_KAFKA_USERNAME": str(stack.kafka_username),
        "SADA_KAFKA_PASSWORD_FILE": str(files.kafka_password),
        "SADA_KAFKA_CA_FILE": str(files.ca),
        "SADA_ES_URL": stack.es_url,
        "SADA_ES_CA_FILE": str(files.ca),
        "SADA_ES_USERNAME": str(stack.es_username),
        "SADA_ES_PASSWORD_FILE": str(files.es_password),
    }
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in variables.items())


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
