"""Server-drawn SVG charts: valid XML, honest geometry, inert text and links, and a calm empty state."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomedesk.core.charts import (
    EMPTY_TEXT,
    Bar,
    Series,
    bar_chart,
    format_number,
    histogram,
    histogram_bins,
    line_chart,
    nice_axis,
    radar_chart,
    safe_href,
    sparkline,
)

SVG = "{http://www.w3.org/2000/svg}"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
HOSTILE = "\"'><script>alert(1)</script>"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def elements(root: ET.Element, tag: str, css: str | None = None) -> list[ET.Element]:
    found = root.iter(SVG + tag)
    return [e for e in found if css is None or css in (e.get("class") or "").split()]


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in elements(root, "text")]


def every_chart() -> dict[str, str]:
    return {
        "line": line_chart([Series("Opened", [12, 30, None, 45, 87, 60])], x_labels=MONTHS, title="Opened"),
        "bar": bar_chart([Bar("P1", 12, previous=10), Bar("P2", 30)], title="By priority"),
        "histogram": histogram([1, 2, 2, 3, 8, 13], title="Resolution time", unit="h"),
        "radar": radar_chart(["Incident", "Change", "Problem", "Knowledge"], [Series("2024", [3, 2, 1, 4])],
                             title="Maturity"),
        "sparkline": sparkline([3, 4, None, 6, 2], title="Backlog"),
    }


@pytest.mark.parametrize("kind", ["line", "bar", "histogram", "radar", "sparkline"])
def test_each_chart_is_a_complete_accessible_svg(kind: str) -> None:
    svg = every_chart()[kind]
    root = parse(svg)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox", ""))
    assert "chart" in root.get("class", "").split()
    ids = {e.get("id"): e for e in root.iter() if e.get("id")}
    title_id, desc_id = root.get("aria-labelledby", "").split()
    assert ids[title_id].tag == SVG + "title"
    assert ids[desc_id].tag == SVG + "desc"
    assert (ids[desc_id].text or "").strip()


def test_the_description_summarises_the_data_in_plain_text() -> None:
    root = parse(bar_chart([Bar("P1", 12), Bar("P2", 30)], title="By priority"))
    assert root.findtext(SVG + "title") == "By priority"
    assert root.findtext(SVG + "desc") == "P1: 12, P2: 30"


def test_output_is_deterministic_with_coordinates_to_one_decimal() -> None:
    assert every_chart() == every_chart()
    for svg in every_chart().values():
        for value in re.findall(r' (?:x|y|x1|x2|y1|y2|cx|cy|width|height)="(-?[\d.]+)"', svg):
            assert re.fullmatch(r"-?\d+(\.\d)?", value), value


def test_bar_lengths_are_proportional_to_values() -> None:
    root = parse(bar_chart([Bar("A", 10), Bar("B", 20), Bar("C", 40)], title="Load"))
    widths = [float(r.get("width", "0")) for r in elements(root, "rect", "chart-bar")]
    assert len(widths) == 3
    assert widths[2] > 0
    assert widths[0] / widths[2] == pytest.approx(0.25, abs=0.001)
    assert widths[1] / widths[2] == pytest.approx(0.5, abs=0.001)


def test_a_bar_chart_grows_a_row_per_bar() -> None:
    short = parse(bar_chart([Bar("A", 1)], title="t"))
    tall = parse(bar_chart([Bar(str(i), i) for i in range(10)], title="t"))
    assert float(tall.get("height", "0")) - float(short.get("height", "0")) == pytest.approx(9 * 24)


def test_the_previous_value_is_a_marker_at_its_own_position() -> None:
    root = parse(bar_chart([Bar("A", 40, previous=20)], title="Load"))
    (bar,) = elements(root, "rect", "chart-bar")
    marker = elements(root, "line", "chart-prev")[0]
    start, length = float(bar.get("x", "0")), float(bar.get("width", "0"))
    assert float(marker.get("x1", "0")) == pytest.approx(start + length / 2, abs=0.1)
    assert "Previous period" in texts(root)


def test_a_bar_without_a_value_says_no_data() -> None:
    root = parse(bar_chart([Bar("A", None), Bar("B", 5)], title="Load"))
    assert len(elements(root, "rect", "chart-bar")) == 1
    assert "no data" in texts(root)
    assert root.findtext(SVG + "desc") == "A: no data, B: 5"


@pytest.mark.parametrize(("top", "expected"), [
    (87, (100.0, 5)), (0.3, (0.5, 5)), (1, (1.0, 5)), (1.2, (2.0, 4)), (2.2, (2.5, 5)), (3, (5.0, 5)),
    (6, (10.0, 5)), (1000, (1000.0, 5)), (1001, (2000.0, 4)), (0, (1.0, 5)), (-4, (1.0, 5)),
])
def test_the_axis_ends_on_a_nice_number(top: float, expected: tuple[float, int]) -> None:
    assert nice_axis(top) == pytest.approx(expected)


def test_a_line_chart_axis_runs_from_zero_to_a_nice_max_with_labelled_gridlines() -> None:
    root = parse(line_chart([Series("Opened", [12, 30, 87])], x_labels=MONTHS[:3], title="Opened"))
    labels = texts(root)
    assert "0" in labels
    assert "100" in labels
    assert "87" not in labels
    assert 3 <= len(elements(root, "line", "chart-grid")) <= 5


def test_a_unit_is_appended_to_axis_labels() -> None:
    root = parse(line_chart([Series("MTTR", [1.5, 4])], x_labels=["W1", "W2"], title="MTTR", unit="h"))
    assert "5h" in texts(root)


def test_crowded_x_labels_are_thinned() -> None:
    days = [f"2024-03-{i:02d}" for i in range(1, 61)]
    root = parse(line_chart([Series("Opened", list(range(60)))], x_labels=days, title="Opened"))
    shown = [t for t in texts(root) if t.startswith("2024-")]
    assert 2 <= len(shown) < 20
    assert shown[0] == "2024-03-01"


def test_a_none_splits_the_line_into_separate_segments() -> None:
    root = parse(line_chart([Series("Opened", [1, 2, None, 3, 4, None, None, 5])], x_labels=[], title="t"))
    (path,) = elements(root, "path", "chart-series-0")
    d = path.get("d", "")
    assert d.count("M") == 3
    assert d.count("L") == 2  # the lone last point draws no line, but keeps its dot
    assert len(elements(root, "circle")) == 5


def test_several_series_get_a_legend_their_own_colours_and_a_dashed_previous_period() -> None:
    series = [Series("This year", [1, 2, 3]), Series("Last year", [2, 2, 2], dashed=True)]
    root = parse(line_chart(series, x_labels=MONTHS[:3], title="Opened"))
    assert {"This year", "Last year"} <= set(texts(root))
    (first,) = elements(root, "path", "chart-series-0")
    (second,) = elements(root, "path", "chart-series-1")
    assert first.get("stroke") != second.get("stroke")
    assert "chart-dashed" in (second.get("class") or "").split()
    assert second.get("stroke-dasharray")


def test_a_single_series_has_no_legend() -> None:
    root = parse(line_chart([Series("Opened", [1, 2, 3])], x_labels=MONTHS[:3], title="Opened"))
    assert "Opened" not in texts(root)


def test_points_of_the_first_series_link_where_an_href_is_given() -> None:
    hrefs: list[str | None] = ["/tickets/?month=1&state=open", None, "javascript:alert(1)"]
    root = parse(line_chart([Series("Opened", [1, 2, 3]), Series("Closed", [1, 1, 1])], x_labels=MONTHS[:3],
                            title="Opened", hrefs=hrefs))
    links = elements(root, "a")
    assert [a.get("href") for a in links] == ["/tickets/?month=1&state=open"]
    assert elements(links[0], "circle", "chart-series-0")


def test_a_hostile_label_comes_out_inert() -> None:
    svg = bar_chart([Bar(HOSTILE, 3, href="javascript:alert(1)")], title=HOSTILE, unit="<b>")
    root = parse(svg)
    assert "<script" not in svg
    assert "javascript:" not in svg
    assert not elements(root, "a")
    assert HOSTILE in texts(root)
    assert root.findtext(SVG + "title") == HOSTILE
    assert all(e.tag.startswith(SVG) for e in root.iter())  # no element smuggled in


@pytest.mark.parametrize("build", [
    lambda: line_chart([Series(HOSTILE, [1]), Series("b", [2])], x_labels=[HOSTILE], title=HOSTILE),
    lambda: histogram([1, 2], title=HOSTILE, unit=HOSTILE),
    lambda: radar_chart([HOSTILE, "b", "c"], [Series(HOSTILE, [1, 2, 3]), Series("x", [1])], title=HOSTILE),
    lambda: sparkline([1, 2], title=HOSTILE),
])
def test_every_chart_escapes_its_text(build: Callable[[], str]) -> None:
    svg = build()
    assert "<script" not in svg
    assert all(e.tag.startswith(SVG) for e in parse(svg).iter())


def test_characters_xml_forbids_are_dropped_rather_than_breaking_the_chart() -> None:
    root = parse(bar_chart([Bar("bell\x07 and\x00 null", 1)], title="form\x0cfeed"))
    assert "bell and null" in texts(root)


def test_a_bar_links_its_bar_and_label_to_the_drill_down() -> None:
    root = parse(bar_chart([Bar("P1", 12, href="/tickets/?priority=1&state=open"), Bar("P2", 3)], title="t"))
    (link,) = elements(root, "a")
    assert link.get("href") == "/tickets/?priority=1&state=open"
    assert elements(link, "rect", "chart-bar")
    assert "P1" in texts(link)


@pytest.mark.parametrize("href", ["/tickets/?q=1&x=2", "tickets/42", "?page=2", "#top", "https://status.example.org/x",
                                  "http://intranet.local/"])
def test_relative_paths_and_web_urls_are_allowed_links(href: str) -> None:
    assert safe_href(href) == href


@pytest.mark.parametrize("href", ["javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)",
                                  "data:text/html,<script>", "vbscript:msgbox", "//evil.example/",
                                  "/\\evil.example", "https:/no-host", "mailto:a@b.c", "http://[::1", "", None])
def test_other_links_are_dropped(href: str | None) -> None:
    assert safe_href(href) is None


def test_histogram_bins_cover_min_to_max_in_equal_widths_and_count_every_value() -> None:
    values = [1, 2, 2, 3, 8, 13, 13, 5.5, 7]
    table = histogram_bins(values, bins=4)
    assert sum(count for _, _, count in table) == len(values)
    assert table[0][0] == 1
    assert table[-1][1] == 13
    assert [high - low for low, high, _ in table] == pytest.approx([3, 3, 3, 3])
    assert [count for _, _, count in table] == [4, 1, 2, 2]  # the maximum lands in the last bin


def test_equal_values_make_one_bin() -> None:
    assert histogram_bins([5, 5, 5]) == [(5, 5, 3)]
    root = parse(histogram([5, 5, 5], title="Same"))
    assert len(elements(root, "rect", "chart-bar")) == 1
    assert {"3", "5"} <= set(texts(root))


def test_the_histogram_draws_a_bar_and_count_per_bin_with_edges_on_the_x_axis() -> None:
    root = parse(histogram([0, 1, 1, 2, 3, 4, 10], title="Age", unit="d", bins=5))
    bars = elements(root, "rect", "chart-bar")
    assert len(bars) == 5
    tips = [b.findtext(SVG + "title", "") for b in bars]
    assert [tip.replace("\u2013", " to ") for tip in tips] == [  # an en dash between the edges
        "0d to 2d: 3", "2d to 4d: 2", "4d to 6d: 1", "6d to 8d: 0", "8d to 10d: 1"]
    assert {"0d", "10d"} <= set(texts(root))
    assert root.findtext(SVG + "desc", "").startswith("7 values.")


def test_each_histogram_bin_links_where_href_for_gives_a_link() -> None:
    def href_for(low: float, high: float) -> str | None:
        return f"/tickets/?age_from={low:g}&age_to={high:g}" if low < 5 else "javascript:alert(1)"

    root = parse(histogram([0, 2, 4, 6, 8, 10], title="Age", bins=2, href_for=href_for))
    assert [a.get("href") for a in elements(root, "a")] == ["/tickets/?age_from=0&age_to=5"]


def test_a_radar_value_at_max_value_lies_on_the_outer_ring() -> None:
    axes = ["Incident", "Change", "Problem", "Service level", "Knowledge"]
    root = parse(radar_chart(axes, [Series("2024", [5, 2, None, 3, 1])], max_value=5, title="Maturity"))
    rings = elements(root, "polygon", "chart-grid")
    assert len(rings) == 5  # one per whole step up to 5
    outer = rings[-1].get("points", "").split()
    (area,) = elements(root, "polygon", "chart-series-0")
    points = area.get("points", "").split()
    assert points[0] == outer[0]
    assert points[1] != outer[1]
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    assert [float(v) for v in points[2].split(",")] == pytest.approx([width / 2, height / 2], abs=0.1)  # None is 0


def test_a_radar_has_a_spoke_per_axis_and_a_legend_for_several_series() -> None:
    axes = ["A", "B", "C", "D"]
    series = [Series("Now", [1, 2, 3, 4]), Series("Target", [4, 4, 4, 4], dashed=True)]
    root = parse(radar_chart(axes, series, title="Maturity"))
    assert len(elements(root, "line", "chart-axis")) == 4
    assert {"A", "B", "C", "D", "Now", "Target"} <= set(texts(root))
    assert elements(root, "polygon", "chart-series-1")[0].get("fill-opacity") == "0.15"


def test_a_radar_value_above_max_value_stays_on_the_outer_ring() -> None:
    root = parse(radar_chart(["A", "B", "C"], [Series("x", [9, 1, 1])], max_value=5, title="t"))
    outer = elements(root, "polygon", "chart-grid")[-1].get("points", "").split()
    assert elements(root, "polygon", "chart-series-0")[0].get("points", "").split()[0] == outer[0]


@pytest.mark.parametrize("svg", [
    line_chart([], x_labels=[], title="t"),
    line_chart([Series("a", [None, None])], x_labels=["x", "y"], title="t"),
    line_chart([Series("a", [math.nan, math.inf])], x_labels=["x", "y"], title="t"),
    bar_chart([], title="t"),
    bar_chart([Bar("a", None), Bar("b", None)], title="t"),
    histogram([], title="t"),
    radar_chart(["a", "b", "c"], [], title="t"),
    radar_chart(["a", "b"], [Series("x", [1, 2])], title="t"),
    radar_chart(["a", "b", "c"], [Series("x", [None, None, None])], title="t"),
    sparkline([], title="t"),
    sparkline([None], title="t"),
])
def test_empty_data_draws_the_no_data_message(svg: str) -> None:
    root = parse(svg)
    (message,) = elements(root, "text", "chart-empty")
    assert message.text == EMPTY_TEXT
    assert float(root.get("height", "0")) <= 48


def test_a_sparkline_keeps_its_size_and_marks_the_latest_value() -> None:
    root = parse(sparkline([3, 4, None, 6, 2], title="Backlog"))
    assert (root.get("width"), root.get("height")) == ("120", "28")
    assert elements(root, "path")[0].get("d", "").count("M") == 2
    assert root.findtext(SVG + "desc") == "5 points, latest 2, lowest 2, highest 6"


def test_charts_render_without_a_stylesheet() -> None:
    for svg in every_chart().values():
        root = parse(svg)
        for shape in [*elements(root, "rect"), *elements(root, "circle"), *elements(root, "polygon")]:
            assert shape.get("fill"), ET.tostring(shape)
        for stroke in [*elements(root, "line"), *elements(root, "path")]:
            assert stroke.get("stroke"), ET.tostring(stroke)


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (1234, "", "1,234"), (0.5, "", "0.5"), (1250000, "", "1.25M"), (2_000_000_000, "", "2B"), (0, "h", "0h"),
    (12.345, "h", "12.3h"), (3.0, "%", "3%"), (99.5, " EUR", "99.5 EUR"), (0.015, "", "0.015"),
    (-0.0001, "", "-0.0001"), (-0.00000001, "", "0"), (999_999.6, "", "1,000,000"),
])
def test_numbers_are_formatted_compactly_with_their_unit(value: float, unit: str, expected: str) -> None:
    assert format_number(value, unit) == expected


def test_decimal_values_from_aggregates_are_accepted() -> None:
    root = parse(bar_chart([Bar("A", Decimal("2.5")), Bar("B", Decimal("5"))], title="t"))  # type: ignore[arg-type]
    widths = [float(r.get("width", "0")) for r in elements(root, "rect", "chart-bar")]
    assert widths[0] * 2 == pytest.approx(widths[1], abs=0.1)


numbers_or_gaps = st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(values=numbers_or_gaps, other=numbers_or_gaps, text=st.text(max_size=40), bins=st.integers(-3, 300))
def test_any_input_gives_well_formed_xml(values: list[float | None], other: list[float | None], text: str,
                                         bins: int) -> None:
    finite = [v for v in values if v is not None]
    charts = [
        line_chart([Series(text, values), Series("b", other, dashed=True)], x_labels=[text] * 3, title=text,
                   unit=text, hrefs=[text, "/x"]),
        bar_chart([Bar(text, v, previous=o, href=text) for v, o in zip(values, other, strict=False)], title=text),
        histogram(finite, title=text, unit=text, bins=bins),
        radar_chart([text, "b", "c", "d"], [Series(text, values), Series("b", other)], max_value=bins, title=text),
        sparkline(values, title=text),
    ]
    for svg in charts:
        assert parse(svg).tag == SVG + "svg"
