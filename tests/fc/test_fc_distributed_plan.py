"""plan_slots: each condition's chain of layer pairs, in order, on one worker thread, cut only
to give every thread work; run_units' queues sending them, a dry queue taking the second half
of the longest (known answers; no Dask needed)."""

from __future__ import annotations

from fcgraph.fc.distributed import plan_slots


def chain(condition: str, n: int, first: int = 0) -> list[tuple[str, int, str, str]]:
    return [(condition, k, f"l{k}", f"l{k + 1}") for k in range(first, first + n)]


def test_one_chain_per_worker_thread():
    todo = chain("clean", 3) + chain("noise", 3)
    assert plan_slots(todo, [1.0] * 6, ["w0", "w1"]) == [("w0", [0, 1, 2]), ("w1", [3, 4, 5])]


def test_a_single_chain_is_cut_where_its_halves_balance():
    todo = chain("clean", 8)
    costs = [8.0, 1, 1, 1, 1, 1, 1, 1]  # the first pair as dear as the other seven
    assert plan_slots(todo, costs, ["w0", "w1"]) == [("w0", [0]), ("w1", list(range(1, 8)))]
    assert plan_slots(todo, [1.0] * 8, ["w0", "w1"]) == [("w0", [0, 1, 2, 3]),
                                                        ("w1", [4, 5, 6, 7])]


def test_one_worker_runs_the_chains_one_after_the_other():
    todo = chain("clean", 2) + chain("noise", 2)
    assert plan_slots(todo, [1.0, 5.0, 1.0, 1.0], ["w0"]) == [("w0", [0, 1, 2, 3])]


def test_a_finished_pair_breaks_the_chain_and_threads_count():
    # pair 1 of clean was finished by an earlier run: 0 and 2..3 are separate runs
    todo = [("clean", 0, "a", "b"), ("clean", 2, "c", "d"), ("clean", 3, "d", "e")]
    # one worker with two threads: a queue each, the dearer run (1, 2) first
    assert plan_slots(todo, [1.0, 1.0, 1.0], ["w0", "w0"]) == [("w0", [1, 2]), ("w0", [0])]
    # more threads than pairs: every pair its own run, the spare threads get none
    assert plan_slots(chain("clean", 2), [1.0, 1.0], ["a", "b", "c", "d"]) == [("a", [0]),
                                                                               ("b", [1])]


def test_three_conditions_on_two_workers_balance_by_cost():
    todo = chain("c1", 2) + chain("c2", 2) + chain("c3", 2)
    costs = [5.0, 5.0, 3.0, 3.0, 2.0, 2.0]  # 10, 6, 4: c1 alone, c2 and c3 together
    # c1 alone; c2's chain, then c3's, each in order
    assert plan_slots(todo, costs, ["w0", "w1"]) == [("w0", [0, 1]), ("w1", [2, 3, 4, 5])]


def test_a_dry_queue_takes_the_second_half_of_the_longest_in_order():
    from fcgraph.execution import _Queues

    queues = _Queues([("w0", [0]), ("w1", [1, 2, 3, 4, 5, 6])])
    assert queues.first() == [(0, 0), (1, 1)]
    assert queues.next(0) == 4  # w1 has 2..6 left: w0 takes 4, 5, 6 (in order)
    assert queues.next(1) == 2
    assert queues.next(0) == 5
    assert queues.next(1) == 3
    assert queues.next(1) == 6  # w1 dry: takes w0's last one
    assert queues.next(0) is None and queues.next(1) is None
