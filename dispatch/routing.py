"""Suggest the responsible unit (承办单位) for a work order.

Pure and in memory: the router is built from the units directory, the dispatch
catalogue (category x district -> unit) and past tickets, and ranks units for one
request.  Nothing here touches a database, the network or the file system except
`load_units()`, which reads the directory shipped as package data.

How a unit is scored (all terms add up; weights live in `Weights`):

* category: the agent's category (分类) is listed among the unit's categories.
  A request without a category gets no category term, and district-level units
  half their locality default.
* topic: directory keywords found in the text (exact, or fuzzily with rapidfuzz
  `partial_ratio` for keywords of three characters or more), the unit's own name
  stem (e.g. "出入境", "城乡建设"), common short names of the agency ("交警",
  "人社", "供电公司") and a small general vocabulary per agency function
  (`_FUNCTION_VOCABULARY`).  A keyword shared by several unit families counts
  less.
* locality: district-level units (区政府/管委会, their departments such as a
  区城市管理局, 街道办事处) are responsible only inside their district.  The
  district comes from the request, or else from the text (district names and the
  place names listed in the directory).  In a located request the district
  government is the default owner of the categories it handles (属地管理); a
  street office receives it when the text names that street (or one of its
  places), and its own keywords count half when the text does not place the
  request in its streets; a municipal bureau wins when the text carries its own
  keywords (e.g. 路灯, 走失, 散装汽油).  A request without any location goes to
  municipal units.
* The request type (投诉/举报/咨询...) is not an input (`RoutingRequest` has no
  such field) and is not inferred: on routing-dev, located 咨询 go to the same
  local owner as located 投诉, so type added no information.
* catalogue: a matching dispatch catalogue rule.
* history: similar past tickets vote for the unit they went to.  A past ticket
  handled by a district-level unit votes for the unit with the same role in the
  request's district (district government, same department, street office ->
  district government), so history learns roles rather than single districts.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources
from typing import Iterable, Mapping

from rapidfuzz import fuzz

__all__ = [
    "UnitProfile",
    "RoutingRequest",
    "CatalogueRule",
    "PastTicket",
    "Suggestion",
    "Weights",
    "Router",
    "default_catalogue",
    "load_units",
    "unit_from_mapping",
]


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class UnitProfile:
    code: str
    name: str
    kind: str  # municipal_bureau | provincial_vertical | public_utility | district_government | street_office
    parent: str | None
    district: str | None
    categories: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class RoutingRequest:
    text: str
    district: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class CatalogueRule:
    """Dispatch catalogue entry: requests of `category` in `district` go to `unit_code`.

    `district` None means any district (and requests without a district).
    """

    category: str
    district: str | None
    unit_code: str


@dataclass(frozen=True)
class PastTicket:
    text: str
    district: str | None
    category: str | None
    unit_code: str


@dataclass(frozen=True)
class Suggestion:
    unit_code: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Weights:
    """Scoring weights.

    Relations that carry the method (each weight can move by +-40 % without changing
    routing-dev top-1 by more than one case):
    * category (3.0) outweighs any single keyword: the agent's category is reliable
      (every routing-dev answer lists it) and usually decides between bureaus;
    * a municipal unit's own two-character keyword (1.0) beats the district default
      (district_gov 0.9), so 路灯 or 走失 in a located request still reach the bureau;
    * a named street (3.0) beats everything but the category;
    * vocabulary terms (0.3 each, at most 1.2) only break ties.
    """

    category: float = 3.0
    catalogue: float = 0.5
    keyword: float = 1.0  # multiplied by the keyword's length and specificity factor
    fuzzy_cutoff: float = 70.0  # rapidfuzz partial_ratio below this is ignored
    fuzzy_share: float = 0.6  # a fuzzy hit at 100 would count this share of an exact one
    name_token: float = 1.2
    alias: float = 1.2
    vocab_term: float = 0.3
    vocab_cap: float = 1.2
    # locality
    district_gov: float = 0.9
    district_dept: float = 0.6
    street_named: float = 3.0
    street_place: float = 1.2
    street_default: float = 0.6
    street_unplaced_topic_share: float = 0.5
    street_elsewhere: float = -1.0
    unlocated_local_unit: float = -2.5
    other_district: float = -20.0
    # history
    history: float = 2.5
    history_min_similarity: float = 0.25
    history_neighbours: int = 5


# ----------------------------------------------------------------- general vocabulary

# Agency functions, recognised by a fragment of the unit's official name.  For each:
# short names citizens and agents use for that agency (aliases, strong evidence) and
# common words of its remit (terms, weak evidence).  This is general knowledge of the
# Chinese administrative division of work (三定方案), independent of any data set.
# When several fragments occur in one name, the one that occurs last names the
# unit's own function ("郑州市公安局交通警察支队车辆管理所" -> 车辆管理所).
_FUNCTION_VOCABULARY: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("人力资源和社会保障", ("人社局", "人社部门", "人社", "社保局", "社保中心"),
     ("社保", "养老保险", "工伤", "失业", "就业", "求职", "招聘", "退休", "职称", "人才")),
    ("劳动保障监察", ("劳动监察", "劳动保障监察"),
     ("工资", "欠薪", "劳动合同", "加班", "辞退", "开除", "员工", "老板", "用人单位", "工时", "休息日")),
    ("医疗保障", ("医保局", "医保部门", "医保中心"),
     ("医保", "报销", "住院", "门诊", "统筹", "参保", "起付线", "药费")),
    ("住房公积金", ("公积金中心",), ("公积金", "缴存", "提取")),
    ("公安局", ("公安", "派出所", "民警", "警察", "110", "出警"),
     ("打架", "斗殴", "盗窃", "被偷", "偷盗", "扰民", "喧哗", "迷路", "寻找", "寻人", "户籍", "户口",
      "身份证", "诈骗", "骗子", "威胁", "殴打", "抛物", "往下扔")),
    ("出入境", ("出入境",), ("护照", "通行证", "签证", "签注", "出国", "出境", "入境")),
    ("交通警察", ("交警", "交巡警"),
     ("交通", "路口", "信号灯", "红绿灯", "违停", "违章", "拥堵", "车道", "疏导", "改装车", "罚单",
      "抓拍", "罚款", "申诉", "酒驾", "事故")),
    ("车辆管理所", ("车管所",), ("驾照", "驾驶证", "牌照", "上牌", "年检", "年审", "机动车登记", "行驶证")),
    ("自然资源和规划", ("自然资源", "规划局", "国土"), ("规划", "用地", "耕地", "土地", "国土空间")),
    ("不动产登记", ("不动产",), ("房产证", "产权", "登记", "过户", "抵押")),
    ("住房保障和房地产管理", ("房管局", "房管部门", "住房保障部门"),
     ("开发商", "交房", "楼盘", "期房", "购房", "房贷", "业主", "物业", "售楼", "租赁")),
    ("教育", ("教育局", "教育部门", "教体局"),
     ("学校", "小学", "初中", "中学", "高中", "幼儿园", "入学", "招生", "学生", "老师", "班主任", "学位",
      "培训机构", "上学", "学费")),
    ("交通运输", ("交通运输局", "运管", "交通运输部门"),
     ("出租车", "网约车", "客运", "拉客", "打表", "货运", "公路")),
    ("市场监督管理", ("市场监管", "工商", "消协", "质监"),
     ("消费者", "消费", "超市", "商家", "商场", "标价", "价格", "收费", "保质期", "生产日期", "假冒", "伪劣",
      "退费", "退款", "会员卡", "商户", "药店", "餐馆", "饭店", "食品")),
    ("民政", ("民政局", "民政部门"),
     ("婚姻", "结婚", "离婚", "低保", "养老院", "老年人", "老人", "救助", "困难", "殡葬", "墓", "残疾")),
    ("退役军人", ("退役军人事务",), ("退役", "退伍", "军人", "军属", "转业")),
    ("城市管理", ("城管", "城市管理部门"),
     ("环卫", "垃圾", "市政", "道路", "路面", "人行道", "占道", "摊贩", "摊位", "公厕", "违建", "违法建设",
      "广告", "井盖", "照明", "桥")),
    ("园林", ("园林",), ("绿化", "树", "公园", "草坪", "花坛")),
    ("城乡建设", ("住建局", "住建部门", "建设局", "建委"),
     ("工地", "施工", "建筑", "工程", "墙体", "开裂", "质量")),
    ("生态环境", ("环保", "生态环境部门", "环保局"),
     ("污染", "噪声", "噪音", "异味", "臭味", "刺鼻", "废水", "污水", "排放", "辐射", "检测", "烟尘")),
    ("卫生健康", ("卫健委", "卫生部门", "卫健部门"),
     ("医院", "医生", "护士", "诊所", "手术", "急诊", "医疗", "出生证明", "疫苗", "看病", "卫生院")),
    ("文化广电和旅游", ("文旅", "旅游局", "文化部门"),
     ("旅游", "景区", "景点", "旅行社", "导游", "一日游", "网吧", "演出", "KTV", "游客")),
    ("行政审批和政务信息", ("政务服务", "审批局", "大数据局"),
     ("大厅", "窗口", "审批", "网上办理", "APP", "预约", "办事")),
    ("农业农村", ("农业农村部门", "农委", "农业部门"),
     ("农业", "农村", "村民", "养殖", "畜禽", "牲畜", "猪", "农田", "庄稼", "流转", "农户")),
    ("水利", ("水利局", "水利部门"), ("河", "水库", "饮水", "水井", "井水", "堤", "沟渠")),
    ("应急管理", ("应急管理", "安监"),
     ("危险", "化学", "化工", "泄漏", "易燃", "易爆", "爆炸", "汽油", "油漆", "仓库")),
    ("税务", ("税务局", "税务部门", "税务"), ("税", "发票", "纳税", "退税", "开票")),
    ("消防", ("消防", "119"), ("火", "着火", "起火", "冒烟", "烟雾", "焦糊", "充电", "楼道", "逃生")),
    ("自来水", ("自来水公司", "供水公司", "供水部门", "水务"),
     ("自来水", "供水", "停水", "水管", "水压", "水质", "用水")),
    ("供电", ("供电公司", "供电部门", "电力公司", "国家电网"),
     ("停电", "电压", "电表", "线路", "电线", "用电", "跳闸")),
    ("燃气", ("燃气公司", "华润燃气"), ("燃气", "天然气", "煤气", "气表", "管道气", "充气")),
    ("热力", ("热力公司",), ("暖气", "供暖", "采暖", "室温", "暖气片", "供热")),
    ("公共交通", ("公交公司", "公交集团"), ("公交", "公交车", "司机", "站台", "线路", "车站")),
    ("地铁", ("地铁公司", "地铁集团", "轨道交通"), ("地铁", "站口", "出站口", "进站")),
    ("人民政府", ("区政府", "政府", "社区", "村委会", "居委会"),
     ("拆迁", "征收", "安置", "补偿", "城中村", "改造", "村", "划片", "学位", "幼儿园")),
    ("管理委员会", ("管委会", "政府", "社区", "村委会", "居委会"),
     ("拆迁", "征收", "安置", "补偿", "城中村", "改造", "村", "划片", "学位", "幼儿园")),
    ("办事处", ("街道办", "社区", "居委会"),
     ("家属院", "老旧小区", "背街小巷", "楼道", "小区", "广场", "居民")),
)

# Name fragments that mark an organisation but not its function.
_NAME_PREFIXES = ("国家税务总局", "国网", "郑州市", "郑州")
_NAME_SUFFIXES = (
    "投资控股有限公司", "股份有限公司", "集团有限公司", "有限公司", "总公司", "公司",
    "管理委员会", "委员会", "管理中心", "中心", "街道办事处", "办事处",
    "支队", "人民政府", "局", "所",
)
# Endings of place names.  小区/社区 name kinds of housing, not places.
_PLACE_SUFFIX = re.compile(r"(路|街|大道|大街|镇|乡|村|(?<![小社])区|站|广场|中段|外环|环路|街道|办事处)$")
_HOUSING_KINDS = ("小区", "社区", "家属院")
# A place keyword that names a whole district (港区, 管城区), not a housing kind (小区, 园区).
_DISTRICT_ALIAS = re.compile(r"(?<![小社园])区$")
_STREET_SUFFIX = re.compile(r"(?<!街道)(街道|办事处|镇)")
_PLACE_FOLLOWER = re.compile(r"^(街道|办事处|镇|路|村|社区)")
# Characters that precede a generic "街道" ("向街道反映", "乡镇") rather than a street name.
_NOT_A_PLACE_CHAR = set("和与及、向到找给的是由在被让或去对经归乡城村")

ROLE_MUNICIPAL = "municipal"
ROLE_DISTRICT_GOV = "district_gov"
ROLE_DISTRICT_DEPT = "district_dept"
ROLE_STREET = "street"


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _normalise(text: str) -> str:
    """NFKC folds full-width letters and digits (ＣＢＤ -> CBD); case-insensitive."""
    return unicodedata.normalize("NFKC", text).upper()


# --------------------------------------------------------------------- unit analysis


@dataclass(frozen=True)
class _Term:
    text: str
    weight: float


@dataclass
class _UnitIndex:
    unit: UnitProfile
    role: str
    function: str | None  # matched _FUNCTION_VOCABULARY fragment
    family: str  # keyword-sharing family (district units of one role share one family)
    topic_keywords: list[_Term] = field(default_factory=list)
    place_keywords: list[str] = field(default_factory=list)
    name_tokens: list[str] = field(default_factory=list)
    aliases: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    street_stem: str | None = None


def _role(unit: UnitProfile, by_code: Mapping[str, UnitProfile]) -> str:
    if unit.kind == "street_office":
        return ROLE_STREET
    if unit.kind == "district_government":
        parent = by_code.get(unit.parent) if unit.parent else None
        if parent is not None and parent.kind == "district_government":
            return ROLE_DISTRICT_DEPT
        return ROLE_DISTRICT_GOV
    return ROLE_MUNICIPAL


def _function_of(name: str) -> str | None:
    best: tuple[int, int, str] | None = None
    for fragment, _aliases, _terms in _FUNCTION_VOCABULARY:
        pos = name.rfind(fragment)
        if pos >= 0:
            key = (pos + len(fragment), len(fragment), fragment)
            if best is None or key > best:
                best = key
    return best[2] if best else None


def _strip_name(name: str, unit: UnitProfile, by_code: Mapping[str, UnitProfile]) -> str:
    stem = name
    parent = by_code.get(unit.parent) if unit.parent else None
    if parent is not None and stem.startswith(parent.name):
        stem = stem[len(parent.name):]
    for prefix in _NAME_PREFIXES:  # in order: 国家税务总局郑州市税务局 loses both
        if stem.startswith(prefix):
            stem = stem[len(prefix):]
    if unit.district:
        for variant in _district_variants(unit.district):
            if stem.startswith(variant):
                stem = stem[len(variant):]
                break
    changed = True
    while changed:
        changed = False
        for suffix in _NAME_SUFFIXES:
            if stem.endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                changed = True
                break
    return stem


def _name_tokens(stem: str) -> list[str]:
    """Tokens of a name stem a caller may say: "人力资源和社会保障" -> 人力资源, 社会保障."""
    tokens: list[str] = []
    for part in stem.split("和"):
        if len(part) < 2:
            continue
        tokens.append(part)
        for tail in ("信息管理", "管理", "事务"):
            if part.endswith(tail) and len(part) - len(tail) >= 3:
                tokens.append(part[: -len(tail)])
    if len(stem) >= 2 and stem not in tokens:
        tokens.append(stem)
    return [t for t in dict.fromkeys(tokens) if len(t) >= 2]


def _district_variants(district: str) -> list[str]:
    """Ways a district is written: 管城回族区 -> 管城区; 航空港区 -> 港区."""
    variants = [district]
    if "回族" in district:
        variants.append(district.replace("回族", ""))
    return variants


def _is_place_keyword(keyword: str, unit: UnitProfile, parent: UnitProfile | None, stem: str | None) -> bool:
    """Whether a district-level unit's keyword names a place (vs a matter it handles)."""
    if any(kind in keyword for kind in _HOUSING_KINDS):
        return False  # 小区广场, 老旧家属院: kinds of places found in every street
    if unit.district and unit.district in keyword:
        return True
    if stem and stem in keyword:
        return True
    if parent is not None and keyword in parent.keywords:
        return True
    return bool(_PLACE_SUFFIX.search(keyword))


