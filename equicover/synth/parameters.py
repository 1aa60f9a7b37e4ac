"""The distributions of the synthetic province, in one place.

Every number here is a modelling choice for a plausible province, not a statistic of a real one;
``docs/synthetic-province.md`` explains where each comes from (the programmes in the project's
seed texts, national statistics of China and Vietnam for 2018). Amounts are CNY of 2018.
Probabilities are plain floats: they drive random draws only, never money arithmetic (amounts
become integer fen as soon as they are drawn).
"""

from __future__ import annotations

from dataclasses import dataclass

# The generator writes claims in the settlement contract's columns, re-exported for its modules.
from equicover.settlement.claims_file import CLAIM_COLUMNS  # noqa: F401

CURRENCY = "CNY"
MINOR_DIGITS = 2

# --- Exact vocabulary shared with the settlement engine and the China policy --------------------
PROVIDER_LEVELS = ("township", "county", "city", "province")
CARE_TYPES = ("outpatient", "chronic_outpatient", "inpatient", "emergency")
CATEGORIES = (
    "registered_poor",
    "near_poor",
    "low_income",
    "elderly",
    "ethnic_minority",
    "student",
    "disabled",
    "foreign_national",
)
CATEGORY_BIT = {name: 1 << index for index, name in enumerate(CATEGORIES)}


# --- Locales -------------------------------------------------------------------------------------
# The five programmes of the seed texts, by the script their people's names are written in.
LOCALES = ("zh_CN", "vi_VN", "ar_AA", "fa_IR", "fr_FR")
# How often each locale is the majority locale of a district (Ya'an's own counties dominate).
DISTRICT_LOCALE_WEIGHTS = (0.40, 0.20, 0.15, 0.15, 0.10)
# Share of a district's households whose names come from the district's majority locale; the
# rest are drawn from the other locales uniformly (migration, mixed districts).
MAJORITY_LOCALE_SHARE = 0.85

# Real district names of the seed programmes' areas, in their own script, so the tree reads true.
DISTRICT_NAMES = {
    "zh_CN": ("雨城区", "名山区", "荥经县", "汉源县", "石棉县", "天全县", "芦山县", "宝兴县"),
    "vi_VN": ("Bát Xát", "Bảo Thắng", "Bảo Yên", "Mường Khương", "Sa Pa", "Si Ma Cai", "Văn Bàn", "Bắc Hà"),
    "ar_AA": ("الحسيمة", "تازة", "وجدة", "بني ملال", "ورزازات", "خنيفرة", "جرادة", "فجيج"),
    "fa_IR": ("زاهدان", "چابهار", "ایرانشهر", "خاش", "سراوان", "نیکشهر", "زابل", "سرباز"),
    "fr_FR": ("Battambang", "Kampong Cham", "Siem Reap", "Takéo", "Kampot", "Pursat", "Kratié", "Prey Veng"),
}
COMMUNE_NAME_PATTERN = {
    "zh_CN": "{district}第{number}乡",
    "vi_VN": "Xã {number} ({district})",
    "ar_AA": "جماعة {number} {district}",
    "fa_IR": "دهستان {number} {district}",
    "fr_FR": "Commune {number} de {district}",
}
PROVINCE_CODE_PREFIX = "S"  # + the seed: "S1", "S1-D03", "S1-D03-C07", "S1-D03-H000042"
PROVINCE_NAME = "Synthetic Province"
COUNTRY_CODE = "SYN"  # the country above every synthetic province, created once per database
COUNTRY_NAME = "Synthetic country"

# --- Location tree -------------------------------------------------------------------------------
MIN_DISTRICTS, MAX_DISTRICTS = 8, 12
PEOPLE_PER_COMMUNE = 6_000
MIN_COMMUNES, MAX_COMMUNES = 3, 40
# District populations vary: lognormal weights (a capital district several times a remote one).
DISTRICT_SIZE_SIGMA = 0.45

# --- Households ----------------------------------------------------------------------------------
# Sizes 1..10; mean 3.65 (China 2010 census rural households 3.3, Vietnam 2019 3.5, Morocco 4.6,
# Iran 3.3, Cambodia 4.6: a poor multi-ethnic province sits in between).
HOUSEHOLD_SIZE_PROBABILITIES = (0.10, 0.18, 0.22, 0.21, 0.14, 0.08, 0.04, 0.015, 0.01, 0.005)

