"""JVM artifacts the lab runs (the embedded Kafka broker), resolved once at set-up from a lock file.

A lock file ``jvm/<set>.lock`` lists the set's root coordinates and every artifact of its
resolved runtime classpath with its SHA-256, like ``requirements.lock`` does for Python:

    root org.apache.kafka:kafka_2.13:4.3.1
    jar org.apache.kafka:kafka-clients:4.3.1 <sha256>

``labkit jars install`` (run by ``make setup``) fetches exactly those artifacts, verifies each
sum and keeps them under ``.venv/jars/<set>/``; nothing downloads after that. ``labkit jars lock``
re-resolves the roots (transitively) and rewrites the lock: run it after changing a root.

The resolver is Apache Ivy, which ships inside pyspark's jars, so a learner needs no Maven. It
uses its own built-in default repository (Maven Central) unless a mirror is configured, either
``LAB_MAVEN_REPO=<url>`` or a ``<mirror>`` for ``*``/``central`` in ``~/.m2/settings.xml``
(what companies behind a proxy already have). This module names no repository host.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from labkit.cli_support import command, parser
from labkit.settings import REPO_ROOT

LOCK_DIR = REPO_ROOT / "jvm"
MIN_JAVA = 17
JAVA_FIX = "install Java 17 or newer (`make system-deps` does it on Debian/Ubuntu and macOS) or point JAVA_HOME at one"


class JvmError(RuntimeError):
    """A JVM set-up problem; the message names the cause and the fix in one line."""


# -- Java ----------------------------------------------------------------------------------
def find_java() -> str | None:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_major(java: str) -> int | None:
    """The major version of the ``java`` binary; None when it cannot tell."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_java_major(out)


def parse_java_major(version_output: str) -> int | None:
    """The major version from ``java -version`` output: '1.8.0_392' -> 8, '17.0.15' -> 17."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def require_java() -> str:
    """The ``java`` binary, at least version 17; else :class:`JvmError` with the fix."""
    java = find_java()
    if java is None:
        raise JvmError(f"Java not found (JAVA_HOME unset and no `java` on PATH): {JAVA_FIX}")
    major = java_major(java)
    if major is None or major < MIN_JAVA:
        raise JvmError(f"{java} is Java {major or '?'}, the lab needs {MIN_JAVA}+: {JAVA_FIX}")
    return java


# -- lock files ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Artifact:
    org: str
    name: str
    rev: str
    sha256: str = ""

    @property
    def coord(self) -> str:
        return f"{self.org}:{self.name}:{self.rev}"

    @property
    def filename(self) -> str:
        return f"{self.org}__{self.name}__{self.rev}.jar"


@dataclass(frozen=True)
class Lock:
    name: str
    roots: tuple[Artifact, ...]
    jars: tuple[Artifact, ...]


def _coord(text: str, sha: str = "") -> Artifact:
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise JvmError(f"bad coordinate {text!r} in a jvm lock file: write group:artifact:version")
    return Artifact(*parts, sha256=sha)


def lock_path(name: str) -> Path:
    return LOCK_DIR / f"{name}.lock"


def read_lock(name: str) -> Lock:
    path = lock_path(name)
    if not path.is_file():
        raise JvmError(f"no lock file {path}: known sets are {', '.join(known_sets()) or 'none'}")
    roots, jars = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        kind, *rest = line.split()
        if kind == "root" and len(rest) == 1:
            roots.append(_coord(rest[0]))
        elif kind == "jar" and len(rest) == 2 and re.fullmatch(r"[0-9a-f]{64}", rest[1]):
            jars.append(_coord(rest[0], rest[1]))
        else:
            raise JvmError(f"{path}:{n}: expected `root g:a:v` or `jar g:a:v <sha256>`, got {line!r}")
    return Lock(name, tuple(roots), tuple(jars))


def known_sets() -> list[str]:
    return sorted(p.stem for p in LOCK_DIR.glob("*.lock"))


def jar_dir(name: str) -> Path:
    """Where the verified jars of a set live: inside the venv, so `make clean` removes them."""
    return Path(sys.prefix) / "jars" / name


def cache_dir() -> Path:
    """Ivy's download cache (shared by every clone of the lab on this machine)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mlinfra-lab" / "ivy"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def missing_or_wrong(name: str) -> list[str]:
    """Lock entries whose jar is absent or whose SHA-256 differs (empty: the set is installed)."""
    lock, folder = read_lock(name), jar_dir(name)
    bad = []
    for jar in lock.jars:
        path = folder / jar.filename
        if not path.is_file() or sha256(path) != jar.sha256:
            bad.append(jar.coord)
    return bad


