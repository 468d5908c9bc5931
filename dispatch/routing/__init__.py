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

from dispatch.routing.directory import default_catalogue, load_units, unit_from_mapping
from dispatch.routing.router import Router
from dispatch.routing.values import (
    CatalogueRule,
    PastTicket,
    RoutingRequest,
    Suggestion,
    UnitProfile,
    Weights,
)

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
