"""Team workflows on one real run of the CI profile: S3 and SSH remotes, experiments shared
through a git origin, `dvc artifacts get`, and a teammate reusing the run cache.

Only generic DVC commands; output paths come from dvc.lock, artifacts from dvc.yaml. The one
pipeline-specific knob is EXPERIMENT below: a param change that reruns a late stage cheaply.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.dvc import (
    artifacts,
    assert_restored,
    bare_origin,
    clone,
    commit_all,
    copy_run,
    free_port,
    from_run_cache,
    git,
    ran,
    same_tree,
    sh,
    timed,
    wait_for_port,
)

pytestmark = pytest.mark.slow

# The variant a teammate runs: reruns train, generate and evaluate (~55 s on 2 cores). An
# evaluate-only param would be faster but would not cover train's model and dvclive outputs.
EXPERIMENT = ("-S", "train.max_steps=4")
EXP_NAME = "fewer-steps"
REMOTE = "team"  # the default DVC remote committed in .dvc/config (a directory here)


@dataclass
class Team:
    origin: Path  # bare git repo everybody clones
    a: Path  # the teammate who ran the pipeline (dvc repro, committed, pushed)
    store: Path  # the default DVC remote (a local directory)


def workspace(team: Team, dst: Path) -> Path:
    """A teammate's checkout: git clone of origin + dvc pull."""
    clone(team.origin, dst)
    sh("dvc", "pull", cwd=dst)
    return dst


@pytest.fixture(scope="module")
def team(ci_run, tmp_path_factory) -> Team:
    """The session's CI run as teammate A: a committed default remote, pushed to a bare
    origin, its data and run cache pushed to the remote."""
    root = tmp_path_factory.mktemp("team")
    origin = bare_origin(root / "origin.git")
    a = copy_run(ci_run, root / "A")
    store = root / "dvc-store"
    sh("dvc", "remote", "add", "-d", REMOTE, str(store), cwd=a)
    commit_all(a, "team remote")
    git("remote", "add", "origin", str(origin), cwd=a)
    git("push", "-q", "origin", "main", cwd=a)
    sh("dvc", "push", "--run-cache", cwd=a)
    return Team(origin, a, store)


@pytest.fixture(scope="module")
def experimented(team, tmp_path_factory) -> tuple[Path, str]:
    """A teammate's clone that ran EXPERIMENT as a named experiment and shared it: data and
    run cache with `dvc push --run-cache`, the experiment with `dvc exp push origin`."""
    a2 = workspace(team, tmp_path_factory.mktemp("exp") / "A2")
    log = sh("dvc", "exp", "run", "-n", EXP_NAME, *EXPERIMENT, cwd=a2)
    assert ran(log), log[-2000:]
    sh("dvc", "push", "--run-cache", cwd=a2)
    sh("dvc", "exp", "push", "origin", EXP_NAME, cwd=a2)
    return a2, log


def round_trip(team: Team, tmp: Path, name: str, url: str, shared: dict[str, str],
               secret: dict[str, str]) -> tuple[float, float]:
    """Commit remote `name` (url + shared options) as the default in a teammate's workspace,
    keep `secret` options in .dvc/config.local, push; a fresh git clone gets the same secrets
    locally, pulls, and must have every output. Returns (push seconds, pull seconds)."""
    pusher = workspace(team, tmp / "pusher")
    sh("dvc", "remote", "add", "-d", name, url, cwd=pusher)
    for k, v in shared.items():
        sh("dvc", "remote", "modify", name, k, v, cwd=pusher)
    for k, v in secret.items():
        sh("dvc", "remote", "modify", "--local", name, k, v, cwd=pusher)
    commit_all(pusher, f"remote {name}")
    committed = git("show", "HEAD:.dvc/config", cwd=pusher)
    assert url in committed and not any(v in committed for v in secret.values()), committed
    _, push_s = timed("dvc", "push", cwd=pusher)

    puller = clone(pusher, tmp / "puller")
    for k, v in secret.items():
        sh("dvc", "remote", "modify", "--local", name, k, v, cwd=puller)
    _, pull_s = timed("dvc", "pull", cwd=puller)
    assert_restored(puller, team.a)
    return push_s, pull_s


def report(capsys, what: str, push_s: float, pull_s: float, repo: Path) -> None:
    size = sum(f.stat().st_size for f in (repo / ".dvc" / "cache").rglob("*") if f.is_file())
    with capsys.disabled():
        print(f"\n{what}: push {push_s:.2f} s, pull {pull_s:.2f} s "
              f"(cache {size / 1e6:.1f} MB)")


# --- S3 (moto server) ---------------------------------------------------------------------

@pytest.fixture
def s3_endpoint():
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_s3_remote_push_and_pull_into_a_fresh_clone(team, s3_endpoint, tmp_path, capsys):
    import boto3

    key = {"access_key_id": "testing-key", "secret_access_key": "testing-secret"}
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id=key["access_key_id"],
                      aws_secret_access_key=key["secret_access_key"])
    s3.create_bucket(Bucket="team")
    push_s, pull_s = round_trip(team, tmp_path, "s3store", "s3://team/codesift",
                                {"endpointurl": s3_endpoint, "region": "us-east-1"}, key)
    assert s3.list_objects_v2(Bucket="team", Prefix="codesift/")["KeyCount"] > 0
    report(capsys, "S3 (moto)", push_s, pull_s, team.a)


# --- SSH (a throwaway sshd) ---------------------------------------------------------------