# Age of the household head at the start of the year: a triangular-ish distribution over 20..90
# made of age bands (lower, upper, weight). Single-person households are older (widowed elderly).
HEAD_AGE_BANDS = (
    (20, 30, 0.13),
    (30, 40, 0.20),
    (40, 50, 0.23),
    (50, 60, 0.20),
    (60, 70, 0.14),
    (70, 80, 0.07),
    (80, 95, 0.03),
)
SINGLE_HEAD_AGE_BANDS = ((20, 30, 0.15), (30, 45, 0.12), (45, 60, 0.15), (60, 75, 0.30), (75, 95, 0.28))
SPOUSE_PRESENT = 0.85  # share of households of 2+ whose second member is the head's spouse
SPOUSE_AGE_GAP_SD = 4.0
CHILD_MIN_PARENT_GAP, CHILD_MAX_PARENT_GAP = 18, 42
ELDER_PARENT_SHARE = 0.45  # households of 5+ whose last member is a parent of the head
ELDER_PARENT_GAP = (20, 35)
MAX_AGE = 104
MALE_AT_BIRTH = 0.515
MALE_HEAD = 0.72

# --- Categories ----------------------------------------------------------------------------------
ELDERLY_AGE = 65
# Registered poverty is a household status. District rates vary around the province rate (the
# Ya'an seed counts 94,657 registered poor, about 6% of its 1.55 M people; the poorest counties
# reached 15-20%). Household factors: large and elderly-headed households are poorer.
POOR_HOUSEHOLD_RATE = 0.085
POOR_DISTRICT_SPREAD = 0.35  # lognormal sigma of the district rate around the province rate
POOR_LARGE_HOUSEHOLD_FACTOR = 1.35  # households of 5+
POOR_ELDERLY_HEAD_FACTOR = 1.5  # head aged 65+
NEAR_POOR_HOUSEHOLD_RATE = 0.10  # among households not registered poor
LOW_INCOME_HOUSEHOLD_RATE = 0.07  # among households neither poor nor near-poor
# Ethnic minorities by the district's majority locale (Lao Cai: 64% minorities; Ya'an: Yi and
# Tibetan counties about 5%); a household-level status.
ETHNIC_MINORITY_RATE = {"zh_CN": 0.08, "vi_VN": 0.55, "ar_AA": 0.12, "fa_IR": 0.20, "fr_FR": 0.10}
# Foreign nationals (the Iran seed registers them: Afghan households in deprived neighbourhoods).
FOREIGN_NATIONAL_RATE = {"zh_CN": 0.002, "vi_VN": 0.004, "ar_AA": 0.006, "fa_IR": 0.05, "fr_FR": 0.01}
# Pupils and students: share of an age band enrolled in school (lower, upper inclusive, share).
STUDENT_AGE_SHARES = ((6, 14, 0.97), (15, 18, 0.75), (19, 22, 0.35))
# Registered disability, by age band (lower, upper inclusive, rate).
DISABLED_AGE_RATES = ((0, 17, 0.012), (18, 44, 0.025), (45, 64, 0.055), (65, MAX_AGE, 0.12))

# --- Registry details ----------------------------------------------------------------------------
WITHOUT_NATIONAL_ID = 0.01
# Deaths during the year, by age band (lower, upper inclusive, annual mortality).
MORTALITY = ((0, 4, 0.004), (5, 44, 0.0012), (45, 64, 0.006), (65, 79, 0.028), (80, MAX_AGE, 0.10))
NATIONAL_ID_TYPE = "national_id"  # citizens: 18-character resident identity number (GB 11643)
FOREIGN_ID_TYPE = "passport"  # foreign nationals

