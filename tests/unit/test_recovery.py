"""The supervisor's decisions after a worker crash (pipelines/recovery.py), without processes."""
from newswatch.pipelines.recovery import Quarantine, RecoveryPlan, RunCarefully, RunNormally

ENDS = {0: 100, 1: 100, 2: 100}


def test_one_crash_is_only_restarted():
    plan = RecoveryPlan()
    assert plan.after_crash({0: 10, 1: 20, 2: 30}, ENDS) == RunNormally()


def test_crashes_with_progress_everywhere_are_only_restarted():
    plan = RecoveryPlan()
    plan.after_crash({0: 10, 1: 20, 2: 30}, ENDS)
    assert plan.after_crash({0: 11, 1: 25, 2: 31}, ENDS) == RunNormally()


def test_a_partition_stuck_across_two_crashes_is_replayed_carefully():
    plan = RecoveryPlan(window=50)
    plan.after_crash({0: 10, 1: 20, 2: 30}, ENDS)
    run = plan.after_crash({0: 10, 1: 25, 2: 100}, ENDS)
    assert run == RunCarefully(0, until=60) and plan.current == run


def test_a_caught_up_partition_is_not_suspect():
    plan = RecoveryPlan()
    plan.after_crash({0: 100, 1: 20, 2: 30}, ENDS)
    assert plan.after_crash({0: 100, 1: 21, 2: 31}, ENDS) == RunNormally()


def _careful_on_partition_0(plan: RecoveryPlan) -> None:
    plan.after_crash({0: 10, 1: 20, 2: 30}, ENDS)
    plan.after_crash({0: 10, 1: 21, 2: 31}, ENDS)  # only partition 0 made no progress


def test_the_record_that_kills_a_careful_run_twice_is_quarantined():
    plan = RecoveryPlan(max_attempts=2, window=50)
    _careful_on_partition_0(plan)
    assert plan.current == RunCarefully(0, until=60)
    assert plan.after_crash({0: 14, 1: 20, 2: 30}, ENDS) == RunCarefully(0, until=60)  # first crash at 14
    assert plan.after_crash({0: 14, 1: 20, 2: 30}, ENDS) == Quarantine(0, 14)
    # after the quarantine the careful run goes on from the next record
    assert plan.quarantined(14) == RunCarefully(0, until=60)


def test_careful_crashes_at_different_offsets_are_counted_apart():
    plan = RecoveryPlan(max_attempts=2, window=50)
    _careful_on_partition_0(plan)
    assert plan.after_crash({0: 12, 1: 20, 2: 30}, ENDS) == RunCarefully(0, until=60)
    assert plan.after_crash({0: 13, 1: 20, 2: 30}, ENDS) == RunCarefully(0, until=60)
    assert plan.after_crash({0: 13, 1: 20, 2: 30}, ENDS) == Quarantine(0, 13)


def test_suspects_are_checked_one_partition_at_a_time_then_back_to_normal():
    plan = RecoveryPlan(window=50)
    plan.after_crash({0: 10, 1: 20, 2: 30}, ENDS)
    assert plan.after_crash({0: 10, 1: 20, 2: 31}, ENDS) == RunCarefully(0, until=60)
    assert plan.progressed({0: 59, 1: 20, 2: 31}) is None
    assert plan.progressed({0: 60, 1: 20, 2: 31}) == RunCarefully(1, until=70)
    assert plan.progressed({0: 60, 1: 70, 2: 31}) == RunNormally()
    # a fresh start: one more crash alone is a plain restart again
    assert plan.after_crash({0: 60, 1: 70, 2: 40}, ENDS) == RunNormally()


def test_quarantine_at_the_end_of_the_window_returns_to_normal():
    plan = RecoveryPlan(max_attempts=1, window=5)
    _careful_on_partition_0(plan)
    assert plan.after_crash({0: 14, 1: 20, 2: 30}, ENDS) == Quarantine(0, 14)
    assert plan.quarantined(14) == RunNormally()


def test_workers_share_the_partitions_round_robin_and_none_goes_without():
    from newswatch.pipelines.supervisor import partition_shares

    assert partition_shares([2, 0, 1], 1) == [None]  # one worker reads all, partitions added later too
    assert partition_shares([2, 0, 1], 2) == [[0, 2], [1]]
    assert partition_shares([0, 1], 4) == [[0], [1]]  # more workers than partitions: the extra ones idle
    shares = partition_shares(list(range(12)), 5)
    assert sorted(p for s in shares for p in s) == list(range(12))
