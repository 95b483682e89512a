"""What a page needs to show a patient's charts: each figure's JSON, its sentence, and its table rows."""
from datetime import date, timedelta

from . import individual, to_json


def for_provider(data, standard: list[tuple[date, int]] = ()) -> dict:
    """The provider's view of one patient: timeline (with the standard GAD-7s, `standard`:
    (local date, total) pairs, as their own markers), aligned intervals, side effects, and the
    per-session durability results that the timeline marks."""
    firsts = data.first_treatment_on()
    timeline = individual.timeline(data, firsts, standard=standard)
    aligned, aligned_rows = individual.aligned(data)
    effects, effect_rows = individual.side_effects(data.checkins, start=data.today - timedelta(days=89), end=data.today)
    return dict(
        analysis=data.analysis,
        treatments_by_date=firsts,
        timeline_json=to_json(timeline.figure), timeline_summary=timeline.summary,
        aligned_json=to_json(aligned.figure), aligned_summary=aligned.summary, aligned_rows=aligned_rows,
        effects_json=to_json(effects.figure), effects_summary=effects.summary, effect_rows=effect_rows,
        format_number=individual._fmt,
    )
