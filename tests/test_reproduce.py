"""The reproduction pipeline on the tiny budget: every section with finite numbers, figures on disk, reruns
that skip finished stages, a time cap that stops training cleanly, an interrupted training that resumes,
the models spread over worker processes or torchrun ranks with the same stages and report as one process,
and clear errors for bad input (API and command line)."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cyclegan_workbench.app.main import main
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models.config import DEFAULT_PRESET, preset_config
from cyclegan_workbench.visualization.reproduce import (
    ARCHITECTURES,
    BUDGETS,
    TOY_MODELS,
    Listener,
    PipelineCancelled,
    Reproduction,
    architecture_specs,
    budget_limits,
    model_config,
    reproduce,
    thread_count,
)

SECTIONS = ("1. Architecture comparison", "2. Bottleneck nullification", "3. First skip connection isolated",
            "4. Unseen figures", "5. Background gray level", "6. Shifted figures", "7. Filter ranking")


class Recorder(Listener):
    def __init__(self):
        self.finished: dict[str, bool] = {}
        self.messages: list[str] = []
        self.notices: list[str] = []

    def notice(self, text):
        self.notices.append(text)

    def stage_progress(self, fraction, message):
        assert 0.0 <= fraction <= 1.0
        self.messages.append(message)

    def stage_finished(self, name, seconds, reused):
        self.finished[name] = reused


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "report"
    recorder = Recorder()
    results = reproduce(out, "tiny", listener=recorder)
    return out, results, recorder


def _numbers(value):
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def test_the_tiny_pipeline_writes_every_section(tiny):
    out, _, recorder = tiny
    md = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    for title in SECTIONS:
        assert f"## {title}" in md and f"<h2>{title}</h2>" in html
        section = md.split(f"## {title}")[1].split("\n## ")[0]
        for label in ("**Question.**", "**Setting.**", "**Numbers.**", "**Reading.**", "!["):
            assert label in section, (title, label)
    assert "**Budget: tiny.**" in md and "## Timings" in md
    assert not any(recorder.finished.values())  # a fresh directory: nothing reused


def test_every_number_is_finite_and_the_headline_numbers_are_there(tiny):
    out, results, _ = tiny
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert all(math.isfinite(v) for v in _numbers(saved))
    e = saved["experiments"]
    assert set(e) == {"architectures", "bottleneck", "skip", "unseen", "background", "shift", "filters"}
    rows = e["architectures"]["numbers"]["rows"]
    assert len(rows) == 6
    for row in rows:
        assert all(_is_number(row["table"][k]) for k in ("D_A", "D_B", "G_A", "G_B", "Cycle_A", "Cycle_B", "Total"))
        assert _is_number(row["accuracy"]) and row["curve"] and _is_number(row["curve"][-1]["validation"]["Total"])
    b = e["bottleneck"]["numbers"]
    assert all(_is_number(b[k]) for k in ("accuracy_intact", "accuracy_nullified", "mean_abs_output_change"))
    s = e["skip"]["numbers"]
    assert _is_number(s["accuracy_isolated"]) and s["isolated"]["edge"]["pixels"] > 0
    assert all(_is_number(s[m][r]["mean_chroma"]) for m in ("intact", "isolated") for r in ("edge", "interior"))
    u = e["unseen"]["numbers"]
    assert [r["aspect"] for r in u["per_aspect"]] == [1.0, 6.0]
    assert all(_is_number(r["shape_pixels"]["other"]) for r in u["per_aspect"] + u["per_shape"])
    bg = e["background"]["numbers"]
    assert bg["levels"] == [0, 200, 255] and all(_is_number(a) for a in bg["accuracy"])
    assert all(_is_number(v) for row in e["shift"]["numbers"]["accuracy"].values() for v in row.values())
    assert all(_is_number(x["output_change"]) for layer in e["filters"]["numbers"]["layers"]
               for x in layer["effects"])
    assert set(saved["models"]) == {"toy", "toy_shifted", "unet_128", "unet_shallow", "unet_mini", "unet_128_b25",
                                    "unet_128_large", "unet_128_large_b25"}
    assert saved["models"]["unet_128_large"]["train_images"] == 12  # the tiny budget's "large": 6 per class
    assert set(saved["timings"]) >= {"datasets", "train_toy", "exp2_bottleneck", "exp1_architectures"}
    assert results["experiments"]["bottleneck"]["numbers"] == b


def test_every_figure_is_a_png_on_disk_and_nothing_half_written_remains(tiny):
    out, results, _ = tiny
    paths = [p for exp in results["experiments"].values() for p in exp["figures"].values()]
    assert len(paths) >= 10
    for p in paths:
        assert (out / p).read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in out.rglob("*.tmp")]
    assert not [p for p in out.rglob(".*partial*")]


def test_a_rerun_reuses_every_finished_stage(tiny):
    out, results, _ = tiny
    recorder = Recorder()
    again = reproduce(out, "tiny", listener=recorder)
    reused = {name for name, r in recorder.finished.items() if r}
    assert reused == set(recorder.finished) - {"report"}
    assert again["experiments"] == results["experiments"]
    assert again["models"]["toy"]["iterations"] == results["models"]["toy"]["iterations"]


def test_a_time_cap_stops_training_after_the_iteration_that_reached_it(tmp_path):
    budget = dataclasses.replace(BUDGETS["tiny"], toy_seconds=1e-9, toy_epochs=(3, 0), curve_points=2)
    pipeline = Reproduction(tmp_path / "capped", budget)
    pipeline._prepare_out_dir()
    pipeline._datasets()
    result = pipeline._train(TOY_MODELS[0])
    assert result["stopped_by"] == "time cap" and result["iterations"] == 1
    assert result["curve"][-1]["step"] == 1
    run = tmp_path / "capped" / "runs" / "toy"
    assert not (run / "progress.json").exists()  # the curve is saved with the training state
    assert (run / "latest_net_G_B.pth").is_file() and not (run / "training_state.pth").exists()


def test_a_run_whose_cap_is_used_up_is_evaluated_without_training(tmp_path, monkeypatch):
    budget = dataclasses.replace(BUDGETS["tiny"], toy_seconds=1e-9, toy_epochs=(3, 0))
    out = tmp_path / "capped"
    pipeline = Reproduction(out, budget)
    pipeline._prepare_out_dir()
    pipeline._datasets()
    with monkeypatch.context() as m:
        m.setattr(Path, "unlink", lambda self, missing_ok=False: None)  # as if it stopped before cleaning up
        first = pipeline._train(TOY_MODELS[0])
    # The curve, its final point included, and the seconds used are saved with the state they belong to.
    state = torch.load(out / "runs" / "toy" / "training_state.pth", weights_only=True)
    assert (state["epoch"], state["iteration"]) == (0, 1) and state["train_seconds"] == first["train_seconds"]
    assert state["callbacks"]["reproduce_curve"]["points"] == first["curve"] and first["curve"][-1]["step"] == 1
    recorder = Recorder()
    again = Reproduction(out, budget, listener=recorder)._train(TOY_MODELS[0])
    assert again["iterations"] == 1 and again["stopped_by"] == "time cap" and again["curve"] == first["curve"]
    assert not [m for m in recorder.messages if "iteration" in m]


def cancel_after_first_iteration(out) -> None:
    """Start the default-preset model of a tiny reproduction in `out` and cancel it after one iteration."""
    recorder = Recorder()
    pipeline = Reproduction(out, "tiny", listener=recorder,
                            cancelled=lambda: any(m.startswith("toy: iteration 1/") for m in recorder.messages))
    pipeline._prepare_out_dir()
    pipeline._datasets()
    with pytest.raises(PipelineCancelled):
        pipeline._train(TOY_MODELS[0])


def test_an_interrupted_training_resumes_where_it_stopped(tmp_path, tiny):
    out = tmp_path / "resumed"
    cancel_after_first_iteration(out)
    state = torch.load(out / "runs" / "toy" / "training_state.pth", weights_only=True)
    assert (state["epoch"], state["iteration"]) == (0, 1)

    recorder = Recorder()
    result = Reproduction(out, "tiny", listener=recorder)._train(TOY_MODELS[0])
    iterations = [m for m in recorder.messages if m.startswith("toy: iteration")]
    assert iterations[0].startswith("toy: iteration 2/2")  # continued, not restarted
    assert result["iterations"] == 2 and result["stopped_by"] == "epochs"
    # Same seed and data: the resumed run ends where the uninterrupted one of the fixture did.
    ours = torch.load(out / "runs" / "toy" / "latest_net_G_B.pth", weights_only=True)
    theirs = torch.load(tiny[0] / "runs" / "toy" / "latest_net_G_B.pth", weights_only=True)
    assert all(torch.allclose(ours[k], theirs[k], atol=1e-5) for k in theirs)


def test_a_report_folder_of_the_previous_version_resumes_from_its_progress_json(tmp_path, tiny):
    """Before the curve was saved in the training state, progress.json held it and the seconds used."""
    out = tmp_path / "old"
    cancel_after_first_iteration(out)
    run = out / "runs" / "toy"
    state = torch.load(run / "training_state.pth", weights_only=True)
    del state["train_seconds"], state["callbacks"]  # what the previous version saved
    torch.save(state, run / "training_state.pth")
    point = {"step": 1, "images": 4, "epoch": 0.5, "seconds": 7.25, "train": {"Total": 1.5},
             "validation": {"Total": 2.5}, "accuracy": 0.5}
    ahead = dict(point, step=2)  # written after the state was saved: the resume repeats it
    (run / "progress.json").write_text(json.dumps({"saved_step": 1, "saved_seconds": 7.25, "curve": [point, ahead]}))
    shutil.copytree(out, tmp_path / "old_capped")

    result = Reproduction(out, "tiny")._train(TOY_MODELS[0])
    assert result["iterations"] == 2 and result["stopped_by"] == "epochs"
    assert len(result["curve"]) == 2 and result["curve"][0] == point and result["curve"][1]["step"] == 2
    assert result["train_seconds"] > 7.25 and result["curve"][1]["seconds"] >= 7.25  # the count continued
    ours = torch.load(run / "latest_net_G_B.pth", weights_only=True)
    theirs = torch.load(tiny[0] / "runs" / "toy" / "latest_net_G_B.pth", weights_only=True)
    assert all(torch.allclose(ours[k], theirs[k], atol=1e-5) for k in theirs)

    # Its seconds count against a cap: 7.25 s used of 5 s, so no more training.
    capped = dataclasses.replace(BUDGETS["tiny"], toy_seconds=5.0)
    recorder = Recorder()
    result = Reproduction(tmp_path / "old_capped", capped, listener=recorder)._train(TOY_MODELS[0])
    assert result["iterations"] == 1 and result["stopped_by"] == "time cap" and result["curve"] == [point]
    assert result["train_seconds"] == 7.25 and not [m for m in recorder.messages if "iteration" in m]


# --- how long each model takes; several processes ----------------------------------------------
MODELS = {"toy", "toy_shifted", "unet_128", "unet_shallow", "unet_mini", "unet_128_b25", "unet_128_large",
          "unet_128_large_b25"}
TIMING_LINE = re.compile(r"^  (\w+): (\d+) iterations?, [\d.]+ s of training, [\d.e-]+ s/iteration, on (.+)$")


def _timing_lines(lines) -> dict[str, str]:
    """model -> where it trained, from the lines that say how long each model takes."""
    return {m.group(1): m.group(3) for m in map(TIMING_LINE.match, lines) if m}


def _headings(report: Path) -> list[str]:
    return [line for line in (report / "report.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("## ")]


def test_each_trained_model_says_how_long_it_takes(tiny):
    out, results, recorder = tiny
    assert _timing_lines(recorder.notices) == {name: "cpu" for name in MODELS}
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| time per iteration |" in md
    toy = results["models"]["toy"]
    assert f"| {toy['train_seconds'] / toy['iterations']:.3g} s |" in md
    assert "workers" not in results  # one process: the results are those of earlier versions


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """The tiny reproduction run by the command line with --workers 2, and what it printed on stderr."""
    out = tmp_path_factory.mktemp("workers") / "report"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["reproduce", "--out", str(out), "--budget", "tiny", "--workers", "2"])
    return out, code, err.getvalue()


def test_two_workers_write_the_stages_and_report_of_one_process(two_workers, tiny):
    out, code, err = two_workers
    assert code == 0, err[-2000:]
    assert sorted(p.name for p in (out / "stages").iterdir()) == sorted(p.name for p in (tiny[0] / "stages").iterdir())
    assert _headings(out) == _headings(tiny[0])
    for name in ("toy", "unet_128_large"):  # same seed, same data: the same model, whichever process trained it
        ours, theirs = (json.loads((o / "stages" / f"train_{name}.json").read_text()) for o in (out, tiny[0]))
        assert ours["result"]["table"] == theirs["result"]["table"]
        assert ours["worker"]["launcher"] == "workers" and ours["worker"]["of"] == 2 and "worker" not in theirs
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["workers"] == {"launcher": "workers", "count": 2}
    assert "--workers 2`" in (out / "report.md").read_text(encoding="utf-8")


def test_two_workers_say_how_long_each_model_takes(two_workers):
    _, code, err = two_workers
    assert "2 worker processes train each group's models" in err
    places = _timing_lines(err.splitlines())
    assert set(places) == MODELS and set(places.values()) == {"cpu, worker 0", "cpu, worker 1"}


def test_ctrl_c_stops_every_worker_after_its_step_with_its_state_saved(tmp_path):
    """The main process alone gets Ctrl-C (here: raised by its listener at the first progress message)."""
    budget = dataclasses.replace(BUDGETS["tiny"], toy_epochs=(40, 0))  # 2 iterations an epoch, 80 in all

    class CtrlC(Listener):
        def stage_progress(self, fraction, message):
            if "iteration" in message:
                raise KeyboardInterrupt

    out = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        Reproduction(out, budget, listener=CtrlC(), workers=2).run()
    for name in ("toy", "toy_shifted"):
        state = torch.load(out / "runs" / name / "training_state.pth", weights_only=True)
        assert 0 < 2 * state["epoch"] + state["iteration"] < 80  # stopped part-way, after a step
        assert not (out / "stages" / f"train_{name}.json").exists()
    result = Reproduction(out, budget)._train(TOY_MODELS[0])  # and it resumes
    assert result["iterations"] == 80 and result["stopped_by"] == "epochs"


KILLED_MAIN = """
import dataclasses, multiprocessing, os, signal, sys
from pathlib import Path
from cyclegan_workbench.visualization.reproduce import BUDGETS, Listener, Reproduction

