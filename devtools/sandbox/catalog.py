"""Static catalogue the generator draws from: offers, meters, regions, names.

Offer and meter names follow Partner Center / Azure conventions for the 21Vianet cloud;
prices are plausible CNY list prices, not quotes.
"""

from __future__ import annotations

from typing import NamedTuple


class Offer(NamedTuple):
    offer_id: str
    name: str
    kind: str  # "azure_plan" | "azure_legacy" | "license" | "addon"
    billing_type: str  # "usage" | "license"
    unit_type: str


AZURE_PLAN = Offer("DZH318Z0BPS6:0001", "Azure plan", "azure_plan", "usage", "Usage-based")
AZURE_LEGACY = Offer(
    "MS-MC-AZR-0145P", "Microsoft Azure (operated by 21Vianet)", "azure_legacy", "usage", "Usage-based"
)
LICENSES = (
    Offer(
        "0A2D3C8E-1F4B-4C2A-9D11-3B6E5F7A8C01",
        "Office 365 E1 (operated by 21Vianet)",
        "license",
        "license",
        "Licenses",
    ),
    Offer(
        "0A2D3C8E-1F4B-4C2A-9D11-3B6E5F7A8C03",
        "Office 365 E3 (operated by 21Vianet)",
        "license",
        "license",
        "Licenses",
    ),
    Offer(
        "1B7E4D2A-5C3F-4E6B-8A22-4C7F6A8B9D02",
        "Microsoft 365 Business Standard (operated by 21Vianet)",
        "license",
        "license",
        "Licenses",
    ),
    Offer(
        "2C8F5E3B-6D4A-4F7C-9B33-5D8A7B9C0E04",
        "Exchange Online (Plan 1) (operated by 21Vianet)",
        "license",
        "license",
        "Licenses",
    ),
)
ADDONS = (
    Offer(
        "3D9A6F4C-7E5B-4A8D-8C44-6E9B8C0D1F05",
        "Audio Conferencing (operated by 21Vianet)",
        "addon",
        "license",
        "Licenses",
    ),
    Offer(
        "4E0B7A5D-8F6C-4B9E-9D55-7F0C9D1E2A06",
        "Exchange Online Archiving (operated by 21Vianet)",
        "addon",
        "license",
        "Licenses",
    ),
)


class Meter(NamedTuple):
    category: str
    subcategory: str
    name: str
    unit: str
    unit_price: float  # CNY per unit
    daily_qty: float  # typical daily quantity for one "unit of scale"
    service: str


# Everyday meters (index 0..6) then the ones misuse patterns use.
METERS = (
    Meter("Virtual Machines", "Dv3/DSv3 Series", "D2 v3/D2s v3", "1 Hour", 0.79, 48.0, "Microsoft.Compute"),
    Meter(
        "Storage", "General Block Blob", "LRS Data Stored", "1 GB/Month", 0.0052, 800.0, "Microsoft.Storage"
    ),
    Meter("Bandwidth", "Rtn Preference: MGN", "Data Transfer Out", "1 GB", 0.65, 12.0, "Microsoft.Network"),
    Meter("SQL Database", "Single vCore", "vCore", "1 Hour", 1.21, 48.0, "Microsoft.Sql"),
    Meter("Azure App Service", "Standard Plan", "S1", "1 Hour", 0.61, 24.0, "Microsoft.Web"),
    Meter("Storage", "Standard SSD Managed Disks", "E10 LRS Disk", "1/Month", 0.42, 2.0, "Microsoft.Compute"),
    Meter("Virtual Machines", "Dv3/DSv3 Series", "D4 v3/D4s v3", "1 Hour", 1.58, 24.0, "Microsoft.Compute"),
)
EVERYDAY = tuple(range(len(METERS)))
GPU = (
    Meter("Virtual Machines", "NCSv3 Series", "NC6s v3", "1 Hour", 23.5, 24.0, "Microsoft.Compute"),
    Meter("Virtual Machines", "NCSv3 Series", "NC24s v3", "1 Hour", 94.0, 24.0, "Microsoft.Compute"),
    Meter(
        "Machine Learning Service",
        "NCSv3 Series",
        "NC6s v3 vCPU",
        "1 Hour",
        3.9,
        144.0,
        "Microsoft.MachineLearningServices",
    ),
)
CRYPTO = (
    Meter("Virtual Machines", "FSv2 Series", "F72s v2", "1 Hour", 23.0, 24.0, "Microsoft.Compute"),
    Meter("Virtual Machines", "HB Series", "HB120rs v2", "1 Hour", 27.6, 24.0, "Microsoft.Compute"),
)
ALL_METERS = METERS + GPU + CRYPTO
GPU_BASE = len(METERS)
CRYPTO_BASE = len(METERS) + len(GPU)

# (resourceLocation, meterRegion)
REGIONS = (
    ("chinaeast2", "CN East 2"),
    ("chinanorth2", "CN North 2"),
    ("chinaeast", "CN East"),
    ("chinanorth", "CN North"),
    ("chinanorth3", "CN North 3"),
    ("chinaeast3", "CN East 3"),
)
HOME_REGIONS = 3  # customers normally live in the first three; the last ones are "new" regions

CITIES = (
    "Beijing",
    "Shanghai",
    "Shenzhen",
    "Guangzhou",
    "Hangzhou",
    "Chengdu",
    "Nanjing",
    "Wuhan",
    "Suzhou",
    "Tianjin",
    "Xi'an",
    "Chongqing",
    "Xiamen",
    "Qingdao",
    "Dalian",
    "Hefei",
)
WORDS = (
    "Huaxin",
    "Zhongke",
    "Tianyu",
    "Jinhua",
    "Longteng",
    "Ruida",
    "Xinghe",
    "Boyuan",
    "Hengtai",
    "Shengshi",
    "Yunfan",
    "Kaixin",
    "Mingde",
    "Haina",
    "Baichuan",
    "Dingsheng",
    "Fuxing",
    "Guanghui",
    "Jiahe",
    "Lianchuang",
)
TRADES = (
    "Technology",
    "Information Technology",
    "Software",
    "Trading",
    "Logistics",
    "Manufacturing",
    "Network Technology",
    "Consulting",
    "Medical Technology",
    "Education Technology",
    "E-commerce",
    "Cultural Media",
    "New Energy",
    "Intelligent Equipment",
)
FOREIGN = (("HK", "Hong Kong", "Limited"), ("SG", "Singapore", "Pte. Ltd."), ("US", "Seattle", "Inc."))
