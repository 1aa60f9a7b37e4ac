"""The claims file: the columns of the settlement contract (``docs/settlement.md``, "A claim"), written with pyarrow.

Every column is built by Arrow kernels (``take`` from small lookup arrays, integer-to-text casts),
never by a Python loop per row. Money is written as decimal text in major units with the
profile's minor digits, made exactly from the integer minor units (an Arrow decimal over the same
integers). Levels, care types and categories are written in the profile's (the policy's) words.
CSV is written unquoted: no value contains a comma, quote or newline (Arrow refuses the row
otherwise); Parquet keeps the same text columns so both files read the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from equicover.synth import parameters as P
from equicover.synth.generator import AREA_BIT, Claims, ProviderTable
from equicover.synth.profile import Profile, get_profile

CLAIM_ID_DIGITS = 8


def _indexes(values: np.ndarray) -> pa.Int64Array:
    """Positions into a lookup array, for ``take``."""
    return pa.array(values.astype(np.int64), type=pa.int64())


def money_text(minor: np.ndarray, minor_digits: int = P.MINOR_DIGITS) -> pa.Array:
    """Integer minor units -> exact decimal text ("1234.56"), through an Arrow decimal."""
    values = np.ascontiguousarray(minor, dtype=np.int64)
    # decimal128 stores each value as a little-endian 128-bit integer: low word, then the sign.
    words = np.empty((len(values), 2), dtype=np.int64)
    words[:, 0] = values
    words[:, 1] = values >> 63
    decimal = pa.Array.from_buffers(pa.decimal128(38, minor_digits), len(values), [None, pa.py_buffer(words.data)])
    return decimal.cast(pa.string())


def category_text(masks: np.ndarray, profile: Profile | None = None) -> pa.Array:
    """Category bit masks -> ``;``-joined words in the order of ``CATEGORIES`` then the profile's
    area category ("" for none)."""
    profile = profile or get_profile()
    bits = [(profile.word(name), bit) for name, bit in P.CATEGORY_BIT.items()]
    if profile.area_category:
        bits.append((profile.area_category, AREA_BIT))
    lookup = pa.array(
        [";".join(word for word, bit in bits if mask & bit) for mask in range(1 << len(bits))],
        type=pa.string(),
    )
    return lookup.take(_indexes(masks))


def claim_ids(count: int, year: int) -> pa.Array:
    width = max(CLAIM_ID_DIGITS, len(str(count)))
    sequence = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, count + 1, dtype=np.int64)), pa.string()), width, "0")
    # The type stubs want arguments all of one kind (arrays, or scalars): a scalar prefix with an
    # array, and the separator given last as a str, match none of them.
    return pc.binary_join_element_wise(pa.scalar(f"C{year}-"), sequence, "")  # type: ignore[call-overload]


def claims_table(
    claims: Claims, *, providers: ProviderTable, first_person_id: int, year: int, profile: Profile | None = None
) -> pa.Table:
    """The claims as an Arrow table in the contract's columns and order, in the profile's words.

    ``member_id`` is the person's registry id (``first_person_id`` + the person's index), as text.
    """
    profile = profile or get_profile()
    member_ids = pc.cast(pa.array(claims.person.astype(np.int64) + first_person_id), pa.string())
    columns = {
        "claim_id": claim_ids(claims.size, year),
        "member_id": member_ids,
        "service_date": pa.array(claims.service_date, type=pa.date32()),
        "provider_id": pa.array(providers.codes, type=pa.string()).take(pa.array(claims.provider)),
        "provider_level": pa.array(profile.levels, type=pa.string()).take(_indexes(claims.level)),
        "designated": pa.array(claims.designated, type=pa.bool_()),
        "in_area": pa.array(claims.in_area, type=pa.bool_()),
        "referred": pa.array(claims.referred, type=pa.bool_()),
        "care_type": pa.array([profile.care_type(name) for name in P.CARE_TYPES], type=pa.string()).take(
            _indexes(claims.care_type)
        ),
        "diagnosis": pa.array(claims.diagnosis_codes, type=pa.string()).take(_indexes(claims.diagnosis)),
        "days": pa.array(claims.days, type=pa.int32()),
        "total": money_text(claims.total, profile.minor_digits),
        "eligible": money_text(claims.eligible, profile.minor_digits),
        "categories": category_text(claims.category_mask, profile),
    }
    return pa.table(columns).select(list(P.CLAIM_COLUMNS))


def is_parquet_path(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


def write_claims(table: pa.Table, path: Path, *, parquet: bool | None = None) -> None:
    """CSV (header without quotes, values unquoted) or Parquet (default: when the path ends in
    ``.parquet``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_parquet_path(path) if parquet is None else parquet:
        pq.write_table(table, path, compression="zstd")
        return
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(table.column_names) + "\n").encode())
        pa_csv.write_csv(
            table,
            sink,
            write_options=pa_csv.WriteOptions(include_header=False, quoting_style="none", batch_size=65_536),
        )