def _sshd_binary() -> str | None:
    return shutil.which("sshd") or next(
        (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None)


@pytest.fixture
def sshd(tmp_path):
    """sshd on 127.0.0.1:<free port> with a throwaway host key, accepting one throwaway user
    key; no system file is read or changed (only sshd's privilege-separation directory,
    /run/sshd, is created if missing, as the ssh service itself would)."""
    binary = _sshd_binary()
    if binary is None:
        pytest.skip("no sshd: run `make test` (scripts/setup_system.sh installs openssh-server)")
    privsep = Path("/run/sshd")
    made_privsep = False
    if not privsep.is_dir():
        if os.geteuid() != 0:
            pytest.skip("sshd needs /run/sshd, which only root can create")
        privsep.mkdir(mode=0o755, parents=True)
        made_privsep = True
    d = tmp_path / "sshd"
    d.mkdir()
    for key in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)],
                       check=True, stdin=subprocess.DEVNULL)
    (d / "authorized_keys").write_text((d / "user_key.pub").read_text())
    (d / "authorized_keys").chmod(0o600)
    (d / "sshd_config").write_text("")  # everything below comes from -o
    proc = None
    try:
        for _ in range(3):  # another process may grab the free port first
            port = free_port()
            opts = {"ListenAddress": "127.0.0.1", "Port": port, "HostKey": d / "host_key",
                    "AuthorizedKeysFile": d / "authorized_keys", "PidFile": "none",
                    "StrictModes": "no", "UsePAM": "no", "PasswordAuthentication": "no",
                    "KbdInteractiveAuthentication": "no", "PermitRootLogin": "prohibit-password",
                    "Subsystem": "sftp internal-sftp", "MaxStartups": "100",
                    "MaxSessions": "100"}
            cmd = [binary, "-D", "-e", "-f", str(d / "sshd_config")]
            for k, v in opts.items():
                cmd += ["-o", f"{k}={v}" if k != "Subsystem" else f"{k} {v}"]
            with open(d / "sshd.log", "w") as log:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=log, start_new_session=True)
            try:
                wait_for_port(port, proc=proc)
                break
            except RuntimeError:
                proc.wait()
                proc = None
        else:
            pytest.fail(f"sshd did not start:\n{(d / 'sshd.log').read_text()}")
        yield port, d / "user_key"
    finally:
        if proc is not None:
            try:
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        if made_privsep:
            try:
                privsep.rmdir()
            except OSError:
                pass


def test_ssh_remote_push_and_pull_into_a_fresh_clone(team, sshd, tmp_path, capsys):
    port, user_key = sshd
    store = tmp_path / "ssh-store"
    url = f"ssh://{getpass.getuser()}@127.0.0.1:{port}{store}"
    push_s, pull_s = round_trip(team, tmp_path, "sshstore", url, {},
                                {"keyfile": str(user_key)})
    assert any(store.rglob("*")), "nothing arrived on the ssh remote"
    report(capsys, "SSH (sshd)", push_s, pull_s, team.a)


# --- Experiments through git --------------------------------------------------------------

def test_experiment_shared_through_the_git_origin(team, experimented, tmp_path):
    a2, _ = experimented
    b = clone(team.origin, tmp_path / "B")
    sh("dvc", "exp", "pull", "origin", EXP_NAME, cwd=b)
    shown = sh("dvc", "exp", "show", "--json", cwd=b)
    assert EXP_NAME in shown, shown[-2000:]
    sh("dvc", "exp", "apply", EXP_NAME, cwd=b)
    sh("dvc", "pull", cwd=b)
    assert (b / "dvc.lock").read_bytes() == (a2 / "dvc.lock").read_bytes()
    assert_restored(b, a2)
    metrics = [json.loads(sh("dvc", "metrics", "show", "--json", cwd=r)) for r in (a2, b)]
    assert metrics[0] == metrics[1] and metrics[0]


# --- Artifacts ----------------------------------------------------------------------------

def test_artifacts_get_fetches_each_declared_artifact_through_the_remote(team, tmp_path):
    declared = artifacts(team.a)
    assert declared, "dvc.yaml declares no artifacts"
    url = f"file://{team.a}"  # a URL, so DVC clones it and cannot use A's own cache
    name = next(iter(declared))
    # DVC 3.67 resolves an artifact's revision from GTO git tags only: no tag, no artifact.
    tmp = {"TMPDIR": str(tmp_path)}  # DVC's clone and cache of the URL go here
    out = sh("dvc", "artifacts", "get", url, name, "-o", tmp_path / "untagged", cwd=tmp_path,
             check=False, **tmp)
    assert "Unable to find artifact" in out and not (tmp_path / "untagged").exists(), out
    for name in declared:
        git("tag", "-a", f"{name}@v0.0.1", "-m", f"register {name}", cwd=team.a)
    for name, spec in declared.items():
        dst = tmp_path / "got" / name
        sh("dvc", "artifacts", "get", url, name, "-o", dst, cwd=tmp_path, **tmp)
        assert same_tree(dst, team.a / spec["path"]), name


# --- Run cache ----------------------------------------------------------------------------

def test_run_cache_lets_a_teammate_skip_every_stage(team, experimented, tmp_path):
    b = clone(team.origin, tmp_path / "B")
    sh("dvc", "pull", "--run-cache", cwd=b)
    log = sh("dvc", "repro", cwd=b)
    assert ran(log) == set(), log[-2000:]
    assert "up to date" in sh("dvc", "status", cwd=b)
    # The variant the other teammate ran: restored from the run cache + remote, not rerun.
    _, exp_log = experimented
    log = sh("dvc", "exp", "run", "--pull", *EXPERIMENT, cwd=b)
    assert ran(log) == set(), log[-3000:]
    assert from_run_cache(log) == ran(exp_log), log[-3000:]
    assert_restored(b, experimented[0])
