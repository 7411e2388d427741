"""Follow-up questions that refine the previous answer ("of those, who is in Germany?")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from segmint.agent.ask.answer import Answer, Answerer
from segmint.agent.query import QuerySpec

FOLLOW_UP = re.compile(
    r"^\s*(?:(?:and\s+)?(?:of|among|from|out of)\s+(?:those|these|them|which)|of which|"
    r"now(?:\s+only)?|and\s+only|but\s+only|only|just|what about|how about|and)\b[\s,:]*",
    re.IGNORECASE,
)


def merge(previous: QuerySpec, refinement: QuerySpec) -> QuerySpec:
    """Narrow the previous spec: AND the new conditions into every group; a new sort, limit,
    measure or grouping wins, else the previous one stays ("average revenue in Germany", then
    "of those, the lapsed ones" is the average revenue of lapsed customers in Germany)."""
    new_groups = refinement.any_of or [[]]
    groups = [old + new for old in (previous.any_of or [[]]) for new in new_groups]
    regrouped = refinement.group_by is not None
    return QuerySpec(
        intent=refinement.intent if refinement.intent != "list" else previous.intent,
        any_of=[g for g in groups if g],
        # A new order (a field, or what customers did) replaces the previous one.
        sort_by=refinement.sort_by or (None if refinement.rank_by else previous.sort_by),
        rank_by=refinement.rank_by or (None if refinement.sort_by else previous.rank_by),
        descending=(refinement.descending if refinement.sort_by or refinement.rank_by or regrouped
                    else previous.descending),
        limit=refinement.limit or previous.limit,
        # "of those, how many…" asks for a count, whatever the previous number was.
        measure=refinement.measure or (None if refinement.intent == "count" else previous.measure),
        group_by=refinement.group_by or previous.group_by,
        groups=refinement.groups if regrouped else previous.groups,
    )


@dataclass
class Conversation:
    """A chat with one workspace that keeps the last question's spec as context.

    Args:
        answerer: answers for the workspace, with its glossary and parser (`--llm`).
        spec: the context: the last answer's query (None: the next question stands alone).
    """

    answerer: Answerer
    spec: QuerySpec | None = None
    history: list[Answer] = field(default_factory=list)

    def ask(self, question: str) -> Answer:
        """Answer a question; a follow-up ("of those…", "now only the top 20") refines the last.

        Raises:
            NotUnderstood: the question (or its refinement) could not be read.
            InputError: it names a field or segment this workspace does not have.
        """
        cat = self.answerer.catalogue()
        follow = FOLLOW_UP.match(question) if self.spec is not None else None
        if follow is not None and self.spec is not None:
            refinement = self.answerer.read(question[follow.end():], cat)
            reading = replace(refinement, spec=merge(self.spec, refinement.spec))
        else:
            reading = self.answerer.read(question, cat)
        answer = self.answerer.answer(question, reading, fix="ask about fields and segments this shop has")
        self.spec = reading.spec
        self.history.append(answer)
        return answer

    def reset(self) -> None:
        """Forget the context: the next question stands alone."""
        self.spec = None


__all__ = ["Conversation", "merge"]
