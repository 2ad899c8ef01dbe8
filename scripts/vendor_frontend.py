"""Refresh the vendored browser libraries from their published packages: the web app's
(web/static/app/vendor/: Preact, htm, graphql-ws) and GraphiQL's (web/static/graphiql/vendor/:
GraphiQL and the React it runs on, served at /graphql in development).

Neither has a build step: these files are the packages' own builds, copied as they are. This
script is the only thing that needs Node (``npm pack``, which fetches a package's tarball from the
configured registry); ``make run`` and the tests never do. It checks each tarball against the
integrity its manifest pins, copies the listed files and rewrites the manifest's file hashes;
tests/test_web_app.py checks that every vendored file still matches them, and that nothing else
lies in a vendor folder.

    python scripts/vendor_frontend.py            # verify the tarballs, re-copy, rewrite hashes

To update a package (docs/web-app.md, "Updating a vendored library"): set its new ``version`` in
the manifest and empty its ``integrity``; the run records the tarball's integrity (printed, to
compare with what the project publishes) and pins it from then on.
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
VENDOR_DIRS = (
    ROOT / "web" / "static" / "app" / "vendor",
    ROOT / "web" / "static" / "graphiql" / "vendor",
)
MANIFEST_NAME = "manifest.json"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def vendor(directory: Path, tmp: Path) -> int:
    """Re-copy one vendor folder's packages; the number of files copied (-1 on a mismatch)."""
    manifest_path = directory / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    copied = 0
    for package in manifest["packages"]:
        spec = f"{package['name']}@{package['version']}"
        out = subprocess.run(
            ["npm", "pack", spec, "--silent"], cwd=tmp, check=True, capture_output=True, text=True
        )
        tarball = tmp / out.stdout.strip().splitlines()[-1]
        data = tarball.read_bytes()
        if not package.get("integrity"):
            package["integrity"] = _integrity(data)
            print(f"{spec}: pinned {package['integrity']}")
        elif _integrity(data) != package["integrity"]:
            print(f"{spec}: tarball integrity differs from the manifest", file=sys.stderr)
            return -1
        with tarfile.open(tarball) as tar:
            for dest, entry in package["files"].items():
                member = tar.extractfile(f"package/{entry['from']}")
                assert member is not None, entry["from"]
                content = member.read()
                (directory / dest).parent.mkdir(parents=True, exist_ok=True)
                (directory / dest).write_bytes(content)
                entry["sha256"] = hashlib.sha256(content).hexdigest()
                copied += 1
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return copied


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for directory in VENDOR_DIRS:
            copied = vendor(directory, Path(tmp))
            if copied < 0:
                return 1
            print(f"{directory.relative_to(ROOT)}: vendored {copied} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