def classpath(name: str) -> str:
    """The classpath of an installed set; raises with the fix when it is not installed."""
    lock = read_lock(name)
    folder = jar_dir(name)
    absent = [j.coord for j in lock.jars if not (folder / j.filename).is_file()]
    if absent:
        raise JvmError(
            f"the {name} jars are not installed ({len(absent)} missing, e.g. {absent[0]}): "
            f"run `make setup` (or `labkit jars install {name}`)"
        )
    return os.pathsep.join(str(folder / j.filename) for j in lock.jars)


# -- the resolver --------------------------------------------------------------------------
def ivy_jar() -> Path:
    """Apache Ivy, as shipped inside pyspark's jars."""
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise JvmError("pyspark is not installed, and its jars carry the resolver (Apache Ivy): run `make setup`")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location, "jars").glob("ivy-*.jar"))
        if found:
            return found[-1]
    raise JvmError("no ivy-*.jar in pyspark's jars: reinstall the venv with `make setup`")


def mirror_url(environ: dict[str, str] | None = None, m2_settings: Path | None = None) -> tuple[str | None, str]:
    """(mirror URL or None, where it came from): ``LAB_MAVEN_REPO`` wins over ``~/.m2/settings.xml``."""
    env = os.environ if environ is None else environ
    if env.get("LAB_MAVEN_REPO"):
        return env["LAB_MAVEN_REPO"].rstrip("/"), "LAB_MAVEN_REPO"
    path = m2_settings or Path.home() / ".m2" / "settings.xml"
    if not path.is_file():
        return None, "Ivy's built-in default repository (Maven Central)"
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise JvmError(f"{path} is not valid XML ({exc}): fix it, or set LAB_MAVEN_REPO=<mirror url>") from None
    ns = {"m": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
    q = (lambda tag: f"m:{tag}") if ns else (lambda tag: tag)
    for mirror in root.findall(f"{q('mirrors')}/{q('mirror')}", ns):
        of = (mirror.findtext(q("mirrorOf"), "", ns) or "").split(",")
        url = (mirror.findtext(q("url"), "", ns) or "").strip()
        if url and any(o.strip() in ("*", "central", "external:*") for o in of):
            return url.rstrip("/"), f"the mirror in {path}"
    return None, "Ivy's built-in default repository (Maven Central)"


def _ivysettings(url: str, folder: Path) -> Path:
    path = folder / "ivysettings.xml"
    root = ET.Element("ivysettings")
    ET.SubElement(root, "settings", defaultResolver="mirror")
    resolvers = ET.SubElement(root, "resolvers")
    ET.SubElement(resolvers, "ibiblio", name="mirror", m2compatible="true", root=url)
    ET.ElementTree(root).write(path)
    return path


def _ivy_xml(deps: list[Artifact], transitive: bool, folder: Path) -> Path:
    path = folder / "ivy.xml"
    root = ET.Element("ivy-module", version="2.0")
    ET.SubElement(root, "info", organisation="mlinfra-lab", module="jvm-set")
    dependencies = ET.SubElement(root, "dependencies")
    for d in deps:
        ET.SubElement(
            dependencies,
            "dependency",
            org=d.org,
            name=d.name,
            rev=d.rev,
            transitive="true" if transitive else "false",
            conf="default->default",
        )
    ET.ElementTree(root).write(path)
    return path


def _unreachable_line(url: str | None, source: str, log: str, count: int) -> str:
    where = url or "Maven Central"
    why = (
        "it could not be reached"
        if re.search(r"(?i)connect|unknownhost|timed out|refused|unresolved", log)
        else "it did not serve them"
    )
    return (
        f"could not fetch {count} JVM artifact(s) from {where} ({source}): {why}. Fix: check the network, "
        f"or use a mirror: LAB_MAVEN_REPO=<url> or a <mirror> in ~/.m2/settings.xml"
    )


def _run_ivy(deps: list[Artifact], transitive: bool, dest: Path) -> Path:
    """Resolve ``deps`` with Ivy and copy the jars to ``dest``; returns ``dest``."""
    java = require_java()
    url, source = mirror_url()
    with tempfile.TemporaryDirectory(prefix="lab-ivy-") as tmp:
        work = Path(tmp)
        argv = [
            java,
            "-jar",
            str(ivy_jar()),
            "-cache",
            str(cache_dir()),
            "-ivy",
            str(_ivy_xml(deps, transitive, work)),
            "-confs",
            "default",
            "-retrieve",
            str(dest / "[organisation]__[artifact]__[revision](__[classifier]).[ext]"),
            "-types",
            "jar",
            "bundle",
        ]
        if url:
            argv += ["-settings", str(_ivysettings(url, work))]
        done = subprocess.run(argv, capture_output=True, text=True)
        log = done.stdout + done.stderr
        if done.returncode != 0 or "UNRESOLVED DEPENDENCIES" in log or "FAILED DOWNLOADS" in log:
            (cache_dir().parent / "ivy-last.log").parent.mkdir(parents=True, exist_ok=True)
            (cache_dir().parent / "ivy-last.log").write_text(log)
            raise JvmError(_unreachable_line(url, source, log, len(deps)))
    return dest


def install(name: str, say=print) -> Path:
    """Fetch the locked jars of ``name`` (only when something is missing) and verify every sum."""
    lock, folder = read_lock(name), jar_dir(name)
    bad = missing_or_wrong(name)
    if not bad:
        say(f"jvm {name}: {len(lock.jars)} jars verified in {folder}")
        return folder
    say(f"jvm {name}: fetching {len(bad)} of {len(lock.jars)} locked jars (once; cached in {cache_dir()})")
    with tempfile.TemporaryDirectory(prefix=f"lab-jars-{name}-") as tmp:
        got = _run_ivy(list(lock.jars), transitive=False, dest=Path(tmp))
        folder.mkdir(parents=True, exist_ok=True)
        for jar in lock.jars:
            src = got / jar.filename
            if not src.is_file():
                raise JvmError(
                    f"the resolver did not return {jar.coord}: run `labkit jars lock {name}` if the lock is stale"
                )
            actual = sha256(src)
            if actual != jar.sha256:
                raise JvmError(
                    f"{jar.coord}: SHA-256 {actual} does not match the lock ({jar.sha256}); "
                    "the repository or mirror served another file: check the mirror, nothing was installed"
                )
        for jar in lock.jars:
            shutil.copy2(got / jar.filename, folder / jar.filename)
    wanted = {j.filename for j in lock.jars}
    for stray in folder.glob("*.jar"):
        if stray.name not in wanted:
            stray.unlink()
    say(f"jvm {name}: {len(lock.jars)} jars verified in {folder}")
    return folder


def write_lock(name: str, roots: list[str] | None = None, say=print) -> Path:
    """Resolve the roots transitively and rewrite ``jvm/<name>.lock`` with every jar's SHA-256."""
    path = lock_path(name)
    root_arts = [_coord(r) for r in roots] if roots else list(read_lock(name).roots)
    if not root_arts:
        raise JvmError(f"no roots for {name}: `labkit jars lock {name} group:artifact:version ...`")
    with tempfile.TemporaryDirectory(prefix=f"lab-lock-{name}-") as tmp:
        got = _run_ivy(root_arts, transitive=True, dest=Path(tmp))
        lines = [
            f"# JVM artifacts of the {name} set, with SHA-256 sums. Made by `labkit jars lock {name}`;",
            "# installed by `labkit jars install` (make setup). Edit the roots, then re-lock.",
            "",
        ]
        lines += [f"root {r.coord}" for r in root_arts] + [""]
        for jar in sorted(got.glob("*.jar")):
            parts = jar.stem.split("__")
            if len(parts) != 3:
                raise JvmError(f"cannot read coordinates from the resolved file name {jar.name} (a classifier?)")
            lines.append(f"jar {':'.join(parts)} {sha256(jar)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    say(f"wrote {path} ({sum(1 for line in lines if line.startswith('jar '))} jars)")
    return path


# -- `labkit jars` ---------------------------------------------------------------------------
@command("labkit jars")
def cmd_jars(argv: list[str]) -> int:
    """``labkit jars install|check|lock|classpath``: the lab's locked JVM artifacts."""
    p = parser("labkit jars", "The JVM artifacts the lab runs, from jvm/*.lock.")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("install", help="fetch and verify the locked jars (what `make setup` runs)").add_argument(
        "sets", nargs="*", help=f"which sets (default: all: {', '.join(known_sets())})"
    )
    sub.add_parser("check", help="verify the installed jars against the lock; exit 1 if any is missing")
    lock = sub.add_parser("lock", help="re-resolve a set's roots transitively and rewrite its lock file")
    lock.add_argument("set")
    lock.add_argument("roots", nargs="*", help="group:artifact:version (default: the roots in the lock file)")
    sub.add_parser("classpath", help="print an installed set's classpath").add_argument("set")
    args = p.parse_args(argv)
    if args.action == "install":  # a JvmError is one line from @command
        for name in args.sets or known_sets():
            install(name)
    elif args.action == "check":
        bad = {name: missing_or_wrong(name) for name in known_sets()}
        for name, missing in bad.items():
            print(f"{name}: " + (f"{len(missing)} missing or wrong, e.g. {missing[0]}" if missing else "ok"))
        return 1 if any(bad.values()) else 0
    elif args.action == "lock":
        write_lock(args.set, args.roots or None)
    else:
        print(classpath(args.set))
    return 0
