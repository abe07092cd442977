"""Bad input everywhere: every command refuses a bad flag (exit 2) or a damaged file (exit 1)
with one ``error:`` line naming the flag or the file, no traceback, and writes nothing.

Each case copies its input (a tiny checkpoint, its recording, the recording with fc tables, or
a synthetic run) into the test's folder, damages it, and compares a snapshot of that whole
folder (every path, size, mtime and SHA-256) before and after the command."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcgraph.cli import app

runner = CliRunner()
N_IMAGES = 16
CONDITIONS = ["clean", "uniform:0.2"]
Damage = Callable[[Path], None]


# -- inputs, built once ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fcgraph.models import TrainConfig, train

    out = tmp_path_factory.mktemp("bad-input") / "ck"
    train(TrainConfig(architecture="tiny", T=4, lr=0.02, batch_size=16, epochs=1, train_limit=64,
                      test_limit=16), out)
    return out


@pytest.fixture(scope="module")
def recording(checkpoint: Path) -> Path:
    from fcgraph.record import record

    out = checkpoint.parent / "rec"
    record(checkpoint, out, CONDITIONS, N_IMAGES, batch_size=16)
    return out


@pytest.fixture(scope="module")
def with_fc(recording: Path) -> Path:
    from fcgraph.fc.run import compute_run

    out = recording.parent / "rec-fc"
    shutil.copytree(recording, out)
    compute_run(out, null="exact", backend="numpy", min_spikes=1)
    return out


def copy_of(source: Path, tmp_path: Path, damage: Damage | None) -> Path:
    """A private copy of ``source`` in the test's folder, damaged by ``damage``."""
    out = tmp_path / source.name
    shutil.copytree(source, out)
    if damage is not None:
        damage(out)
    return out


# -- damage --------------------------------------------------------------------------------------


def bits(folder: Path, condition: str = "clean") -> Path:
    return sorted((folder / "spikes" / condition).glob("*.bits"))[0]


def flip_bytes(path: Path) -> None:
    """Invert 16 bytes in the middle: same size, other content."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 16] = bytes(b ^ 0xFF for b in data[mid:mid + 16])
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def edit_json(path: Path, edit: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def wrong_sha(folder: Path) -> None:
    """The manifest's SHA-256 of one spike file no longer matches the (intact) file."""
    def edit(data: dict) -> None:
        entry = data["recording"]["conditions"]["clean"]["layers"]
        entry[next(iter(entry))]["sha256"] = "0" * 64

    edit_json(folder / "manifest.json", edit)


def architecture(name: str) -> Damage:
    """config.json names ``name``; model.pt keeps the tiny model's weights."""
    return lambda folder: edit_json(folder / "config.json",
                                    lambda data: data["model"].update(architecture=name))


def edge_table(folder: Path) -> Path:
    return folder / "fc" / "edges" / "clean.parquet"


# -- what every case checks ------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root``: kind, size, mtime and (files) SHA-256."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        out[str(path.relative_to(root))] = (path.is_dir(), st.st_size, st.st_mtime_ns, digest)
    return out


def refused(args: list[str], tmp_path: Path, code: int, needles: tuple[str, ...],
            env: dict[str, str] | None = None) -> str:
    """Run ``fcgraph ARGS``; check the exit code, the one ``error:`` line naming ``needles``, and
    that nothing under ``tmp_path`` changed. Returns the line."""
    before = snapshot(tmp_path)
    result = runner.invoke(app, args, env=env)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == code, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output and not re.search(r"\w(Error|Exception)\(['\"]", lines[0])
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert snapshot(tmp_path) == before
    return lines[0]


def fill(args: list[str], **paths: Path) -> list[str]:
    return [a.format(**{k: str(v) for k, v in paths.items()}) for a in args]


# -- train -------------------------------------------------------------------------------------------