# --- Enrolment and contributions -----------------------------------------------------------------
SCHEME_CODE = "urban-rural-resident-bmi"
SCHEME_NAME = "Urban and rural resident basic medical insurance"
# Household-level take-up for households not registered poor; then a small individual drop.
ENROL_HOUSEHOLD_RATE = 0.905
ENROL_INDIVIDUAL_DROP = 0.02
NEAR_POOR_ENROL_RATE = 0.97
# 2018 individual contribution to the resident basic medical insurance: 220 CNY a person a year.
CONTRIBUTION_PER_PERSON = 22_000  # fen
PAYERS = ("state_budget", "local_budget", "member")
# Subsidy shares by category in per-mille of the contribution: the first matching row applies,
# the member pays the rest. Registered poor: 100% by the state (Ya'an); near-poor 70% by the state
# (Vietnam's rule); low income 50% state; elderly, minorities, students, disabled 30% by the local
# budget (Lao Cai's local subsidies).
CONTRIBUTION_SUBSIDIES = (
    ("registered_poor", (("state_budget", 1000),)),
    ("near_poor", (("state_budget", 700),)),
    ("low_income", (("state_budget", 500),)),
    ("elderly", (("local_budget", 300),)),
    ("ethnic_minority", (("local_budget", 300),)),
    ("student", (("local_budget", 300),)),
    ("disabled", (("local_budget", 300),)),
)

# --- Providers -----------------------------------------------------------------------------------
CITY_HOSPITALS = 2
DESIGNATED_SHARE = {"township": 0.95, "county": 1.0, "city": 1.0, "province": 1.0}

# --- Utilisation ---------------------------------------------------------------------------------
# Annual rates per enrolled person before multipliers. Person-level frailty (gamma, mean 1) makes
# use over-dispersed: a few people account for many visits.
OUTPATIENT_RATE = 2.6
INPATIENT_RATE = 0.085
EMERGENCY_RATE = 0.10
FRAILTY_SHAPE = 1.6
# Age bands (upper bound exclusive) and their multipliers for outpatient / inpatient use.
AGE_BAND_UPPER = (5, 15, 45, 65, 200)
OUTPATIENT_AGE_FACTOR = (1.6, 0.8, 0.75, 1.15, 1.6)
INPATIENT_AGE_FACTOR = (1.3, 0.45, 0.7, 1.25, 2.6)
POOR_USE_FACTOR = 1.25  # registered poor and near-poor: sicker, and care is now free at the point of use
CHRONIC_USE_FACTOR = 1.4  # outpatient and inpatient use of people with a chronic condition
# Chronic condition prevalence by age band (same bands); which condition is drawn by weight.
CHRONIC_PREVALENCE = (0.005, 0.01, 0.05, 0.22, 0.42)


@dataclass(frozen=True)
class ChronicCondition:
    """A long-term condition: its chronic out-patient visits and, when it puts the person in
    hospital, the admission it causes."""

    code: str
    weight: float
    visits_per_year: float
    visit_median: float  # CNY at county level
    admission_code: str
    admission_median: float  # CNY at county level
    admission_days: float


CHRONIC_CONDITIONS = (
    ChronicCondition("I10", 0.42, 6.0, 180.0, "I63.9", 8200.0, 14),  # hypertension -> stroke
    ChronicCondition("E11.9", 0.24, 6.0, 260.0, "E11.9", 3900.0, 10),
    ChronicCondition("J44.9", 0.12, 5.0, 300.0, "J44.1", 4400.0, 11),
    ChronicCondition("I25.1", 0.08, 5.0, 320.0, "I21.9", 16500.0, 10),
    # Dialysis sessions: fewer than the real 100+ a year, to keep the file of claims readable.
    ChronicCondition("N18.5", 0.04, 30.0, 480.0, "N18.5", 8800.0, 12),
    ChronicCondition("F20.9", 0.04, 8.0, 220.0, "F20.9", 5000.0, 30),
    ChronicCondition("M05.9", 0.03, 5.0, 350.0, "M05.9", 4400.0, 9),
    ChronicCondition("C50.9", 0.03, 8.0, 1800.0, "C50.9", 14900.0, 12),  # out-patient chemotherapy
)
# Deliveries: a share of women aged 20..39 give birth each year (crude birth rate ~11 per 1000).
DELIVERY_RATE = 0.065
CAESAREAN_SHARE = 0.35

# Level mix by care type (township, county, city, province).
LEVEL_MIX = {
    "outpatient": (0.68, 0.24, 0.05, 0.03),
    "chronic_outpatient": (0.45, 0.40, 0.10, 0.05),
    "emergency": (0.20, 0.60, 0.12, 0.08),
}
# Amount multiplier of each level relative to the county hospital.
LEVEL_COST_FACTOR = (0.45, 1.0, 1.4, 1.8)
# Share of a bill inside the benefit catalogue, by level (mean; the draw spreads +-8 points).
ELIGIBLE_SHARE = (0.92, 0.88, 0.83, 0.80)
ELIGIBLE_SPREAD = 0.08
OUT_OF_AREA_SHARE = 0.07  # a visit at a township or county facility of another district
REFERRED_TO_HIGHER = 0.80  # inpatient admissions at city and provincial hospitals with a referral
REFERRED_AT_COUNTY = 0.25


