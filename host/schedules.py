"""L0: fixed schedule baselines (fraction of nominal capacity by hour of day and day type).

"office" is the ASHRAE 90.1 (Appendix G) office occupancy profile that building-energy
models use when nothing is measured; L0 is what the measured levels are compared with.
Hours are local standard time; index 0 covers 00:00-01:00.
"""
from __future__ import annotations

import numpy as np

_OFFICE_WEEKDAY = [0, 0, 0, 0, 0, 0, 0.1, 0.2, 0.95, 0.95, 0.95, 0.95,
                   0.5, 0.95, 0.95, 0.95, 0.95, 0.3, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05]
_OFFICE_SATURDAY = [0, 0, 0, 0, 0, 0, 0.1, 0.1, 0.3, 0.3, 0.3, 0.3,
                    0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0, 0, 0, 0, 0]
_OFFICE_SUNDAY = [0, 0, 0, 0, 0, 0, 0, 0, 0.05, 0.05, 0.05, 0.05,
                  0.05, 0.05, 0.05, 0.05, 0.05, 0, 0, 0, 0, 0, 0, 0]
_LAB_WEEKDAY = [0, 0, 0, 0, 0, 0, 0, 0, 0.3, 0.6, 0.8, 0.8,
                0.4, 0.7, 0.8, 0.8, 0.6, 0.3, 0.1, 0.05, 0, 0, 0, 0]
_ZERO = [0.0] * 24

# name -> (weekday, saturday, sunday) hourly fractions
SCHEDULES = {
    "office": (_OFFICE_WEEKDAY, _OFFICE_SATURDAY, _OFFICE_SUNDAY),
    "academic_lab": (_LAB_WEEKDAY, _ZERO, _ZERO),
    "always": ([1.0] * 24,) * 3,
    "never": (_ZERO,) * 3,
}


def schedule_fraction(name, local_times):
    """Fractions for an array of local datetime64 step starts."""
    week, sat, sun = (np.asarray(p, float) for p in SCHEDULES[name])
    t = np.asarray(local_times, "datetime64[m]")
    hours = (t - t.astype("datetime64[D]")).astype(int) // 60
    weekday = (t.astype("datetime64[D]").astype(np.int64) + 3) % 7   # 1970-01-01 was a Thursday; 0 = Monday
    return np.where(weekday == 5, sat[hours], np.where(weekday == 6, sun[hours], week[hours]))