#: Click's refusal of a value outside an enumerated option's choices, listing them all.
MODEL_CHOICES = "'{}' is not one of 'sew-small', 'sew-resnet18', 'spiking-resnet18', 'tiny'"
SPLIT_CHOICES = "'{}' is not one of 'train', 'test', 'all'"

TRAIN = ["train", "--out", "{tmp}/ck", "--model", "tiny", "--epochs", "1", "--train-limit", "16",
         "--test-limit", "16", "--no-progress"]


@pytest.mark.parametrize(("extra", "code", "needles"), [
    pytest.param(["--model", "vgg"], 2, ("--model", MODEL_CHOICES.format("vgg")), id="model"),
    pytest.param(["--neuron", "hh"], 2, ("--neuron", "'hh' is not one of 'plif', 'lif', 'if'"),
                 id="neuron"),
    pytest.param(["--dataset", "svhn"], 2, ("--dataset", "unknown dataset 'svhn'"), id="dataset"),
    pytest.param(["--dataset", "imagefolder:{tmp}/none"], 2, ("--dataset", "does not exist"),
                 id="image-folder"),
    pytest.param(["--tau", "0.5"], 2, ("--tau",), id="tau"),
    pytest.param(["--tau", "nan"], 2, ("--tau", "nan"), id="tau-nan"),
    pytest.param(["--v-threshold", "-1"], 2, ("--v-threshold",), id="threshold"),
    pytest.param(["--lr", "0"], 2, ("--lr",), id="lr-zero"),
    pytest.param(["--lr", "inf"], 2, ("--lr",), id="lr-inf"),
    pytest.param(["--epochs", "0"], 2, ("--epochs",), id="epochs"),
    pytest.param(["--batch-size", "-4"], 2, ("--batch-size",), id="batch-size"),
    pytest.param(["--T", "0"], 2, ("--T",), id="T"),
    pytest.param(["--epochs", "many"], 2, ("--epochs", "integer"), id="epochs-type"),
])
def test_train(tmp_path: Path, extra: list[str], code: int, needles: tuple[str, ...]) -> None:
    refused(fill([*TRAIN, *extra], tmp=tmp_path), tmp_path, code, needles)


def test_train_out_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "ck").write_text("not a folder")
    refused(fill(TRAIN, tmp=tmp_path), tmp_path, 2, ("--out", "is a file"))


# -- record ------------------------------------------------------------------------------------------

RECORD = ["record", "{ck}", "--out", "{tmp}/new", "--no-progress"]


