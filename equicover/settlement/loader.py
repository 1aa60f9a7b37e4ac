"""Policy files: TOML -> a validated ``Policy``, or every mistake with its file, line and key.

A bad policy never settles anything, so the loader is strict: unknown keys at every level, values
of the wrong type, unknown provider levels / care types / diagnosis groups in conditions, bands
out of order, ratios outside [0, 1] or with more than 6 decimals, money that is not a decimal
string or has more decimals than the currency, periods that end before they start. All problems
of a file are collected before ``PolicyError`` is raised, so an analyst fixes them in one pass.
``check_policies`` also reports two policies with the same id whose effective periods overlap.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from equicover.errors import EquicoverError
from equicover.money import (
    RATIO_SCALE,
    MoneyError,
    minor_digits_of,
    parse_money,
    parse_ratio,
)
from equicover.settlement.model import (
    CONDITION_KEYS,
    NAME_LANGUAGES,
    Allowance,
    AllowancePer,
    AreaRule,
    Band,
    CardHolder,
    Condition,
    ContributionKind,
    ContributionRules,
    FixedFee,
    Layer,
    LayerKind,
    LocalNames,
    Policy,
    Scope,
    SubsidyRule,
    Variant,
    When,
)
from equicover.settlement.model import Base as LayerBase
from equicover.settlement.toml_lines import (
    MAX_NESTING,
    MAX_NUMBER_DIGITS,
    FileProblem,
    KeyPath,
    TomlLineIndex,
    format_key_path,
    limit_problem,
    quoted_choices,
    read_data_file,
    syntax_problem,
    toml_type_name,
    too_deep,
)

COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
TIME_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$")
ICD10_PREFIX = re.compile(r"^[A-Z][0-9A-Z]{0,2}(\.?[0-9A-Z]{1,4})?$")
MONTH_DAY = re.compile(r"^([0-9]{2})-([0-9]{2})$")
MEMBER_PAYER = "member"  # the payer name of the member's own share in contribution rows

# The words a policy may choose from, typed as the model's literals so that a checked choice is one.
LAYER_KINDS: tuple[LayerKind, ...] = ("bands", "oop_cap")
LAYER_BASES: tuple[LayerBase, ...] = ("eligible", "total")
LAYER_SCOPES: tuple[Scope, ...] = ("claim", "year")
ALLOWANCE_PERS: tuple[AllowancePer, ...] = ("claim", "day")
AREA_RULES: tuple[AreaRule, ...] = ("district", "province", "network")
CONTRIBUTION_KINDS: tuple[ContributionKind, ...] = ("flat", "wage_share")
_Choice = TypeVar("_Choice", bound=str)

TOP_LEVEL_KEYS = (
    "policy",
    "diagnosis_groups",
    "categories",
    "fixed_fee",
    "layer",
    "allowance",
    "contribution",
    "card",
    "referral",
    "area",
    "indicators",
)
AREA_KEYS = ("rule", "levels", "network")
CARD_KEYS = ("per", "valid_days")
REFERRAL_KEYS = ("letter_valid_days",)
CARD_HOLDERS: tuple[CardHolder, ...] = ("person", "household")
POLICY_KEYS = (
    "id",
    "name",
    "currency",
    "minor_digits",
    "effective_from",
    "effective_to",
    "year_start",
    "provider_levels",
    "care_types",
    "stay_days",
    "time_zone",
    "source",
    "names",
)
POLICY_REQUIRED = ("id", "name", "currency", "effective_from", "provider_levels", "care_types", "source")
COMMON_LAYER_KEYS = ("id", "payer", "kind", "base", "when", "names")
BAND_LAYER_KEYS = ("scope", "cap_per_claim", "cap_per_year", "max_cumulative_share", "of", "variant")
OOP_CAP_LAYER_KEYS = ("max_share", "max_per_year")
VARIANT_KEYS = ("when", "bands")
BAND_KEYS = ("upto", "ratio")
FIXED_FEE_KEYS = ("when", "fee")
ALLOWANCE_KEYS = ("id", "per", "amount", "when")
CONTRIBUTION_KEYS = (
    "kind",
    "amount",
    "household_cap",
    "reference_wage",
    "share",
    "rank_factors",
    "subsidy",
)
FLAT_KEYS = ("amount", "household_cap")
WAGE_SHARE_KEYS = ("reference_wage", "share", "rank_factors")
SUBSIDY_KEYS = ("when", "shares")
BOOLEAN_CONDITIONS = frozenset({"designated", "in_area", "referred"})

# When the currency is unknown the digits of money cannot be checked; this many still lets the
# loader check everything else instead of stopping at the first problem.
_UNKNOWN_DIGITS = 18


# A mistake in the file: where (file, line, key) and why.
PolicyProblem = FileProblem


class PolicyError(EquicoverError):
    """A policy that cannot be used; ``problems`` holds every mistake found."""

    status = 422
    code = "invalid_policy"

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    text = read_data_file(path, "policy file", PolicyError)
    return load_policy_text(text, path=str(path))


def load_policy_text(text: str, *, path: str = "<string>") -> Policy:
    limit = limit_problem(text)  # before tomllib, which recurses into nested arrays and tables
    if limit is not None:
        raise PolicyError([PolicyProblem(path, limit[0], "", limit[1])])
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError([syntax_problem(path, text, error)]) from None
    deep = too_deep(document)
    if deep is not None:
        key = deep[: MAX_NESTING + 1]
        line = TomlLineIndex(text).line_of(key) or 1
        message = f"tables and arrays are nested more than {MAX_NESTING} deep"
        raise PolicyError([PolicyProblem(path, line, format_key_path(key), message)])
    reader = _PolicyReader(path, text)
    policy = reader.read(document)
    if reader.problems or policy is None:
        raise PolicyError(reader.problems)
    return policy


def check_policies(paths: Iterable[str | Path]) -> list[PolicyProblem]:
    """Every problem of every file, and overlapping periods of policies sharing an id."""
    problems: list[PolicyProblem] = []
    loaded: list[tuple[Policy, int]] = []
    for path in paths:
        try:
            policy = load_policy(path)
        except PolicyError as error:
            problems.extend(error.problems)
            continue
        text = Path(path).read_text(encoding="utf-8")
        line = TomlLineIndex(text).line_of(("policy", "effective_from")) or 1
        for earlier, _ in loaded:
            if earlier.id == policy.id and _periods_overlap(earlier, policy):
                problems.append(
                    PolicyProblem(
                        str(path),
                        line,
                        "policy.effective_from",
                        f"the effective period of policy {policy.id!r} overlaps the one in "
                        f"{earlier.path} ({_period_text(earlier)}); a policy id must have one "
                        "version per day",
                    )
                )
        loaded.append((policy, line))
    return problems


def _periods_overlap(first: Policy, second: Policy) -> bool:
    first_end = first.effective_to or date.max
    second_end = second.effective_to or date.max
    return first.effective_from <= second_end and second.effective_from <= first_end


def _period_text(policy: Policy) -> str:
    end = policy.effective_to.isoformat() if policy.effective_to else "open"
    return f"{policy.effective_from.isoformat()} to {end}"


class _PolicyReader:
    """Reads one parsed document, collecting problems instead of stopping at the first."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text_of_file = text
        self._lines: TomlLineIndex | None = None  # built at the first problem: good files skip it
        self.problems: list[PolicyProblem] = []
        self.minor_digits = _UNKNOWN_DIGITS
        self.provider_levels: tuple[str, ...] = ()
        self.care_types: tuple[str, ...] = ()
        self.diagnosis_groups: dict[str, tuple[str, ...]] = {}
        self.category_map: dict[str, tuple[str, ...]] | None = None
        # When a list in the header could not be read, conditions naming its values are not
        # reported as unknown: the real problem is already reported.
        self.levels_known = True
        self.care_types_known = True

    # -- reporting -----------------------------------------------------------------------------

    def problem(self, path: KeyPath, message: str) -> None:
        if self._lines is None:
            self._lines = TomlLineIndex(self.text_of_file)
        line = self._lines.line_of(path) or 1
        self.problems.append(PolicyProblem(self.file, line, format_key_path(path), message))

    def keys(
        self,
        table: dict[str, Any],
        path: KeyPath,
        allowed: Sequence[str],
        required: Sequence[str] = (),
        refused: dict[str, str] | None = None,
    ) -> None:
        for key in table:
            if key in allowed:
                continue
            if refused and key in refused:
                self.problem(path + (key,), refused[key])
            else:
                self.problem(path + (key,), f"unknown key {key!r} (allowed here: {quoted_choices(allowed)})")
        for key in required:
            if key not in table:
                self.problem(path, f"missing required key {key!r}")

    # -- typed values --------------------------------------------------------------------------

    def table(self, value: object, path: KeyPath) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.problem(path, f"must be a table, not {toml_type_name(value)}")
        return None

    def tables(self, value: object, path: KeyPath) -> list[tuple[KeyPath, dict[str, Any]]]:
        """An array of tables (``[[x]]``) as (path, table) pairs; wrong elements are reported."""
        if isinstance(value, dict):
            value = [value]
            single = True
        elif isinstance(value, list):
            single = False
        else:
            self.problem(path, f"must be an array of tables, not {toml_type_name(value)}")
            return []
        result = []
        for index, element in enumerate(value):
            element_path = path if single else path + (index,)
            table = self.table(element, element_path)
            if table is not None:
                result.append((element_path, table))
        return result

    def text(self, table: dict[str, Any], key: str, path: KeyPath, *, default: str | None = None) -> str | None:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, str):
            self.problem(path + (key,), f"must be a string, not {toml_type_name(value)}")
            return None
        if not value.strip():
            self.problem(path + (key,), "must not be empty")
            return None
        return value

    def choice(
        self, table: dict[str, Any], key: str, path: KeyPath, choices: Sequence[_Choice], default: _Choice
    ) -> _Choice:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, str):
            for choice in choices:
                if value == choice:
                    return choice
        self.problem(path + (key,), f"must be one of {quoted_choices(choices)}, not {value!r}")
        return default

    def money(self, table: dict[str, Any], key: str, path: KeyPath) -> int | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(path + (key,), f'money must be a decimal string like "120.00", not {toml_type_name(value)}')
            return None
        if not isinstance(value, str):
            self.problem(
                path + (key,),
                f'money must be a decimal string (write "{value}" with quotes) so that it is read exactly',
            )
            return None
        if sum(char.isdigit() for char in value) > MAX_NUMBER_DIGITS:
            self.problem(path + (key,), f"money may have at most {MAX_NUMBER_DIGITS} digits")
            return None
        try:
            return parse_money(value, self.minor_digits)
        except MoneyError as error:
            self.problem(path + (key,), str(error))
            return None

    def ratio(self, table: dict[str, Any], key: str, path: KeyPath) -> int | None:
        if key not in table:
            return None
        return self.ratio_value(table[key], path + (key,))

    def ratio_value(self, value: object, path: KeyPath) -> int | None:
        try:
            return parse_ratio(value)
        except MoneyError as error:
            self.problem(path, str(error))
            return None

    def date_value(self, table: dict[str, Any], key: str, path: KeyPath) -> date | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()):
                    return date.fromisoformat(value.strip())
            except ValueError:
                pass
        shown = repr(value) if isinstance(value, str) else str(value)
        self.problem(path + (key,), f"must be a date like 2018-01-01, not {shown}")
        return None

    def name_list(self, table: dict[str, Any], key: str, path: KeyPath) -> tuple[str, ...] | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, list) or not value:
            self.problem(path + (key,), "must be a non-empty array of strings")
            return None
        names: list[str] = []
        good = True
        for index, name in enumerate(value):
            if not isinstance(name, str) or not name.strip():
                self.problem(path + (key, index), "must be a non-empty string")
                good = False
            elif name in names:
                self.problem(path + (key, index), f"{name!r} is listed twice")
                good = False
            else:
                names.append(name)
        return tuple(names) if good else None

    # -- the document --------------------------------------------------------------------------

    def read(self, document: dict[str, Any]) -> Policy | None:
        self.keys(document, (), TOP_LEVEL_KEYS, required=("policy",))
        header = self.header(document.get("policy"))
        self.diagnosis_groups = self.read_diagnosis_groups(document.get("diagnosis_groups"))
        self.category_map = self.read_category_map(document.get("categories"))
        fixed_fees = tuple(
            fee
            for element_path, table in self.tables(document.get("fixed_fee", []), ("fixed_fee",))
            if (fee := self.fixed_fee(table, element_path)) is not None
        )
        layers = self.read_layers(document.get("layer", []))
        allowances = self.read_allowances(document.get("allowance", []))
        contribution = None
        if "contribution" in document:
            contribution_table = self.table(document["contribution"], ("contribution",))
            if contribution_table is not None:
                contribution = self.contribution(contribution_table, ("contribution",))
        cards = self.cards_and_referrals(document)
        area = self.area(document)
        if header is None or self.problems:
            return None
        return Policy(
            **header,
            **cards,
            **area,
            **self.indicators(document),
            diagnosis_groups=self.diagnosis_groups,
            fixed_fees=fixed_fees,
            layers=layers,
            allowances=allowances,
            contribution=contribution,
            path=self.file,
        )

    def cards_and_referrals(self, document: dict[str, Any]) -> dict[str, Any]:
        """``[card] per = "person" | "household"``, ``valid_days``; ``[referral] letter_valid_days``."""
        found: dict[str, Any] = {}
        card = self.table(document["card"], ("card",)) if "card" in document else None
        if card is not None:
            self.keys(card, ("card",), CARD_KEYS)
            found["card_per"] = self.choice(card, "per", ("card",), CARD_HOLDERS, "person")
            if "valid_days" in card:
                found["card_valid_days"] = self.days(card, "valid_days", ("card",))
        referral = self.table(document["referral"], ("referral",)) if "referral" in document else None
        if referral is not None:
            self.keys(referral, ("referral",), REFERRAL_KEYS)
            if "letter_valid_days" in referral:
                found["referral_letter_valid_days"] = self.days(referral, "letter_valid_days", ("referral",))
        return found

    def indicators(self, document: dict[str, Any]) -> dict[str, Any]:
        """``[indicators] primary_care_levels``: the provider levels of primary care, whose
        out-patient visits the consultations indicator counts (absent: every out-patient visit)."""
        path: KeyPath = ("indicators",)
        table = self.table(document["indicators"], path) if "indicators" in document else None
        if table is None:
            return {}
        self.keys(table, path, ("primary_care_levels",))
        levels = self.name_list(table, "primary_care_levels", path)
        if levels is None:
            return {}
        for index, level in enumerate(levels):
            if self.levels_known and level not in self.provider_levels:
                self.problem(
                    path + ("primary_care_levels", index),
                    f"{level!r} is not a provider level of the policy ({quoted_choices(self.provider_levels)})",
                )
        return {"primary_care_levels": levels}

    def area(self, document: dict[str, Any]) -> dict[str, Any]:
        """``[area] rule = "district" | "province" | "network"``, ``levels``, ``network``: how a
        claim's ``in_area`` is decided (absent: the facility is in the member's district)."""
        path: KeyPath = ("area",)
        table = self.table(document["area"], path) if "area" in document else None
        if table is None:
            return {}
        self.keys(table, path, AREA_KEYS, required=("rule",))
        found: dict[str, Any] = {}
        if "rule" in table:
            found["area_rule"] = self.choice(table, "rule", path, AREA_RULES, "district")
        levels = self.name_list(table, "levels", path)
        if levels is not None:
            if self.levels_known:
                for index, level in enumerate(levels):
                    if level not in self.provider_levels:
                        self.problem(
                            path + ("levels", index),
                            f"{level!r} is not a provider level of the policy ({quoted_choices(self.provider_levels)})",
                        )
            found["area_levels"] = levels
        network = self.name_list(table, "network", path)
        if found.get("area_rule") == "network":
            if "network" not in table:
                self.problem(path + ("rule",), 'rule "network" needs the network\'s facility codes in "network"')
            elif network is not None:
                found["area_network"] = frozenset(network)
        elif "network" in table:
            self.problem(path + ("network",), 'only a "network" rule lists facility codes')
        return found

    def days(self, table: dict[str, Any], key: str, path: KeyPath) -> int | None:
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3660:
            self.problem(path + (key,), f"must be a whole number of days from 1 to 3660, not {value!r}")
            return None
        return value

    def header(self, value: object) -> dict[str, Any] | None:
        path: KeyPath = ("policy",)
        if value is None:
            self.levels_known = self.care_types_known = False
            return None
        table = self.table(value, path)
        if table is None:
            self.levels_known = self.care_types_known = False
            return None
        self.keys(table, path, POLICY_KEYS, required=POLICY_REQUIRED)
        policy_id = self.text(table, "id", path)
        name = self.text(table, "name", path)
        source = self.text(table, "source", path)
        currency = self.text(table, "currency", path)
        minor_digits: int | None = None
        if "minor_digits" in table:
            value = table["minor_digits"]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
                self.problem(path + ("minor_digits",), f"must be a whole number from 0 to 6, not {value!r}")
            else:
                minor_digits = value
        elif currency is not None:
            try:
                minor_digits = minor_digits_of(currency)
            except MoneyError as error:
                self.problem(path + ("currency",), str(error))
        if minor_digits is not None:
            self.minor_digits = minor_digits
        effective_from = self.date_value(table, "effective_from", path)
        effective_to = self.date_value(table, "effective_to", path)
        if effective_from and effective_to and effective_to < effective_from:
            self.problem(
                path + ("effective_to",),
                f"effective_to {effective_to.isoformat()} is before effective_from {effective_from.isoformat()}",
            )
        year_start = self.year_start(table, path)
        levels = self.name_list(table, "provider_levels", path)
        care_types = self.name_list(table, "care_types", path)
        self.provider_levels = levels or ()
        self.care_types = care_types or ()
        self.levels_known = levels is not None
        self.care_types_known = care_types is not None
        time_zone = self.time_zone(table, path)
        stay_days = self.stay_days(table, path)
        names = self.local_names(table, path)
        fields = (policy_id, name, source, currency, minor_digits, effective_from, year_start, levels, care_types)
        if any(field is None for field in fields) or time_zone is None or stay_days is None or names is None:
            return None
        return {
            "id": policy_id,
            "name": name,
            "currency": currency,
            "minor_digits": minor_digits,
            "effective_from": effective_from,
            "effective_to": effective_to,
            "year_start": year_start,
            "provider_levels": levels,
            "care_types": care_types,
            "source": source,
            "time_zone": time_zone,
            "stay_days": stay_days,
            "names": names,
        }

    def local_names(self, table: dict[str, Any], path: KeyPath) -> LocalNames | None:
        """``names = { en = "...", fr = "...", ... }`` (or a ``[....names]`` table): the name as
        people read it in each of the application's languages; absent, the file's own text."""
        if "names" not in table:
            return ()
        names_path = path + ("names",)
        names_table = self.table(table["names"], names_path)
        if names_table is None:
            return None
        before = len(self.problems)
        found: list[tuple[str, str]] = []
        for language in names_table:
            if language not in NAME_LANGUAGES:
                self.problem(
                    names_path + (language,), f"unknown language {language!r} (known: {quoted_choices(NAME_LANGUAGES)})"
                )
                continue
            text = self.text(names_table, language, names_path)
            if text is not None:
                found.append((language, text.strip()))
        return tuple(found) if len(self.problems) == before else None

    def time_zone(self, table: dict[str, Any], path: KeyPath) -> str | None:
        """The IANA zone whose calendar says which day is today for the scheme (default UTC)."""
        value = table.get("time_zone", "UTC")
        if isinstance(value, str) and TIME_ZONE_NAME.match(value):
            try:
                ZoneInfo(value)
                return value
            except (ZoneInfoNotFoundError, ValueError):
                pass
        self.problem(path + ("time_zone",), f'must be an IANA time zone name such as "Asia/Shanghai", not {value!r}')
        return None

    def stay_days(self, table: dict[str, Any], path: KeyPath) -> dict[str, tuple[int, int | None]] | None:
        """``stay_days = { inpatient = { min = 1 }, outpatient = { max = 0 } }``: the days a bill of
        each listed care type may declare (bounds included); a care type not listed takes any days."""
        key_path = path + ("stay_days",)
        if "stay_days" not in table:
            return {}
        declared = self.table(table["stay_days"], key_path)
        if declared is None:
            return None
        result: dict[str, tuple[int, int | None]] = {}
        problems = len(self.problems)
        for care_type, bounds_value in declared.items():
            care_path = key_path + (care_type,)
            if self.care_types_known and care_type not in self.care_types:
                self.problem(care_path, f"unknown care type {care_type!r} (known: {quoted_choices(self.care_types)})")
                continue
            bounds = self.table(bounds_value, care_path)
            if bounds is None:
                continue
            self.keys(bounds, care_path, ("min", "max"))
            low, high = bounds.get("min", 0), bounds.get("max")
            for name, number in (("min", low), ("max", high)):
                if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 0):
                    self.problem(care_path + (name,), f"must be a whole number of days >= 0, not {number!r}")
            if isinstance(low, int) and isinstance(high, int) and 0 <= high < low:
                self.problem(care_path, f"max {high} is below min {low}")
            result[care_type] = (low, high)
        return result if len(self.problems) == problems else None

    def year_start(self, table: dict[str, Any], path: KeyPath) -> tuple[int, int] | None:
        value = table.get("year_start", "01-01")
        match = MONTH_DAY.match(value) if isinstance(value, str) else None
        if match:
            month, day = int(match.group(1)), int(match.group(2))
            try:
                date(2001, month, day)  # a year without 29 February: every year must have the day
                return month, day
            except ValueError:
                pass
        self.problem(path + ("year_start",), f'must be a month-day "MM-DD" that every year has, not {value!r}')
        return None

    def read_diagnosis_groups(self, value: object) -> dict[str, tuple[str, ...]]:
        path: KeyPath = ("diagnosis_groups",)
        if value is None:
            return {}
        table = self.table(value, path)
        if table is None:
            return {}
        groups: dict[str, tuple[str, ...]] = {}
        for name, prefixes in table.items():
            prefixes_read = self.diagnosis_prefixes(prefixes, path + (name,))
            # A group with a bad prefix is still known, so conditions naming it are not reported.
            groups[name] = prefixes_read or ()
        return groups

    def diagnosis_prefixes(self, value: object, path: KeyPath) -> tuple[str, ...] | None:
        values = value if isinstance(value, list) else [value]
        if not values:
            self.problem(path, "an empty list never matches")
            return None
        prefixes: list[str] = []
        good = True
        for index, prefix in enumerate(values):
            element_path = path + (index,) if isinstance(value, list) else path
            if not isinstance(prefix, str) or not ICD10_PREFIX.match(prefix.strip().upper()):
                self.problem(element_path, f'{prefix!r} is not an ICD-10 code prefix (like "E11" or "K35.8")')
                good = False
            else:
                prefixes.append(prefix.strip().upper())
        return tuple(prefixes) if good else None

    # -- conditions ----------------------------------------------------------------------------

    def when(
        self,
        table: dict[str, Any],
        path: KeyPath,
        *,
        allow_allowed_below: bool = True,
        only: Sequence[str] | None = None,
    ) -> When:
        if "when" not in table:
            return ()
        value = table["when"]
        path = path + ("when",)
        if isinstance(value, dict):
            condition = self.condition(value, path, allow_allowed_below, only)
            return (condition,) if condition else ()
        if not isinstance(value, list):
            self.problem(path, f"must be a table or an array of tables, not {toml_type_name(value)}")
            return ()
        if not value:
            self.problem(path, "an empty list never matches: leave `when` out to match every claim")
            return ()
        conditions = []
        for index, element in enumerate(value):
            element_table = self.table(element, path + (index,))
            if element_table is not None:
                condition = self.condition(element_table, path + (index,), allow_allowed_below, only)
                if condition:
                    conditions.append(condition)
        return tuple(conditions)

    def condition(
        self,
        table: dict[str, Any],
        path: KeyPath,
        allow_allowed_below: bool,
        only: Sequence[str] | None,
    ) -> Condition | None:
        allowed_keys = tuple(only) if only is not None else CONDITION_KEYS
        refused = {}
        if not allow_allowed_below:
            allowed_keys = tuple(key for key in allowed_keys if key != "allowed_below")
            refused["allowed_below"] = (
                "`allowed_below` cannot be used in a fixed fee: the fee decides the allowed amount"
            )
        if only is not None:
            for key in CONDITION_KEYS:
                if key not in allowed_keys:
                    refused.setdefault(key, f"only {quoted_choices(allowed_keys)} can be used here")
        before = len(self.problems)
        self.keys(table, path, allowed_keys, refused=refused)
        fields: dict[str, Any] = {}
        for key in allowed_keys:
            if key not in table:
                continue
            key_path = path + (key,)
            if key == "allowed_below":
                fields[key] = self.money(table, key, path)
                continue
            raw = table[key]
            values = raw if isinstance(raw, list) else [raw]
            if not values:
                self.problem(key_path, "an empty list never matches")
                continue
            accepted = []
            for index, item in enumerate(values):
                item_path = key_path + (index,) if isinstance(raw, list) else key_path
                if self.condition_value(key, item, item_path):
                    accepted.append(item.strip().upper() if key == "diagnosis" else item)
            if key == "diagnosis_group" or key == "diagnosis":
                fields[key] = tuple(dict.fromkeys(accepted))
            elif key == "member_category" and self.category_map is not None:
                # The policy's words become the registry categories they stand for: the engines and
                # the contribution rules compare a member's registry categories with these.
                fields[key] = frozenset(code for word in accepted for code in self.category_map.get(word, ()))
            else:
                fields[key] = frozenset(accepted)
        if len(self.problems) > before:
            return None
        return Condition(**fields)

    def read_category_map(self, value: object) -> dict[str, tuple[str, ...]] | None:
        """``[categories]``: each of the policy's category words -> the registry categories it
        stands for (``ethnic_minority_difficult_area = ["ethnic_minority"]``). Absent: the policy
        speaks the registry's words. Present: every category a condition names must be mapped."""
        if value is None:
            return None
        path: KeyPath = ("categories",)
        table = self.table(value, path)
        if table is None:
            return {}
        mapping: dict[str, tuple[str, ...]] = {}
        for word in table:
            names = self.name_list(table, word, path)
            if names is not None:
                mapping[word] = tuple(name.strip() for name in names)
        return mapping

    def condition_value(self, key: str, value: object, path: KeyPath) -> bool:
        if key in BOOLEAN_CONDITIONS:
            if not isinstance(value, bool):
                self.problem(path, f"must be true or false, not {value!r}")
                return False
            return True
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"must be a non-empty string, not {toml_type_name(value)}")
            return False
        if key == "care_type" and self.care_types_known and value not in self.care_types:
            self.problem(
                path, f"unknown care type {value!r} (the policy's care_types: {quoted_choices(self.care_types)})"
            )
            return False
        if key == "provider_level" and self.levels_known and value not in self.provider_levels:
            self.problem(
                path,
                f"unknown provider level {value!r} "
                f"(the policy's provider_levels: {quoted_choices(self.provider_levels)})",
            )
            return False
        if key == "diagnosis_group" and value not in self.diagnosis_groups:
            known = quoted_choices(self.diagnosis_groups) or "none defined"
            self.problem(path, f"unknown diagnosis group {value!r} (the policy's diagnosis_groups: {known})")
            return False
        if key == "member_category" and self.category_map is not None and value not in self.category_map:
            known = quoted_choices(self.category_map) or "none"
            self.problem(
                path, f"category {value!r} is not mapped to registry categories in [categories] (mapped: {known})"
            )
            return False
        if key == "diagnosis" and not ICD10_PREFIX.match(value.strip().upper()):
            self.problem(path, f'{value!r} is not an ICD-10 code prefix (like "E11" or "K35.8")')
            return False
        return True

    # -- fixed fees, layers, allowances --------------------------------------------------------

    def fixed_fee(self, table: dict[str, Any], path: KeyPath) -> FixedFee | None:
        self.keys(table, path, FIXED_FEE_KEYS, required=("fee",))
        when = self.when(table, path, allow_allowed_below=False)
        fee = self.money(table, "fee", path)
        return None if fee is None else FixedFee(when=when, fee=fee)

    def read_layers(self, value: object) -> tuple[Layer, ...]:
        layers: list[Layer] = []
        seen: set[str] = set()
        for path, table in self.tables(value, ("layer",)):
            layer = self.layer(table, path)
            layer_id = table.get("id")
            if isinstance(layer_id, str):
                if layer_id in seen:
                    self.problem(path + ("id",), f"layer id {layer_id!r} is used twice")
                seen.add(layer_id)
            if layer is not None:
                layers.append(layer)
        return tuple(layers)

    def identifier(self, table: dict[str, Any], path: KeyPath, what: str) -> str | None:
        identifier = self.text(table, "id", path)
        if identifier is not None and not COLUMN_NAME.match(identifier):
            self.problem(
                path + ("id",),
                f"{what} id {identifier!r} must be usable as a column name: a lower-case letter, "
                "then lower-case letters, digits or _",
            )
            return None
        return identifier

    def layer(self, table: dict[str, Any], path: KeyPath) -> Layer | None:
        kind = self.choice(table, "kind", path, LAYER_KINDS, "bands")
        kind_known = table.get("kind", "bands") in ("bands", "oop_cap")
        before = len(self.problems)
        if kind == "oop_cap" and kind_known:
            refused = {
                key: f"an oop_cap layer takes no {key!r}: it pays what the member would pay above its limit"
                for key in BAND_LAYER_KEYS
            }
            self.keys(table, path, COMMON_LAYER_KEYS + OOP_CAP_LAYER_KEYS, ("id", "payer", "max_share"), refused)
        elif kind_known:
            refused = {key: f'{key!r} belongs to oop_cap layers (kind = "oop_cap")' for key in OOP_CAP_LAYER_KEYS}
            self.keys(table, path, COMMON_LAYER_KEYS + BAND_LAYER_KEYS, ("id", "payer", "variant"), refused)
        else:
            self.keys(table, path, COMMON_LAYER_KEYS + BAND_LAYER_KEYS + OOP_CAP_LAYER_KEYS, ("id", "payer"))
        layer_id = self.identifier(table, path, "layer")
        payer = self.text(table, "payer", path)
        names = self.local_names(table, path) or ()
        default_base: LayerBase = "total" if kind == "oop_cap" else "eligible"
        base = self.choice(table, "base", path, LAYER_BASES, default_base)
        when = self.when(table, path)
        if kind == "oop_cap":
            max_share = self.ratio(table, "max_share", path)
            max_per_year = self.money(table, "max_per_year", path)
            if len(self.problems) > before or not kind_known or layer_id is None or payer is None:
                return None
            return Layer(
                id=layer_id,
                payer=payer,
                kind="oop_cap",
                base=base,
                when=when,
                max_share=max_share,
                max_per_year=max_per_year,
                names=names,
            )
        scope = self.choice(table, "scope", path, LAYER_SCOPES, "claim")
        cap_per_claim = self.money(table, "cap_per_claim", path)
        cap_per_year = self.money(table, "cap_per_year", path)
        max_cumulative_share = self.ratio(table, "max_cumulative_share", path)
        share_of = self.choice(table, "of", path, LAYER_BASES, base)
        if "of" in table and "max_cumulative_share" not in table:
            self.problem(path + ("of",), "`of` goes with `max_cumulative_share`, which this layer does not have")
        variants = []
        if "variant" in table:
            elements = self.tables(table["variant"], path + ("variant",))
            if not elements and isinstance(table["variant"], list):
                self.problem(path + ("variant",), "a band layer needs at least one variant")
            for variant_path, variant_table in elements:
                variant = self.variant(variant_table, variant_path)
                if variant is not None:
                    variants.append(variant)
        if len(self.problems) > before or not kind_known or layer_id is None or payer is None:
            return None
        return Layer(
            id=layer_id,
            payer=payer,
            kind="bands",
            base=base,
            when=when,
            scope=scope,
            variants=tuple(variants),
            cap_per_claim=cap_per_claim,
            cap_per_year=cap_per_year,
            max_cumulative_share=max_cumulative_share,
            cumulative_share_of=share_of,
            names=names,
        )

    def variant(self, table: dict[str, Any], path: KeyPath) -> Variant | None:
        self.keys(table, path, VARIANT_KEYS, required=("bands",))
        before = len(self.problems)
        when = self.when(table, path)
        if "bands" not in table:
            return None
        raw = table["bands"]
        bands_path = path + ("bands",)
        if not isinstance(raw, list) or not raw:
            self.problem(bands_path, 'must be a non-empty array of bands like { upto = "100.00", ratio = 0 }')
            return None
        bands: list[Band] = []
        previous_upto = 0
        for index, element in enumerate(raw):
            band_path = bands_path + (index,)
            band_table = self.table(element, band_path)
            if band_table is None:
                continue
            self.keys(band_table, band_path, BAND_KEYS, required=("ratio",))
            ratio = self.ratio(band_table, "ratio", band_path)
            upto = self.money(band_table, "upto", band_path)
            last = index == len(raw) - 1
            if "upto" not in band_table and not last:
                self.problem(band_path, "only the last band may leave out `upto`")
            if upto is not None:
                if upto <= previous_upto:
                    self.problem(
                        band_path + ("upto",),
                        "bands out of order: each `upto` must be greater than the one before (and than 0)",
                    )
                previous_upto = max(previous_upto, upto)
            if ratio is not None:
                bands.append(Band(upto=upto, ratio=ratio))
        if len(self.problems) > before:
            return None
        return Variant(when=when, bands=tuple(bands))

    def read_allowances(self, value: object) -> tuple[Allowance, ...]:
        allowances: list[Allowance] = []
        seen: set[str] = set()
        for path, table in self.tables(value, ("allowance",)):
            before = len(self.problems)
            self.keys(table, path, ALLOWANCE_KEYS, required=("id", "per", "amount"))
            allowance_id = self.identifier(table, path, "allowance")
            if isinstance(table.get("id"), str):
                if table["id"] in seen:
                    self.problem(path + ("id",), f"allowance id {table['id']!r} is used twice")
                seen.add(table["id"])
            per = self.choice(table, "per", path, ALLOWANCE_PERS, "claim")
            amount = self.money(table, "amount", path)
            when = self.when(table, path)
            if len(self.problems) == before and allowance_id is not None and amount is not None:
                allowances.append(Allowance(id=allowance_id, per=per, amount=amount, when=when))
        return tuple(allowances)

    # -- contribution rules --------------------------------------------------------------------

    def contribution(self, table: dict[str, Any], path: KeyPath) -> ContributionRules | None:
        before = len(self.problems)
        kind = self.choice(table, "kind", path, CONTRIBUTION_KINDS, "flat")
        if "kind" not in table:
            self.problem(path, 'missing required key \'kind\' ("flat" or "wage_share")')
        if kind == "flat":
            refused = {key: f'{key!r} belongs to kind = "wage_share"' for key in WAGE_SHARE_KEYS}
            self.keys(table, path, ("kind", "subsidy") + FLAT_KEYS, ("amount",), refused)
        else:
            refused = {key: f'{key!r} belongs to kind = "flat"' for key in FLAT_KEYS}
            self.keys(table, path, ("kind", "subsidy") + WAGE_SHARE_KEYS, ("reference_wage", "share"), refused)
        amount = self.money(table, "amount", path)
        household_cap = self.money(table, "household_cap", path)
        reference_wage = self.money(table, "reference_wage", path)
        share = self.ratio(table, "share", path)
        rank_factors: tuple[int, ...] = (RATIO_SCALE,)
        if "rank_factors" in table:
            raw = table["rank_factors"]
            if not isinstance(raw, list) or not raw:
                self.problem(path + ("rank_factors",), "must be a non-empty array of ratios, e.g. [1, 0.7, 0.6]")
            else:
                factors = [self.ratio_value(factor, path + ("rank_factors", index)) for index, factor in enumerate(raw)]
                rank_factors = tuple(factor for factor in factors if factor is not None)
        subsidies = []
        if "subsidy" in table:
            for rule_path, rule_table in self.tables(table["subsidy"], path + ("subsidy",)):
                rule = self.subsidy(rule_table, rule_path)
                if rule is not None:
                    subsidies.append(rule)
        if len(self.problems) > before:
            return None
        if kind == "flat":
            return ContributionRules(
                kind="flat", amount=amount, household_cap=household_cap, subsidies=tuple(subsidies)
            )
        return ContributionRules(
            kind="wage_share",
            reference_wage=reference_wage,
            share=share,
            rank_factors=rank_factors,
            subsidies=tuple(subsidies),
        )

    def subsidy(self, table: dict[str, Any], path: KeyPath) -> SubsidyRule | None:
        before = len(self.problems)
        self.keys(table, path, SUBSIDY_KEYS, required=("shares",))
        when = self.when(table, path, only=("member_category",))
        shares: list[tuple[str, int]] = []
        if "shares" in table:
            shares_table = self.table(table["shares"], path + ("shares",))
            for payer, raw in (shares_table or {}).items():
                share_path = path + ("shares", payer)
                if payer == MEMBER_PAYER:
                    self.problem(share_path, f"{MEMBER_PAYER!r} is the member's own part: it is what the payers leave")
                    continue
                share = self.ratio_value(raw, share_path)
                if share is not None:
                    shares.append((payer, share))
            if sum(share for _, share in shares) > RATIO_SCALE:
                self.problem(path + ("shares",), "the shares add up to more than 1")
        if len(self.problems) > before:
            return None
        return SubsidyRule(when=when, shares=tuple(shares))
