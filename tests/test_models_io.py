"""Bundled example problems: load -> save (JSON and YAML) -> load gives the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpsched.model.io import load_problem, load_schedule, save_problem, save_schedule

EXAMPLES = Path(__file__).resolve().parent.parent / "models" / "problems"
PROBLEMS = sorted(p for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".schedule.yaml"))


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_problem_round_trip(tmp_path: Path, path: Path, suffix: str) -> None:
    problem = load_problem(path)
    out = tmp_path / f"copy{suffix}"
    save_problem(problem, out)
    assert load_problem(out) == problem


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_schedule_round_trip(tmp_path: Path, path: Path, suffix: str) -> None:
    schedule = load_schedule(path.with_name(path.stem + ".schedule.yaml"))
    out = tmp_path / f"copy{suffix}"
    save_schedule(schedule, out)
    assert load_schedule(out) == schedule


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_examples_say_what_they_model(path: Path) -> None:
    # Every bundled example starts with a comment header, and its schedule is for it.
    assert path.read_text(encoding="utf-8").startswith("# ")
    problem = load_problem(path)
    assert load_schedule(path.with_name(path.stem + ".schedule.yaml")).problem == problem.name


def test_ft06_is_the_fisher_thompson_instance() -> None:
    # 6 jobs x 6 machines, each job a chain through every machine; total work 197 cycles.
    problem = load_problem(EXAMPLES / "ft06.yaml")
    assert len(problem.cores) == 6 and len(problem.tasks) == 36
    assert sum(t.options[0].duration_cycles for t in problem.tasks) == 197
    for job in range(6):
        chain = [problem.task_by_id[f"j{job}.o{k}"] for k in range(6)]  # type: ignore[index]
        assert {t.options[0].core for t in chain} == {f"m{i}" for i in range(6)}
        assert all(t.after == (f"j{job}.o{k - 1}",) for k, t in enumerate(chain) if k)


def test_problem_copy_with_other_links_has_their_transfer_times() -> None:
    # Lookups (links by id, routes, transfer times) are cached on a problem; a copy with other
    # links used to keep the original's.
    p = load_problem(EXAMPLES / "two_cores_private.yaml")
    route = p.routes[0]
    tensor = next(t.id for t in p.tensors if t.size_bytes > 0)
    before = p.transfer_duration_cycles(tensor, route.src, route.dst)
    slow = tuple(lk.model_copy(update={"bandwidth_bytes_per_cycle": 0.5}) for lk in p.links)
    q = p.model_copy(update={"links": slow})
    assert q.transfer_duration_cycles(tensor, route.src, route.dst) > before
    assert q.link_by_id[p.links[0].id].bandwidth_bytes_per_cycle == 0.5
    assert p.transfer_duration_cycles(tensor, route.src, route.dst) == before


def test_written_files_get_the_mode_a_plain_open_gives(tmp_path: Path) -> None:
    # Atomic writes go through mkstemp, whose file is private (0600); outputs used to stay so.
    import os

    from cpsched.model.io import write_text_atomic

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    new = tmp_path / "new.json"
    write_text_atomic(new, "{}")
    assert new.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    os.chmod(new, 0o640)  # rewriting keeps a mode the user chose
    write_text_atomic(new, "{}\n")
    assert new.stat().st_mode & 0o777 == 0o640 and new.read_text() == "{}\n"
