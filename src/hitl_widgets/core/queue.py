"""What to ask next: eligibility, cold start, batch selection and the random audit share.

The planner is given the state to plan from (the current fit and masks read in one
consistent moment by the Session) and owns only what never changes after the Session
opens: the seeded tie-break order, the audit schedule, the scores of a model-free
strategy. Planning itself takes no session lock, so a queue of a 1M-row pool never
holds up a submit.

Every served row also gets its selection probability: the chance that the queue put
that item in that slot, given the slots before it. A queue slot is an audit (a uniform
draw from the fresh items), an exploration slot (a draw in proportion to the square
root of the query score, when `explore` > 0) or a top-k slot (the best remaining item),
each kind drawn independently per slot with its share; the recorded probability is the
mixture over the three. Because the audit share spreads probability over every fresh item, every
label then has a known, non-zero probability of having been asked, which is what lets
`analysis.estimates` weigh actively chosen labels without bias (Horvitz-Thompson).

An audit is a uniform draw shown without the model's suggestion. Besides the scheduled
audit slots, a share of the exploration draws become audits too: a coin drawn apart
from the data keeps each with a chance inverse to its weight (`SlotDraws.kept_as_audit`),
which makes the kept ones uniform. At explore=0.5 this about doubles the audit labels.

Every plan has an id and is kept for a while: a label answers one slot of one plan
(`QueuePlanner.answered`), and is a draw of it only if the items the plan placed before
it are done. An item taken while items ahead of it were open was chosen by a person.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from itertools import islice

import numpy as np
import pandas as pd

from .pool import Pool
from .ranking import top_k
from .strategies import QueryStrategy, checked_scores
from .training import FitResult, SampleFit, pool_view

COLD_START_REASON = "cold start: random order (fewer than two classes labeled)"
AUDIT_REASON = "random audit: a uniform sample that checks the model without bias"
EXPLORE_REASON = "exploration: drawn at random, the more uncertain the likelier"
SAMPLE_POLICY = "candidate sample (no draw recorded): the pool is being rescored"
AUDIT_DRAWS = 4096  # the seeded schedule of which queue slots are audits, repeated
BATCH_CANDIDATES = 10  # a batch `select` chooses among this many times k top candidates
HEAD = 2048  # rows of each fit's ranking kept in order (`QueuePlanner.prepare`)
WARM_ROWS = 32  # of those, fetched ahead when the features live on a cluster
# exploration weights get this share of their mean added (a defensive mixture): every
# fresh item keeps a chance of an exploration draw, which bounds the estimate's weights
# and lets a fifth of the exploration draws be kept as audits (`SlotDraws.kept_as_audit`)
EXPLORE_FLOOR = 0.25
REOFFERED_POLICY = "skipped item offered again (no draw)"
UNORDERED_POLICY = "picked out of the queue's order (no draw): rows ahead of it were open"
RECENT_PLANS = 64  # plans a label may answer: the card on screen may come from an older one
_POLICY_TAIL = re.compile(
    r"deff=([0-9.eE+-]+|inf); (?:within=.*; )?support=(\d+); floor=([0-9.eE+-]+)$"
)


@dataclass(frozen=True)
class QueueState:
    """What a queue is planned from, read under the session lock in one go."""

    fit: FitResult | None
    eligible: np.ndarray  # bool per row: may be asked (focus and routing applied)
    skipped: np.ndarray  # bool per row: this annotator skipped it
    n_labels: int  # label events so far: the position in the audit schedule
    # what narrowed `eligible` (a focus, a routing cut) as text, written into each slot's
    # policy: an audit drawn inside a focus is uniform over that slice, not over the pool
    within: str | None = None
    # a newer model's ranking of the candidate sample: serves until the rescoring ends
    sample: SampleFit | None = None


@dataclass(frozen=True)
class Plan:
    chosen: np.ndarray  # row positions, best first
    audit: np.ndarray  # bool per chosen row
    scores: np.ndarray  # per pool row
    reason: str
    # per chosen row: P(this item in this slot | the slots before it); NaN: not a draw
    probability: np.ndarray
    policy: tuple[str, ...]  # per chosen row: the policy behind that probability
    explored: np.ndarray  # bool per chosen row: an exploration draw
    sample: SampleFit | None = None  # served from a candidate sample (`_from_sample`)
    plan_id: int = -1  # which plan it is (`QueuePlanner.answered`); -1 before it is kept

    def with_skipped(self, extra: np.ndarray) -> Plan:
        """This plan with skipped rows offered again at the end (not draws: no probability)."""
        return Plan(
            np.concatenate([self.chosen, extra]),
            np.concatenate([self.audit, np.zeros(len(extra), dtype=bool)]),
            self.scores,
            self.reason,
            np.concatenate([self.probability, np.full(len(extra), np.nan)]),
            (*self.policy, *([REOFFERED_POLICY] * len(extra))),
            np.concatenate([self.explored, np.zeros(len(extra), dtype=bool)]),
            self.sample,
        )


@dataclass(frozen=True)
class Offer:
    """What one plan offered, kept for the labels that answer it (not its scores: a
    plan's per-row scores would keep old fits' arrays alive)."""

    chosen: np.ndarray
    probability: np.ndarray
    policy: tuple[str, ...]
    audit: np.ndarray


@dataclass(frozen=True)
class Answer:
    """The queue slot a label answered: its selection probability (None: no draw), its
    policy in words, and whether it was an audit slot."""

    probability: float | None = None
    policy: str | None = None
    audit: bool = False


@dataclass(frozen=True)
class SlotPolicy:
    """What an estimate needs to know of one slot's draw, as written in `query_policy`.

    The policy text ends "deff=D; [within=F; ]support=N; floor=L". support: how many
    items the slot could have drawn (the fresh items left). floor: support times the
    smallest probability any of them had, so 1 means uniform and 0 means some item
    could not have been drawn (a deterministic top-k pick). deff: Kish's design effect
    of the first slot, the mean of 1 / (support * probability): how many draws of this
    slot are worth one uniform draw for an outcome alike everywhere (1: uniform; about
    1 / audit_share for top-k with audits). An estimate may weigh a label by
    1 / probability only when floor > 0, and must check that the support was every
    unlabeled item (a focus, a routing cut or a skip narrows it).
    """

    support: int
    floor: float
    deff: float = 1.0

    @classmethod
    def parse(cls, text: str | None) -> SlotPolicy | None:
        match = _POLICY_TAIL.search(text or "")
        if match is None:
            return None
        return cls(int(match.group(2)), float(match.group(3)), float(match.group(1)))


class AuditSchedule:
    """Which queue slots are uniformly random audit items, and in which order they come.

    The slot pattern and the item order are seeded permutations independent of the
    model, so the first unlabeled item in the order is a uniform draw from the
    unlabeled pool: its label, compared with the model's prediction made before it, is
    an unbiased check.
    """

    def __init__(self, n_items: int, share: float, rng: np.random.Generator):
        self.share = share
        self.order = _compact(rng.permutation(n_items))
        self.slots = rng.random(AUDIT_DRAWS) < share

    def is_audit(self, slot: int) -> bool:
        return bool(self.slots[slot % AUDIT_DRAWS])

    def candidates(self, fresh: np.ndarray, count: int) -> list[int]:
        """The first `count` fresh items in the seeded order (uniform draws, in turn)."""
        picks: list[int] = []
        for start in range(0, len(self.order), AUDIT_DRAWS):
            window = self.order[start : start + AUDIT_DRAWS]
            picks.extend(window[fresh[window]][: count - len(picks)].tolist())
            if len(picks) >= count:
                break
        return picks


class SlotDraws:
    """Fills queue slots one by one and knows each pick's selection probability.

    Slot j is an audit, an exploration or a top-k slot by a seeded pattern (independent
    of the data, i.i.d. per slot with the shares `audit`, `explore` and the rest). Given
    the items already placed, an item's probability of filling slot j is
    audit / n + explore * w / W + top * [it is the best remaining item], with n the
    fresh items left, w its exploration weight and W their total; ties for the best
    share the top-k part equally, since the seeded tie-break order is a uniform shuffle.
    Exploration weights are the square roots of the scores minus their minimum over the
    fresh items (any strategy's scale works; equal scores make the draw uniform), plus
    EXPLORE_FLOOR times their mean. The square root is Zrnic and Candès' variance-optimal
    sampling for estimation when the residual variance grows like the score (margin:
    2 p (1 - p) ~ 1 - |p1 - p0|); plain proportional draws would give confident items
    too little chance to be checked. The added floor is a defensive mixture (Hesterberg
    1995): no item's weight in an estimate can exceed a bound, and an exploration draw
    can be kept as a uniform one (an audit) with chance lightest weight / its weight.
    """

    def __init__(
        self,
        scores: np.ndarray,
        fresh: np.ndarray,
        ranked: np.ndarray,
        shares: tuple[float, float],
        ties_are_random: bool,
    ):
        self.scores = scores
        self.fresh = fresh
        self.audit, self.explore = shares
        self.top = max(0.0, 1.0 - self.audit - self.explore)
        self.ties_are_random = ties_are_random
        self.ranked = [int(p) for p in ranked]
        self._next = 0  # ranked[:_next] are all taken: best() never looks back
        self.taken: set[int] = set()
        self._taken_scores: Counter[float] = Counter()  # for ties without rescanning
        self._same_score: dict[float, int] = {}  # fresh items per score, counted once
        self.left = int(np.count_nonzero(fresh))
        self.positions = np.flatnonzero(fresh) if self.explore > 0 else np.empty(0, np.intp)
        spread = scores[self.positions] - scores[self.positions].min() if self.explore > 0 else []
        weights = np.sqrt(np.asarray(spread, dtype=float))
        if not weights.any():  # every score equal: an exploration draw is uniform
            weights = np.ones(len(self.positions))
        weights = weights + EXPLORE_FLOOR * weights.mean() if len(weights) else weights
        self.weights = weights
        self.cumulative = np.cumsum(weights)
        self.weight_left = float(self.cumulative[-1]) if len(weights) else 0.0
        self.lightest = float(weights.min()) if len(weights) else 0.0

    def best(self) -> int | None:
        """The best ranked item not yet placed (amortised O(1): a cursor over `ranked`)."""
        while self._next < len(self.ranked) and self.ranked[self._next] in self.taken:
            self._next += 1
        return self.ranked[self._next] if self._next < len(self.ranked) else None

    def can_explore(self) -> bool:
        return self.explore > 0 and self.weight_left > 1e-12 * float(self.cumulative[-1])

    def draw_by_weight(self, rng: np.random.Generator) -> int:
        """An item drawn in proportion to its weight among those not yet placed."""
        while True:
            target = rng.random() * self.cumulative[-1]
            index = int(np.searchsorted(self.cumulative, target, side="right"))
            index = min(index, len(self.positions) - 1)
            position = int(self.positions[index])
            if position not in self.taken and self.weights[index] > 0:
                return position

    def kept_as_audit(self, position: int, coin: float) -> bool:
        """Whether an exploration draw of `position` also serves as an audit: kept with
        chance lightest / its weight (rejection sampling), so that each item not yet
        placed is drawn and kept with the same chance, lightest / W, whatever its score.
        `coin`: a uniform number drawn apart from the data."""
        return coin * self._weight(position) <= self.lightest

    def place(self, position: int) -> tuple[float, float]:
        """Take `position` for the next slot: its selection probability and the floor."""
        best = self.best()
        tied = self._tied_with(best) if best is not None and self.ties_are_random else 1
        top_part = 0.0
        if best is not None and (
            position == best or (tied > 1 and self.scores[position] == self.scores[best])
        ):
            top_part = 1.0 / tied
        weight = self._weight(position)
        probability = self.audit / self.left + self.top * top_part
        floor = self.audit + self.top * float(best is not None and tied == self.left)
        if self.explore > 0 and self.weight_left > 0:
            probability += self.explore * weight / self.weight_left
            floor += self.explore * self.left * self.lightest / self.weight_left
        self.taken.add(position)
        self._taken_scores[float(self.scores[position])] += 1
        self.left -= 1
        self.weight_left -= weight
        return probability, floor

    def design_effect(self) -> float:
        """Mean of 1 / (n * probability) over the n fresh items, before any is placed."""
        n, best = self.left, self.best()
        if n == 0 or best is None:
            return 1.0
        tied = self._tied_with(best) if self.ties_are_random else 1
        if self.explore > 0 and self.weight_left > 0:
            scaled = self.audit + self.explore * n * self.weights / self.weight_left
            at_top = self.scores[self.positions] == self.scores[best] if tied > 1 else None
            if at_top is None:
                scaled[int(np.searchsorted(self.positions, best))] += self.top * n
            else:
                scaled[at_top] += self.top * n / tied
            return float(np.mean(1.0 / scaled)) if scaled.min() > 0 else float("inf")
        at_top = self.audit + self.top * n / tied  # n * probability of a tied best item
        if self.audit == 0 and tied < n:
            return float("inf")
        rest = (n - tied) / self.audit if tied < n else 0.0
        return (rest + tied / at_top) / n

    def _weight(self, position: int) -> float:
        if self.explore == 0:
            return 0.0
        return float(self.weights[int(np.searchsorted(self.positions, position))])

    def _tied_with(self, best: int) -> int:
        """How many items not yet placed share the best item's score."""
        top = float(self.scores[best])
        rest = islice(self.ranked, self._next + 1, None)
        following = (p for p in rest if p not in self.taken)
        second = next(following, None)
        if second is not None and self.scores[second] < top:
            return 1
        if top not in self._same_score:  # one pass over the pool per distinct top score
            self._same_score[top] = int(np.count_nonzero(self.scores[self.fresh] == top))
        return self._same_score[top] - self._taken_scores[top]


class QueuePlanner:
    """Ranks a pool for one Session: top-k by score, seeded ties, audits, skips last.

    `explore` (default 0: the deterministic top-k) is the share of slots drawn at random,
    more uncertain items more likely (see `SlotDraws`), once a model exists. It costs some label
    efficiency and buys selection probabilities that let every actively chosen label
    count in an unbiased accuracy estimate (see `analysis.estimates`).
    """

    def __init__(
        self,
        pool: Pool,
        strategy: QueryStrategy,
        audit_share: float,
        seed: int | None,
        explore: float = 0.0,
    ):
        if not 0.0 <= explore <= 1.0 - audit_share:
            raise ValueError(
                f"explore must be between 0 and 1 - audit_share ({1 - audit_share:g}), "
                f"got {explore!r}"
            )
        rng = np.random.default_rng(seed)
        self.pool = pool
        self.strategy = strategy
        self.explore = explore
        self.tiebreak = _compact(rng.permutation(len(pool)))  # seeded order: ties, cold start
        self.audits = AuditSchedule(
            len(pool), audit_share, np.random.default_rng(rng.integers(2**63))
        )
        draws = np.random.default_rng(rng.integers(2**63))  # drawn last: the above stay as before
        self._draw_seed = int(draws.integers(2**63))
        rest = 1.0 - audit_share
        chance = explore / rest if rest > 0 else 0.0
        self._explore_slots = ~self.audits.slots & (draws.random(AUDIT_DRAWS) < chance)
        self._zeros: np.ndarray | None = None  # the scores before a fit, made when needed
        self._free_scores: np.ndarray | None = None
        self._offers: OrderedDict[int, Offer] = OrderedDict()  # by plan id, newest last
        self._offers_lock = threading.Lock()
        self._next_plan = 0
        # (scores array, its HEAD best rows in ranking order) of the latest fit prepared
        self._head: tuple[np.ndarray, np.ndarray] | None = None
        self._sample_rank: tuple[SampleFit, np.ndarray] | None = None

    def prepare(self, fit: FitResult) -> None:
        """Rank the head of a new fit's pool, on the refit thread, before it is published.

        The first HEAD rows of the whole pool in ranking order (score, then the seeded
        tie-break) are a prefix of every eligible ranking: the k best eligible rows are
        the first k eligible rows of the head whenever it holds k of them. So the queues
        that follow a fit skip the pass over the pool (a partition of 1M scores: ~9 ms)
        and fall back to it only when labels, a focus or a routing cut used up the head.
        """
        scores = fit.pool.scores
        size = min(HEAD, len(scores))
        head = top_k(scores, self.tiebreak, _likely_top(scores, size), size)
        self._head = (scores, head)
        warm = getattr(self.pool.X, "warm", None)  # rows on a cluster: fetch the likely next
        if warm is not None:
            warm(head[:WARM_ROWS])

    def answered(
        self, position: int, done: Callable[[np.ndarray], bool], plan_id: int | None = None
    ) -> Answer:
        """The queue slot a label of this row answers: in plan `plan_id` (the list the
        card on screen came from, which a browser knows and the kernel cannot: it keeps
        its card through a re-rank), or else in the latest plan that offered the row.

        A label is a draw of that slot only if every row the plan placed before it is
        `done` (labeled, settled or skipped): a row taken while rows ahead of it were
        open was chosen by a person, not drawn (picked from "up next"), and records no
        probability and no audit. A plan older than other labels still answers: an
        audit stays a uniform draw of the rows still open, and the estimate refuses a
        probability whose support is no longer the unlabeled pool.
        """
        with self._offers_lock:
            if plan_id is not None:
                offer = self._offers.get(plan_id)
            else:
                offer = next(
                    (o for o in reversed(self._offers.values()) if position in o.chosen), None
                )
        if offer is None or position not in offer.chosen:
            return Answer()
        j = int(np.flatnonzero(offer.chosen == position)[0])
        if j > 0 and not done(offer.chosen[:j]):
            return Answer(policy=UNORDERED_POLICY)
        probability = float(offer.probability[j])
        return Answer(
            None if np.isnan(probability) else probability, offer.policy[j], bool(offer.audit[j])
        )

    def narrow(self, plan: Plan, positions: np.ndarray) -> int:
        """Keep the part of `plan` handed to this annotator (the rows a claim won), in its
        order, as a plan of its own (rows teammates won are not ahead of hers); its id."""
        keep = np.isin(plan.chosen, positions)
        policy = tuple(text for text, kept in zip(plan.policy, keep, strict=True) if kept)
        offer = Offer(plan.chosen[keep], plan.probability[keep], policy, plan.audit[keep])
        return self._keep(offer)

    def plan(self, state: QueueState, k: int) -> Plan:
        """The next k rows: fresh ones by score (audits mixed in), then skipped ones."""
        fresh = state.eligible & ~state.skipped
        if state.sample is not None:
            plan = self._from_sample(state, state.sample, fresh, k)
            if plan is not None:
                return self._remember(plan)
        scores, reason = self._scores(state.fit)
        # top-k slots take ranked rows in turn; rank 2k (a batch strategy: k) so that the
        # row after the last one taken is known: whether it ties with it decides that
        # slot's probability, and otherwise the ties are counted over the whole pool
        batch = state.fit is not None and getattr(self.strategy, "select", None) is not None
        ranked = self._select(state.fit, scores, fresh, k if batch else 2 * k)
        plan = self._fill(state, scores, reason, fresh, ranked, k)
        if len(plan.chosen) < k:
            skipped = state.eligible & state.skipped
            plan = plan.with_skipped(self._select(state.fit, scores, skipped, k - len(plan.chosen)))
        return self._remember(plan)

    def _fill(
        self,
        state: QueueState,
        scores: np.ndarray,
        reason: str,
        fresh: np.ndarray,
        ranked: np.ndarray,
        k: int,
    ) -> Plan:
        """Fill up to k slots from the fresh rows, slot by slot, with their probabilities."""
        active = state.fit is not None and len(ranked) > 0
        shares = (self.audits.share, self.explore) if active else (0.0, 0.0)
        batch = active and getattr(self.strategy, "select", None) is not None
        draws = SlotDraws(scores, fresh, ranked, shares, ties_are_random=not batch)
        audit_picks = iter(self.audits.candidates(fresh, 2 * k) if shares[0] > 0 else [])
        rng = np.random.default_rng([self._draw_seed, state.n_labels])
        coins = np.random.default_rng([self._draw_seed, state.n_labels, 1])
        name = self.strategy.name if state.fit is not None else "cold start"
        deff = draws.design_effect()
        chosen: list[int] = []
        kinds: list[str] = []
        probabilities: list[float] = []
        policies: list[str] = []
        for j in range(min(k, draws.left)):
            slot = state.n_labels + j
            kind = "top"
            if shares[0] > 0 and self.audits.is_audit(slot):
                kind, position = (
                    "audit",
                    next((p for p in audit_picks if p not in draws.taken), None),
                )
            elif self._explore_slots[slot % AUDIT_DRAWS] and draws.can_explore():
                position = draws.draw_by_weight(rng)
                kind = "audit" if draws.kept_as_audit(position, coins.random()) else "explore"
            else:
                position = draws.best()
            if position is None:
                break
            support = draws.left
            probability, floor = draws.place(position)
            chosen.append(position)
            kinds.append(kind)
            probabilities.append(probability)
            policies.append(_policy_text(name, shares, (deff, support, floor), state.within))
        return Plan(
            np.asarray(chosen, dtype=np.intp),
            np.asarray([kind == "audit" for kind in kinds], dtype=bool),
            scores,
            reason,
            np.asarray(probabilities, dtype=float),
            tuple(policies),
            np.asarray([kind == "explore" for kind in kinds], dtype=bool),
        )

    def _from_sample(
        self, state: QueueState, sample: SampleFit, fresh: np.ndarray, k: int
    ) -> Plan | None:
        """k fresh rows while the pool is rescored: the sample's best by the newest model,
        with the audit slots drawn from the whole pool as always; None if the sample has
        fewer than k fresh rows left (the full ranking, older, serves then)."""
        ranked = self._sample_ranking(sample)
        best = iter(ranked[fresh[ranked]].tolist())
        audit_picks = iter(self.audits.candidates(fresh, 2 * k) if self.audits.share else [])
        chosen: list[int] = []
        kinds: list[str] = []
        for j in range(k):
            audit = self.audits.share > 0 and self.audits.is_audit(state.n_labels + j)
            picks = audit_picks if audit else best
            position = next((p for p in picks if p not in chosen), None)
            if position is None:
                if audit:
                    break
                return None
            chosen.append(position)
            kinds.append("audit" if audit else "top")
        n = len(chosen)
        return Plan(
            np.asarray(chosen, dtype=np.intp),
            np.asarray([kind == "audit" for kind in kinds], dtype=bool),
            np.empty(0),
            f"uncertainty ({self.strategy.name}) on a random sample of "
            f"{len(sample.positions):,} items, by model v{sample.version}; the pool is "
            "being rescored",
            np.full(n, np.nan),
            (SAMPLE_POLICY,) * n,
            np.zeros(n, dtype=bool),
            sample,
        )

    def _sample_ranking(self, sample: SampleFit) -> np.ndarray:
        """The sample's rows best first (ties by the seeded order), once per sample fit."""
        cached = self._sample_rank
        if cached is not None and cached[0] is sample:
            return cached[1]
        order = np.lexsort((self.tiebreak[sample.positions], -sample.pool.scores))
        ranked = sample.positions[order]
        self._sample_rank = (sample, ranked)
        return ranked

    def _remember(self, plan: Plan) -> Plan:
        """Keep what the plan offered for the labels that may answer it; with its id."""
        offer = Offer(plan.chosen, plan.probability, plan.policy, plan.audit)
        return replace(plan, plan_id=self._keep(offer))

    def _keep(self, offer: Offer) -> int:
        with self._offers_lock:
            plan_id = self._next_plan
            self._next_plan += 1
            self._offers[plan_id] = offer
            if len(self._offers) > RECENT_PLANS:
                self._offers.popitem(last=False)
        return plan_id

    def _scores(self, fit: FitResult | None) -> tuple[np.ndarray, str]:
        if self.strategy.name == "random":
            scores = fit.pool.scores if fit is not None else self._no_scores()
            return scores, "random order (strategy='random')"
        if fit is not None:
            return fit.pool.scores, f"uncertainty ({self.strategy.name})"
        if not self.strategy.needs_model:
            return self._model_free_scores(), f"{self.strategy.name} (needs no model)"
        return self._no_scores(), COLD_START_REASON

    def _no_scores(self) -> np.ndarray:
        if self._zeros is None:
            self._zeros = np.zeros(len(self.pool))
        return self._zeros

    def _model_free_scores(self) -> np.ndarray:
        """Scores of a strategy that needs no model (computed once: they cannot change)."""
        if self._free_scores is None:
            raw = self.strategy.score(None, self.pool.X)
            self._free_scores = checked_scores(raw, len(self.pool), self.strategy.name)
        return self._free_scores

    def _select(
        self, fit: FitResult | None, scores: np.ndarray, eligible: np.ndarray, k: int
    ) -> np.ndarray:
        select = getattr(self.strategy, "select", None)
        if fit is None or select is None:
            head = self._head
            if head is not None and head[0] is scores:
                picked = head[1][eligible[head[1]]][:k]
                if len(picked) == k:
                    return picked
            return top_k(scores, self.tiebreak, eligible, k)
        candidates = top_k(scores, self.tiebreak, eligible, max(k * BATCH_CANDIDATES, 100))
        chosen = np.asarray(select(fit.model, self.pool.X, candidates, k), dtype=np.intp)
        return chosen[:k]


def _compact(order: np.ndarray) -> np.ndarray:
    """A permutation in 4 bytes a row when it fits (the same order, half the memory)."""
    return order.astype(np.int32) if len(order) < 2**31 else order


def _likely_top(scores: np.ndarray, size: int) -> np.ndarray:
    """Rows that surely include the `size` best: those scoring at least a cut guessed
    from a sample (one comparison pass instead of a partition of the whole pool); every
    row when the guess keeps too few, so the result is always exact."""
    if len(scores) <= 8 * size:
        return np.arange(len(scores))
    sample = scores[:: max(1, len(scores) // 20_000)]
    cut = np.quantile(sample, 1 - 2 * size / len(scores))  # about twice what is needed
    above = np.flatnonzero(scores >= cut)
    return above if len(above) >= size else np.arange(len(scores))


def _policy_text(
    name: str,
    shares: tuple[float, float],
    design: tuple[float, int, float],
    within: str | None,
) -> str:
    """The slot's policy in words, ending in the fields `SlotPolicy` reads back."""
    audit, explore = shares
    deff, support, floor = design
    top = max(0.0, 1.0 - audit - explore)
    narrowed = f"within={within}; " if within else ""
    return (
        f"{name}: audit {audit:g} uniform, explore {explore:g} by score, top-k {top:g}; "
        f"deff={deff:.6g}; {narrowed}support={support}; floor={floor:.6g}"
    )


def queue_frame(
    plan: Plan,
    fit: FitResult | None,
    classes: Sequence[Hashable],
    skipped: np.ndarray,
    index: pd.Index,
) -> pd.DataFrame:
    """The planned rows as the documented DataFrame.

    Audit rows carry no suggestion, confidence or score: they exist to measure the model
    without bias, and a person shown the model's guess is anchored by it. The core
    withholds them, so no client (a script, a widget of someone else's) can leak them.
    """
    chosen, audit = plan.chosen, plan.audit
    score, code, confidence = pool_view(fit, plan.sample, chosen)
    shown = (code >= 0) & ~audit
    suggestion = np.full(len(chosen), None, dtype=object)
    suggestion[shown] = np.asarray(classes, dtype=object)[code[shown]]
    score[audit] = np.nan
    confidence[audit] = np.nan
    ids = index[chosen]
    frame = pd.DataFrame(
        {
            "score": score,
            "suggestion": pd.Series(suggestion, index=ids, dtype=object),
            "confidence": confidence,
            "reason": np.select(
                [audit, plan.explored], [AUDIT_REASON, EXPLORE_REASON], plan.reason
            ),
            "audit": audit,
            "skipped": skipped[chosen],
        },
        index=ids,
    )
    frame.attrs["plan"] = plan.plan_id  # what a label answering these rows may name
    return frame
