"""Reading a CSV or Parquet file into a DataFrame, with user-facing errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.errors import DataError

SUFFIXES = (".csv", ".parquet")


def read_table(path: Path, verb: str = "load") -> pd.DataFrame:
    """Read ``path``; CSV cells stay text so that every cell can be checked by the caller.

    ``verb`` completes the error messages ("Cannot {verb} prices.csv: ...").

    Raises
    ------
    DataError
        For an unsupported extension, a missing file, or a file the reader cannot parse.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"Cannot {verb} {path}: only .csv and .parquet files are supported, not "
                        f"'{suffix or path.name}'.")
    if not path.is_file():
        raise DataError(f"Cannot {verb} {path}: the file does not exist.")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"Cannot {verb} {path}: the file is empty.") from None
    except (ValueError, OSError, NotImplementedError, ImportError) as exc:
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise DataError(
            f"Cannot {verb} {path}: it is not a readable {kind} file ({exc}).") from None
