"""Policy diff: what changed, in words, from the typed policies (never from the text)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from equicover.settlement.loader import load_policy
from equicover.simulation.cli import policy_diff
from equicover.simulation.policy_diff import diff_policies
from tests.simulation.yaan_claims import YAAN, near_poor_threshold, tilt_15, yaan_variant

app = typer.Typer()
app.command()(policy_diff)


def _changes(tmp_path, replacements):
    return [
        (change.where, change.what)
        for change in diff_policies(load_policy(YAAN), load_policy(yaan_variant(tmp_path / "b.toml", replacements)))
    ]


def test_a_policy_and_its_reformatted_copy_do_not_differ(tmp_path):
    assert _changes(tmp_path, {"max_share = 0.10": "max_share = 0.1    # same ratio, new comment"}) == []


def test_the_tilt_ceiling_at_15_percent(tmp_path):
    changes = diff_policies(load_policy(YAAN), load_policy(tilt_15(tmp_path)))
    assert ("layer tilt", "ceiling on the member's share of the whole bill (max_share): 15% instead of 10%") in [
        (change.where, change.what) for change in changes
    ]
    assert [change.where for change in changes] == ["policy", "layer tilt"]


def test_a_variant_inserted_is_new_and_the_others_unchanged(tmp_path):
    changes = diff_policies(load_policy(YAAN), load_policy(near_poor_threshold(tmp_path)))
    layer_changes = [change for change in changes if change.where.startswith("layer")]
    assert len(layer_changes) == 1
    assert layer_changes[0].where == "layer critical_illness, variant for (members who are near_poor)"
    assert layer_changes[0].what.startswith("new (position 2): up to 6,000.00 CNY: 0%; up to 50,000.00 CNY: 50%")


def test_bands_caps_dates_and_conditions_in_words(tmp_path):
    changes = _changes(
        tmp_path,
        {
            "effective_to = 2018-12-31": "effective_to = 2019-06-30",
            'cap_per_year = "150000.00"': 'cap_per_year = "180000.00"',
            '{ upto = "6000.00", ratio = 0 },        # threshold halved for the poor (source 2)': (
                '{ upto = "3000.00", ratio = 0 },'
            ),
            '{ upto = "50000.00", ratio = 0.55 },': '{ upto = "50000.00", ratio = 0.6 },',
            'when = [ { care_type = ["emergency"], member_category = ["registered_poor", "low_income"] } ]': (
                'when = [ { care_type = ["emergency"], member_category = ["registered_poor"] } ]'
            ),
        },
    )
    assert ("policy", "in force until: 2019-06-30 instead of 2018-12-31") in changes
    assert ("layer basic", "cap per member a year: 180,000.00 CNY instead of 150,000.00 CNY") in changes
    assert (
        "layer critical_illness, variant for (members who are registered_poor)",
        "band 1 ends at 3,000.00 CNY instead of 6,000.00 CNY; band 2 pays 60% instead of 55%",
    ) in changes
    assert (
        "layer emergency_assistance",
        "applies to: (care type emergency, members who are registered_poor) instead of "
        "(care type emergency, members who are low_income or registered_poor)",
    ) in changes


def test_layers_added_and_removed(tmp_path):
    text = YAAN.read_text(encoding="utf-8")
    start = text.index("# 5. Disease emergency assistance")
    end = text.index("# Contributions to the resident insurance")
    without = tmp_path / "without.toml"
    without.write_text(text[:start] + text[end:], encoding="utf-8")
    removed = diff_policies(load_policy(YAAN), load_policy(without))
    assert [change.where for change in removed] == ["layer emergency_assistance"]
    assert removed[0].what.startswith("removed (was paid by Disease emergency assistance fund")
    added = diff_policies(load_policy(without), load_policy(YAAN))
    assert added[0].what.startswith("added at position 6, paid by Disease emergency assistance fund")
    assert "at most" not in added[0].what or "5,000.00" in added[0].what


def test_the_command_prints_the_changes_and_exits_0(tmp_path):
    result = CliRunner().invoke(app, [str(YAAN), str(tilt_15(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "2 change(s)" in result.output
    assert (
        "- layer tilt: ceiling on the member's share of the whole bill (max_share): 15% instead of 10%" in result.output
    )
    same = CliRunner().invoke(app, [str(YAAN), str(YAAN)])
    assert same.exit_code == 0 and "No difference" in same.output


def test_a_policy_that_does_not_load_is_refused_with_its_line_and_key(tmp_path):
    bad = yaan_variant(tmp_path / "draft.toml", {"max_share = 0.10": "max_share = 1.10"})
    result = CliRunner().invoke(app, [str(YAAN), str(bad)])
    assert result.exit_code == 2
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), start=1) if "max_share = 1.10" in text)
    assert f"{bad}:{line}: layer[3].max_share: ratio 1.1 is outside [0, 1]" in result.output
    assert "nothing was compared" in result.output
