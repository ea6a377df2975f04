"""Generate the TPC-H benchmark mesh (issue 6, part 1): a complete mesh project, from scratch.

    python benchmarks/tpch_mesh.py --scale-factor 0.1      # -> benchmarks/.data/tpch_mesh_sf0.1/

Writes, outside the demo mesh, a project of its own (workspace.yaml, shared_assets/, domains/,
dbt_projects/) on TPC-H data that `tpchgen-cli` generates once into benchmarks/.data/tpch_sf<SF>/:

  shared     (source-aligned reference)  nation, region: the global identifiers
  customers  (source-aligned)            customer (internal, personal columns hashed for others)
  supply     (source-aligned)            part, supplier, partsupp
  sales      (source-aligned)            orders, lineitem
  finance    (consumer-aligned)          q1_pricing_summary, q3_shipping_priority,
                                         q5_local_supplier_volume, q10_returned_items

Every product is a dbt model with a full ODCS contract (every column described, freshness and
retention SLAs, quality rules, relationships to the shared global identifiers and to the
products a result is keyed on). Source-aligned models read tpchgen's Parquet files through the dbt
var `tpch_dir` (passed by each domain's definitions.py, as domains/weather does); finance's models
read the other domains' ports through dbt sources with `meta: {plugin: mesh_port}`.

The domains are scaffolded with `mesh new domain` / `mesh new product` (so the benchmark also
exercises the self-serve path), then every generated file is overwritten with the TPC-H one; the
`shared` domain lives in shared_assets/, which `mesh new` does not create, so it is written
directly. `--no-scaffold` writes every file directly (the same result, faster). The script ends
with `mesh validate`, which also runs `dbt parse` once per project so that timed builds start
from cached manifests.

The SQL lives here once (STAGING, QUERIES) and is rendered both into the dbt models and, by
benchmarks/mesh_vs_duckdb.py, into the raw-DuckDB baseline, so all three runs execute the same SQL.

Finance's models call a tiny macro `port(domain, product)` instead of `source(...)` directly: it
is `source(domain, product)` (the mesh_port plugin) unless the dbt var `tpch_plain` is true, in
which case it names the upstream table in the same DuckDB file. That switch is only for the
plain-dbt baseline, which has no platform and no ports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
BIN = Path(sys.executable).parent


def sf_label(scale_factor: float) -> str:
    return f"{scale_factor:g}"


def tpch_dir(scale_factor: float) -> Path:
    return DATA / f"tpch_sf{sf_label(scale_factor)}"


def mesh_dir(scale_factor: float) -> Path:
    return DATA / f"tpch_mesh_sf{sf_label(scale_factor)}"


TABLE_FILES = ["nation", "region", "customer", "part", "supplier", "partsupp", "orders", "lineitem"]


def generate_data(scale_factor: float) -> Path:
    """tpchgen-cli's Parquet files for SF, generated once and reused."""
    folder = tpch_dir(scale_factor)
    if all((folder / f"{t}.parquet").is_file() for t in TABLE_FILES):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    tpchgen = BIN / "tpchgen-cli" if (BIN / "tpchgen-cli").exists() else "tpchgen-cli"
    started = time.perf_counter()
    subprocess.run([str(tpchgen), "parquet", "-s", sf_label(scale_factor), "-o", str(folder), "--overwrite"], check=True)
    print(f"generated TPC-H SF {sf_label(scale_factor)} in {folder} ({time.perf_counter() - started:.1f} s)")
    return folder


# -- the model --------------------------------------------------------------------------------

@dataclass
class Col:
    name: str
    type: str  # DuckDB type: the contract's physicalType and the dbt data_type
    description: str
    required: bool = True
    pk: bool = False
    enum: list[str] | None = None
    minimum: float | str | None = None
    maximum: float | str | None = None
    references: list[str] = field(default_factory=list)  # domain.product.column
    business_name: str | None = None
    personal: bool = False  # classification pii, masked by keyed hash for other readers

    @property
    def logical(self) -> str:
        t = self.type.lower()
        if t in ("bigint", "integer"):
            return "integer"
        if t.startswith("decimal") or t == "double":
            return "number"
        if t == "date":
            return "date"
        return "string"


