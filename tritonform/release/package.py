"""`tritonform release package`: a model repository as a byte-for-byte reproducible model.tar.gz.

The layout is what SageMaker's Triton container expects: the model directories at the root of the archive.
The bytes depend only on the repository's content: entries are sorted, every header is normalised (owner
root, mtime 0, mode 0644 or 0755), and the gzip header carries no name and no time, so the same
repository gives the same sha256 whatever the file times, umask, owner or machine. Files are streamed in
fixed-size chunks: memory stays constant however large the weights are.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from tritonform import __version__
from tritonform.documents import read_json
from tritonform.errors import Problem, UserError
from tritonform.triton.contract import Contract, parse_contract
from tritonform.triton.contract_extract import contract_of
from tritonform.triton.files import shippable_entries
from tritonform.triton.validate import validate_repository
from tritonform.version_ids import version_id_for

CHUNK = 1 << 20
ARTIFACT = "model.tar.gz"
MANIFEST = "manifest.json"
Compression = Literal["fast", "best"]
LEVELS: dict[str, int] = {"fast": 1, "best": 9}  # weights barely compress: "fast" is the default

# A manifest lists one line per packaged file: even a repository of 100,000 files stays far below this.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class PackedFile:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    version_id: str
    sha256: str
    size_bytes: int
    default_model: str | None
    files: list[PackedFile]
    config_digests: dict[str, str]
    source_commit: str | None
    """HEAD of the checkout the repository was packaged from; None outside a git checkout."""
    source_modified: bool | None = None
    """Whether the packaged files differed from source_commit's (packaged with --allow-modified); None: not
    known (outside a git checkout, or a manifest from before this was recorded)."""
    source_changes: list[str] = field(default_factory=list)
    """The paths, relative to the repository, whose packaged bytes are not source_commit's."""
    tool_version: str = __version__
    compression: str = "fast"
    format: str = "tar (pax) + gzip; entries sorted, owner 0:0, mtime 0, modes 0644/0755"
    extra: dict[str, str] = field(default_factory=dict)
    contract: dict[str, object] | None = None
    """The inference contract (tritonform/triton/contract.py) as JSON; None in manifests written before it was
    recorded."""
    contract_sha256: str | None = None
    """sha256 of the contract's canonical JSON: what the release file carries."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, path: Path) -> Manifest:
        data = read_json(path, limit=MAX_MANIFEST_BYTES, what="a tritonform manifest")
        if not isinstance(data, dict):
            raise UserError.single("not a tritonform manifest: not a JSON object", file=path)
        try:
            data["files"] = [PackedFile(**f) for f in data["files"]]
            return cls(**data)
        except (ValueError, TypeError, KeyError) as err:
            raise UserError.single(f"not a tritonform manifest: {err}", file=path) from None

    def read_contract(self, path: Path) -> Contract | None:
        """The recorded contract, checked against its digest; None for a manifest from before it was recorded."""
        if self.contract is None:
            return None
        contract = parse_contract(self.contract, path)
        if contract.sha256 != self.contract_sha256:
            raise UserError.single(
                f"the contract does not match its recorded sha256 {self.contract_sha256}: the manifest was edited; "
                "repackage",
                file=path,
                field="contract",
            )
        return contract


class ParallelGzipWriter:
    """A gzip stream compressed in independent 4 MiB chunks on every core, byte-identical run to run.

    Each chunk is raw deflate ended by a sync flush (byte-aligned, not final), so the chunks concatenate
    into one valid deflate stream inside a single gzip member. Chunk boundaries depend only on the byte
    count, so the output does not depend on thread timing. The fast path: a chunk whose first 64 KiB does
    not shrink by 3% at level 1 (trained weights, already-compressed files) is stored, not compressed,
    which runs at memory speed. At most 2 chunks per core are in flight: memory stays bounded.
    """

    CHUNK_BYTES = 4 << 20
    SAMPLE_BYTES = 64 << 10
    STORE_ABOVE_RATIO = 0.97

    def __init__(self, target: BinaryIO, level: int) -> None:
        self.target = target
        self.level = level
        self.crc = 0
        self.size = 0
        self.buffer = bytearray()
        self.workers = max(os.cpu_count() or 1, 1)
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.workers)
        self.pending: list[concurrent.futures.Future[bytes]] = []
        # gzip header: deflate, no flags, mtime 0, no extra flags, OS unknown (255): no name, no time
        target.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")

    def _compress(self, chunk: bytes, final: bool) -> bytes:
        level = self.level
        sample = chunk[: self.SAMPLE_BYTES]
        if sample and len(zlib.compress(sample, 1)) > self.STORE_ABOVE_RATIO * len(sample):
            level = 0
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
        return compressor.compress(chunk) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)

    def _drain(self, keep: int) -> None:
        while len(self.pending) > keep:
            self.target.write(self.pending.pop(0).result())

    def _submit(self, chunk: bytes, final: bool) -> None:
        self.crc = zlib.crc32(chunk, self.crc)
        self.pending.append(self.pool.submit(self._compress, chunk, final))
        self._drain(2 * self.workers)

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.size += len(data)
        while len(self.buffer) > self.CHUNK_BYTES:
            chunk = bytes(self.buffer[: self.CHUNK_BYTES])
            del self.buffer[: self.CHUNK_BYTES]
            self._submit(chunk, final=False)
        return len(data)

    def close(self) -> None:
        self._submit(bytes(self.buffer), final=True)
        self.buffer.clear()
        self._drain(0)
        self.pool.shutdown()
        self.target.write(self.crc.to_bytes(4, "little") + (self.size & 0xFFFFFFFF).to_bytes(4, "little"))

    def abort(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class _HashingWriter:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


def _entries(repository: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, path) for every directory and file to pack, sorted; refuses what must not ship (the
    rules `repo validate` applies too: tritonform/triton/files.py)."""
    found, problems = shippable_entries(repository)
    if problems:
        raise UserError(problems)
    yield from found