@pytest.mark.parametrize(("extra", "code", "needles"), [
    pytest.param(["-n", "8", "-c", "fgsm"], 2, ("--condition", "'fgsm'", "expected fgsm:LEVEL"),
                 id="condition-no-level"),
    pytest.param(["-n", "8", "-c", "blur:0.1"], 2, ("--condition", "unknown kind 'blur'"),
                 id="condition-kind"),
    pytest.param(["-n", "8", "-c", "uniform:2"], 2, ("--condition", "(0, 1]"), id="condition-level"),
    pytest.param(["-n", "8", "-c", "a b"], 2, ("--condition", "'a b'"), id="condition-name"),
    pytest.param(["-n", "8", "-c", "clean", "-c", "clean"], 2, ("--condition", "given twice"),
                 id="condition-twice"),
    pytest.param(["-n", "-3", "-c", "clean"], 2, ("--n-images",), id="n-images-negative"),
    pytest.param(["-n", "0", "-c", "clean"], 2, ("--n-images",), id="n-images-zero"),
    pytest.param(["-n", str(10**12), "-c", "clean"], 2, ("--n-images", "is too many"),
                 id="n-images-huge"),
    pytest.param(["-n", "ten", "-c", "clean"], 2, ("--n-images", "integer"), id="n-images-type"),
    pytest.param(["-n", "8", "-c", "clean", "--split", "val"], 2, ("--split", SPLIT_CHOICES.format("val")),
                 id="split"),
    pytest.param(["-n", "8", "-c", "clean", "-d", "svhn"], 2, ("--dataset", "unknown dataset"),
                 id="dataset"),
    pytest.param(["-n", "8", "-c", "clean", "--batch-size", "0"], 2, ("--batch-size",),
                 id="batch-size"),
    pytest.param(["-n", "8", "-c", "clean", "--run-id", "a b"], 2, ("--run-id",), id="run-id"),
    pytest.param(["-n", "8"], 2, ("--condition",), id="no-condition"),
])
def test_record_flags(checkpoint: Path, tmp_path: Path, extra: list[str], code: int,
                      needles: tuple[str, ...]) -> None:
    ck = copy_of(checkpoint, tmp_path, None)
    refused(fill([*RECORD, *extra], ck=ck, tmp=tmp_path), tmp_path, code, needles)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("damage", "needles"), [
    pytest.param(architecture("sew-small"), ("model.pt", "does not fit the sew-small"),
                 id="other-architecture"),
    pytest.param(architecture("vgg"), ("config.json", "unknown model 'vgg'"), id="unknown-architecture"),
    pytest.param(lambda f: edit_json(f / "config.json", lambda d: d["model"].update(T=0)),
                 ("config.json", "T must be at least 1"), id="config-T"),
    pytest.param(lambda f: edit_json(f / "config.json", lambda d: d["model"].pop("mean")),
                 ("config.json", "'mean'"), id="config-field"),
    pytest.param(lambda f: edit_json(f / "config.json", lambda d: d["dataset"].update(name="svhn")),
                 ("config.json", "unknown dataset 'svhn'"), id="config-dataset"),
    pytest.param(lambda f: (f / "config.json").write_text("{not json"), ("config.json", "not valid JSON"),
                 id="config-json"),
    pytest.param(lambda f: truncate(f / "model.pt"), ("model.pt", "cannot be read"), id="weights-truncated"),
    pytest.param(lambda f: flip_bytes(f / "model.pt"), ("model.pt", "corrupt"), id="weights-corrupt"),
    pytest.param(lambda f: (f / "model.pt").unlink(), ("model.pt", "missing"), id="weights-missing"),
])
def test_record_refuses_a_damaged_checkpoint(checkpoint: Path, tmp_path: Path, damage: Damage,
                                            needles: tuple[str, ...]) -> None:
    ck = copy_of(checkpoint, tmp_path, damage)
    refused(fill([*RECORD, "-n", "8", "-c", "clean"], ck=ck, tmp=tmp_path), tmp_path, 1, needles)
    assert not (tmp_path / "new").exists()


def test_record_path_arguments(tmp_path: Path) -> None:
    refused(fill([*RECORD, "-n", "8", "-c", "clean"], ck=tmp_path / "none", tmp=tmp_path), tmp_path, 2,
            ("none", "does not exist"))
    (tmp_path / "new").write_text("a file")
    refused(fill([*RECORD, "-n", "8", "-c", "clean"], ck=tmp_path, tmp=tmp_path), tmp_path, 2,
            ("--out", "is a file"))


# -- fc ------------------------------------------------------------------------------------------------

FC = ["fc", "{rec}", "--backend", "numpy", "--no-progress"]
DATA_DAMAGE = [
    pytest.param(lambda f: flip_bytes(bits(f)), (".bits", "corrupt (SHA-256"), id="bits-corrupt"),
    pytest.param(lambda f: flip_bytes(bits(f, "uniform_0.2")), ("uniform_0.2", ".bits", "corrupt"),
                 id="bits-corrupt-other-condition"),
    pytest.param(lambda f: truncate(bits(f)), (".bits", "truncated"), id="bits-truncated"),
    pytest.param(lambda f: bits(f).unlink(), (".bits", "missing"), id="bits-missing"),
    pytest.param(wrong_sha, (".bits", "manifest.json"), id="manifest-sha256"),
    pytest.param(lambda f: truncate(f / "manifest.json"), ("manifest.json", "not valid JSON"),
                 id="manifest-truncated"),
    pytest.param(lambda f: edit_json(f / "manifest.json", lambda d: d["recording"].pop("conditions")),
                 ("manifest.json",), id="manifest-files"),
    pytest.param(lambda f: edit_json(f / "manifest.json", lambda d: d.update(T=0)),
                 ("manifest.json", "T and n_images"), id="manifest-T"),
]