@dataclass
class Product:
    domain: str
    name: str
    description: str
    purpose: str
    columns: list[Col]
    quality: list[dict]
    sql: str  # a SELECT; {tpch} is the Parquet folder, {name} another product's relation
    inputs: list[str] = field(default_factory=list)
    access: dict = field(default_factory=dict)
    freshness_column: str | None = None
    limitations: str = "TPC-H data generated by tpchgen-cli; values are synthetic."


@dataclass
class DomainSpec:
    name: str
    kind: str
    team: str
    description: str
    products: list[str]


DOMAINS = [
    DomainSpec("shared", "source-aligned", "mesh_governance",
               "TPC-H reference data that defines the benchmark mesh's global identifiers: nations and regions.",
               ["nation", "region"]),
    DomainSpec("customers", "source-aligned", "customer_records",
               "TPC-H customers as the customer system records them: name, address, phone, nation, segment and balance.",
               ["customer"]),
    DomainSpec("supply", "source-aligned", "procurement",
               "TPC-H supply side: parts, suppliers and which supplier offers which part at what cost.",
               ["part", "supplier", "partsupp"]),
    DomainSpec("sales", "source-aligned", "order_management",
               "TPC-H sales: orders and their line items as the order system records them.",
               ["orders", "lineitem"]),
    DomainSpec("finance", "consumer-aligned", "financial_reporting",
               "Financial reports on the TPC-H business: the results of TPC-H queries Q1, Q3, Q5 and Q10.",
               ["q1_pricing_summary", "q3_shipping_priority", "q5_local_supplier_volume", "q10_returned_items"]),
]

NATION_KEY = "shared.nation.n_nationkey"
REGION_KEY = "shared.region.r_regionkey"
MONEY = "DECIMAL(15,2)"


def _staging(table: str, columns: list[Col]) -> str:
    casts = ",\n".join(f"    cast({c.name} as {c.type}) as {c.name}" for c in columns)
    return f"select\n{casts}\nfrom read_parquet('{{tpch}}/{table}.parquet')"


def _rows_at_least(name: str, minimum: int, what: str) -> dict:
    return {"name": name, "metric": "rowCount", "mustBeGreaterThan": minimum, "description": what}


PRODUCTS: dict[str, Product] = {}


def _add(product: Product) -> None:
    PRODUCTS[product.name] = product


_NATION = [
    Col("n_nationkey", "BIGINT", "Nation key: the global identifier of a nation.", pk=True, minimum=0, maximum=24, business_name="nation_key"),
    Col("n_name", "VARCHAR", "Name of the nation, upper case."),
    Col("n_regionkey", "BIGINT", "Region the nation belongs to (shared.region).", minimum=0, maximum=4, business_name="region_key"),
    Col("n_comment", "VARCHAR", "Free-text comment of the generator."),
]
_add(Product("shared", "nation", "The 25 TPC-H nations with their region: the nation key every domain joins on.",
             "Global identifier of nations for every domain of the benchmark mesh.", _NATION,
             [_rows_at_least("twenty_five_nations", 24, "TPC-H has exactly 25 nations."),
              {"name": "unique_nation_names", "metric": "duplicateValues", "arguments": {"properties": ["n_name"]}, "mustBe": 0}],
             _staging("nation", _NATION)))
