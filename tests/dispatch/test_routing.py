"""Unit routing suggestions: quality on routing-dev and the rules behind it."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

import dispatch.routing as routing_module
from dispatch.routing import (
    CatalogueRule,
    PastTicket,
    Router,
    RoutingRequest,
    UnitProfile,
    Weights,
    default_catalogue,
    load_units,
    unit_from_mapping,
)
from dispatch.routing_eval import evaluate_routing

from tests.dispatch.conftest import shared_file


def top(router: Router, text: str, district: str | None = None, category: str | None = None) -> str:
    return router.suggest(RoutingRequest(text, district, category), limit=1)[0].unit_code


# ------------------------------------------------------------------- directory


def test_packaged_directory_is_the_shared_one() -> None:
    shared = [
        unit_from_mapping(raw)
        for raw in json.loads(shared_file("units.json").read_text(encoding="utf-8"))
    ]
    assert load_units() == shared
    assert len(shared) == 60


def test_product_code_does_not_read_the_shared_folder() -> None:
    import dispatch.routing_eval as eval_module

    for module in (routing_module, eval_module):
        assert "/shared" not in inspect.getsource(module)
        assert "units/routing-dev" not in inspect.getsource(module)


# ------------------------------------------------------------------- quality


def test_routing_dev_top1_at_least_90_percent(router: Router, dev_cases) -> None:
    result = evaluate_routing(router, dev_cases)
    assert result["n"] == len(dev_cases) > 100
    assert result["top1"] >= 0.90, result["misses"]
    assert result["top3"] >= 0.97, result["misses"]
    for kind, figures in result["by_type"].items():
        assert figures["top3"] >= 0.9, kind


def test_own_cases_written_apart_from_the_dev_file(router: Router, own_cases) -> None:
    result = evaluate_routing(router, own_cases)
    assert result["top1"] >= 0.90, result["misses"]


def test_district_named_only_in_the_text_still_routes_locally(router: Router, dev_cases) -> None:
    blind = [dataclasses.replace(c, district=None) for c in dev_cases]
    assert evaluate_routing(router, blind)["top1"] >= 0.90


def test_without_category_quality_degrades_but_stays_useful(router: Router, dev_cases) -> None:
    blind = [dataclasses.replace(c, category=None) for c in dev_cases]
    result = evaluate_routing(router, blind)
    assert result["top1"] >= 0.80
    assert result["top3"] >= 0.93


# ------------------------------------------------------------------- rules


def test_reasons_are_readable_chinese(router: Router) -> None:
    best = router.suggest(
        RoutingRequest("来电人反映公司拖欠工资三个月，老板一直讨薪无果。", None, "劳动就业")
    )[0]
    assert best.unit_code == "ZZ-RSJ-JC"
    assert "关键词: 拖欠工资" in best.reasons
    assert "类别: 劳动就业" in best.reasons


def test_ranked_best_first_and_limited(router: Router) -> None:
    suggestions = router.suggest(
        RoutingRequest("小区停水一天了", "金水区", "供水供电供气"), limit=4
    )
    assert len(suggestions) == 4
    assert [s.score for s in suggestions] == sorted((s.score for s in suggestions), reverse=True)
    assert suggestions[0].unit_code == "ZZ-ZLS"
    assert router.suggest(RoutingRequest("小区停水", None, None), limit=0) == []
    # nothing known about a request: no suggestions rather than arbitrary ones
    assert router.suggest(RoutingRequest("喂？", None, None)) == []


def test_local_request_without_specific_owner_goes_to_the_district_government(
    router: Router,
) -> None:
    text = "小区门口有人长期堆放杂物，影响通行，请求处理。"
    assert top(router, text, "惠济区", "城市管理") == "HJ-GOV"
    # the same request without any location is a municipal matter
    assert top(router, text, None, "城市管理") in {"ZZ-CGJ", "ZZ-YLJ"}


def test_named_street_office_receives_the_request(router: Router) -> None:
    assert (
        top(router, "金水区丰产路街道某小区楼道堆满杂物，请求清理。", "金水区", "城市管理")
        == "JS-FCL"
    )
    assert (
        top(router, "高新区石佛办事处一处空地长期有人倾倒垃圾。", "高新区", "城市管理") == "GX-SF"
    )


def test_another_street_of_the_district_goes_to_the_government_not_a_listed_office(
    router: Router,
) -> None:
    suggestions = router.suggest(
        RoutingRequest("金水区杨金路街道某村道路坑洼，请求修补。", "金水区", "城市管理")
    )
    codes = [s.unit_code for s in suggestions]
    assert codes[0] == "JS-GOV"
    assert "JS-FCL" not in codes[:3] and "JS-JBL" not in codes[:3]


def test_district_department_keyword_wins_in_its_district(router: Router) -> None:
    assert top(router, "二七区某路口流动摊贩占道经营，晚上很乱。", "二七区", "城市管理") == "EQ-CGJ"
    # the same in a district without such a department falls to the district government
    assert top(router, "上街区某路口流动摊贩占道经营，晚上很乱。", "上街区", "城市管理") == "SJ-GOV"


def test_municipal_keyword_beats_the_district_default(router: Router) -> None:
    assert top(router, "中原区某路段路灯晚上不亮。", "中原区", "城市管理") == "ZZ-CGJ"
    assert (
        top(router, "管城回族区一位老人走失，家属请求帮助寻找。", "管城回族区", "公共安全")
        == "ZZ-GAJ"
    )


def test_units_of_another_district_are_never_suggested_first(router: Router, dev_cases) -> None:
    units = {u.code: u for u in load_units()}
    for case in dev_cases:
        if case.district:
            best = units[router.suggest(case.request(), 1)[0].unit_code]
            assert best.district in (None, case.district), case.id


def test_district_read_from_the_text(router: Router) -> None:
    best = router.suggest(
        RoutingRequest("港区某安置小区门口摊位乱摆，车辆进出困难。", None, "城市管理")
    )[0]
    assert best.unit_code == "HKG-GOV"
    assert any(r.startswith("属地: 航空港区(据文本)") for r in best.reasons)


def test_child_unit_with_the_more_specific_keyword_beats_its_parent(router: Router) -> None:
    assert (
        top(router, "来电人买了电动自行车，询问去哪里上牌。", None, "机动车驾驶人") == "ZZ-GAJ-CGS"
    )
    assert top(router, "来电人询问护照加急办理要多久。", None, "出入境") == "ZZ-GAJ-CRJ"


def test_short_agency_names_count(router: Router) -> None:
    best = router.suggest(RoutingRequest("某路口早高峰很堵，希望交警来疏导。", None, "交通出行"))[0]
    assert best.unit_code == "ZZ-GAJ-JJ"
    assert "单位简称: 交警" in best.reasons


# ------------------------------------------------------------------- history


def test_history_adds_evidence_but_does_not_override_the_category() -> None:
    units = load_units()
    request = RoutingRequest("来电人反映小区里的快递柜收费太高，超时就扣钱。", None, "市场监管")
    assert (
        Router.build(units).suggest(request, 1)[0].unit_code == "ZZ-SCJ"
    )  # the only unit of 市场监管
    # near-duplicates that went to a unit outside the category
    history = [PastTicket("小区快递柜超时收费太高，超时就扣钱", None, "市场监管", "ZZ-JTJ")] * 3
    suggestions = Router.build(units, history=history).suggest(request, 5)
    assert suggestions[0].unit_code == "ZZ-SCJ"
    jtj = [s for s in suggestions if s.unit_code == "ZZ-JTJ"]
    assert jtj and any(r.startswith("相似历史工单: 3") for r in jtj[0].reasons)


def test_history_decides_between_units_of_one_category() -> None:
    units = load_units()
    request = RoutingRequest(
        "来电人反映某条马路边的排水沟盖板松动，走上去咣当响。", None, "城市管理"
    )
    before = Router.build(units).suggest(request, 2)
    router = Router.build(units)
    for _ in range(3):
        router.add_history(
            PastTicket("马路边排水沟盖板松动，走上去咣当响，请求更换", None, "城市管理", "ZZ-YLJ")
        )
    after = router.suggest(request, 1)[0]
    assert before[0].unit_code != "ZZ-YLJ"
    assert after.unit_code == "ZZ-YLJ"
    assert any(r.startswith("相似历史工单: 3") for r in after.reasons)


def test_history_transfers_the_role_to_the_request_district() -> None:
    router = Router.build(
        load_units(),
        history=[
            PastTicket("金水区某小区楼下的快递驿站占用通道堆放包裹", "金水区", "公共安全", "JS-GOV")
        ]
        * 2,
    )
    suggestions = router.suggest(
        RoutingRequest("中原区某小区楼下的快递驿站占用通道堆放包裹", "中原区", "公共安全"), 60
    )
    by_code = {s.unit_code: s for s in suggestions}
    assert any(r.startswith("相似历史工单: 2") for r in by_code["ZY-GOV"].reasons)
    assert "JS-GOV" not in by_code  # another district's government is never suggested
    assert suggestions[0].unit_code == "ZY-GOV"


def test_history_rejects_unknown_units() -> None:
    router = Router.build(load_units())
    with pytest.raises(ValueError, match="unknown unit"):
        router.add_history(PastTicket("x", None, None, "NO-SUCH"))


# ------------------------------------------------------------------- catalogue


def _mini_directory() -> list[UnitProfile]:
    return [
        UnitProfile(
            "CITY-A", "某市城市管理局", "municipal_bureau", None, None, ("城市管理",), ("路灯",)
        ),
        UnitProfile(
            "D1-GOV",
            "某市东区人民政府",
            "district_government",
            None,
            "东区",
            ("城市管理", "养老"),
            ("东区",),
        ),
        UnitProfile(
            "D2-GOV",
            "某市西区人民政府",
            "district_government",
            None,
            "西区",
            ("城市管理",),
            ("西区",),
        ),
        UnitProfile(
            "D2-S1",
            "西区河滨街道办事处",
            "street_office",
            "D2-GOV",
            "西区",
            ("城市管理", "养老"),
            ("河滨",),
        ),
    ]


def test_default_catalogue_rules() -> None:
    rules = set(default_catalogue(_mini_directory()))
    assert CatalogueRule("城市管理", None, "CITY-A") in rules
    assert CatalogueRule("城市管理", "东区", "D1-GOV") in rules
    assert CatalogueRule("城市管理", "西区", "D2-GOV") in rules
    # 养老 has no municipal owner; 西区's government does not list it, but its street office does,
    # so 西区 is covered; nothing else is invented
    assert CatalogueRule("养老", "东区", "D1-GOV") in rules
    assert not any(
        r.category == "养老" and r.district == "西区" and r.unit_code == "D2-GOV" for r in rules
    )
    assert not any(r.unit_code == "D2-S1" for r in rules)


def test_ownerless_category_defaults_to_the_district_government() -> None:
    units = _mini_directory() + [
        UnitProfile(
            "D3-GOV",
            "某市北区人民政府",
            "district_government",
            None,
            "北区",
            ("城市管理",),
            ("北区",),
        ),
    ]
    rules = set(default_catalogue(units))
    assert CatalogueRule("养老", "北区", "D3-GOV") in rules


def test_catalogue_rule_is_a_reason_and_can_decide() -> None:
    units = _mini_directory()
    request = RoutingRequest("东区某小区门口堆放杂物", "东区", "城市管理")
    best = Router.build(units).suggest(request, 1)[0]
    assert best.unit_code == "D1-GOV"
    assert "派单目录: 城市管理 → 东区" in best.reasons
    # a centre whose catalogue sends 城市管理 in 东区 to the city bureau gets the bureau first
    custom = [CatalogueRule("城市管理", "东区", "CITY-A")]
    best = Router.build(units, custom, weights=Weights(catalogue=1.5)).suggest(request, 1)[0]
    assert best.unit_code == "CITY-A"
    assert "派单目录: 城市管理 → 东区" in best.reasons


def test_build_rejects_bad_input() -> None:
    units = _mini_directory()
    with pytest.raises(ValueError, match="unknown units"):
        Router.build(units, [CatalogueRule("城市管理", None, "NOPE")])
    with pytest.raises(ValueError, match="duplicate"):
        Router.build(units + units[:1])


def test_works_on_another_directory() -> None:
    router = Router.build(_mini_directory())
    assert top(router, "西区河滨街道一处路面塌陷", "西区", "城市管理") == "D2-S1"
    assert top(router, "某条路的路灯坏了", None, "城市管理") == "CITY-A"
    assert (
        top(router, "东区某小区门口堆放杂物", None, "城市管理") == "D1-GOV"
    )  # district read from the text


# ------------------------------------------------------------------- evaluation


def test_evaluation_figures_per_group(router: Router, dev_cases) -> None:
    cases = dev_cases[:20]
    result = evaluate_routing(router, cases)
    assert set(result) >= {"n", "top1", "top3", "by_category", "by_type", "misses"}
    assert sum(g["n"] for g in result["by_type"].values()) == 20
    assert sum(g["n"] for g in result["by_category"].values()) == 20
    assert result["top3"] >= result["top1"]


def test_evaluation_counts_misses() -> None:
    units = load_units()
    router = Router.build(units)
    wrong = [
        {
            "id": "X1",
            "text": "小区停水了",
            "district": None,
            "category": "供水供电供气",
            "type": "投诉",
            "expected_unit": "ZZ-MZJ",
            "acceptable_units": [],
        }
    ]
    result = evaluate_routing(router, wrong)
    assert result["top1"] == 0.0 and result["misses"][0]["id"] == "X1"
    assert result["by_type"]["投诉"] == {"n": 1, "top1": 0.0, "top3": 0.0}
