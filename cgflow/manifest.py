"""``data/MANIFEST.json``: checksums, sizes and provenance of every shipped data file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST_NAME = "MANIFEST.json"


def sha256(path: Path) -> str:
    """Hex SHA-256 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(data_dir: Path) -> dict:
    """The manifest as a dict ``{dataset: {"files": {name: {...}}, "provenance": {...}}}``."""
    path = Path(data_dir) / MANIFEST_NAME
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def update_manifest(data_dir: Path, dataset: str, files: list[Path], provenance: dict) -> None:
    """Record ``files`` (paths inside ``data_dir``) of ``dataset`` with checksums and sizes."""
    data_dir = Path(data_dir)
    manifest = read_manifest(data_dir)
    manifest[dataset] = {
        "files": {
            Path(f).relative_to(data_dir).as_posix(): {"sha256": sha256(Path(f)), "bytes": Path(f).stat().st_size}
            for f in files
        },
        "provenance": provenance,
    }
    (data_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def verify_file(data_dir: Path, dataset: str, relative: str) -> Path:
    """Path of a manifest file after checking that it exists and matches its checksum.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file, the
    expected and the found checksum when the file was altered or truncated.
    """
    data_dir = Path(data_dir)
    entry = read_manifest(data_dir).get(dataset, {}).get("files", {}).get(relative)
    if entry is None:
        raise FileNotFoundError(f"{relative} is not listed for dataset {dataset!r} in {data_dir / MANIFEST_NAME}; a dataset"
                                f" is listed once generated: `python -m cgflow.datagen {dataset}` (resumes from data/_work)")
    path = data_dir / relative
    if not path.exists():
        raise FileNotFoundError(f"data file {path} is missing; regenerate it with `python -m cgflow.datagen {dataset}`")
    found = sha256(path)
    if found != entry["sha256"]:
        raise ValueError(
            f"data file {path} is corrupted: sha256 {found} does not match the manifest's {entry['sha256']}"
            f" ({path.stat().st_size} bytes found, {entry['bytes']} expected); restore it with"
            f" `git checkout -- {path}` or regenerate it with `python -m cgflow.datagen {dataset}`"
        )
    return path