_REGION = [
    Col("r_regionkey", "BIGINT", "Region key: the global identifier of a region.", pk=True, minimum=0, maximum=4, business_name="region_key"),
    Col("r_name", "VARCHAR", "Name of the region, upper case.", enum=["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]),
    Col("r_comment", "VARCHAR", "Free-text comment of the generator."),
]
_add(Product("shared", "region", "The five TPC-H regions: the region key every domain joins on.",
             "Global identifier of regions for every domain of the benchmark mesh.", _REGION,
             [_rows_at_least("five_regions", 4, "TPC-H has exactly 5 regions.")], _staging("region", _REGION)))

_CUSTOMER = [
    Col("c_custkey", "BIGINT", "Customer key, unique.", pk=True, minimum=1),
    Col("c_name", "VARCHAR", "Customer name (personal data).", personal=True),
    Col("c_address", "VARCHAR", "Postal address (personal data).", personal=True),
    Col("c_nationkey", "BIGINT", "Nation of the customer (shared.nation).", references=[NATION_KEY], business_name="nation_key"),
    Col("c_phone", "VARCHAR", "Phone number (personal data).", personal=True),
    Col("c_acctbal", MONEY, "Account balance, may be negative.", minimum=-1000, maximum=10000),
    Col("c_mktsegment", "VARCHAR", "Market segment.", enum=["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]),
    Col("c_comment", "VARCHAR", "Free-text comment of the generator."),
]
_add(Product("customers", "customer", "One row per TPC-H customer: name, address, phone, nation, market segment and balance.",
             "The customer master data, for sales and financial reporting.", _CUSTOMER,
             [_rows_at_least("customers_published", 0, "An empty batch is a broken extract."),
              {"name": "phone_country_code_matches_nation", "type": "sql",
               "query": "SELECT count(*) FROM ${table} WHERE cast(substr(c_phone, 1, 2) as integer) <> c_nationkey + 10",
               "mustBe": 0, "description": "TPC-H phone numbers start with the nation key plus 10."}],
             _staging("customer", _CUSTOMER),
             access={"access": "internal", "readers": ["finance", "sales"], "personal_data_readers": ["finance"]}))

_PART = [
    Col("p_partkey", "BIGINT", "Part key, unique.", pk=True, minimum=1),
    Col("p_name", "VARCHAR", "Part name: five colour words."),
    Col("p_mfgr", "VARCHAR", "Manufacturer, Manufacturer#1 to #5."),
    Col("p_brand", "VARCHAR", "Brand, Brand#11 to #55."),
    Col("p_type", "VARCHAR", "Part type: size, finish and material."),
    Col("p_size", "INTEGER", "Size, 1 to 50.", minimum=1, maximum=50),
    Col("p_container", "VARCHAR", "Container the part ships in."),
    Col("p_retailprice", MONEY, "Retail price.", minimum=0),
    Col("p_comment", "VARCHAR", "Free-text comment of the generator."),
]
_add(Product("supply", "part", "One row per TPC-H part: name, manufacturer, brand, type, size, container and retail price.",
             "The parts catalog, for procurement and order analysis.", _PART,
             [_rows_at_least("parts_published", 0, "An empty batch is a broken extract.")], _staging("part", _PART)))
_SUPPLIER = [
    Col("s_suppkey", "BIGINT", "Supplier key, unique.", pk=True, minimum=1),
    Col("s_name", "VARCHAR", "Supplier name, Supplier#NNNNNNNNN."),
    Col("s_address", "VARCHAR", "Business address of the supplier (a company, not a person).", personal=False),
    Col("s_nationkey", "BIGINT", "Nation of the supplier (shared.nation).", references=[NATION_KEY], business_name="nation_key"),
    Col("s_phone", "VARCHAR", "Business phone number of the supplier (a company, not a person)."),
    Col("s_acctbal", MONEY, "Account balance, may be negative.", minimum=-1000, maximum=10000),
    Col("s_comment", "VARCHAR", "Free-text comment of the generator."),
]
_add(Product("supply", "supplier", "One row per TPC-H supplier: name, address, nation, phone and account balance.",
             "The supplier master data, for procurement and financial reporting.", _SUPPLIER,
             [_rows_at_least("suppliers_published", 0, "An empty batch is a broken extract.")], _staging("supplier", _SUPPLIER)))
_PARTSUPP = [
    Col("ps_partkey", "BIGINT", "Part offered (supply.part).", minimum=1),
    Col("ps_suppkey", "BIGINT", "Supplier offering it (supply.supplier).", minimum=1),
    Col("ps_availqty", "INTEGER", "Quantity available.", minimum=1, maximum=9999),
    Col("ps_supplycost", MONEY, "Cost of one unit from this supplier.", minimum=1, maximum=1000),
    Col("ps_comment", "VARCHAR", "Free-text comment of the generator."),
]
_add(Product("supply", "partsupp", "One row per part and supplier offering it: available quantity and supply cost.",
             "Which supplier sells which part at what cost, for procurement.", _PARTSUPP,
             [_rows_at_least("offers_published", 0, "An empty batch is a broken extract."),
              {"name": "one_offer_per_part_and_supplier", "metric": "duplicateValues",
               "arguments": {"properties": ["ps_partkey", "ps_suppkey"]}, "mustBe": 0}],
             _staging("partsupp", _PARTSUPP)))

_ORDERS = [
    Col("o_orderkey", "BIGINT", "Order key, unique.", pk=True, minimum=1),
    Col("o_custkey", "BIGINT", "Customer who placed the order (customers.customer).", references=["customers.customer.c_custkey"]),
    Col("o_orderstatus", "VARCHAR", "F (all lines shipped), O (none) or P (some).", enum=["F", "O", "P"]),
    Col("o_totalprice", MONEY, "Total price of the order.", minimum=0),
    Col("o_orderdate", "DATE", "Day the order was placed.", minimum="1992-01-01", maximum="1998-12-31"),
    Col("o_orderpriority", "VARCHAR", "Priority.", enum=["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]),
    Col("o_clerk", "VARCHAR", "Clerk who took the order, Clerk#NNNNNNNNN."),
    Col("o_shippriority", "INTEGER", "Shipping priority (always 0 in TPC-H).", minimum=0),
    Col("o_comment", "VARCHAR", "Free-text comment of the generator."),
]
_add(Product("sales", "orders", "One row per TPC-H order: customer, status, total price, date, priority and clerk.",
             "The order book, for sales and financial reporting.", _ORDERS,
             [_rows_at_least("orders_published", 0, "An empty batch is a broken extract.")], _staging("orders", _ORDERS),
             freshness_column="o_orderdate"))
_LINEITEM = [
    Col("l_orderkey", "BIGINT", "Order of the line (sales.orders).", minimum=1),
    Col("l_partkey", "BIGINT", "Part sold (supply.part).", minimum=1, references=["supply.part.p_partkey"]),
    Col("l_suppkey", "BIGINT", "Supplier who ships it (supply.supplier).", minimum=1),
    Col("l_linenumber", "INTEGER", "Line number within the order, 1 to 7.", minimum=1, maximum=7),
    Col("l_quantity", MONEY, "Quantity, 1 to 50.", minimum=1, maximum=50),
    Col("l_extendedprice", MONEY, "Quantity times the part's price.", minimum=0),
    Col("l_discount", MONEY, "Discount, 0 to 0.10.", minimum=0, maximum=0.1),
    Col("l_tax", MONEY, "Tax rate, 0 to 0.08.", minimum=0, maximum=0.08),
    Col("l_returnflag", "VARCHAR", "R (returned), A (accepted) or N (not yet known).", enum=["A", "N", "R"]),
    Col("l_linestatus", "VARCHAR", "F (shipped) or O (open).", enum=["F", "O"]),
    Col("l_shipdate", "DATE", "Day the line shipped.", minimum="1992-01-01", maximum="1998-12-31"),
    Col("l_commitdate", "DATE", "Day the shipment was promised.", minimum="1992-01-01", maximum="1998-12-31"),
    Col("l_receiptdate", "DATE", "Day the customer received it.", minimum="1992-01-01", maximum="1998-12-31"),
    Col("l_shipinstruct", "VARCHAR", "Shipping instruction.", enum=["COLLECT COD", "DELIVER IN PERSON", "NONE", "TAKE BACK RETURN"]),
    Col("l_shipmode", "VARCHAR", "Shipping mode.", enum=["AIR", "FOB", "MAIL", "RAIL", "REG AIR", "SHIP", "TRUCK"]),
    Col("l_comment", "VARCHAR", "Free-text comment of the generator."),
]
_add(Product("sales", "lineitem", "One row per line of a TPC-H order: part, supplier, quantity, price, discount, tax, flags and dates.",
             "Order lines, the fact table of sales and financial reporting.", _LINEITEM,
             [_rows_at_least("lines_published", 0, "An empty batch is a broken extract."),
              {"name": "one_row_per_order_line", "metric": "duplicateValues",
               "arguments": {"properties": ["l_orderkey", "l_linenumber"]}, "mustBe": 0},
              {"name": "received_after_shipped", "type": "sql",
               "query": "SELECT count(*) FROM ${table} WHERE l_receiptdate < l_shipdate", "mustBe": 0,
               "description": "A line is received on or after the day it ships."}],
             _staging("lineitem", _LINEITEM), freshness_column="l_shipdate"))

# -- finance: TPC-H queries with the specification's validation parameters ----------------------

_Q1 = """\
select
    l_returnflag,
    l_linestatus,
    cast(sum(l_quantity) as DECIMAL(38,2)) as sum_qty,
    cast(sum(l_extendedprice) as DECIMAL(38,2)) as sum_base_price,
    cast(sum(l_extendedprice * (1 - l_discount)) as DECIMAL(38,4)) as sum_disc_price,
    cast(sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as DECIMAL(38,6)) as sum_charge,
    cast(avg(l_quantity) as DOUBLE) as avg_qty,
    cast(avg(l_extendedprice) as DOUBLE) as avg_price,
    cast(avg(l_discount) as DOUBLE) as avg_disc,
    count(*) as count_order
from {lineitem}
where l_shipdate <= date '1998-12-01' - interval '90' day
group by l_returnflag, l_linestatus
order by l_returnflag, l_linestatus"""

_Q3 = """\
select
    l_orderkey,
    cast(sum(l_extendedprice * (1 - l_discount)) as DECIMAL(38,4)) as revenue,
    o_orderdate,
    o_shippriority
from {customer}, {orders}, {lineitem}
where c_mktsegment = 'BUILDING'
    and c_custkey = o_custkey
    and l_orderkey = o_orderkey
    and o_orderdate < date '1995-03-15'
    and l_shipdate > date '1995-03-15'
group by l_orderkey, o_orderdate, o_shippriority
order by revenue desc, o_orderdate, l_orderkey
limit 10"""

_Q5 = """\
select
    n_name,
    cast(sum(l_extendedprice * (1 - l_discount)) as DECIMAL(38,4)) as revenue
from {customer}, {orders}, {lineitem}, {supplier}, {nation}, {region}
where c_custkey = o_custkey
    and l_orderkey = o_orderkey
    and l_suppkey = s_suppkey
    and c_nationkey = s_nationkey
    and s_nationkey = n_nationkey
    and n_regionkey = r_regionkey
    and r_name = 'ASIA'
    and o_orderdate >= date '1994-01-01'
    and o_orderdate < date '1994-01-01' + interval '1' year
group by n_name
order by revenue desc"""

_Q10 = """\
select
    c_custkey,
    c_name,
    cast(sum(l_extendedprice * (1 - l_discount)) as DECIMAL(38,4)) as revenue,
    c_acctbal,
    n_name,
    c_address,
    c_phone,
    c_comment
from {customer}, {orders}, {lineitem}, {nation}
where c_custkey = o_custkey
    and l_orderkey = o_orderkey
    and o_orderdate >= date '1993-10-01'
    and o_orderdate < date '1993-10-01' + interval '3' month
    and l_returnflag = 'R'
    and c_nationkey = n_nationkey
group by c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
order by revenue desc, c_custkey
limit 20"""

_REVENUE = "Revenue: sum of extended price times (1 - discount), exact to four decimals."
_add(Product("finance", "q1_pricing_summary",
             "TPC-H Q1, the pricing summary report: billed, shipped and returned business by return flag and line status.",
             "Quantities, prices and discounts of every line shipped up to 90 days before 1998-12-01.",
             [Col("l_returnflag", "VARCHAR", "Return flag of the lines summarised.", enum=["A", "N", "R"]),
              Col("l_linestatus", "VARCHAR", "Line status of the lines summarised.", enum=["F", "O"]),
              Col("sum_qty", "DECIMAL(38,2)", "Total quantity.", minimum=0),
              Col("sum_base_price", "DECIMAL(38,2)", "Total extended price.", minimum=0),
              Col("sum_disc_price", "DECIMAL(38,4)", "Total discounted price.", minimum=0),
              Col("sum_charge", "DECIMAL(38,6)", "Total discounted price plus tax.", minimum=0),
              Col("avg_qty", "DOUBLE", "Average quantity per line.", minimum=1, maximum=50),
              Col("avg_price", "DOUBLE", "Average extended price per line.", minimum=0),
              Col("avg_disc", "DOUBLE", "Average discount per line.", minimum=0, maximum=0.1),
              Col("count_order", "BIGINT", "Number of lines.", minimum=1)],
             [{"name": "one_row_per_flag_and_status", "metric": "duplicateValues",
               "arguments": {"properties": ["l_returnflag", "l_linestatus"]}, "mustBe": 0},
              {"name": "four_groups", "metric": "rowCount", "mustBe": 4, "description": "TPC-H Q1 returns four groups."},
              {"name": "charge_covers_discounted_price", "type": "sql",
               "query": "SELECT count(*) FROM ${table} WHERE sum_charge < sum_disc_price", "mustBe": 0,
               "description": "Tax only adds to the discounted price."}],
             _Q1, inputs=["sales.lineitem"]))
_add(Product("finance", "q3_shipping_priority",
             "TPC-H Q3, shipping priority: the ten unshipped orders of the BUILDING segment with the highest revenue.",
             "The orders to ship first, by the revenue still to be realised on 1995-03-15.",
             [Col("l_orderkey", "BIGINT", "Order (sales.orders).", references=["sales.orders.o_orderkey"]),
              Col("revenue", "DECIMAL(38,4)", _REVENUE, minimum=0),
              Col("o_orderdate", "DATE", "Day the order was placed.", maximum="1995-03-14"),
              Col("o_shippriority", "INTEGER", "Shipping priority of the order.", minimum=0)],
             [{"name": "one_row_per_order", "metric": "duplicateValues", "arguments": {"properties": ["l_orderkey"]}, "mustBe": 0},
              {"name": "top_ten", "metric": "rowCount", "mustBeLessOrEqualTo": 10, "description": "Q3 returns at most ten orders."}],
             _Q3, inputs=["customers.customer", "sales.orders", "sales.lineitem"]))
_add(Product("finance", "q5_local_supplier_volume",
             "TPC-H Q5, local supplier volume: revenue in 1994 from sales where customer and supplier are in the same Asian nation.",
             "Which Asian nations do business through local suppliers.",
             [Col("n_name", "VARCHAR", "Nation of customer and supplier (shared.nation).", references=["shared.nation.n_name"]),
              Col("revenue", "DECIMAL(38,4)", _REVENUE, minimum=0)],
             [{"name": "one_row_per_nation", "metric": "duplicateValues", "arguments": {"properties": ["n_name"]}, "mustBe": 0},
              {"name": "asian_nations", "metric": "rowCount", "mustBeLessOrEqualTo": 5, "description": "ASIA has five nations."}],
             _Q5, inputs=["customers.customer", "sales.orders", "sales.lineitem", "supply.supplier", "shared.nation", "shared.region"]))
_add(Product("finance", "q10_returned_items",
             "TPC-H Q10, returned item reporting: the twenty customers who lost the most revenue to returns in Q4 1993.",
             "Customers to contact about returned items, with their details.",
             [Col("c_custkey", "BIGINT", "Customer (customers.customer).", references=["customers.customer.c_custkey"]),
              Col("c_name", "VARCHAR", "Customer name (personal data).", personal=True),
              Col("revenue", "DECIMAL(38,4)", "Revenue lost to returned lines, exact to four decimals.", minimum=0),
              Col("c_acctbal", MONEY, "Account balance of the customer."),
              Col("n_name", "VARCHAR", "Nation of the customer (shared.nation).", references=["shared.nation.n_name"]),
              Col("c_address", "VARCHAR", "Postal address (personal data).", personal=True),
              Col("c_phone", "VARCHAR", "Phone number (personal data).", personal=True),
              Col("c_comment", "VARCHAR", "Free-text comment of the generator.")],
             [{"name": "one_row_per_customer", "metric": "duplicateValues", "arguments": {"properties": ["c_custkey"]}, "mustBe": 0},
              {"name": "top_twenty", "metric": "rowCount", "mustBeLessOrEqualTo": 20, "description": "Q10 returns at most twenty customers."}],
             _Q10, inputs=["customers.customer", "sales.orders", "sales.lineitem", "shared.nation"]))

STAGING = [p for p in PRODUCTS.values() if p.domain != "finance"]
QUERIES = [p for p in PRODUCTS.values() if p.domain == "finance"]


def render_sql(product: Product, *, tpch: str, relation) -> str:
    """The product's SELECT with the Parquet folder and other products' relations filled in."""
    names = {p.name: relation(p) for p in PRODUCTS.values()}
    return product.sql.replace("{tpch}", tpch).format(**names) if product.domain == "finance" else product.sql.replace("{tpch}", tpch)


# -- files ------------------------------------------------------------------------------------

def dump(path: Path, data, header: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True))


def contract(product: Product, spec: DomainSpec) -> dict:
    properties = []
    for c in product.columns:
        prop: dict = {"name": c.name}
        if c.business_name:
            prop["businessName"] = c.business_name
        prop.update({"logicalType": c.logical, "physicalType": c.type})
        if c.pk:
            prop["primaryKey"] = True
        if c.required:
            prop["required"] = True
        options = {k: v for k, v in (("minimum", c.minimum), ("maximum", c.maximum)) if v is not None}
        if options:
            prop["logicalTypeOptions"] = options
        if c.enum:
            prop["enum"] = [{"value": v} for v in c.enum]
        if c.personal:
            prop["classification"] = "pii"
            prop["customProperties"] = [{"property": "masking", "value": "hash"}]
        elif c.type == "VARCHAR" and any(h in c.name for h in ("address", "phone")):
            prop["classification"] = "public"
        prop["description"] = c.description
        if c.references:
            prop["relationships"] = [{"to": r} for r in c.references]
        properties.append(prop)
    sla = [
        {"property": "freshness", "value": 1, "unit": "d",
         "element": f"{product.name}.{product.freshness_column or product.columns[0].name}",
         "description": "Published at least once a day."},
        {"property": "retention", "value": 3650, "unit": "d", "description": "Ten years of history are kept (TPC-H covers 1992-1998)."},
    ]
    return {
        "apiVersion": "v3.2.0", "kind": "DataContract", "id": f"urn:mesh:{product.domain}:{product.name}",
        "name": product.name, "version": "1.0.0", "status": "active", "domain": product.domain, "dataProduct": product.name,
        "description": {"purpose": product.purpose, "usage": f"Read the port {product.domain}.{product.name} with DuckDB, pandas or Polars.",
                        "limitations": product.limitations},
        "team": {"name": spec.team, "members": [{"username": f"{spec.name}@tpch.example", "role": "owner"}]},
        "schema": [{"name": product.name, "physicalName": product.name, "logicalType": "object",
                    "description": product.description, "quality": product.quality, "properties": properties}],
        "slaProperties": sla,
    }


def descriptor(product: Product) -> dict:
    data: dict = {"name": product.name, "description": product.description, "tags": ["tpch", "benchmark"]}
    data.update(product.access)
    data["inputs"] = list(product.inputs)
    return data


def schema_yml(spec: DomainSpec) -> dict:
    models = []
    for name in spec.products:
        p = PRODUCTS[name]
        columns = []
        for c in p.columns:
            col: dict = {"name": c.name, "data_type": c.type.lower(), "description": c.description}
            if c.pk:
                col["data_tests"] = ["unique", "not_null"]
            columns.append(col)
        models.append({"name": name, "description": f"{p.description} (product {p.domain}.{name}).",
                       "config": {"contract": {"enforced": True}}, "columns": columns})
    return {"version": 2, "models": models}


PORT_MACRO = """\
{# An input port. In the mesh: the producer's port, through the platform's mesh_port plugin.
   With --vars '{tpch_plain: true}' (the plain-dbt baseline, no platform): the upstream table
   in the same DuckDB file. #}
{% macro port(domain, product) -%}
  {%- if var('tpch_plain', false) -%} main.{{ product }}
  {%- else -%} {{ source(domain, product) }}
  {%- endif -%}
{%- endmacro %}
"""


def write_domain_files(root: Path, spec: DomainSpec, data_dir: Path) -> None:
    folder = root / ("shared_assets" if spec.name == "shared" else f"domains/{spec.name}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text("")
    dump(folder / "domain.yaml", {"name": spec.name, "kind": spec.kind, "description": spec.description,
                                   "owner": {"team": spec.team, "contact": f"{spec.name}@tpch.example"}, "dbt_project": spec.name})
    needs_data = spec.kind == "source-aligned"
    (folder / "definitions.py").write_text(
        f'"""{spec.name}: {spec.description} (generated by benchmarks/tpch_mesh.py)."""\n\n'
        "from mesh_platform import domain_definitions\n\n"
        + (f"TPCH_DIR = {str(data_dir)!r}  # tpchgen-cli's Parquet files\n\n"
           'defs = domain_definitions(__file__, dbt_vars={"tpch_dir": TPCH_DIR})\n' if needs_data
           else "defs = domain_definitions(__file__)\n")
    )
    for name in spec.products:
        p = PRODUCTS[name]
        dump(folder / "products" / f"{name}.yaml", descriptor(p))
        dump(folder / "contracts" / f"{name}.odcs.yaml", contract(p, spec),
             "# ODCS v3 contract, generated by benchmarks/tpch_mesh.py\n")

    project = root / "dbt_projects" / spec.name
    for stale in ("models", "macros"):
        shutil.rmtree(project / stale, ignore_errors=True)
    dump(project / "dbt_project.yml", {"name": spec.name, "version": "1.0.0", "profile": "mesh",
                                        "models": {spec.name: {"+materialized": "table"}}})
    for name in spec.products:
        p = PRODUCTS[name]
        if spec.kind == "source-aligned":
            sql = render_sql(p, tpch='{{ var("tpch_dir") }}', relation=lambda q: "")
        else:
            sql = render_sql(p, tpch="", relation=lambda q: f"{{{{ port('{q.domain}', '{q.name}') }}}}")
        (project / "models").mkdir(parents=True, exist_ok=True)
        (project / "models" / f"{name}.sql").write_text(f"-- {p.description}\n{sql}\n")
    dump(project / "models" / "schema.yml", schema_yml(spec))
    if spec.kind != "source-aligned":
        producers: dict[str, set[str]] = {}
        for name in spec.products:
            for port in PRODUCTS[name].inputs:
                d, n = port.split(".")
                producers.setdefault(d, set()).add(n)
        dump(project / "models" / "sources.yml",
             {"version": 2, "sources": [{"name": d, "config": {"meta": {"plugin": "mesh_port"}},
                                          "tables": [{"name": n} for n in sorted(ns)]} for d, ns in sorted(producers.items())]},
             "# Input ports: other domains' products, read from their ports by the platform's mesh_port plugin.\n")
        (project / "macros").mkdir(parents=True, exist_ok=True)
        (project / "macros" / "port.sql").write_text(PORT_MACRO)


def workspace(root: Path) -> None:
    entries = [{"python_module": {"module_name": "shared_assets.definitions" if d.name == "shared" else f"domains.{d.name}.definitions",
                                  "working_directory": ".", "location_name": d.name}} for d in DOMAINS]
    dump(root / "workspace.yaml", {"load_from": entries}, "# The TPC-H benchmark mesh, generated by benchmarks/tpch_mesh.py\n")


def mesh(*args: str, root: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [str(BIN / "mesh"), *args]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def scaffold(root: Path) -> None:
    """Create each domain and product the self-serve way; their files are then replaced."""
    for spec in DOMAINS:
        if spec.name == "shared":
            continue
        first, *rest = spec.products
        inputs = [arg for port in PRODUCTS[first].inputs for arg in ("--input", port)]
        mesh("new", "domain", spec.name, "--dbt", "--kind", spec.kind, "--product", first, "--team", spec.team,
             "--contact", f"{spec.name}@tpch.example", "--description", spec.description, *inputs, "--project", ".", root=root)
        for name in rest:
            inputs = [arg for port in PRODUCTS[name].inputs for arg in ("--input", port)]
            mesh("new", "product", spec.name, name, "--dbt", *inputs, "--project", ".", root=root)
        # Replace the scaffolded example files with the TPC-H ones (the scaffolded ones may be
        # named after their first input and go stale otherwise).
        write_domain_files(root, spec, tpch_dir_of_root(root))


_DATA_DIR: dict[Path, Path] = {}


def tpch_dir_of_root(root: Path) -> Path:
    return _DATA_DIR[root]


def generate(scale_factor: float, *, use_scaffold: bool = True, validate: bool = True) -> Path:
    data_dir = generate_data(scale_factor)
    root = mesh_dir(scale_factor)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    _DATA_DIR[root] = data_dir
    started = time.perf_counter()
    shared = next(d for d in DOMAINS if d.name == "shared")
    # The shared domain first: the others' contracts reference its keys.
    dump(root / "workspace.yaml", {"load_from": [{"python_module": {
        "module_name": "shared_assets.definitions", "working_directory": ".", "location_name": "shared"}}]})
    write_domain_files(root, shared, data_dir)
    if use_scaffold:
        scaffold(root)
    else:
        for spec in DOMAINS:
            write_domain_files(root, spec, data_dir)
    workspace(root)  # the final one, in dependency order, whatever mesh new appended
    (root / ".gitignore").write_text(".mesh/\ndbt_projects/*/target/\ndbt_projects/*/logs/\n")
    print(f"wrote {root} ({'scaffolded with mesh new, then ' if use_scaffold else ''}generated in {time.perf_counter() - started:.1f} s)")
    if validate:
        started = time.perf_counter()
        env = {**os.environ, "MESH_HOME": str(root / ".mesh")}
        done = mesh("validate", "--project", ".", root=root, env=env)
        print(done.stdout.rstrip())
        print(f"mesh validate: ok ({time.perf_counter() - started:.1f} s, including one dbt parse per project)")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-factor", "-s", type=float, default=0.1)
    parser.add_argument("--no-scaffold", action="store_true", help="write every file directly instead of via mesh new")
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args()
    generate(args.scale_factor, use_scaffold=not args.no_scaffold, validate=not args.no_validate)


if __name__ == "__main__":
    main()