def _tarinfo(name: str, path: Path) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.type = tarfile.REGTYPE
        info.size = path.stat().st_size
        info.mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
    return info


def write_archive(repository: Path, destination: BinaryIO, compression: Compression) -> list[PackedFile]:
    """Stream the repository as tar+gzip into `destination`; return the files with their sha256."""
    packed: list[PackedFile] = []
    gz = ParallelGzipWriter(destination, LEVELS[compression])
    try:
        written = 0
        for name, path in _entries(repository):
            info = _tarinfo(name + ("/" if path.is_dir() else ""), path)
            header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            gz.write(header)
            written += len(header)
            if info.isdir():
                continue
            digest, size = hashlib.sha256(), 0
            with path.open("rb") as source:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    gz.write(chunk)
            if size != info.size:
                raise UserError.single(f"changed while being packaged ({info.size} -> {size} bytes)", file=path)
            padding = -size % tarfile.BLOCKSIZE
            gz.write(b"\0" * padding)
            written += size + padding
            packed.append(PackedFile(name, digest.hexdigest(), size))
        end = 2 * tarfile.BLOCKSIZE
        end += -(written + end) % tarfile.RECORDSIZE
        gz.write(b"\0" * end)
    except BaseException:
        gz.abort()
        raise
    gz.close()
    return packed


def packaged_paths(repository: Path) -> set[str]:
    """The names (relative, '/'-separated) of every file and directory packaging would include."""
    return {name for name, _path in _entries(repository)}


def refuse_output_inside(repository: Path, out_dir: Path) -> None:
    """Output written into the repository it packages would be packaged next time, and changes its state."""
    inside = out_dir.resolve()  # follows symbolic links, also of a directory that does not exist yet
    if inside.is_relative_to(repository.resolve()):
        raise UserError.single(
            f"is inside the repository being packaged ({repository}): the package would become part of the "
            "next one and change the tree it records; write it outside, e.g. --out dist/",
            file=out_dir,
        )


def package(
    repository: Path,
    out_dir: Path,
    *,
    default_model: str | None = None,
    source_commit: str | None = None,
    source_changes: Sequence[str] | None = None,
    allow_modified: bool = False,
    compression: Compression = "fast",
    triton_version: str | None = None,
) -> Manifest:
    """Validate, then write out_dir/model.tar.gz and out_dir/manifest.json (both or neither).

    `source_changes` are the paths whose bytes are not source_commit's (None: not known). A repository with
    changes is refused unless `allow_modified`: its manifest would otherwise name a commit that does not
    produce its bytes. With it, the manifest says the tree was modified and lists what differs. The manifest
    records the repository's inference contract, for `triton_version` (the image it is validated for)."""
    refuse_output_inside(repository, out_dir)
    if triton_version is not None and not re.fullmatch(r"[0-9]{2}\.[0-9]{2}", triton_version):
        raise UserError.single(f"{triton_version!r} is not a Triton image version: YY.MM, e.g. 24.09",
                               field="--triton-version")  # fmt: skip
    if source_changes and not allow_modified:
        shown = ", ".join(source_changes[:10]) + (
            f" and {len(source_changes) - 10} more" if len(source_changes) > 10 else ""
        )
        raise UserError.single(
            f"has uncommitted changes ({shown}): a package records the commit it was built from, and commit "
            f"{source_commit} does not produce these bytes. Commit them, or package with --allow-modified to "
            "record a modified working tree",
            file=repository,
        )
    unshippable = shippable_entries(repository)[1]
    if unshippable:  # before Triton's rules: these are not about loading, and the validator reports them too
        raise UserError(unshippable)
    report = validate_repository(repository, default_model=default_model)
    if report.problems:
        raise UserError(
            [*report.problems, Problem(repository, None, "not packaged: the repository would not load in Triton")],
            exit_code=1,
        )
    contract = contract_of(report, default_model, triton_version)
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact_tmp = tempfile.NamedTemporaryFile(dir=out_dir, prefix=".model.", suffix=".tmp", delete=False)  # noqa: SIM115
    manifest_tmp = out_dir / f".manifest.{os.getpid()}.tmp"
    try:
        with artifact_tmp:
            writer = _HashingWriter(artifact_tmp)  # type: ignore[arg-type]
            files = write_archive(repository, writer, compression)  # type: ignore[arg-type]
            artifact_tmp.flush()
            os.fsync(artifact_tmp.fileno())
        sha256 = writer.digest.hexdigest()
        manifest = Manifest(
            version_id=version_id_for(sha256),
            sha256=sha256,
            size_bytes=writer.size,
            default_model=default_model,
            files=files,
            config_digests={
                # a model without config.pbtxt is completed by Triton like an empty one
                name: hashlib.sha256(model.config_path.read_bytes() if model.config_path.is_file() else b"").hexdigest()
                for name, model in sorted(report.models.items())
            },
            source_commit=source_commit,
            source_modified=None if source_commit is None or source_changes is None else bool(source_changes),
            source_changes=list(source_changes or ()),
            compression=compression,
            contract=contract.model_dump(mode="json"),
            contract_sha256=contract.sha256,
        )
        manifest_tmp.write_text(manifest.to_json(), encoding="utf-8")
        Path(artifact_tmp.name).replace(out_dir / ARTIFACT)
        manifest_tmp.replace(out_dir / MANIFEST)
    except BaseException:
        Path(artifact_tmp.name).unlink(missing_ok=True)
        manifest_tmp.unlink(missing_ok=True)
        raise
    return manifest
