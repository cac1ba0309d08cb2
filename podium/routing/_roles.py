"""A catalogue of occupations: the world of work outside a team.

The lines follow the U.S. Standard Occupational Classification (SOC 2018): one per major group,
split into its minor groups (or, where one minor group holds very different work, such as
writers and translators, its detailed occupations), each saying what the workers do, as the
SOC's definitions do (a task reads as work to do, not as a job title). The router compares a
task with these as well as with the team: when a task is clearly closer to an occupation that no
agent of the team resembles than to any agent ("Translate the release notes into German" in a
team with no translator), no agent fits it — open-set recognition, with the catalogue standing
for the work the team does not do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from podium.exceptions import ConfigError

_CLAUSE = re.compile(r"[,;:.\n]|\band\b|\bor\b")

OCCUPATIONS: dict[str, str] = {
    "management": "Plan, direct and coordinate the operations and strategy of an organisation",
    "business_operations": "Coordinate business operations: purchasing, compliance, human"
    " resources, logistics, project management, event planning, market research",
    "financial": "Examine and prepare financial records, budgets, invoices, audits, loans and"
    " tax returns",
    "computer": "Write, test and debug software; administer computer systems, networks and"
    " databases; secure information systems",
    "mathematical": "Apply statistics and mathematics to analyse data, estimate risk and build"
    " models",
    "architecture_engineering": "Design and survey buildings, machines, circuits and structures",
    "life_physical_science": "Conduct research and experiments in biology, medicine, chemistry,"
    " physics and the environment",
    "social_science": "Research economies, societies, human behaviour, cities and history",
    "community_social_service": "Counsel people and provide social services and spiritual guidance",
    "legal": "Represent clients, advise on laws and regulations, draft legal documents and"
    " decide cases",
    "education": "Teach students and instruct people, and keep library and museum collections",
    "art_design": "Create art, graphic designs, illustrations, interiors, fashion and product"
    " designs",
    "entertainers_sports": "Perform, act, sing, dance, compose music, direct shows, and play or"
    " coach sports",
    "writers_editors": "Write and edit books, articles, scripts and technical documents",
    "interpreters_translators": "Interpret speech or translate written text from one language"
    " into another",
    "news_public_relations": "Report and announce the news, and manage public relations",
    "media_equipment": "Take photographs, operate cameras and sound equipment, and edit film"
    " and video",
    "healthcare_practitioners": "Diagnose and treat patients' illnesses and injuries, prescribe"
    " medicine, and treat animals",
    "healthcare_support": "Assist with patient care, therapy, massage and medical procedures",
    "protective_service": "Protect people and property: fight fires, enforce laws, guard"
    " buildings, rescue swimmers",
    "food": "Prepare, cook and serve food and drinks",
    "building_grounds": "Clean buildings, control pests, and maintain lawns, gardens and trees",
    "personal_care": "Care for animals, children and people's appearance; guide tours; train"
    " people in fitness",
    "sales": "Sell products, services, insurance, travel and real estate to customers",
    "customer_service": "Answer customers' questions and complaints and handle reservations and"
    " front desks",
    "office_support": "Do office and administrative work: scheduling, correspondence, filing,"
    " bookkeeping entries, mail and deliveries",
    "farming": "Grow crops, raise animals, fish and harvest forests",
    "construction": "Build and renovate structures: carpentry, electrical wiring, painting,"
    " plumbing, roofing",
    "repair": "Install, maintain and repair equipment, vehicles, electronics, heating and air"
    " conditioning, and locks",
    "production": "Assemble and make products: machining, welding, printing, baking and food"
    " processing, sewing and laundering textiles, woodworking",
    "transportation": "Fly aircraft, drive vehicles, and move freight and stock",
}
"""Occupation → what its workers do."""


Vectors = Callable[[list[str]], Mapping[str, Sequence[float]]]
"""Texts → their unit vectors (cached by the caller)."""


def clauses(text: str) -> list[str]:
    """The clauses of a description: what it lists, one item each."""
    return [c.strip() for c in _CLAUSE.split(text) if len(c.strip()) > 3] or [text]


@dataclass(frozen=True, slots=True)
class Rival:
    """An occupation no agent resembles, closer to the task than any agent is."""

    occupation: str
    score: float


class OpenSet:
    """The check that a task belongs to work outside the team.

    An occupation is covered when some agent's description is at least `cover` similar to one of
    its clauses ("Interpreters and translators" by "Translates documents …"). A task whose
    nearest uncovered occupation scores more than `margin` above the best agent belongs to that
    occupation, not to the team. The defaults were tuned on the routing bench's dev set.

    Args:
        occupations: name → description (default: `OCCUPATIONS`).
        cover: similarity at which an agent covers an occupation.
        margin: how much closer than the best agent the occupation must be.
    """

    def __init__(
        self,
        occupations: Mapping[str, str] | None = None,
        *,
        cover: float = 0.4,
        margin: float = 0.1,
    ) -> None:
        if not -1 <= cover <= 1 or margin < 0:
            raise ConfigError("OpenSet: cover must be in [-1, 1] and margin >= 0")
        self.occupations = dict(OCCUPATIONS if occupations is None else occupations)
        self.cover = cover
        self.margin = margin
        self._clauses = {k: clauses(v) for k, v in self.occupations.items()}

    def texts(self) -> list[str]:
        """Every text it compares (to be encoded in one batch)."""
        return [*self.occupations.values(), *(c for cs in self._clauses.values() for c in cs)]

    def uncovered(self, descriptions: Collection[str], vectors: Vectors) -> list[str]:
        """The occupations none of the agents' `descriptions` covers."""
        found = vectors([*self.texts(), *descriptions])
        agents = [found[d] for d in descriptions]
        return [
            k
            for k, cs in self._clauses.items()
            if not any(_dot(found[c], a) >= self.cover for c in cs for a in agents)
        ]

    def rival(
        self, query: Sequence[float], uncovered: Sequence[str], best: float, vectors: Vectors
    ) -> Rival | None:
        """The uncovered occupation the task belongs to rather than to the team, if any."""
        if not uncovered:
            return None
        found = vectors(self.texts())
        scores = {
            k: (
                2 * _dot(query, found[self.occupations[k]])
                + max(_dot(query, found[c]) for c in self._clauses[k])
            )
            / 3
            for k in uncovered
        }
        top = max(scores, key=scores.__getitem__)
        return Rival(top, scores[top]) if scores[top] > best + self.margin else None


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


__all__ = ["OCCUPATIONS", "OpenSet", "Rival", "clauses"]
