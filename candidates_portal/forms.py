"""The portal's forms: the time zone, a cancellation's reason, and the times a candidate proposes."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms

from scheduling.booking import WINDOWS_HORIZON

__all__ = ["TimezoneForm", "CancelForm", "WindowsForm"]


class TimezoneForm(forms.Form):
    zone = forms.CharField(max_length=64)
    next = forms.CharField(max_length=300, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(label="Reason (optional)", required=False, max_length=500,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="The recruiting team reads this. Please leave out phone numbers.")


class WindowsForm(forms.Form):
    """Up to ROWS times, each a date and a start and end time in the candidate's zone. Each error is attached
    to the field it is about; `summary()` names the time and the field ("Time 2, To: ..."). After
    `is_valid()`, `windows` holds the filled times as aware UTC pairs and `numbers` their row numbers."""

    ROWS = 5
    SHOWN = 2  # rows shown open; the others behind "Add more times"
    LABELS = {"date": "Date", "start": "From", "end": "To"}

    def __init__(self, *args, zone: zoneinfo.ZoneInfo, now: dt.datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone, self.now = zone, now
        today = now.astimezone(zone).date()
        last = (now + WINDOWS_HORIZON).astimezone(zone).date()
        self.windows: list[tuple[dt.datetime, dt.datetime]] = []
        self.numbers: list[int] = []
        for i in range(1, self.ROWS + 1):
            self.fields[f"date_{i}"] = forms.DateField(
                label="Date", required=False,
                widget=forms.DateInput(attrs={"type": "date", "min": today.isoformat(), "max": last.isoformat()},
                                       format="%Y-%m-%d"))
            for name in ("start", "end"):
                self.fields[f"{name}_{i}"] = forms.TimeField(
                    label=self.LABELS[name], required=False,
                    widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"))

    def _typed(self, i: int) -> bool:
        return any(str(self.data.get(f"{n}_{i}", "")).strip() for n in self.LABELS)

    def clean(self):
        data = super().clean()
        self.windows, self.numbers = [], []
        for i in range(1, self.ROWS + 1):
            if not self._typed(i) or any(f"{n}_{i}" in self.errors for n in self.LABELS):
                continue
            day, start, end = data.get(f"date_{i}"), data.get(f"start_{i}"), data.get(f"end_{i}")
            missing = {"date": day, "start": start, "end": end}
            if any(v is None for v in missing.values()):
                for n, v in missing.items():
                    if v is None:
                        self.add_error(f"{n}_{i}", {"date": "Enter the date.", "start": "Enter the start time.",
                                                    "end": "Enter the end time."}[n])
                continue
            self._window(i, day, start, end)
        if not self.windows and not self.errors:
            self.add_error("date_1", "Give at least one day and time that suits you.")
        return data

    def _local(self, i: int, name: str, day: dt.date, at: dt.time) -> dt.datetime | None:
        local = dt.datetime.combine(day, at, tzinfo=self.zone)
        if local.astimezone(dt.UTC).astimezone(self.zone).replace(tzinfo=None) != local.replace(tzinfo=None):
            self.add_error(f"{name}_{i}", f"This time does not exist in {self.zone} that day (the clocks change).")
            return None
        return local.astimezone(dt.UTC)

    def _window(self, i: int, day: dt.date, start: dt.time, end: dt.time) -> None:
        a, b = self._local(i, "start", day, start), self._local(i, "end", day, end)
        if a is None or b is None:
            return
        if b <= a:
            self.add_error(f"end_{i}", "Must be later than the start time (From).")
        elif a <= self.now:
            self.add_error(f"start_{i}" if day == self.now.astimezone(self.zone).date() else f"date_{i}",
                           "Must be in the future.")
        elif b > self.now + WINDOWS_HORIZON:
            self.add_error(f"date_{i}", f"Must be within the next {WINDOWS_HORIZON.days} days.")
        else:
            self.windows.append((a, b))
            self.numbers.append(i)

    def rows(self) -> dict:
        """The rows to render, each with its three bound fields (fields with errors point at them): `first`
        (always shown), `more` (behind "Add more times"), `open_more` (one of those holds input or an error)."""
        out = []
        for i in range(1, self.ROWS + 1):
            fields = {}
            for n in self.LABELS:
                bound = self[f"{n}_{i}"]
                if bound.errors:
                    bound.field.widget.attrs.update({"aria-invalid": "true",
                                                     "aria-describedby": f"{bound.auto_id}-error"})
                fields[n] = bound
            out.append({"number": i, **fields, "has_errors": any(f.errors for f in fields.values())})
        more = out[self.SHOWN:]
        return {"first": out[:self.SHOWN], "more": more,
                "open_more": any(r["has_errors"] or self._typed(r["number"]) for r in more)}

    def summary(self) -> list[dict]:
        """Every error as `{"id", "text"}`, naming the time and the field, in form order."""
        out = [{"id": "", "text": str(e)} for e in self.non_field_errors()]
        for i in range(1, self.ROWS + 1):
            for n, label in self.LABELS.items():
                bound = self[f"{n}_{i}"]
                out += [{"id": bound.auto_id, "text": f"Time {i}, {label}: {e}"} for e in bound.errors]
        return out

    def service_error(self, field: str, message: str) -> None:
        """Attach an error the booking service raised (`windows[k]` is the k-th filled time) to its row."""
        if field.startswith("windows[") and field[8:-1].isdigit() and int(field[8:-1]) < len(self.numbers):
            self.add_error(f"date_{self.numbers[int(field[8:-1])]}", message[:1].upper() + message[1:] + ".")
        else:
            self.add_error(None, message[:1].upper() + message[1:] + ".")