@dataclass(frozen=True)
class CareProfile:
    """One diagnosis of a care type: ICD-10 code, relative frequency, cost and length of stay."""

    code: str
    weight: float
    median: float  # CNY at county level
    sigma: float  # lognormal spread of the amount
    mean_days: float  # 0 for ambulatory care
    level_mix: tuple[float, float, float, float] | None = None  # inpatient: where it is treated


# Out-patient diagnoses (acute): upper respiratory infections dominate primary care.
OUTPATIENT_DIAGNOSES = (
    CareProfile("J06.9", 0.30, 95.0, 0.65, 0),
    CareProfile("J20.9", 0.09, 120.0, 0.6, 0),
    CareProfile("K29.7", 0.08, 150.0, 0.65, 0),
    CareProfile("M54.5", 0.07, 160.0, 0.7, 0),
    CareProfile("A09", 0.06, 110.0, 0.6, 0),
    CareProfile("R50.9", 0.05, 90.0, 0.6, 0),
    CareProfile("L30.9", 0.05, 100.0, 0.6, 0),
    CareProfile("N39.0", 0.04, 140.0, 0.6, 0),
    CareProfile("H10.9", 0.03, 80.0, 0.5, 0),
    CareProfile("K02.9", 0.05, 180.0, 0.7, 0),
    CareProfile("Z00.0", 0.06, 120.0, 0.5, 0),
    CareProfile("R51", 0.04, 100.0, 0.6, 0),
    CareProfile("T14.0", 0.05, 130.0, 0.7, 0),
    CareProfile("O26.9", 0.03, 200.0, 0.6, 0),
)
EMERGENCY_DIAGNOSES = (
    CareProfile("S06.0", 0.14, 650.0, 0.8, 0),
    CareProfile("T14.9", 0.16, 420.0, 0.8, 0),
    CareProfile("R07.4", 0.14, 520.0, 0.7, 0),
    CareProfile("R10.4", 0.16, 430.0, 0.7, 0),
    CareProfile("J45.9", 0.08, 380.0, 0.6, 0),
    CareProfile("T78.4", 0.06, 300.0, 0.6, 0),
    CareProfile("S52.5", 0.08, 900.0, 0.7, 0),
    CareProfile("I21.9", 0.04, 2400.0, 0.8, 0),
    CareProfile("T65.9", 0.04, 800.0, 0.8, 0),
    CareProfile("R56.8", 0.10, 500.0, 0.7, 0),
)
# In-patient admissions by age group: (children < 15, adults 15-64, elderly 65+). Level mixes
# follow where each condition is treated: deliveries at township and county, cancer at the top.
_MIX_PRIMARY = (0.35, 0.45, 0.12, 0.08)
_MIX_SURGICAL = (0.05, 0.62, 0.21, 0.12)
_MIX_SEVERE = (0.02, 0.45, 0.30, 0.23)
_MIX_CANCER = (0.00, 0.22, 0.33, 0.45)
INPATIENT_DIAGNOSES = {
    "child": (
        CareProfile("J18.9", 0.40, 2000.0, 0.55, 7, _MIX_PRIMARY),
        CareProfile("A09", 0.16, 1300.0, 0.5, 4, _MIX_PRIMARY),
        CareProfile("J20.9", 0.14, 1400.0, 0.5, 5, _MIX_PRIMARY),
        CareProfile("K35.8", 0.08, 3400.0, 0.45, 6, _MIX_SURGICAL),
        CareProfile("S72.0", 0.03, 8800.0, 0.5, 12, _MIX_SURGICAL),
        CareProfile("S52.5", 0.07, 3900.0, 0.5, 5, _MIX_SURGICAL),
        CareProfile("C91.0", 0.02, 20900.0, 0.8, 20, _MIX_CANCER),
        CareProfile("Q21.1", 0.02, 16500.0, 0.6, 12, _MIX_SEVERE),
        CareProfile("R56.8", 0.08, 1700.0, 0.5, 4, _MIX_PRIMARY),
    ),
    "adult": (
        CareProfile("K35.8", 0.12, 3400.0, 0.45, 6, _MIX_SURGICAL),
        CareProfile("K80.2", 0.10, 5200.0, 0.5, 7, _MIX_SURGICAL),
        CareProfile("J18.9", 0.10, 2900.0, 0.55, 8, _MIX_PRIMARY),
        CareProfile("S72.0", 0.05, 13200.0, 0.5, 15, _MIX_SURGICAL),
        CareProfile("S82.2", 0.05, 9400.0, 0.5, 12, _MIX_SURGICAL),
        CareProfile("I63.9", 0.07, 7700.0, 0.6, 14, _MIX_SEVERE),
        CareProfile("I21.9", 0.04, 15400.0, 0.7, 10, _MIX_SEVERE),
        CareProfile("C34.9", 0.04, 17600.0, 0.8, 14, _MIX_CANCER),
        CareProfile("C16.9", 0.03, 18700.0, 0.8, 16, _MIX_CANCER),
        CareProfile("C50.9", 0.03, 14900.0, 0.75, 12, _MIX_CANCER),
        CareProfile("K29.7", 0.08, 1900.0, 0.5, 6, _MIX_PRIMARY),
        CareProfile("N39.0", 0.06, 2100.0, 0.5, 6, _MIX_PRIMARY),
        CareProfile("A09", 0.06, 1400.0, 0.5, 4, _MIX_PRIMARY),
        CareProfile("M51.1", 0.06, 5000.0, 0.55, 10, _MIX_SURGICAL),
        CareProfile("N20.0", 0.07, 4100.0, 0.5, 6, _MIX_SURGICAL),
    ),
    "elderly": (
        CareProfile("J18.9", 0.16, 4000.0, 0.6, 10, _MIX_PRIMARY),
        CareProfile("J44.1", 0.14, 4400.0, 0.55, 11, _MIX_PRIMARY),
        CareProfile("I63.9", 0.14, 8200.0, 0.6, 15, _MIX_SEVERE),
        CareProfile("I50.9", 0.08, 6100.0, 0.55, 11, _MIX_SEVERE),
        CareProfile("I21.9", 0.05, 16500.0, 0.7, 10, _MIX_SEVERE),
        CareProfile("S72.0", 0.06, 16500.0, 0.5, 16, _MIX_SURGICAL),
        CareProfile("C34.9", 0.06, 18700.0, 0.8, 15, _MIX_CANCER),
        CareProfile("C16.9", 0.04, 19800.0, 0.8, 16, _MIX_CANCER),
        CareProfile("C22.0", 0.03, 20900.0, 0.85, 14, _MIX_CANCER),
        CareProfile("K80.2", 0.06, 6100.0, 0.5, 8, _MIX_SURGICAL),
        CareProfile("E11.9", 0.06, 3900.0, 0.5, 10, _MIX_PRIMARY),
        CareProfile("I10", 0.05, 2800.0, 0.5, 8, _MIX_PRIMARY),
        CareProfile("N18.5", 0.03, 8800.0, 0.6, 12, _MIX_SEVERE),
        CareProfile("H25.9", 0.04, 3600.0, 0.4, 4, _MIX_SURGICAL),
    ),
}
DELIVERY = CareProfile("O80", 1.0, 3000.0, 0.4, 3, (0.30, 0.55, 0.10, 0.05))
CAESAREAN = CareProfile("O82.9", 1.0, 7000.0, 0.4, 6, (0.05, 0.65, 0.20, 0.10))
# The heavy right tail of in-patient bills: a share of stays (complications, intensive care)
# multiply their amount by a Pareto factor (1 + Pareto(alpha)), capped.
INPATIENT_TAIL_SHARE = 0.05
INPATIENT_TAIL_ALPHA = 1.4
INPATIENT_TAIL_CAP = 40.0
MAX_AMOUNT = 1_000_000.0  # CNY: the largest bill (long intensive care, transplant)
# Amount grows with length of stay (elasticity below one: the first days cost most).
DAYS_COST_ELASTICITY = 0.6
MIN_AMOUNT_FEN = 500  # 5 CNY: no bill is smaller than a registration fee
# Length of stay grows with level (more severe cases go up), as a factor on the mean.
LEVEL_STAY_FACTOR = (0.8, 1.0, 1.15, 1.3)
# A share of an in-patient's chronic condition admissions come from the condition itself.
CHRONIC_ADMISSION_SHARE = 0.35