class KillMyself(Listener):
    def stage_progress(self, fraction, message):
        if "iteration" in message:  # both workers are training: the main process dies without a word
            Path(sys.argv[2]).write_text(" ".join(str(p.pid) for p in multiprocessing.active_children()
                                                  if p.name.startswith("reproduce-")))
            os.kill(os.getpid(), signal.SIGKILL)

budget = dataclasses.replace(BUDGETS["tiny"], toy_epochs=(100000, 0))  # hours, were they to train on
Reproduction(sys.argv[1], budget, listener=KillMyself(), workers=2).run()
"""


def test_workers_whose_main_process_is_killed_stop_after_their_step(tmp_path):
    """Killed or with its terminal closed, the main process cannot stop its workers; they notice and stop."""
    out, pids = tmp_path / "orphaned", tmp_path / "pids"
    done = subprocess.run([sys.executable, "-c", KILLED_MAIN, str(out), str(pids)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == -9, done.stderr[-2000:]
    workers = [int(p) for p in pids.read_text().split()]
    assert len(workers) == 2

    def alive(pid):
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(") ")[1][0] != "Z"  # a zombie has exited
        return False

    deadline = time.monotonic() + 60
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in workers), "the orphaned workers are still training"
    for name in ("toy", "toy_shifted"):
        state = torch.load(out / "runs" / name / "training_state.pth", weights_only=True)
        assert state["epoch"] < 1000  # stopped long before their 100000 epochs, with their state saved
        assert not (out / "stages" / f"train_{name}.json").exists()


def test_a_workers_error_stops_the_pipeline_as_one_line(tmp_path):
    out = tmp_path / "broken"
    Reproduction(out, "tiny")._prepare_out_dir()
    run = out / "runs" / "toy_shifted"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{ damaged")
    (run / "training_state.pth").write_bytes(b"not a state")
    with pytest.raises(UserError, match=r"^training toy_shifted failed: .*config\.json"):
        Reproduction(out, "tiny", workers=2).run()


def test_torchrun_ranks_share_the_models_and_rank_0_writes_the_report(tmp_path, tiny):
    out = tmp_path / "report"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "cyclegan_workbench.app.main", "reproduce", "--out", str(out), "--budget", "tiny"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _headings(out) == _headings(tiny[0])
    assert json.loads((out / "results.json").read_text())["workers"] == {"launcher": "torchrun", "count": 2}
    for group in (TOY_MODELS, ARCHITECTURES):
        for i, spec in enumerate(group):  # model i of a group is rank (i mod 2)'s
            saved = json.loads((out / "stages" / f"train_{spec.name}.json").read_text())
            assert saved["worker"] == {"launcher": "torchrun", "number": i % 2, "of": 2, "device": "cpu"}
    assert "rank 1: trained its share of the models" in done.stderr
    assert _timing_lines(done.stderr.splitlines())["unet_shallow"] == "cpu, rank 1"


# --- bad input -------------------------------------------------------------------------------------
def test_unknown_budget_device_seed_and_workers_are_refused(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="unknown budget 'huge': choose quick, standard, full, tiny"):
        Reproduction(tmp_path / "r", "huge")
    with pytest.raises(UserError, match="seed"):
        Reproduction(tmp_path / "r", "tiny", seed=-1)
    with pytest.raises(UserError, match="cpu or cuda"):
        Reproduction(tmp_path / "r", "tiny", device="tpu")
    with pytest.raises(UserError, match="workers must be a whole number >= 1, got 0"):
        Reproduction(tmp_path / "r", "tiny", workers=0)
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    with pytest.raises(UserError, match="under torchrun each rank trains its share"):
        Reproduction(tmp_path / "r", "tiny", workers=2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused(tmp_path):
    with pytest.raises(UserError, match="CUDA was requested"):
        Reproduction(tmp_path / "r", "tiny", device="cuda")
    assert not (tmp_path / "r").exists()


def test_an_out_dir_that_cannot_be_created_or_is_someone_elses_is_refused(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="cannot create the report folder"):
        Reproduction(blocker / "report", "tiny").run()
    with pytest.raises(UserError, match="not a folder"):
        Reproduction(blocker, "tiny").run()
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="holds no reproduction"):
        Reproduction(foreign, "tiny").run()
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_a_rerun_with_other_settings_is_refused(tiny):
    out = tiny[0]
    with pytest.raises(UserError, match="seed 0, not 1"):
        Reproduction(out, "tiny", seed=1).run()
    with pytest.raises(UserError, match="budget 'tiny', not 'quick'"):
        Reproduction(out, "quick").run()


def test_budget_limits_say_what_the_quick_budget_changes():
    assert budget_limits(BUDGETS["full"]) == []
    quick = " ".join(budget_limits(BUDGETS["quick"]))
    assert "at most 30 s of training each" in quick and "at most 240 s" in quick
    assert "Test split of 40 images per domain instead of 160" in quick


def test_the_standard_budget_scales_the_variants_and_trains_each_with_three_seeds(tmp_path):
    standard = BUDGETS["standard"]
    specs = architecture_specs(standard, seed=5)
    assert [s.name for s in specs[:7]] == [s.name for s in ARCHITECTURES] + ["unet_128_seed6"]
    assert len(specs) == 18 and specs[-1].name == "unet_128_large_b25_seed7"
    by_name = {s.name: s for s in specs}
    configs = {name: model_config(by_name[name], standard, tmp_path, "cpu", 5)
               for name in ("unet_128", "unet_shallow", "unet_mini_seed7", "unet_128_large_b25_seed6")}
    shape = {k: (c.network.num_downs, c.network.ngf, c.training.crop_size, c.training.batch_size,
                 (c.training.n_epochs, c.training.n_epochs_decay), c.training.seed) for k, c in configs.items()}
    assert shape == {"unet_128": (6, 16, 64, 1, standard.arch_epochs, 5),
                     "unet_shallow": (3, 16, 64, 1, standard.arch_epochs, 5),
                     "unet_mini_seed7": (6, 4, 64, 1, standard.arch_epochs, 7),
                     "unet_128_large_b25_seed6": (6, 16, 64, 25, standard.arch_epochs_batched, 6)}
    toy = preset_config(DEFAULT_PRESET).training
    assert all(c.training.lambda_shape == toy.lambda_shape and c.training.lr == toy.lr for c in configs.values())
    assert by_name["unet_mini_seed7"].label == "U-Net mini (6 downs, ngf 4), seed 7"
    assert by_name["unet_128_large_b25"].label == "U-Net 128 (6 downs, ngf 16), 3x data, batch 25, seed 5"
    limits = " ".join(budget_limits(standard))
    assert "U-Net mini 6 downsamplings, ngf 4" in limits and "with 3 seeds" in limits


def test_a_budget_with_seeds_trains_every_variant_per_seed_and_compares_them_by_mean(tmp_path):
    seeded = dataclasses.replace(BUDGETS["tiny"], arch_seeds=2)
    results = Reproduction(tmp_path / "report", seeded).run()
    models = results["models"]
    assert {models[f"{s.name}_seed1"]["config"]["training"]["seed"] for s in ARCHITECTURES} == {1}
    assert {models[s.name]["config"]["training"]["seed"] for s in ARCHITECTURES} == {0}
    weights = [torch.load(tmp_path / "report" / "runs" / name / "latest_net_G_A.pth") for name in
               ("unet_mini", "unet_mini_seed1")]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # the seed reached the training
    exp1 = results["experiments"]["architectures"]["numbers"]
    assert [v["seeds"] for v in exp1["variants"]] == [2] * len(ARCHITECTURES)
    assert sorted(exp1["ranking"]) == sorted(s.name for s in ARCHITECTURES)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Total mean (range)" in report and "SSIM_A mean (range)" in report and "trained with 2 seeds" in report


def test_thread_count_leaves_busy_cores_alone(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert thread_count([0.1, 0, 0]) == 2
    assert thread_count([1.2, 0, 0]) == 1
    assert thread_count([7.0, 0, 0]) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert thread_count([7.0, 0, 0]) == 2


# --- command line ----------------------------------------------------------------------------------
def test_cli_rerun_prints_progress_and_the_report_path(tiny, capsys):
    out = tiny[0]
    assert main(["reproduce", "--out", str(out), "--budget", "tiny"]) == 0
    captured = capsys.readouterr()
    assert "exp7_filters: done in an earlier run" in captured.err and "[17/17] writing the report" in captured.err
    assert f"report: {out / 'report.md'}" in captured.out


@pytest.mark.parametrize("args,message", [
    (["--budget", "nope"], "Error: unknown budget 'nope'"),
    (["--seed", "x"], "Error: --seed must be a whole number"),
    (["--device", "gpu"], "Error: device must be cpu or cuda"),
    (["--workers", "0"], "Error: --workers must be at least 1, got 0"),
    (["--workers", "two"], "Error: --workers must be a whole number, got 'two'"),
])
def test_cli_bad_values_exit_2_with_a_message(tmp_path, capsys, args, message):
    assert main(["reproduce", "--out", str(tmp_path / "r"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_help_names_the_budgets(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "REPORT_DIR" in text and "quick" in text and "full" in text and "standard: Table I" in " ".join(text.split())


def test_the_reproduce_command_loads_no_qt():
    script = ("import sys, cyclegan_workbench.app.cli.reproduce_commands, cyclegan_workbench.visualization.reproduce, "
              "cyclegan_workbench.visualization.report; "
              "print(','.join(m for m in sys.modules if m.split('.')[0] in ('PyQt5', 'PyQt6', 'PySide2', 'PySide6')))")
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