@pytest.mark.parametrize(("damage", "needles"), DATA_DAMAGE)
def test_fc_refuses_a_damaged_recording(recording: Path, tmp_path: Path, damage: Damage,
                                        needles: tuple[str, ...]) -> None:
    rec = copy_of(recording, tmp_path, damage)
    refused(fill(FC, rec=rec), tmp_path, 1, needles)
    assert not (rec / "fc").exists()


def test_fc_resume_with_a_corrupt_file_touches_nothing(with_fc: Path, tmp_path: Path) -> None:
    rec = copy_of(with_fc, tmp_path, lambda f: flip_bytes(bits(f, "uniform_0.2")))
    refused(fill([*FC, "--min-spikes", "1"], rec=rec), tmp_path, 1, (".bits", "corrupt"))
    refused(fill([*FC, "--restart"], rec=rec), tmp_path, 1, (".bits", "corrupt"))


@pytest.mark.parametrize(("extra", "needles"), [
    pytest.param(["-c", "fgsm:0.1"], ("--condition", "no condition 'fgsm:0.1'"), id="condition"),
    pytest.param(["-c", "fgsm"], ("--condition", "no condition 'fgsm'"), id="condition-string"),
    pytest.param(["--measure", "phi"], ("--measure", "'phi' is not one of 'sttc', 'pearson', 'cofire'"),
                 id="measure"),
    pytest.param(["--null", "gauss"], ("--null", "'gauss' is not one of 'exact', 'shift', 'trial'"),
                 id="null"),
    pytest.param(["--shift-unit", "2"], ("--shift-unit", "'2' is not one of 'T', '1'"),
                 id="shift-unit"),
    pytest.param(["--threshold", "exact"], ("--threshold", "'exact' is not one of 'control', 'normal'"),
                 id="threshold"),
    pytest.param(["--z", "0"], ("--z",), id="z-zero"),
    pytest.param(["--z", "nan"], ("--z",), id="z-nan"),
    pytest.param(["--fdr", "1.5"], ("--fdr",), id="fdr"),
    pytest.param(["--fdr", "0"], ("--fdr",), id="fdr-zero"),
    pytest.param(["--pairs", "all"], ("--pairs", "'all' is not one of 'consecutive', 'feeders'"),
                 id="pairs"),
    pytest.param(["--candidates", "rf"], ("--candidates", "'rf' is not one of 'all', 'receptive-field'"),
                 id="candidates"),
    pytest.param(["--backend", "tpu"], ("--backend", "unknown backend"), id="backend"),
    pytest.param(["--backend", "torch:bogus"], ("--backend",), id="backend-device"),
    pytest.param(["--null", "shift", "--min-shift", "100000"], ("--min-shift",), id="min-shift"),
    pytest.param(["--null", "shift", "--n-shifts", "1"], ("--n-shifts",), id="n-shifts"),
    pytest.param(["--top-k", "0"], ("--top-k",), id="top-k"),
    pytest.param(["--tile", "-1"], ("--tile",), id="tile"),
    pytest.param(["--min-spikes", "x"], ("--min-spikes",), id="min-spikes-type"),
])
def test_fc_flags(recording: Path, tmp_path: Path, extra: list[str], needles: tuple[str, ...]) -> None:
    rec = copy_of(recording, tmp_path, None)
    refused(fill([*FC, *extra], rec=rec), tmp_path, 2, needles)
    assert not (rec / "fc").exists()


def test_fc_missing_recording(tmp_path: Path) -> None:
    refused(fill(FC, rec=tmp_path / "none"), tmp_path, 2, ("none", "does not exist"))


