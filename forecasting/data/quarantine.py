"""Row-level rejection bookkeeping: every rejected row keeps its file, row, raw values and reason.

The identity `rows_in = rows_out + rows_quarantined` is enforced by construction: a row is
either alive or carries exactly one reason (the first check it failed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.readers import FILE_COL, ROW_COL

REASONS: dict[str, str] = {
    "ragged_row": "the CSV row has more or fewer fields than the header",
    "missing_series_id": "series id is empty",
    "unparseable_timestamp": "timestamp cannot be parsed with the configured format",
    "nonexistent_local_time": "local time that never existed (clocks went forward)",
    "off_grid_timestamp": "timestamp is not aligned to the data frequency",
    "unparseable_target": "value is not a number",
    "non_finite_target": "value is empty, NaN or infinite",
    "negative_target": "negative value of a target that cannot be negative (see the detail)",
    "spike": "implausibly large value",
    "duplicate_timestamp": "another reading of the same series and time was kept",
    "incomplete_interval": "output interval lacks some of its source readings",
    "unknown_level": "text level not in the configured value mapping",
}
QUARANTINE_COLUMNS = [
    "source_file",
    "source_row",
    "reason",
    "detail",
    "series_id",
    "timestamp",
    "value",
]


class Quarantine:
    """Collects rejections for one raw table, first failing check wins."""

    def __init__(
        self,
        raw: pd.DataFrame,
        id_col: str | None,
        ts_col: str,
        value_cols: list[str],
        id_value: str | None = None,
    ):
        """`id_value` is the series id of a one-series file (no id column)."""
        self.raw = raw
        self.id_col = id_col
        self.id_value = id_value
        self.ts_col = ts_col
        self.value_cols = value_cols
        self.code = np.zeros(len(raw), dtype=np.int16)  # 0 = alive
        self.detail = np.empty(len(raw), dtype=object)
        self._names = list(REASONS)

    @property
    def alive(self) -> np.ndarray:
        return self.code == 0

    def reject(self, mask: np.ndarray | pd.Series, reason: str, detail: object = None) -> int:
        """Reject rows in `mask` that are still alive; `detail` is a string or per-row array."""
        if reason not in REASONS:
            raise KeyError(reason)
        m = np.asarray(mask, dtype=bool) & self.alive
        if not m.any():
            return 0
        self.code[m] = self._names.index(reason) + 1
        if detail is not None:
            if isinstance(detail, str):
                self.detail[m] = detail
            else:
                self.detail[m] = np.asarray(detail, dtype=object)[m]
        return int(m.sum())

    def counts(self) -> dict[str, int]:
        codes, counts = np.unique(self.code[self.code > 0], return_counts=True)
        return {self._names[c - 1]: int(n) for c, n in zip(codes, counts, strict=True)}

    def frame(self) -> pd.DataFrame:
        idx = np.flatnonzero(self.code > 0)
        raw = self.raw.iloc[idx]
        reasons = np.array(self._names, dtype=object)[self.code[idx] - 1]

        def text(col: str | None, constant: str | None = None) -> pd.Series:
            if col is None:
                return pd.Series([constant] * len(raw), dtype="string")
            return raw[col].astype("string")

        if len(self.value_cols) == 1:
            value = text(self.value_cols[0])
        else:
            value = (
                raw[self.value_cols]
                .astype("string")
                .apply(lambda r: ", ".join(f"{k}={v}" for k, v in r.items()), axis=1)
                if len(raw)
                else pd.Series([], dtype="string")
            )
        out = pd.DataFrame(
            {
                "source_file": raw[FILE_COL].astype("string").to_numpy(),
                "source_row": raw[ROW_COL].astype("int64").to_numpy(),
                "reason": pd.array(reasons, dtype="string"),
                "detail": pd.array(self.detail[idx], dtype="string"),
                "series_id": text(self.id_col, self.id_value).to_numpy(),
                "timestamp": text(self.ts_col).to_numpy(),
                "value": pd.array(value.to_numpy(), dtype="string"),
            }
        )
        return out

    def examples(self, per_reason: int = 3) -> dict[str, list[dict[str, object]]]:
        q = self.frame()
        out: dict[str, list[dict[str, object]]] = {}
        for reason, grp in q.groupby("reason", sort=True):
            rows = []
            for rec in grp.head(per_reason).to_dict("records"):
                rows.append(
                    {k: (None if pd.isna(v) else v) for k, v in rec.items() if k != "reason"}
                )
            out[str(reason)] = rows
        return out


def concat_quarantine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(
            {
                c: pd.Series(dtype="int64" if c == "source_row" else "string")
                for c in QUARANTINE_COLUMNS
            }
        )
    return pd.concat(frames, ignore_index=True)[QUARANTINE_COLUMNS]
