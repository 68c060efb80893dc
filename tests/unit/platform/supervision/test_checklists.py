"""The key areas' checklists (regulation art. 12–17) and the validation of answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from farmwatch.platform.access.records import Farm, Organisation, OrgTier
from farmwatch.platform.access.rules import OrgTree
from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.supervision.checklists import CHECKLISTS, checklist_of
from farmwatch.platform.supervision.monitoring_records import (
    Answer,
    Outcome,
    PointAnswer,
    outcome_of,
    read_answers,
)
from farmwatch.platform.supervision.schedule import farm_schedule, schedule_days

REGULATION = Path("/work/shared/docs/regulation-zh.txt")
# How many things each article (12–17) lists: 一是 ... 二是 ... (三是, 四是).
POINTS_PER_ARTICLE = {12: 4, 13: 2, 14: 2, 15: 2, 16: 2, 17: 3}


def test_every_key_area_has_its_article_and_points() -> None:
    assert set(CHECKLISTS) == set(KeyArea)
    for area, checklist in CHECKLISTS.items():
        assert checklist.area is area
        assert len(checklist.points) == POINTS_PER_ARTICLE[checklist.article], area
    assert sorted(c.article for c in CHECKLISTS.values()) == list(range(12, 18))


@pytest.mark.skipif(not REGULATION.exists(), reason="the regulation's text is not here")
def test_point_counts_follow_the_regulation_text() -> None:
    text = REGULATION.read_text("utf-8")
    numerals = ["十二", "十三", "十四", "十五", "十六", "十七"]
    for article, numeral in zip(range(12, 18), numerals, strict=True):
        body = re.search(f"第{numeral}条(.*)", text)
        assert body is not None
        listed = len(re.findall("[一二三四五]是", body.group(1)))
        assert listed == POINTS_PER_ARTICLE[article], article


def test_point_ids_are_stable_unique_and_worded_in_both_languages() -> None:
    ids = [point.id for c in CHECKLISTS.values() for point in c.points]
    assert len(ids) == len(set(ids))
    assert "drug_store.permitted_list" in ids
    for checklist in CHECKLISTS.values():
        for point in checklist.points:
            assert re.fullmatch(rf"{checklist.area.value}\.[a-z_]+", point.id)
            assert re.search("[\u4e00-\u9fff]", point.text_zh), point.id
            assert point.text_en.isascii() and point.text_en, point.id


def _all(answer: str) -> dict[str, object]:
    return {point_id: answer for point_id in checklist_of(KeyArea.DRUG_STORE).point_ids}


def test_answers_are_read_in_checklist_order_with_remarks() -> None:
    checklist = checklist_of(KeyArea.DRUG_STORE)
    given: dict[str, object] = {
        "drug_store.labelled": {"answer": "not_compliant", "remark": " 无批次 "},
        "drug_store.permitted_list": "compliant",
    }
    answers = read_answers(checklist, given)
    assert answers == (
        PointAnswer("drug_store.permitted_list", Answer.COMPLIANT, ""),
        PointAnswer("drug_store.labelled", Answer.NOT_COMPLIANT, "无批次"),
    )
    assert outcome_of(answers) is Outcome.NOT_COMPLIANT


def test_a_missing_point_is_named() -> None:
    given = _all("compliant")
    del given["drug_store.labelled"]
    with pytest.raises(InvalidInput, match="missing drug_store.labelled"):
        read_answers(checklist_of(KeyArea.DRUG_STORE), given)


def test_a_point_of_another_area_is_refused() -> None:
    given = {**_all("compliant"), "feed_store.labelled": "compliant"}
    with pytest.raises(InvalidInput, match="feed_store.labelled not on the drug_store"):
        read_answers(checklist_of(KeyArea.DRUG_STORE), given)


@pytest.mark.parametrize("bad", ["yes", "", 1, None, {"remark": "x"}])
def test_an_unknown_answer_is_refused(bad: object) -> None:
    given = {**_all("compliant"), "drug_store.labelled": bad}
    with pytest.raises(InvalidInput, match="answers.drug_store.labelled: expected compliant"):
        read_answers(checklist_of(KeyArea.DRUG_STORE), given)


def test_an_overlong_remark_is_refused() -> None:
    given = {
        **_all("compliant"),
        "drug_store.labelled": {"answer": "compliant", "remark": "字" * 1001},
    }
    with pytest.raises(InvalidInput, match="at most 1000"):
        read_answers(checklist_of(KeyArea.DRUG_STORE), given)


@pytest.mark.parametrize(
    ("answers", "outcome"),
    [
        (("compliant", "compliant"), Outcome.COMPLIANT),
        (("compliant", "not_visible"), Outcome.NOT_VISIBLE),
        (("not_visible", "not_compliant"), Outcome.NOT_COMPLIANT),
    ],
)
def test_outcome(answers: tuple[str, str], outcome: Outcome) -> None:
    assert outcome_of(tuple(PointAnswer(f"p{i}", Answer(a)) for i, a in enumerate(answers))) is (
        outcome
    )


T0 = datetime(2026, 1, 1, tzinfo=UTC)
ORGS = OrgTree([
    Organisation(1, "总局", OrgTier.NATIONAL, None, T0),
    Organisation(2, "bureau", OrgTier.BUREAU, 1, T0),
    Organisation(3, "branch", OrgTier.BRANCH, 2, T0),
    Organisation(4, "other branch", OrgTier.BRANCH, 2, T0),
])  # fmt: skip


def test_schedule_days_are_inherited_from_the_nearest_organisation() -> None:
    assert schedule_days(3, {}, ORGS, 7) == 7
    assert schedule_days(3, {2: 3}, ORGS, 7) == 3
    assert schedule_days(3, {2: 3, 3: 14}, ORGS, 7) == 14
    assert schedule_days(4, {2: 3, 3: 14}, ORGS, 7) == 3


def test_overdue_farms_come_first() -> None:
    farms = [Farm(10, "a", "F-10", 3, T0), Farm(11, "b", "F-11", 4, T0),
             Farm(12, "c", "F-12", 4, T0)]  # fmt: skip
    now = T0 + timedelta(days=5)
    last = {10: T0 + timedelta(days=4), 12: T0 + timedelta(days=1)}
    due = farm_schedule(farms, last, {4: 2}, ORGS, 7, now)
    assert [(d.farm.id, d.overdue) for d in due] == [(11, True), (12, True), (10, False)]
    assert due[0].due_at == T0 + timedelta(days=2) and due[0].last_record_at is None
    assert due[2].due_at == T0 + timedelta(days=11) and due[2].days == 7