# -- export-spikes (reads only the condition it exports) ---------------------------------------------


@pytest.mark.parametrize(("damage", "needles"),
                         [p for p in DATA_DAMAGE if p.id != "bits-corrupt-other-condition"])
def test_export_spikes_refuses_a_damaged_recording(recording: Path, tmp_path: Path, damage: Damage,
                                                   needles: tuple[str, ...]) -> None:
    pytest.importorskip("pynwb")
    rec = copy_of(recording, tmp_path, damage)
    refused(["export-spikes", str(rec), "-f", "nwb", "-o", str(tmp_path / "s.nwb"), "--no-progress"],
            tmp_path, 1, needles)


@pytest.mark.parametrize(("extra", "needles"), [
    pytest.param(["-f", "csv"], ("--format",), id="format"),
    pytest.param(["-f", "nwb", "-c", "fgsm:0.1"], ("--condition", "no condition 'fgsm:0.1'"),
                 id="condition"),
    pytest.param(["-f", "nwb", "-l", "sn9"], ("--layer", "no layer 'sn9'"), id="layer"),
    pytest.param(["-f", "nwb", "--neurons", "sn9/0"], ("--neurons", "no layer 'sn9'"), id="neurons"),
    pytest.param(["-f", "nwb", "--bin-ms", "0"], ("--bin-ms",), id="bin-ms"),
])
def test_export_spikes_flags(recording: Path, tmp_path: Path, extra: list[str],
                             needles: tuple[str, ...]) -> None:
    pytest.importorskip("pynwb")
    refused(["export-spikes", str(recording), "-o", str(tmp_path / "s.out"), "--no-progress", *extra],
            tmp_path, 2, needles)


# -- analyze -------------------------------------------------------------------------------------------

ANALYZE = ["analyze", "{rec}", "--no-progress", "--no-report"]


@pytest.mark.parametrize(("damage", "needles"), [
    *DATA_DAMAGE,
    pytest.param(lambda f: truncate(edge_table(f)), ("clean.parquet", "not a readable Parquet"),
                 id="edges-truncated"),
    pytest.param(lambda f: edge_table(f).write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1"),
                 ("clean.parquet",), id="edges-garbage"),
])
def test_analyze_refuses_damaged_input(with_fc: Path, tmp_path: Path, damage: Damage,
                                       needles: tuple[str, ...]) -> None:
    rec = copy_of(with_fc, tmp_path, damage)
    refused(fill(ANALYZE, rec=rec), tmp_path, 1, needles)
    assert not (rec / "analysis").exists()


@pytest.mark.parametrize(("extra", "needles"), [
    pytest.param(["-c", "fgsm:0.3"], ("--condition", "no condition fgsm:0.3"), id="condition"),
    pytest.param(["--percentile", "150"], ("--percentile",), id="percentile"),
    pytest.param(["--percentile", "nan"], ("--percentile",), id="percentile-nan"),
    pytest.param(["--alpha", "nan"], ("--alpha",), id="alpha-nan"),
    pytest.param(["--alpha", "2"], ("--alpha",), id="alpha"),
    pytest.param(["--folds", "1"], ("--folds",), id="folds"),
    pytest.param(["--min-group", "0"], ("--min-group",), id="min-group"),
    pytest.param(["--max-neurons", "-1"], ("--max-neurons",), id="max-neurons"),
    pytest.param(["--n-boot", "many"], ("--n-boot",), id="n-boot-type"),
])
def test_analyze_flags(with_fc: Path, tmp_path: Path, extra: list[str], needles: tuple[str, ...]) -> None:
    rec = copy_of(with_fc, tmp_path, None)
    refused(fill([*ANALYZE, *extra], rec=rec), tmp_path, 2, needles)
    assert not (rec / "analysis").exists()


def test_analyze_missing_recording(tmp_path: Path) -> None:
    refused(fill(ANALYZE, rec=tmp_path / "none"), tmp_path, 2, ("none", "does not exist"))


