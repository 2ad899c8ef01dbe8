"""Refresh the web app's vendored libraries (web/static/app/vendor/) from their published packages.

The app has no build step: these files are the packages' own ES module builds, copied as they are.
This script is the only thing that needs Node (``npm pack``, which fetches a package's tarball from
the configured registry); ``make run`` and the tests never do. It checks each tarball against the
integrity the manifest pins, copies the listed files and rewrites the manifest's file hashes;
tests/test_web_app.py checks that every vendored file still matches them.

    python scripts/vendor_frontend.py            # verify the tarballs, re-copy, rewrite hashes
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "web" / "static" / "app" / "vendor"
MANIFEST = VENDOR / "manifest.json"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def main() -> int:
    manifest = json.loads(MANIFEST.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        for package in manifest["packages"]:
            spec = f"{package['name']}@{package['version']}"
            out = subprocess.run(
                ["npm", "pack", spec, "--silent"], cwd=tmp, check=True, capture_output=True, text=True
            )
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            data = tarball.read_bytes()
            if _integrity(data) != package["integrity"]:
                print(f"{spec}: tarball integrity differs from the manifest", file=sys.stderr)
                return 1
            with tarfile.open(tarball) as tar:
                for dest, entry in package["files"].items():
                    member = tar.extractfile(f"package/{entry['from']}")
                    assert member is not None, entry["from"]
                    content = member.read()
                    (VENDOR / dest).parent.mkdir(parents=True, exist_ok=True)
                    (VENDOR / dest).write_bytes(content)
                    entry["sha256"] = hashlib.sha256(content).hexdigest()
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"vendored {sum(len(p['files']) for p in manifest['packages'])} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
