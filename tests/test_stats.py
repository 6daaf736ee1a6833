"""The bounded history: thinning keeps the whole run in view and never drops an evaluation row."""

from gan_core.stats import History


def test_history_is_bounded_and_spans_the_run():
    h = History(max_points=100)
    for step in range(1, 10_001):
        h.add({"step": step, "d_loss": 0.5})
    steps = [r["step"] for r in h.rows]
    assert len(steps) <= 100 and steps[0] == 1 and steps[-1] > 9_800
    assert steps == sorted(steps)


def test_evaluation_rows_survive_thinning():
    h = History(max_points=50)
    for step in range(1, 5_001):
        h.add({"step": step, "d_loss": 1.0})
        if step % 250 == 0:
            h.add({"step": step, "modes": step // 250}, keep=True)
    xs, ys = h.column("modes")
    assert xs == list(range(250, 5_001, 250)) and ys == list(range(1, 21))
    assert len([r for r in h.rows if "d_loss" in r]) <= 50
    c = h.copy()
    c.add({"step": 5_001, "d_loss": 1.0})
    assert c.column("modes") == (xs, ys) and h.rows[-1]["step"] == 5_000