# -- query (parameters are checked before any connection) ------------------------------------------


@pytest.mark.parametrize(("args", "needles"), [
    pytest.param(["hubs", "-p", "run_id=r", "-p", "top=abc"], ("'top'", "expects an int", "'abc'"),
                 id="int-type"),
    pytest.param(["hubs", "-p", "run_id=r", "-p", "top=1.5"], ("'top'", "expects an int"), id="int-float"),
    pytest.param(["hubs", "-p", "run_id=r", "-p", "top=0"], ("'top'", "must be >= 1"), id="int-range"),
    pytest.param(["pathways", "-p", "run_id=r", "-p", "uid=u", "-p", "target_layer=out",
                  "-p", "min_z=high"], ("'min_z'", "expects a number"), id="float-type"),
    pytest.param(["hubs", "-p", "run_id=r", "-p", "direction=up"], ("'direction'", "one of"),
                 id="choice"),
    pytest.param(["hubs", "-p", "run_id=r", "-p", "bogus=1"], ("--param bogus", "no parameter 'bogus'"),
                 id="unknown-parameter"),
    pytest.param(["hubs", "-p", "run_id"], ("--param 'run_id'", "key=value"), id="no-value"),
    pytest.param(["hubs"], ("needs parameter 'run_id'",), id="missing-parameter"),
    pytest.param(["nope"], ("NAME", "unknown query 'nope'"), id="unknown-query"),
    pytest.param([], ("give a query name",), id="no-query"),
    pytest.param(["hubs", "-p", "run_id=r", "--timeout", "0"], ("--timeout",), id="timeout"),
])
def test_query_parameters(tmp_path: Path, args: list[str], needles: tuple[str, ...]) -> None:
    refused(["query", *args], tmp_path, 2, needles)


# -- view, export, demo (checked before any connection or training) -------------------------------


@pytest.mark.parametrize(("args", "needles"), [
    pytest.param(["view", "r"], ("--neuron/--pathway/--layer-pair", "exactly one of"), id="view-none"),
    pytest.param(["view", "r", "--neuron", "r/a/0", "--layer-pair", "a", "b"], ("exactly one of",),
                 id="view-two"),
    pytest.param(["view", "r", "--neuron", "r/a/0", "--limit", "0"], ("--limit",), id="view-limit"),
    pytest.param(["export", "r", "-f", "csv", "-o", "{tmp}/out"], ("--format",), id="export-format"),
    pytest.param(["demo", "--root", "{tmp}/demo", "--model", "vgg", "--no-progress"],
                 ("--model", MODEL_CHOICES.format("vgg")), id="demo-model"),
    pytest.param(["demo", "--root", "{tmp}/demo", "-c", "fgsm", "--no-progress"],
                 ("--condition", "expected fgsm:LEVEL"), id="demo-condition"),
    pytest.param(["demo", "--root", "{tmp}/demo", "-c", "uniform:0.1", "--no-progress"],
                 ("--condition", "clean"), id="demo-without-clean"),
    pytest.param(["demo", "--root", "{tmp}/demo", "--split", "val", "--no-progress"],
                 ("--split", SPLIT_CHOICES.format("val")), id="demo-split"),
    pytest.param(["demo", "--root", "{tmp}/demo", "--n-images", "-1", "--no-progress"], ("--n-images",),
                 id="demo-n-images"),
    pytest.param(["demo", "--root", "{tmp}/demo", "-d", "svhn", "--no-progress"], ("--dataset",),
                 id="demo-dataset"),
    pytest.param(["bogus"], ("No such command 'bogus'",), id="unknown-command"),
    pytest.param(["report", "{tmp}/none"], ("none", "does not exist"), id="report-folder"),
    pytest.param(["db", "import-csv", "{tmp}/none"], ("csv_dir", "does not exist"), id="import-csv-folder"),
])
def test_offline_usage_errors(tmp_path: Path, args: list[str], needles: tuple[str, ...]) -> None:
    refused(fill(args, tmp=tmp_path), tmp_path, 2, needles)
    assert not (tmp_path / "out").exists() and not (tmp_path / "demo").exists()


