"""Two drift statistics written out by hand: the Kolmogorov-Smirnov test and the PSI.

Both compare a *reference* sample (what the model was trained on, or a quiet week) with a
*current* sample (today's serving traffic). They answer different questions:

- KS asks "could these two samples come from the same distribution?" and returns a p-value.
  With thousands of rows per day even a harmless shift gets a tiny p-value, so KS alone
  alarms too often on big data; its statistic D (largest gap between the two CDFs) is the
  better thing to threshold.
- PSI (population stability index) asks "how much mass moved between bins?" and returns a
  size of shift that does not grow with the sample size. Rule of thumb: < 0.1 stable,
  0.1-0.25 moderate shift, > 0.25 major shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

# Evidently replaces an empty bin's share with this floor before taking the log; we do the same
# so both PSI numbers agree (an empty bin would otherwise give log(0) = -inf).
EMPTY_BIN_SHARE = 1e-4


def _clean(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float).ravel()
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        raise ValueError(f"{name} sample is empty (or all NaN): drift needs at least one value on each side")
    return arr


@dataclass(frozen=True)
class KSResult:
    statistic: float  # D = max |F_ref(x) - F_cur(x)|
    pvalue: float
    n_reference: int
    n_current: int


def ks_statistic(reference, current) -> float:
    """D: the largest vertical gap between the two empirical CDFs."""
    ref, cur = np.sort(_clean(reference, "reference")), np.sort(_clean(current, "current"))
    grid = np.concatenate([ref, cur])
    # F(x) = share of the sample <= x, evaluated at every observed value (the CDFs only jump there)
    cdf_ref = np.searchsorted(ref, grid, side="right") / ref.size
    cdf_cur = np.searchsorted(cur, grid, side="right") / cur.size
    return float(np.max(np.abs(cdf_ref - cdf_cur)))


def ks_test(reference, current) -> KSResult:
    """Two-sample KS test: D by hand, p-value from the asymptotic Kolmogorov distribution.

    P(D > d) ~ Q_KS(sqrt(n_eff) * d) with n_eff = n*m/(n+m). For the sample sizes of daily
    monitoring (hundreds of rows and more) this matches ``scipy.stats.ks_2samp`` closely.
    """
    ref, cur = _clean(reference, "reference"), _clean(current, "current")
    d = ks_statistic(ref, cur)
    n_eff = ref.size * cur.size / (ref.size + cur.size)
    # Stephens' small-sample correction of the argument
    lam = (np.sqrt(n_eff) + 0.12 + 0.11 / np.sqrt(n_eff)) * d
    return KSResult(d, float(min(1.0, special.kolmogorov(lam))), ref.size, cur.size)


def bin_edges(reference, current, bins: int | str = "sturges", strategy: str = "combined") -> np.ndarray:
    """Bin edges for PSI.

    ``combined``: equal-width bins over both samples (``np.histogram_bin_edges``), the choice
    Evidently makes, so our PSI can be matched against its report.
    ``quantile``: bins holding equal shares of the *reference*, the textbook choice: every bin
    starts with the same weight, so no bin dominates the sum.
    """
    ref, cur = _clean(reference, "reference"), _clean(current, "current")
    if strategy == "combined":
        return np.histogram_bin_edges(np.concatenate([ref, cur]), bins=bins)
    if strategy == "quantile":
        n = bins if isinstance(bins, int) else 10
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, n + 1)))
        # open the outer bins so current values beyond the reference range still count
        edges[0], edges[-1] = -np.inf, np.inf
        return edges
    raise ValueError(f"strategy={strategy!r}: use 'combined' or 'quantile'")


def _floor_empty(shares: np.ndarray) -> np.ndarray:
    nonzero = shares[shares > 0]
    floor = nonzero.min() / 1e6 if nonzero.size and nonzero.min() <= EMPTY_BIN_SHARE else EMPTY_BIN_SHARE
    return np.where(shares == 0, floor, shares)


def bin_shares(sample, edges: np.ndarray) -> np.ndarray:
    """Share of the sample in each bin, with empty bins floored at EMPTY_BIN_SHARE."""
    x = _clean(sample, "sample")
    return _floor_empty(np.histogram(x, edges)[0] / x.size)


def psi(reference, current, bins: int | str = "sturges", strategy: str = "combined", discrete_max: int = 20) -> float:
    """Population stability index: sum over bins of (ref% - cur%) * ln(ref% / cur%).

    A feature with at most ``discrete_max`` distinct reference values (a count, an hour, a flag)
    gets one bin per value instead of ranges, as Evidently does: ranges would split or merge its
    values arbitrarily.
    """
    ref, cur = _clean(reference, "reference"), _clean(current, "current")
    if strategy == "combined" and np.unique(ref).size <= discrete_max:
        values = np.union1d(ref, cur)
        p = _floor_empty(np.array([np.mean(ref == v) for v in values]))
        q = _floor_empty(np.array([np.mean(cur == v) for v in values]))
    else:
        edges = bin_edges(ref, cur, bins, strategy)
        p, q = bin_shares(ref, edges), bin_shares(cur, edges)
    return float(np.sum((p - q) * np.log(p / q)))


def psi_categorical(reference, current) -> float:
    """PSI for a categorical feature: one bin per category seen on either side."""
    import pandas as pd

    ref, cur = pd.Series(reference).dropna(), pd.Series(current).dropna()
    if ref.empty or cur.empty:
        raise ValueError("categorical PSI needs at least one non-null value on each side")
    cats = sorted(set(ref) | set(cur), key=str)
    p = ref.value_counts(normalize=True).reindex(cats, fill_value=0).to_numpy()
    q = cur.value_counts(normalize=True).reindex(cats, fill_value=0).to_numpy()
    p, q = np.where(p == 0, EMPTY_BIN_SHARE, p), np.where(q == 0, EMPTY_BIN_SHARE, q)
    return float(np.sum((p - q) * np.log(p / q)))