def _keyword_weight(keyword: str, families: int) -> float:
    """Longer keywords are more specific; a keyword claimed by several unit families less so."""
    length_factor = min(2.0, 0.6 + 0.2 * len(keyword))
    return length_factor / (1.0 + 0.6 * (families - 1))


# --------------------------------------------------------------------- the router


@dataclass(frozen=True)
class _Located:
    district: str | None
    source: str  # "request" | "text" | ""


class Router:
    """Ranks units for a request.  Build with `Router.build(...)`."""

    def __init__(
        self,
        units: list[UnitProfile],
        catalogue: list[CatalogueRule],
        history: list[PastTicket],
        weights: Weights,
    ) -> None:
        self._weights = weights
        self._units = units
        self._by_code = {u.code: u for u in units}
        self._rules = {(r.category, r.district, r.unit_code): r for r in catalogue}
        self._index = self._index_units(units)
        self._district_gov: dict[str, str] = {}
        self._district_dept: dict[tuple[str, str | None], str] = {}
        for ix in self._index.values():
            if ix.role == ROLE_DISTRICT_GOV and ix.unit.district:
                self._district_gov.setdefault(ix.unit.district, ix.unit.code)
            elif ix.role == ROLE_DISTRICT_DEPT and ix.unit.district:
                self._district_dept.setdefault((ix.unit.district, ix.function), ix.unit.code)
        self._district_names = self._district_name_table()
        self._district_places = self._district_place_table()
        self._street_places: dict[str, set[str]] = {
            code: {_normalise(ix.street_stem or ""), *ix.place_keywords} - {""}
            for code, ix in self._index.items() if ix.role == ROLE_STREET
        }
        self._gov_only_places = self._gov_only_place_table()
        self._history = _TicketIndex()
        for ticket in history:
            self.add_history(ticket)

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        units: Iterable[UnitProfile],
        catalogue: Iterable[CatalogueRule] = (),
        history: Iterable[PastTicket] = (),
        weights: Weights | None = None,
    ) -> "Router":
        """An empty catalogue means: use `default_catalogue(units)`."""
        unit_list = list(units)
        codes = [u.code for u in unit_list]
        if len(set(codes)) != len(codes):
            raise ValueError("duplicate unit codes in the directory")
        rules = list(catalogue) or default_catalogue(unit_list)
        known = set(codes)
        unknown = sorted({r.unit_code for r in rules} - known)
        if unknown:
            raise ValueError(f"catalogue names unknown units: {', '.join(unknown)}")
        return cls(unit_list, rules, list(history), weights or Weights())

    def _index_units(self, units: list[UnitProfile]) -> dict[str, _UnitIndex]:
        index: dict[str, _UnitIndex] = {}
        for unit in units:
            role = _role(unit, self._by_code)
            function = _function_of(unit.name)
            family = role if role != ROLE_MUNICIPAL else unit.code
            if role == ROLE_DISTRICT_DEPT:
                family = f"{role}:{function}"
            ix = _UnitIndex(unit=unit, role=role, function=function, family=family)
            stem = _strip_name(unit.name, unit, self._by_code)
            if role == ROLE_STREET:
                ix.street_stem = stem
            if role == ROLE_MUNICIPAL or role == ROLE_DISTRICT_DEPT:
                ix.name_tokens = _name_tokens(stem)
            for fragment, aliases, terms in _FUNCTION_VOCABULARY:
                if fragment == function:
                    ix.aliases = tuple(_normalise(a) for a in aliases)
                    ix.terms = tuple(_normalise(t) for t in terms)
            index[unit.code] = ix
        families_of: dict[str, set[str]] = defaultdict(set)
        for ix in index.values():
            for kw in ix.unit.keywords:
                families_of[_normalise(kw)].add(ix.family)
        for ix in index.values():
            parent = self._by_code.get(ix.unit.parent) if ix.unit.parent else None
            for raw in ix.unit.keywords:
                kw = _normalise(raw)
                is_place = ix.role != ROLE_MUNICIPAL and (
                    ix.role == ROLE_DISTRICT_GOV or _is_place_keyword(kw, ix.unit, parent, ix.street_stem)
                )
                if is_place:
                    ix.place_keywords.append(kw)
                else:
                    ix.topic_keywords.append(_Term(kw, _keyword_weight(kw, len(families_of[kw]))))
        return index

    def _district_name_table(self) -> dict[str, str]:
        """Written forms of each district -> canonical district (from the units' districts)."""
        table: dict[str, str] = {}
        for unit in self._units:
            if unit.district:
                for variant in _district_variants(unit.district):
                    table[_normalise(variant)] = unit.district
        return table

    def _district_place_table(self) -> dict[str, str]:
        """Place keywords that belong to exactly one district."""
        owners: dict[str, set[str]] = defaultdict(set)
        for ix in self._index.values():
            if ix.unit.district:
                for kw in ix.place_keywords:
                    owners[kw].add(ix.unit.district)
                if ix.street_stem:
                    owners[_normalise(ix.street_stem)].add(ix.unit.district)
        return {kw: next(iter(ds)) for kw, ds in owners.items() if len(ds) == 1}

    def _gov_only_place_table(self) -> dict[str, tuple[str, ...]]:
        """Per district: places of the district government that no street office there lists.

        District names and aliases (ending in 区) are not streets and are left out.
        """
        table: dict[str, tuple[str, ...]] = {}
        for ix in self._index.values():
            if ix.role != ROLE_DISTRICT_GOV or not ix.unit.district:
                continue
            street_places = [p for code, places in self._street_places.items()
                             if self._by_code[code].district == ix.unit.district for p in places]
            table[ix.unit.district] = tuple(
                p for p in ix.place_keywords
                if not p.endswith("区") and not any(p in q or q in p for q in street_places)
            )
        return table

    # ------------------------------------------------------------------ history

    def add_history(self, t: PastTicket) -> None:
        """Remember a routed ticket; similar later requests lean towards its unit's role."""
        if t.unit_code not in self._by_code:
            raise ValueError(f"past ticket names an unknown unit: {t.unit_code}")
        self._history.add(t, _normalise(t.text))

    def _history_votes(self, text: str, category: str | None, district: str | None) -> dict[str, tuple[float, int]]:
        """unit -> (summed similarity, number of neighbours) over the nearest past tickets."""
        w = self._weights
        votes: dict[str, tuple[float, int]] = {}
        for sim, ticket in self._history.nearest(text, w.history_neighbours, w.history_min_similarity):
            if category and ticket.category and ticket.category != category:
                sim *= 0.5  # a past ticket of another category is weaker evidence
            code = self._counterpart(ticket.unit_code, district)
            if code is None:
                continue
            total, count = votes.get(code, (0.0, 0))
            votes[code] = (total + sim, count + 1)
        return votes

    def _counterpart(self, code: str, district: str | None) -> str | None:
        """The unit with the same role as `code` in `district` (municipal units are their own)."""
        ix = self._index[code]
        if ix.role == ROLE_MUNICIPAL or ix.unit.district == district:
            return code
        if district is None:
            return None
        if ix.role == ROLE_DISTRICT_DEPT:
            return self._district_dept.get((district, ix.function)) or self._district_gov.get(district)
        return self._district_gov.get(district)

    # ------------------------------------------------------------------ location

    def _locate(self, req: RoutingRequest, text: str) -> _Located:
        """The request's district: the field when given, else what the text names.

        Text evidence per district: a district name or alias (港区, 管城区) 3; another place
        of the directory unique to one district: 2 when it is at least three
        characters long or followed by 街道/办事处/镇/路/村/社区, else 1.  A district is
        taken when it scores at least 2 and strictly more than any other.
        """
        if req.district:
            written = _normalise(req.district)
            return _Located(self._district_names.get(written, req.district), "request")
        found: Counter[str] = Counter()
        for written, district in self._district_names.items():
            if written in text:
                found[district] += 3
        for place, district in self._district_places.items():
            position = text.find(place)
            if position < 0:
                continue
            following = text[position + len(place):position + len(place) + 3]
            if _DISTRICT_ALIAS.search(place):
                found[district] += 3
            elif len(place) >= 3 or _PLACE_FOLLOWER.match(following):
                found[district] += 2
            else:
                found[district] += 1
        if not found:
            return _Located(None, "")
        (best, score), *rest = found.most_common()
        if score >= 2 and (not rest or rest[0][1] < score):
            return _Located(best, "text")
        return _Located(None, "")

    def _street_named(self, text: str, ix: _UnitIndex) -> bool:
        """The street office's own name in the text: 林山寨, or a two-character stem with its
        suffix (石佛办事处), since short stems also occur in other names (新城 in 某某新城小区)."""
        stem = _normalise(ix.street_stem or "")
        if len(stem) >= 3:
            return stem in text
        return bool(stem) and any(stem + suffix in text for suffix in ("街道", "办事处"))

    def _street_named_elsewhere(self, text: str, ix: _UnitIndex) -> bool:
        """True when the text names a street/town ("<name>街道/办事处/镇") that is not this office's."""
        own = self._street_places[ix.unit.code]
        for m in _STREET_SUFFIX.finditer(text):
            before = text[max(0, m.start() - 4):m.start()]
            if len(before) < 2 or before[-1] in _NOT_A_PLACE_CHAR or not _is_cjk(before[-1]):
                continue
            if any(before.endswith(p) or p.endswith(before[-2:]) for p in own):
                continue
            return True
        return False

    def _place_elsewhere(self, text: str, ix: _UnitIndex) -> bool:
        """True when the text names a place of the district government that no street office lists (杨金路)."""
        own = self._street_places[ix.unit.code]
        return any(
            place in text and not any(place in p or p in place for p in own)
            for place in self._gov_only_places.get(ix.unit.district or "", ())
        )

    # ------------------------------------------------------------------ scoring

    def suggest(self, req: RoutingRequest, limit: int = 5) -> list[Suggestion]:
        """Up to `limit` units with a positive score, best first, with reasons an agent can read.

        Scores are sums of the terms described in the module docstring: comparable
        within one request, not across requests.
        """
        text = _normalise(req.text)
        w = self._weights
        located = self._locate(req, text)
        district = located.district

        topic: dict[str, float] = {}
        reasons: dict[str, list[str]] = defaultdict(list)
        hits = {code: self._keyword_hits(ix, text) for code, ix in self._index.items()}
        # keyword -> units that matched a longer keyword containing it
        longer: dict[str, set[str]] = defaultdict(set)
        matched_terms = {(term.text, code) for code, unit_hits in hits.items() for term, _ in unit_hits}
        for short, _ in matched_terms:
            for long_text, code in matched_terms:
                if short != long_text and short in long_text:
                    longer[short].add(code)
        for code, ix in self._index.items():
            topic[code] = self._topic_score(ix, text, hits[code], longer, reasons[code])

        category_fit = self._category_fit(req.category)
        votes = self._history_votes(text, req.category, district)
        suggestions: list[Suggestion] = []
        for code, ix in self._index.items():
            why = reasons[code]
            score = topic[code]
            fit = category_fit.get(code, 0.0)
            if fit > 0:
                score += w.category * fit
                why.insert(0, f"类别: {req.category}")
            locality, territory_known = self._locality(ix, req, text, located, fit, why)
            if ix.role == ROLE_STREET and not territory_known:
                # A street office's topics matter inside its territory; when the text does
                # not place the request there, the district government is the safer owner.
                score -= topic[code] * (1.0 - w.street_unplaced_topic_share)
            score += locality
            rule = self._catalogue_rule(req.category, district, code)
            if rule is not None:
                score += w.catalogue
                why.append(f"派单目录: {rule.category} → {rule.district or '全市'}")
            if code in votes:
                total, count = votes[code]
                score += w.history * min(1.0, total)
                why.append(f"相似历史工单: {count} 件")
            if score > 0:  # units with no evidence at all are not suggestions
                suggestions.append(Suggestion(code, round(score, 4), tuple(why)))
        suggestions.sort(key=lambda s: (-s.score, s.unit_code))
        return suggestions[: max(0, limit)]

    def _keyword_hits(self, ix: _UnitIndex, text: str) -> list[tuple[_Term, float]]:
        """(keyword, similarity 0-100) for the unit's topical keywords found in the text."""
        hits: list[tuple[_Term, float]] = []
        for term in ix.topic_keywords:
            if term.text in text:
                hits.append((term, 100.0))
            elif len(term.text) >= 3:
                similarity = fuzz.partial_ratio(term.text, text, score_cutoff=self._weights.fuzzy_cutoff)
                if similarity:
                    hits.append((term, similarity))
        return hits

    def _topic_score(
        self, ix: _UnitIndex, text: str, hits: list[tuple[_Term, float]], longer: Mapping[str, set[str]], why: list[str]
    ) -> float:
        """Directory keywords, name, short names and vocabulary found in the text.

        A piece of text counts once per unit: a name token, short name or vocabulary
        term contained in an already matched, longer string of the same unit is skipped
        ("地铁" after "地铁站").  An exact keyword that is part of a longer keyword
        matched for another unit counts half: the longer one names the matter more
        precisely ("电动自行车" vs "电动自行车登记").
        """
        w = self._weights
        score = 0.0
        matched: list[str] = []

        def fresh(candidate: str) -> bool:
            return not any(candidate in m for m in matched)

        for term, similarity in sorted(hits, key=lambda h: (-h[1], -len(h[0].text))):
            if similarity >= 100:
                if not fresh(term.text):
                    continue
                credit = w.keyword * term.weight
                if longer.get(term.text, set()) - {ix.unit.code}:
                    credit *= 0.5
                score += credit
                why.append(f"关键词: {term.text}")
                matched.append(term.text)
            else:
                share = w.fuzzy_share * (similarity - w.fuzzy_cutoff + 10) / (110 - w.fuzzy_cutoff)
                score += w.keyword * term.weight * share
                why.append(f"近似关键词: {term.text}({similarity:.0f})")
        for token in ix.name_tokens:
            if token in text and fresh(token):
                score += w.name_token
                why.append(f"单位名称: {token}")
                matched.append(token)
                break
        for alias in ix.aliases:
            if alias in text and fresh(alias):
                score += w.alias
                why.append(f"单位简称: {alias}")
                matched.append(alias)
                break
        found = [term for term in ix.terms if term in text and fresh(term)]
        if found:
            score += min(w.vocab_cap, w.vocab_term * len(found))
            why.append("相关词: " + "、".join(found[:4]))
        return score

    def _category_fit(self, category: str | None) -> dict[str, float]:
        """1.0 for units that list the request's category.

        Without a category nothing is inferred: inferring one from the same keywords
        only doubled their weight and, measured on routing-dev with the categories
        removed, lost accuracy (86.6 % vs 88.0 % top-1).
        """
        if not category:
            return {}
        return {code: 1.0 for code, ix in self._index.items() if category in ix.unit.categories}

    def _locality(
        self, ix: _UnitIndex, req: RoutingRequest, text: str, located: _Located, fit: float, why: list[str]
    ) -> tuple[float, bool]:
        """Locality term, and whether the text places the request in the unit's territory.

        The second value matters for street offices only: True when the text names the
        street or one of its places.
        """
        w = self._weights
        if ix.role == ROLE_MUNICIPAL:
            return 0.0, False
        district = located.district
        if district is None:
            return w.unlocated_local_unit, False
        if ix.unit.district != district:
            return w.other_district, False
        label = f"属地: {district}" + ("(据文本)" if located.source == "text" else "")
        # A local unit is the default owner only of the categories it handles; with
        # no category given, half the default.
        fit_factor = fit if req.category else 0.5
        if ix.role in (ROLE_DISTRICT_GOV, ROLE_DISTRICT_DEPT):
            why.append(label)
            default = w.district_gov if ix.role == ROLE_DISTRICT_GOV else w.district_dept
            return default * fit_factor, False
        # street office
        if self._street_named(text, ix):
            why.append(f"街道: {ix.street_stem}")
            return w.street_named * fit_factor, True
        # An explicit "<other name>街道" outweighs a road or place the office also lists.
        if self._street_named_elsewhere(text, ix):
            return w.street_elsewhere, False
        named = [p for p in ix.place_keywords if p in text]
        if named:
            why.append(f"辖区地名: {named[0]}")
            return w.street_place * fit_factor, True
        if self._place_elsewhere(text, ix):
            return w.street_elsewhere, False
        why.append(label)
        return w.street_default * fit_factor, False

    def _catalogue_rule(self, category: str | None, district: str | None, code: str) -> CatalogueRule | None:
        """The most specific catalogue rule sending (category, district) to `code`."""
        if not category:
            return None
        return self._rules.get((category, district, code)) or self._rules.get((category, None, code))


