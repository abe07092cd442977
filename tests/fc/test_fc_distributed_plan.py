"""plan_slots: each condition's chain of layer pairs, in order, on one worker thread, cut only
to give every thread work (known answers; no Dask needed)."""

from __future__ import annotations

from fcgraph.fc.distributed import plan_slots


def chain(condition: str, n: int, first: int = 0) -> list[tuple[str, int, str, str]]:
    return [(condition, k, f"l{k}", f"l{k + 1}") for k in range(first, first + n)]


def test_one_chain_per_worker_thread_sent_side_by_side():
    todo = chain("clean", 3) + chain("noise", 3)
    got = plan_slots(todo, [1.0] * 6, ["w0", "w1"])
    # each condition's pairs on one worker, in order; the two queues interleaved
    assert got == [(0, "w0"), (3, "w1"), (1, "w0"), (4, "w1"), (2, "w0"), (5, "w1")]


def test_a_single_chain_is_cut_where_its_halves_balance():
    todo = chain("clean", 8)
    costs = [8.0, 1, 1, 1, 1, 1, 1, 1]  # the first pair as dear as the other seven
    got = plan_slots(todo, costs, ["w0", "w1"])
    assert dict(got) == {0: "w0", **{i: "w1" for i in range(1, 8)}}
    assert [i for i, w in got if w == "w1"] == list(range(1, 8))  # in chain order
    even = plan_slots(todo, [1.0] * 8, ["w0", "w1"])
    assert sorted(i for i, w in even if w == "w0") == [0, 1, 2, 3]  # 4 + 4


def test_one_worker_runs_the_chains_one_after_the_other():
    todo = chain("clean", 2) + chain("noise", 2)
    assert plan_slots(todo, [1.0, 5.0, 1.0, 1.0], ["w0"]) == [(0, "w0"), (1, "w0"), (2, "w0"),
                                                             (3, "w0")]


def test_a_finished_pair_breaks_the_chain_and_threads_count():
    # pair 1 of clean was finished by an earlier run: 0 and 2..3 are separate runs
    todo = [("clean", 0, "a", "b"), ("clean", 2, "c", "d"), ("clean", 3, "d", "e")]
    got = plan_slots(todo, [1.0, 1.0, 1.0], ["w0", "w0"])  # one worker with two threads
    assert sorted(i for i, _ in got) == [0, 1, 2] and {w for _, w in got} == {"w0"}
    assert [i for i, _ in got] == [1, 0, 2]  # the dearer run (1, 2) first: threads take 1 and 0
    # more threads than pairs: every pair its own run, the spare threads get none
    assert sorted(plan_slots(chain("clean", 2), [1.0, 1.0], ["a", "b", "c", "d"])) == \
        [(0, "a"), (1, "b")]


def test_three_conditions_on_two_workers_balance_by_cost():
    todo = chain("c1", 2) + chain("c2", 2) + chain("c3", 2)
    costs = [5.0, 5.0, 3.0, 3.0, 2.0, 2.0]  # 10, 6, 4: c1 alone, c2 and c3 together
    got = plan_slots(todo, costs, ["w0", "w1"])
    where = dict(got)
    assert where[0] == where[1] != where[2] == where[3] == where[4] == where[5]
    order = [i for i, _ in got if where[i] == where[2]]
    assert order == [2, 3, 4, 5]  # c2's chain, then c3's, each in order
