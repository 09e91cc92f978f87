"""Clinics a resident can replay a triage exercise in, with where their figures come from.

A preset replaces the exercise's own clinic (shift, arrivals, reading time, radiologists,
backlog, prevalence); the exercise's scores, seed and threshold stay. The two presets are
the two settings the triage literature contrasts: a day list shared by several
radiologists, where reordering changes little, and an overnight list with a backlog and
one radiologist, where the AI's flags decide who waits hours (Baltruschat et al. 2021
simulated exactly this contrast for chest radiographs; Topff et al. 2023 measured it for
incidental PE on oncology CT, where un-prioritised positives waited days).

Prevalence 0.15: the share of CT pulmonary angiograms positive for PE in hospital series,
15.0 % (emergency) to 17.9 % (ICU) in Costa et al. 2014 and 21.6 % in a Dutch series of
3316 CTPAs (Insights Imaging 2023); below 10 % is usually read as over-use. Arrival
rates, reading times and the backlog are assumptions, stated as such on the page: chosen
so the overnight radiologist is busy (about 0.7 of capacity on arrivals alone, plus four
hours of backlog) and the day team is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from reading_room.simulation.triage import ArrivalPattern, ReadingTimeDistribution


@dataclass(frozen=True)
class TriageClinic:
    """What a triage simulation needs from its clinic (an exercise or a preset)."""

    shift_hours: float
    arrivals_per_hour: float
    arrival_pattern: str
    reading_minutes: float
    reading_time_distribution: str
    radiologists: int
    prevalence: float
    backlog_studies: int = 0

    @classmethod
    def of_exercise(cls, exercise) -> TriageClinic:
        return cls(
            shift_hours=exercise.shift_hours,
            arrivals_per_hour=exercise.arrivals_per_hour,
            arrival_pattern=exercise.arrival_pattern,
            reading_minutes=exercise.reading_minutes,
            reading_time_distribution=exercise.reading_time_distribution,
            radiologists=exercise.radiologists,
            prevalence=exercise.prevalence,
            backlog_studies=exercise.backlog_studies,
        )


@dataclass(frozen=True)
class TriagePreset:
    key: str
    title: str
    description: str
    clinic: TriageClinic


CTPA_PE_PREVALENCE = 0.15

TRIAGE_PRESETS: dict[str, TriagePreset] = {
    preset.key: preset
    for preset in (
        TriagePreset(
            key="overnight-backlog",
            title="Overnight: one radiologist, 30 studies waiting",
            description=(
                "A 10-hour night, 5 CTPAs an hour, 8 minutes a read, 30 studies already "
                "waiting at the start; one radiologist. PE prevalence 15 % (hospital CTPA "
                "series). Workload figures are assumptions."
            ),
            clinic=TriageClinic(
                shift_hours=10.0,
                arrivals_per_hour=5.0,
                arrival_pattern=ArrivalPattern.POISSON,
                reading_minutes=8.0,
                reading_time_distribution=ReadingTimeDistribution.LOGNORMAL,
                radiologists=1,
                prevalence=CTPA_PE_PREVALENCE,
                backlog_studies=30,
            ),
        ),
        TriagePreset(
            key="day-team",
            title="Day: three radiologists share the list",
            description=(
                "An 8-hour day, 25 studies an hour, 6 minutes a read, 15 waiting at the "
                "start; three radiologists. PE prevalence 15 %. Workload figures are "
                "assumptions."
            ),
            clinic=TriageClinic(
                shift_hours=8.0,
                arrivals_per_hour=25.0,
                arrival_pattern=ArrivalPattern.POISSON,
                reading_minutes=6.0,
                reading_time_distribution=ReadingTimeDistribution.LOGNORMAL,
                radiologists=3,
                prevalence=CTPA_PE_PREVALENCE,
                backlog_studies=15,
            ),
        ),
    )
}