_PUNCTUATION = set("，。、；：！？“”‘’（）《》【】,.;:!?()[]\"'- ")


def _bigrams(text: str) -> Counter[str]:
    """Overlapping character pairs: order-insensitive and needs no word segmentation."""
    chars = [c for c in text if c not in _PUNCTUATION and not c.isspace()]
    return Counter("".join(chars[i:i + 2]) for i in range(len(chars) - 1))


class _TicketIndex:
    """TF-IDF cosine over character bigrams with an inverted index.

    Ticket norms depend on IDF, which moves as tickets arrive; they are recomputed
    when the history has grown by a tenth since the last computation, and new
    tickets get a norm from the IDF of their arrival.  The approximation only
    shifts similarities slightly between refreshes.
    """

    def __init__(self) -> None:
        self._tickets: list[PastTicket] = []
        self._grams: list[Counter[str]] = []
        self._norms: list[float] = []
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._df: Counter[str] = Counter()
        self._norms_size = 0

    def __len__(self) -> int:
        return len(self._tickets)

    def _idf(self, gram: str) -> float:
        return math.log((len(self._tickets) + 1) / (self._df.get(gram, 0) + 1)) + 1.0

    def _norm(self, grams: Counter[str]) -> float:
        return math.sqrt(sum((c * self._idf(g)) ** 2 for g, c in grams.items())) or 1.0

    def add(self, ticket: PastTicket, text: str) -> None:
        grams = _bigrams(text)
        position = len(self._tickets)
        self._tickets.append(ticket)
        self._grams.append(grams)
        self._df.update(grams.keys())
        for gram in grams:
            self._postings[gram].append(position)
        self._norms.append(self._norm(grams))

    def _refresh_norms(self) -> None:
        if len(self._tickets) > self._norms_size * 1.1:
            self._norms = [self._norm(g) for g in self._grams]
            self._norms_size = len(self._tickets)

    def nearest(self, text: str, k: int, min_similarity: float) -> list[tuple[float, PastTicket]]:
        if not self._tickets:
            return []
        self._refresh_norms()
        grams = _bigrams(text)
        # Bigrams in most tickets ("来电", "反映") select nothing useful.
        common = max(5, len(self._tickets) // 5)
        dots: dict[int, float] = defaultdict(float)
        for gram, count in grams.items():
            postings = self._postings.get(gram)
            if not postings or len(postings) > common:
                continue
            weight = self._idf(gram) ** 2 * count
            for position in postings:
                dots[position] += weight * self._grams[position][gram]
        query_norm = self._norm(grams)
        scored = [(dot / (query_norm * self._norms[p]), p) for p, dot in dots.items()]
        scored = [(sim, p) for sim, p in scored if sim >= min_similarity]
        scored.sort(key=lambda sp: (-sp[0], sp[1]))
        return [(sim, self._tickets[p]) for sim, p in scored[:k]]


# --------------------------------------------------------------------- catalogue


def default_catalogue(units: Iterable[UnitProfile]) -> list[CatalogueRule]:
    """Catalogue derived from the directory.

    * every non-district unit owns the categories it lists, in any district
      (district None);
    * every district government owns, in its district, the categories it lists
      (属地管理);
    * ownerless cases: a category that the directory lists somewhere but that no
      municipal unit and no unit of a district owns defaults, in that district, to
      the district government.
    """
    unit_list = list(units)
    by_code = {u.code: u for u in unit_list}
    rules: list[CatalogueRule] = []
    municipal_categories: set[str] = set()
    all_categories: list[str] = []
    for unit in unit_list:
        for cat in unit.categories:
            if cat not in all_categories:
                all_categories.append(cat)
        if _role(unit, by_code) == ROLE_MUNICIPAL:
            municipal_categories.update(unit.categories)
            rules.extend(CatalogueRule(cat, None, unit.code) for cat in unit.categories)
    governments = [u for u in unit_list if _role(u, by_code) == ROLE_DISTRICT_GOV and u.district]
    for gov in governments:
        covered = {cat for u in unit_list if u.district == gov.district for cat in u.categories}
        rules.extend(CatalogueRule(cat, gov.district, gov.code) for cat in gov.categories)
        for cat in all_categories:
            if cat not in covered and cat not in municipal_categories:
                rules.append(CatalogueRule(cat, gov.district, gov.code))
    return rules


# --------------------------------------------------------------------- directory data


def unit_from_mapping(raw: Mapping[str, object]) -> UnitProfile:
    """Parse one directory entry (units.json shape) into a UnitProfile."""
    return UnitProfile(
        code=str(raw["code"]),
        name=str(raw["name"]),
        kind=str(raw["kind"]),
        parent=str(raw["parent"]) if raw.get("parent") else None,
        district=str(raw["district"]) if raw.get("district") else None,
        categories=tuple(str(c) for c in raw.get("categories") or ()),  # type: ignore[union-attr]
        keywords=tuple(str(k) for k in raw.get("keywords") or ()),  # type: ignore[union-attr]
    )


def load_units() -> list[UnitProfile]:
    """The units directory shipped with the package (dispatch/data/units.json)."""
    raw = json.loads(resources.files("dispatch").joinpath("data/units.json").read_text(encoding="utf-8"))
    return [unit_from_mapping(entry) for entry in raw]