@pytest.mark.parametrize("args", [
    ["export-spikes", "s3://bucket/run", "-f", "nwb", "-o", "{tmp}/out"],
    ["export-csv", "s3://bucket/run", "-o", "{tmp}/out"],
], ids=lambda a: a[0])
def test_a_run_folder_url_is_refused_where_files_are_read(tmp_path: Path, monkeypatch,
                                                          args: list[str]) -> None:
    """A command that reads a run folder on a path does not take an object-store URL for a
    relative folder named ``s3:``: one line names the commands that take URLs (record, fc,
    analyze, ingest: tests/system/test_run_folder_urls.py) or says to mount the bucket, and
    nothing is created."""
    monkeypatch.chdir(tmp_path)
    line = refused(fill(args, tmp=tmp_path), tmp_path, 2, ("://bucket/run", "a URL", "fc, analyze",
                                                           "mount"))
    assert not any(tmp_path.iterdir()), line


def test_output_folders_that_are_files(synthetic: Path, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    refused(["export-csv", str(synthetic), "-o", str(tmp_path / "out"), "--no-progress"], tmp_path, 2,
            ("--out", "is a file"))
    refused(["demo", "--root", str(tmp_path / "out"), "--no-progress"], tmp_path, 2, ("--root", "is a file"))
    refused(["export-csv", str(synthetic), "-o", str(tmp_path / "out" / "csv"), "--no-progress"], tmp_path,
            1, ("out/csv", "Not a directory"))  # an OSError: one line too


# -- ingest and export-csv: the graph and the output folder stay as they were -----------------------


def env_of(conn) -> dict[str, str]:
    return {"NEO4J_URI": conn.uri, "NEO4J_USER": conn.user, "NEO4J_PASSWORD": conn.password,
            "NEO4J_DATABASE": conn.database}


@pytest.fixture
def synthetic(tmp_path: Path, run_id: str) -> Path:
    from fcgraph.synthetic import make_synthetic_run

    root = tmp_path / "run"
    make_synthetic_run(root, run_id, conditions=("clean", "uniform:0.1"), fan_in=3)
    return root


def write_analysis(root: Path, analysis: str, neurons: bytes) -> None:
    (root / "analysis").mkdir()
    (root / "analysis" / "analysis.json").write_text(analysis)
    (root / "analysis" / "neurons.parquet").write_bytes(neurons)


def drop_z(root: Path) -> None:
    import pyarrow.parquet as pq

    path = edge_table(root)
    pq.write_table(pq.read_table(path).drop_columns(["z"]), path)


RUN_DAMAGE = [
    pytest.param(lambda f: truncate(edge_table(f)), ("clean.parquet", "not a readable Parquet"),
                 id="edges-truncated"),
    pytest.param(drop_z, ("clean.parquet", "missing column 'z'"), id="edges-column"),
    pytest.param(lambda f: truncate(f / "fc" / "neurons.parquet"), ("neurons.parquet",),
                 id="neurons-truncated"),
    pytest.param(lambda f: (f / "manifest.json").write_text("[]"), ("manifest.json",), id="manifest"),
]


@pytest.mark.neo4j
@pytest.mark.parametrize(("damage", "needles"), [
    *RUN_DAMAGE,
    pytest.param(lambda f: write_analysis(f, "{bad", b""), ("analysis.json", "not valid JSON"),
                 id="analysis-json"),
    pytest.param(lambda f: write_analysis(f, json.dumps({"run_id": f.parent.name}), b"garbage"),
                 ("analysis.json", "run_id"), id="analysis-run"),
])
def test_ingest_refuses_a_damaged_run(driver, neo4j_conn, synthetic: Path, tmp_path: Path, run_id: str,
                                      damage: Damage, needles: tuple[str, ...]) -> None:
    damage(synthetic)
    refused(["ingest", str(synthetic), "--no-progress"], tmp_path, 1, needles, env=env_of(neo4j_conn))
    assert nodes_of(driver, run_id) == 0


@pytest.mark.neo4j
def test_ingest_refuses_a_damaged_analysis_table(driver, neo4j_conn, synthetic: Path, tmp_path: Path,
                                                 run_id: str) -> None:
    write_analysis(synthetic, json.dumps({"run_id": run_id}), b"garbage")
    refused(["ingest", str(synthetic), "--no-progress"], tmp_path, 1,
            ("neurons.parquet", "not a readable Parquet"), env=env_of(neo4j_conn))
    assert nodes_of(driver, run_id) == 0


@pytest.mark.neo4j
@pytest.mark.parametrize(("extra", "needles"), [
    pytest.param(["-c", "fgsm:0.1"], ("--condition", "no edge table for condition 'fgsm:0.1'"),
                 id="condition"),
    pytest.param(["--top-k", "0"], ("--top-k",), id="top-k"),
    pytest.param(["--min-z", "nan"], ("--min-z",), id="min-z"),
    pytest.param(["--batch-size", "0"], ("--batch-size",), id="batch-size"),
    pytest.param(["--workers", "99"], ("--workers",), id="workers"),
])
def test_ingest_flags(driver, neo4j_conn, synthetic: Path, tmp_path: Path, run_id: str,
                      extra: list[str], needles: tuple[str, ...]) -> None:
    refused(["ingest", str(synthetic), "--no-progress", *extra], tmp_path, 2, needles,
            env=env_of(neo4j_conn))
    assert nodes_of(driver, run_id) == 0


@pytest.mark.neo4j
def test_ingest_missing_run_folder(driver, neo4j_conn, tmp_path: Path) -> None:
    refused(["ingest", str(tmp_path / "none")], tmp_path, 2, ("none", "no manifest"),
            env=env_of(neo4j_conn))


@pytest.mark.neo4j
@pytest.mark.parametrize("args", [
    pytest.param(["export", "no-such-run", "-f", "parquet", "-o", "{tmp}/out"], id="export-run"),
    pytest.param(["view", "no-such-run", "--neuron", "no-such-run/a/0", "-o", "{tmp}/v.html"],
                 id="view-run"),
    pytest.param(["query", "layer_summary", "-p", "run_id=no-such-run"], id="query-run"),
])
def test_a_run_not_in_the_graph(neo4j_conn, tmp_path: Path, args: list[str]) -> None:
    refused(fill(args, tmp=tmp_path), tmp_path, 2, ("no-such-run",), env=env_of(neo4j_conn))


@pytest.mark.parametrize(("damage", "needles"), RUN_DAMAGE)
def test_export_csv_refuses_a_damaged_run(synthetic: Path, tmp_path: Path, damage: Damage,
                                          needles: tuple[str, ...]) -> None:
    damage(synthetic)
    refused(["export-csv", str(synthetic), "-o", str(tmp_path / "csv"), "--no-progress"], tmp_path, 1,
            needles)
    assert not (tmp_path / "csv").exists()


@pytest.mark.parametrize(("extra", "needles"), [
    pytest.param(["-c", "fgsm:0.1"], ("--condition",), id="condition"),
    pytest.param(["--min-z", "inf"], ("--min-z",), id="min-z"),
    pytest.param(["--top-k", "-2"], ("--top-k",), id="top-k"),
])
def test_export_csv_flags(synthetic: Path, tmp_path: Path, extra: list[str],
                          needles: tuple[str, ...]) -> None:
    refused(["export-csv", str(synthetic), "-o", str(tmp_path / "csv"), "--no-progress", *extra],
            tmp_path, 2, needles)
    assert not (tmp_path / "csv").exists()


def nodes_of(driver, run_id: str) -> int:
    return driver.execute_query("MATCH (n {run_id: $r}) RETURN count(n) AS n", r=run_id).records[0]["n"]
