"""Generated work orders for the text hot spots (reports.textclusters): a random mix of the
everyday requests a 12345 hotline receives, each worded afresh from parts, and the bursts the
tests plant in it. Deterministic for a given seed."""

from __future__ import annotations

import datetime as dt
import random

from hotline.ports import TicketRecord

STREETS = [
    "建设路",
    "花园路",
    "文化路",
    "农业路",
    "经三路",
    "中原路",
    "嵩山路",
    "航海路",
    "大学路",
    "金水路",
    "黄河路",
    "丰产路",
    "政七街",
    "桐柏路",
    "陇海路",
    "商都路",
]
PLACES = ["小区", "家属院", "花园", "新村", "公寓", "社区", "商业街", "菜市场"]
NAMES = ["阳光", "绿城", "康桥", "锦江", "世纪", "名门", "正商", "永威", "鑫苑", "天明"]
CATEGORIES = ["城市管理", "供水供电供气", "环境保护", "交通运输", "市场监管", "住房保障", None]
DISTRICTS = ["金水区", "二七区", "中原区", "管城区", "惠济区", None]
OPENERS = ["市民来电反映", "来电人称", "市民反映", "来电反映", "", "群众来电："]
ASKS = ["请相关部门尽快处理。", "希望尽快解决。", "要求有关部门核实处理。", "请尽快处理。", ""]
# Everyday topics: (what, details) worded with a random place.
TOPICS = [
    ("{p}门口占道经营，", ["流动摊贩", "夜市摊位", "早餐摊点"]),
    ("{p}附近工地夜间施工噪音扰民，", ["影响休息", "凌晨还在作业", "渣土车来回"]),
    ("{p}小区物业不作为，", ["电梯经常故障", "垃圾清运不及时", "乱收停车费"]),
    ("在{p}附近一家商户购买商品，", ["商家拒绝退货", "价格欺诈", "过期食品"]),
    ("{p}路灯不亮，", ["晚上出行不便", "已经一周", "存在安全隐患"]),
    ("{p}路面塌陷，", ["车辆通行困难", "坑洼积水", "井盖缺失"]),
    ("咨询{p}附近公交线路调整，", ["站点取消", "发车间隔太长", "末班车提前"]),
    ("{p}有人饲养大型犬，", ["不拴绳", "夜间狂吠", "咬伤路人"]),
    ("{p}餐馆油烟直排，", ["影响居民开窗", "气味刺鼻", "污染严重"]),
    ("咨询{p}片区学校划片入学政策，", ["户口迁入时间", "租房能否入学", "报名材料"]),
]


def place(rng: random.Random) -> str:
    return rng.choice(STREETS) + rng.choice(NAMES) + rng.choice(PLACES)


def everyday(rng: random.Random) -> str:
    what, details = rng.choice(TOPICS)
    return (
        rng.choice(OPENERS)
        + what.format(p=place(rng))
        + "，".join(rng.sample(details, rng.randint(1, 2)))
        + "，"
        + rng.choice(ASKS)
    )


def water_main(rng: random.Random, street: str) -> str:
    """One caller's words about the burst water main in `street`."""
    where = street + rng.choice(["与", "和"]) + rng.choice(STREETS) + "交叉口附近"
    parts = [
        rng.choice(OPENERS),
        rng.choice([where, street + rng.choice(NAMES) + rng.choice(PLACES), street + "一带"]),
        rng.choice(["自来水管道爆管", "自来水主管爆裂", "自来水管爆了", "供水管网爆管"]),
        "，",
        rng.choice(["家里停水", "整栋楼停水", "小区全部停水", "已经停水半天"]),
        "，",
        rng.choice(["路面大量积水", "水流到马路上", "", "附近商户也停水"]),
        rng.choice(ASKS),
    ]
    return "".join(parts)


def record(
    number: int, at: dt.datetime, text: str, category: str | None, district: str | None
) -> TicketRecord:
    return TicketRecord(
        number=f"T{number:07d}",
        created_at=at,
        type="投诉",
        category=category,
        district=district,
        urgent=False,
        status="accepted",
        unit=None,
        answered_on_spot=False,
        steps=(),
        summary=text[:60],
        status_label="已受理",
    )


def scattered(
    rng: random.Random, start: dt.datetime, end: dt.datetime, n: int, first: int = 0
) -> list[TicketRecord]:
    """`n` everyday tickets at random times in [start, end)."""
    span = (end - start).total_seconds()
    return [
        record(
            first + i,
            start + dt.timedelta(seconds=rng.uniform(0, span)),
            everyday(rng),
            rng.choice(CATEGORIES),
            rng.choice(DISTRICTS),
        )
        for i in range(n)
    ]
