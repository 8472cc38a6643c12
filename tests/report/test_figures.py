import re

from seqarena.report import figures
from seqarena.results.measurements import LatencyPoint, LongRangePoint, ScalingPoint


def test_log_ticks_are_few_and_plain():
    # 1-2-5 steps where they are few enough, decades where they are not
    assert figures.log_ticks(3.0, 600.0) == [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
    assert figures.log_ticks(3.0, 2000.0) == [10.0, 100.0, 1000.0]
    assert figures.log_ticks(0.25, 0.6) == [0.3, 0.4, 0.5, 0.6]
    assert len(figures.log_ticks(1e-30, 1.0)) <= figures.MAX_TICKS
    assert [figures.tick_text(value) for value in (1024.0, 0.5, 2e6)] == ["1,024", "0.5", "2e+06"]


def scaling(model, length, ms):
    return ScalingPoint(model, length, ms, ms / 3, 1000 * length / ms, 2**20 * length, 2**19 * length, "peak",
                        ms * 0.9, ms * 1.1, 15)


def test_a_model_keeps_its_colour_in_every_figure():
    scaling_svg = figures.scaling_figure([scaling(model, length, length / 10) for model in ("transformer", "lstm")
                                          for length in (128, 256)]).decode()
    latency_svg = figures.latency_figure([LatencyPoint(model, context, 0.3, 512, 0.2, 0.4)
                                          for model in ("lstm", "transformer") for context in (128, 512)]).decode()
    for svg in (scaling_svg, latency_svg):
        colours = set(re.findall(r"stroke: (#[0-9a-f]{6})", svg))
        assert {figures.PALETTE["transformer"], figures.PALETTE["lstm"]} <= colours
    assert figures.colour("some-new-model") == figures.colour("some-new-model") in figures.SPARE


def probe(model, length, mean):
    return LongRangePoint(model, "copy_memory", "accuracy", mean, mean - 0.05, mean + 0.05, (mean,) * 3, 0.1,
                          0.5, 3, length=length)


def test_a_probe_measured_at_one_length_is_drawn_as_bars_and_at_several_as_lines():
    figure, axes = figures.subplots(1, 2, figsize=(8, 3))
    figures.probe_panel(axes[0], [probe(model, 50, 0.5) for model in ("gru", "transformer")], "length", "T")
    figures.probe_panel(axes[1], [probe(model, length, 0.5) for model in ("gru", "transformer")
                                  for length in (50, 100)], "length", "T")
    assert len(axes[0].patches) == 2 and len(axes[1].patches) == 0
    assert len([line for line in axes[1].lines if len(line.get_xdata()) == 2]) >= 2
